package store

import "encoding/binary"

// deflateScanner follows a deflate stream (RFC 1951) without inflating it,
// to find where its blocks start. An edit of the compressed content changes
// the stream from the start of the block that holds it on, since a block's
// Huffman codes are made for its content, so a chunk boundary at each block
// start makes an edit cost no chunk of the unchanged blocks before it. The
// scanner decodes symbols but copies nothing: it needs no window and no
// output buffer.
//
// The caller feeds it the buffered stream from the byte holding the next
// bit on; scan goes as far as those bytes allow and says why it stopped.
// Every step consumes bits, so a stream, valid or not, is scanned in one
// pass; an invalid one stops the scanner, and its blocks are simply not
// known.
type deflateScanner struct {
	pos       int64 // offset in bits, from the stream's start, of the next bit to decode
	state     int
	announced bool     // scanBlock was returned for the block header at pos
	final     bool     // the current block is the last
	stored    int      // bytes left of a stored block's data
	out       int64    // bytes the stream inflates to so far
	lit, dist *huffman // the current block's codes: fixedLit and fixedDist, or dynLit and dynDist
	dynLit    huffman
	dynDist   huffman
	lens      [maxLitCodes + maxDistCodes]uint8
}

// deflateScanner states.
const (
	inflateHeader = iota // at a block header
	inflateStored        // in a stored block's data
	inflateCodes         // among a Huffman-coded block's symbols
	inflateEnd           // past the final block
	inflateBad           // the stream is not valid deflate
)

// What scan stopped at.
const (
	scanMore  = iota // it needs more bytes
	scanBlock        // a block, not the first, starts at byte pos/8
	scanEnd          // the stream ended: its last byte is byte (pos-1)/8
	scanBad          // the stream is not valid deflate
)

const (
	maxLitCodes  = 286
	maxDistCodes = 30
	// maxHeaderBytes bounds a dynamic block's header: 17 bits of counts,
	// 19 code length codes of 3 bits, then at most 316 lengths of 7 bits
	// and 7 extra bits each.
	maxHeaderBytes = (17 + 19*3 + (maxLitCodes+maxDistCodes)*14 + 7) / 8
	// maxSymbolBits bounds a length symbol with its distance: 15 + 5 bits
	// of length, 15 + 13 of distance.
	maxSymbolBits = 48
)

// Length and distance bases and extra bits (RFC 1951 §3.2.5).
var (
	lengthBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// codeLengthOrder is the order of the code length codes' lengths in a
	// dynamic block header (RFC 1951 §3.2.7).
	codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist = fixedCodes()
)

// fixedCodes returns the codes of a block with fixed Huffman codes (RFC
// 1951 §3.2.6).
func fixedCodes() (lit, dist *huffman) {
	var lens [288]uint8
	for i := range lens {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	lit, dist = new(huffman), new(huffman)
	lit.build(lens[:])
	for i := range 30 {
		lens[i] = 5
	}
	dist.build(lens[:30])
	return lit, dist
}

// reset makes d scan a new stream.
func (d *deflateScanner) reset() {
	d.pos, d.state, d.announced, d.final, d.stored, d.out = 0, inflateHeader, true, false, 0, 0
}

// scan decodes b, the stream from byte pos/8 on, as far as it can. eof says
// that no bytes follow b.
func (d *deflateScanner) scan(b []byte, eof bool) int {
	br := bitReader{b: b, bit: uint(d.pos & 7)}
	base := d.pos &^ 7
	defer func() { d.pos = base + int64(br.bit) }()
	for {
		switch d.state {
		case inflateHeader:
			if !d.announced {
				d.announced = true
				return scanBlock
			}
			if br.avail() < maxHeaderBytes*8 && !eof {
				return scanMore
			}
			if !d.header(&br) {
				d.state = inflateBad
				return scanBad
			}
			d.announced = false

		case inflateStored:
			n := min(d.stored, br.avail()/8)
			br.bit += uint(n) * 8
			d.stored -= n
			d.out += int64(n)
			if d.stored > 0 {
				if eof {
					d.state = inflateBad
					return scanBad
				}
				return scanMore
			}
			d.endBlock()

		case inflateCodes:
			if !d.codes(&br, eof) {
				if d.state == inflateBad {
					return scanBad
				}
				return scanMore
			}
			d.endBlock()

		case inflateEnd:
			return scanEnd

		default:
			return scanBad
		}
	}
}

// endBlock moves on after a block's end.
func (d *deflateScanner) endBlock() {
	d.state = inflateHeader
	if d.final {
		d.state = inflateEnd
	}
}

// header parses a block header, and reports whether it is valid.
func (d *deflateScanner) header(br *bitReader) bool {
	h, ok := br.bits(3)
	if !ok {
		return false
	}
	d.final = h&1 != 0
	switch h >> 1 {
	case 0: // stored (RFC 1951 §3.2.4)
		br.bit = (br.bit + 7) &^ 7
		v, ok := br.bits(32)
		if !ok || uint16(v) != ^uint16(v>>16) {
			return false
		}
		d.stored, d.state = int(uint16(v)), inflateStored
	case 1:
		d.lit, d.dist = fixedLit, fixedDist
		d.state = inflateCodes
	case 2:
		if !d.dynamic(br) {
			return false
		}
		d.state = inflateCodes
	default:
		return false
	}
	return true
}

// dynamic reads the codes of a block with dynamic Huffman codes (RFC 1951
// §3.2.7).
func (d *deflateScanner) dynamic(br *bitReader) bool {
	counts, ok := br.bits(14)
	if !ok {
		return false
	}
	nlit, ndist, nclen := int(counts&31)+257, int(counts>>5&31)+1, int(counts>>10)+4
	if nlit > maxLitCodes || ndist > maxDistCodes {
		return false
	}
	var clens [19]uint8
	for _, i := range codeLengthOrder[:nclen] {
		v, ok := br.bits(3)
		if !ok {
			return false
		}
		clens[i] = uint8(v)
	}
	var cl huffman
	if !cl.build(clens[:]) {
		return false
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		sym, n := cl.decode(br.peek(), br.avail())
		if n == 0 {
			return false
		}
		br.bit += n
		var rep int
		var val uint8
		switch {
		case sym < 16:
			lens[i] = uint8(sym)
			i++
			continue
		case sym == 16:
			if i == 0 {
				return false
			}
			v, ok := br.bits(2)
			rep, val = 3+int(v), lens[i-1]
			if !ok {
				return false
			}
		case sym == 17:
			v, ok := br.bits(3)
			if !ok {
				return false
			}
			rep = 3 + int(v)
		default:
			v, ok := br.bits(7)
			if !ok {
				return false
			}
			rep = 11 + int(v)
		}
		if i+rep > len(lens) {
			return false
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return false // no end of block
	}
	d.lit, d.dist = &d.dynLit, &d.dynDist
	return d.lit.build(lens[:nlit]) && d.dist.build(lens[nlit:])
}

// codes decodes a Huffman-coded block's symbols up to its end, and reports
// whether it got there. When it did not, it set inflateBad, or needs more
// bytes: it stops before a symbol when fewer than maxSymbolBits are left.
func (d *deflateScanner) codes(br *bitReader, eof bool) bool {
	lit, dist := d.lit, d.dist
	for {
		var v uint64
		avail := br.avail()
		if avail >= 64+maxSymbolBits {
			// The common case: one load holds the symbol and its distance.
			v = binary.LittleEndian.Uint64(br.b[br.bit>>3:]) >> (br.bit & 7)
		} else if avail >= maxSymbolBits || eof {
			v = br.peek()
		} else {
			return false
		}
		sym, n := lit.decode(v, avail)
		if n == 0 {
			d.state = inflateBad
			return false
		}
		if sym < 256 {
			br.bit += n
			d.out++
			continue
		}
		if sym == 256 {
			br.bit += n
			return true
		}
		sym -= 257
		if sym >= len(lengthBase) {
			d.state = inflateBad
			return false
		}
		// At most 15+5 bits so far, 15+13 to come: v's 57 hold them all.
		used := n
		le := uint(lengthExtra[sym])
		length := int64(lengthBase[sym]) + int64(v>>used&(1<<le-1))
		used += le
		dsym, dn := dist.decode(v>>used, avail-int(used))
		if dn == 0 || dsym >= len(distBase) {
			d.state = inflateBad
			return false
		}
		used += dn
		de := uint(distExtra[dsym])
		distance := int64(distBase[dsym]) + int64(v>>used&(1<<de-1))
		used += de
		if int(used) > avail || distance > d.out {
			d.state = inflateBad // cut short, or too far back
			return false
		}
		br.bit += used
		d.out += length
	}
}

// bitReader reads b's bits least significant first (RFC 1951 §3.1.1).
type bitReader struct {
	b   []byte
	bit uint // offset in bits of the next bit of b
}

func (br *bitReader) avail() int {
	return len(br.b)*8 - int(br.bit)
}

// peek returns the next bits, at least 57 of them where b holds that many;
// past b's end they are zero.
func (br *bitReader) peek() uint64 {
	i := br.bit >> 3
	if i+8 <= uint(len(br.b)) {
		return binary.LittleEndian.Uint64(br.b[i:]) >> (br.bit & 7)
	}
	var v uint64
	for j := uint(0); j < 8 && i+j < uint(len(br.b)); j++ {
		v |= uint64(br.b[i+j]) << (8 * j)
	}
	return v >> (br.bit & 7)
}

// bits reads an n-bit number, n ≤ 32, and reports whether b held it.
func (br *bitReader) bits(n uint) (uint32, bool) {
	if int(n) > br.avail() {
		return 0, false
	}
	v := uint32(br.peek() & (1<<n - 1))
	br.bit += n
	return v, true
}

// fastBits is how many bits huffman.fast looks up at once: most codes are
// shorter.
const fastBits = 9

// huffman decodes one canonical Huffman code (RFC 1951 §3.2.2).
type huffman struct {
	count  [16]uint16  // how many codes have each length
	symbol [288]uint16 // the symbols ordered by code
	// fast maps the next fastBits bits to symbol<<4 | length, for the codes
	// up to fastBits long; 0 for the rest.
	fast [1 << fastBits]uint16
}

// build makes the code of the given code lengths, and reports whether it is
// valid: not over-subscribed. An incomplete code is valid, as RFC 1951
// allows; decoding a code it lacks fails.
func (h *huffman) build(lens []uint8) bool {
	h.count = [16]uint16{}
	for _, l := range lens {
		h.count[l&15]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return false
		}
	}
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lens {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	h.fast = [1 << fastBits]uint16{}
	code, idx := 0, 0
	for l := 1; l <= fastBits; l++ {
		for range h.count[l] {
			rev := 0
			for k := range l {
				rev |= (code >> k & 1) << (l - 1 - k)
			}
			for j := rev; j < 1<<fastBits; j += 1 << l {
				h.fast[j] = h.symbol[idx]<<4 | uint16(l)
			}
			code++
			idx++
		}
		code <<= 1
	}
	return true
}

// decode returns the symbol whose code starts v, the next bits of the
// stream of which avail are there, and the code's length; a length of 0
// when there is no valid code.
func (h *huffman) decode(v uint64, avail int) (sym int, n uint) {
	if e := h.fast[v&(1<<fastBits-1)]; e != 0 {
		if int(e&15) > avail {
			return 0, 0
		}
		return int(e >> 4), uint(e & 15)
	}
	// Codes are packed most significant bit first: one bit at a time.
	code, first, idx := 0, 0, 0
	for l := 1; l < 16 && l <= avail; l++ {
		code |= int(v >> (l - 1) & 1)
		count := int(h.count[l])
		if code-first < count {
			return int(h.symbol[idx+code-first]), uint(l)
		}
		idx += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, 0
}
