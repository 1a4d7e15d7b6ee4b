package message

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
)

// Transfer decoders (RFC 2045 §6) of our own, because go-message's return
// io.ErrUnexpectedEOF on every call once a base64 or quoted-printable body is
// cut short, and restic/chunker, which the store feeds attachments to, reads
// that error as "read again" and spins for ever (GOTCHAS). Ours never return
// io.ErrUnexpectedEOF and never repeat an error: a body ends at io.EOF, and
// what was wrong with it is reported by Damage once it has been read to the
// end. They decode what lenient clients (Thunderbird, Apple Mail) show: base64
// without padding, quoted-printable with stray '='.

// decodedReader is a part body with its transfer encoding undone.
type decodedReader interface {
	io.Reader
	// Damage says why the decoded content cannot be trusted whole, or "".
	// It is final once Read has returned io.EOF.
	Damage() string
}

// newDecoder returns the body r with the Content-Transfer-Encoding cte undone.
// An encoding it does not know is reported, with the body passed on as is.
func newDecoder(cte string, r io.Reader) (decodedReader, error) {
	switch cte = strings.ToLower(strings.TrimSpace(cte)); cte {
	case "base64":
		return &base64Reader{decoding: decoding{src: r}}, nil
	case "quoted-printable":
		return &qpReader{decoding: decoding{src: r}}, nil
	case "", "7bit", "8bit", "binary":
		return &plainReader{src: r}, nil
	default:
		return &plainReader{src: r}, fmt.Errorf("unknown transfer encoding %q", cte)
	}
}

// errNoProgress guards against a source that returns (0, nil) for ever:
// io.ReadFull, under the chunker, would loop on it.
var errNoProgress = errors.New("mail: part body reader makes no progress")

const maxEmptyReads = 100

// readSource reads from src, turning any error but io.EOF into one of our
// own: wrapped, so that it is never io.ErrUnexpectedEOF by equality, which
// is how the chunker tests for it.
func readSource(src io.Reader, b []byte, empty *int) (int, error) {
	n, err := src.Read(b)
	switch {
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		return n, fmt.Errorf("read part body: %w", err)
	case n == 0:
		if *empty++; *empty >= maxEmptyReads {
			return 0, errNoProgress
		}
	default:
		*empty = 0
	}
	return n, nil
}

// decoding is the state base64Reader and qpReader share: the source, a
// chunk of its input, and the decoded bytes not yet returned.
type decoding struct {
	src   io.Reader
	in    [8 << 10]byte
	buf   []byte // holds out
	out   []byte // decoded, not yet returned
	eof   bool   // finish has run
	err   error
	empty int
}

// decoder is one transfer encoding's steps: decode a chunk of input into
// out (it may overwrite the chunk), and finish what is pending at the end
// of the input (setting eof).
type decoder interface {
	decode(in []byte)
	finish()
}

// read is the Read of both decoders: it decodes chunk after chunk until
// there is output, the input ends or fails.
func (d *decoding) read(b []byte, dec decoder) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.eof {
			return 0, io.EOF
		}
		n, err := readSource(d.src, d.in[:], &d.empty)
		dec.decode(d.in[:n])
		if err == io.EOF {
			dec.finish()
		} else if err != nil {
			d.err = err
		}
	}
	n := copy(b, d.out)
	d.out = d.out[n:]
	return n, nil
}

// plainReader passes 7bit, 8bit and binary bodies on.
type plainReader struct {
	src   io.Reader
	err   error
	empty int
}

func (r *plainReader) Damage() string { return "" }

func (r *plainReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := readSource(r.src, b, &r.empty)
		if err != nil {
			r.err = err
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// base64Alphabet maps a byte to its sextet, or to one of the classes below.
var base64Alphabet = func() (t [256]byte) {
	for i := range t {
		t[i] = b64Bad
	}
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(enc); i++ {
		t[enc[i]] = byte(i)
	}
	for _, c := range " \t\r\n\f\v" {
		t[c] = b64Space
	}
	t['='] = b64Pad
	return t
}()

const (
	b64Space = 0x40 + iota
	b64Pad
	b64Bad
)

// base64Reader decodes base64 leniently: whitespace is skipped, a missing
// final padding is supplied, padding in the middle (encoders that pad every
// chunk they write) restarts the quantum. Characters outside the alphabet
// are skipped as RFC 2045 §6.8 says, but make the part damaged: real clients
// never write them, so they mean the body was mangled in transit. A body that
// ends one character into a quantum was cut short.
type base64Reader struct {
	decoding
	quad   [4]byte
	nq     int
	bad    int
	broken bool // '=' after a single character of a quantum
	cut    bool
}

func (r *base64Reader) Damage() string {
	var why []string
	if r.bad > 0 {
		why = append(why, fmt.Sprintf("%d characters that are not base64", r.bad))
	}
	if r.broken {
		why = append(why, "padding in the middle of a byte")
	}
	if r.cut {
		why = append(why, "base64 that ends in the middle of a byte")
	}
	return strings.Join(why, ", ")
}

func (r *base64Reader) Read(b []byte) (int, error) { return r.read(b, r) }

func (r *base64Reader) decode(in []byte) {
	if r.buf == nil {
		// 3 bytes for each 4 characters, 3 for a quantum begun in the
		// last chunk, and room for decodeQuanta's wide stores.
		r.buf = make([]byte, 0, len(r.in)*3/4+3+16)
	}
	// Line breaks are whitespace, which base64 skips: without them, lines
	// of any width are whole quanta side by side.
	in = dropLineBreaks(in)
	out := r.buf[:0]
	for i := 0; i < len(in); {
		// Between quanta, as many whole quanta as there are go at once.
		// Where decodeQuanta stops (padding, blanks, garbage, a quantum
		// begun at the end of the last chunk or left at the end of this
		// one), careful takes over until a quantum starts again.
		if r.nq == 0 {
			n := decodeQuanta(out[len(out):cap(out)], in[i:])
			out = out[:len(out)+n*3]
			i += n * 4
		}
		i, out = r.careful(in, i, out)
	}
	r.out = out
}

// dropLineBreaks takes the CRs and LFs out of b, in place, finding lines
// with bytes.IndexByte and moving them down with copy.
func dropLineBreaks(b []byte) []byte {
	w, r := 0, 0
	for {
		j := bytes.IndexByte(b[r:], '\n')
		if j < 0 {
			break
		}
		line := b[r : r+j]
		if j > 0 && line[j-1] == '\r' {
			line = line[:j-1]
		}
		w += copy(b[w:], line)
		r += j + 1
	}
	w += copy(b[w:], b[r:])
	b = b[:w]
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	// CRs without an LF after them: rare enough for a byte at a time.
	w = 0
	for _, c := range b {
		if c != '\r' {
			b[w] = c
			w++
		}
	}
	return b[:w]
}

// base64Lanes maps a character to its sextet put where it goes in the three
// bytes of a quantum (little-endian), one table for each of the four places
// in the quantum, so that a quantum is four lookups ORed together. A
// character outside the alphabet sets b64Invalid, which no sextet reaches.
// The entries are uint64 so that the compiler, which cannot tell what they
// hold, writes two quanta with one 8-byte store.
var base64Lanes = func() (t [4][256]uint64) {
	for c := range 256 {
		for k := range t {
			t[k][c] = b64Invalid
		}
		if s := uint64(base64Alphabet[c]); s < b64Space {
			t[0][c] = s << 2                  // first byte, high 6 bits
			t[1][c] = s>>4 | (s&0xf)<<12      // first byte's low 2, second's high 4
			t[2][c] = (s>>2)<<8 | (s&0x3)<<22 // second byte's low 4, third's high 2
			t[3][c] = s << 16                 // third byte, low 6 bits
		}
	}
	return t
}()

const b64Invalid = 1 << 31

// decodeQuanta decodes whole quanta from the start of src into dst, up to
// the first quantum with a character outside the alphabet (blanks,
// padding, line breaks and garbage alike) or the end of either, and returns
// how many: 4 characters read and 3 bytes written for each. It writes
// nothing outside dst but may write 2 bytes past those it reports, so it
// leaves the last quanta undecoded where dst has less than 4 bytes of room
// for 3. It does what flushQuantum does for 4 sextets, 16 characters a
// step: this is the hot loop of ingest (issue 11), and about twice as fast
// as encoding/base64's Decode.
func decodeQuanta(dst, src []byte) int {
	t := &base64Lanes
	i, o := 0, 0
	for i+16 <= len(src) && o+16 <= len(dst) {
		s := src[i : i+16 : i+16]
		a := t[0][s[0]] | t[1][s[1]] | t[2][s[2]] | t[3][s[3]]
		b := t[0][s[4]] | t[1][s[5]] | t[2][s[6]] | t[3][s[7]]
		c := t[0][s[8]] | t[1][s[9]] | t[2][s[10]] | t[3][s[11]]
		d := t[0][s[12]] | t[1][s[13]] | t[2][s[14]] | t[3][s[15]]
		if (a|b|c|d)&b64Invalid != 0 {
			break
		}
		binary.LittleEndian.PutUint64(dst[o:o+8:o+8], a|b<<24)
		binary.LittleEndian.PutUint64(dst[o+6:o+14:o+14], c|d<<24)
		i, o = i+16, o+12
	}
	for i+4 <= len(src) && o+4 <= len(dst) {
		s := src[i : i+4 : i+4]
		a := t[0][s[0]] | t[1][s[1]] | t[2][s[2]] | t[3][s[3]]
		if a&b64Invalid != 0 {
			break
		}
		binary.LittleEndian.PutUint32(dst[o:o+4:o+4], uint32(a))
		i, o = i+4, o+3
	}
	return i / 4
}

// careful decodes in[i:] a character at a time, as the decoder did before
// it worked on blocks, as far as the next quantum that starts with a
// character of the alphabet, after at least one character; it returns where
// it stopped.
func (r *base64Reader) careful(in []byte, i int, out []byte) (int, []byte) {
	for start := i; i < len(in); i++ {
		switch v := base64Alphabet[in[i]]; v {
		case b64Space:
		case b64Bad:
			r.bad++
		case b64Pad:
			// "xx==" and "xxx=": the padding ends the quantum early.
			if r.nq == 1 {
				r.broken = true
			}
			out = r.flushQuantum(out)
		default:
			if r.nq == 0 && i > start {
				return i, out
			}
			r.quad[r.nq] = v
			if r.nq++; r.nq == 4 {
				out = r.flushQuantum(out)
			}
		}
	}
	return i, out
}

// flushQuantum appends the bytes of the sextets collected so far (one fewer
// than sextets, none for a lone one) and starts a new quantum.
func (r *base64Reader) flushQuantum(out []byte) []byte {
	q := r.quad
	switch r.nq {
	case 4:
		out = append(out, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3])
	case 3:
		out = append(out, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2)
	case 2:
		out = append(out, q[0]<<2|q[1]>>4)
	}
	r.nq = 0
	return out
}

func (r *base64Reader) finish() {
	r.eof = true
	if r.nq == 1 {
		r.cut = true // six bits are not a byte: the rest is missing
	}
	r.out = r.flushQuantum(r.out) // missing padding is not damage
}

// qpReader decodes quoted-printable (RFC 2045 §6.7) leniently: a '=' that
// starts no escape or soft line break is kept as written (the RFC's advice
// for "=" followed by other characters), lower-case hex digits are accepted,
// and whitespace at the end of a line, which transports may add, is dropped
// (rule 3). Nothing in quoted-printable shows a cut, so it reports no damage
// of its own.
type qpReader struct {
	decoding
	state int
	hex1  byte
	ws    []byte // whitespace not yet known to be inside a line
	cr    bool   // a CR waiting for its LF
}

const (
	qpText    = iota
	qpEq      // after '='
	qpEqHex   // after '=' and one hex digit
	qpEqSpace // after '=' and whitespace: a soft break with padding, or text
	qpEqCR    // after '=' (and whitespace) and CR
)

// maxPendingSpace bounds the whitespace held back to see whether it ends a
// line; a longer run is text.
const maxPendingSpace = 1 << 10

func (r *qpReader) Damage() string { return "" }

func (r *qpReader) Read(b []byte) (int, error) { return r.read(b, r) }

func (r *qpReader) decode(in []byte) {
	if r.buf == nil {
		r.buf = make([]byte, 0, len(r.in)+maxPendingSpace+2)
	}
	// In text with no CR pending, a run of text goes at once, and an
	// escape or a soft line break that is whole in this chunk in one
	// step. The rest, whitespace (which may end a line) and an '=' that
	// is text or split from what follows it, step takes a character at a
	// time, as the decoder did before it worked on blocks.
	out := r.buf[:0]
	for i := 0; i < len(in); {
		c := in[i]
		if r.state != qpText || r.cr || qpSpace[c] {
			r.out = out
			r.step(c)
			out = r.out
			i++
			continue
		}
		if c == '=' {
			n := 0
			switch {
			case i+1 < len(in) && in[i+1] == '\n':
				n = 2
			case i+2 >= len(in):
			case in[i+1] == '\r' && in[i+2] == '\n':
				n = 3
			case hexValue[in[i+1]]|hexValue[in[i+2]] < 16:
				n = 3
			}
			if n == 0 {
				r.out = out
				r.step(c)
				out = r.out
				i++
				continue
			}
			out = append(out, r.ws...) // blanks before '=' are inside the line
			r.ws = r.ws[:0]
			if in[i+1] != '\r' && in[i+1] != '\n' {
				out = append(out, hexValue[in[i+1]]<<4|hexValue[in[i+2]])
			}
			i += n
			continue
		}
		// Text as far as the next '=' or LF is copied up to its last
		// character that is not whitespace: blanks and CRs with text after
		// them are kept as they stand, and those at the end, which may end
		// the line, are left to step.
		j := i + 1 + qpTextRun(in[i+1:])
		for j > i+1 && qpSpace[in[j-1]] {
			j--
		}
		out = append(out, r.ws...)
		r.ws = r.ws[:0]
		out = append(out, in[i:j]...)
		i = j
	}
	r.out = out
}

// qpTextRun is how many characters at the start of b are neither '=' nor
// LF. It looks at 8 at a time: a byte of x is 0 where b has '=', of y where
// it has LF, and the borrow trick finds the lowest zero byte of either
// exactly (it may flag bytes above that one, which are not looked at).
func qpTextRun(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := 0
	for ; n+8 <= len(b); n += 8 {
		v := binary.LittleEndian.Uint64(b[n : n+8 : n+8])
		x, y := v^('='*ones), v^('\n'*ones)
		if m := ((x - ones) &^ x) | ((y - ones) &^ y); m&highs != 0 {
			return n + bits.TrailingZeros64(m&highs)/8
		}
	}
	for n < len(b) && b[n] != '=' && b[n] != '\n' {
		n++
	}
	return n
}

// qpSpace holds the whitespace that may end a line: blanks, CR and LF.
var qpSpace = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

// hexValue maps a hex digit, either case, to its value, and anything else
// to 0xff.
var hexValue = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xff
		if v, ok := unhex(byte(c)); ok {
			t[c] = v
		}
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (r *qpReader) step(c byte) {
	switch r.state {
	case qpText:
		if r.cr {
			r.cr = false
			if c == '\n' {
				r.ws = r.ws[:0] // trailing whitespace: dropped
				r.out = append(r.out, '\r', '\n')
				return
			}
			r.out = append(r.out, r.ws...)
			r.out = append(r.out, '\r')
			r.ws = r.ws[:0]
		}
		switch c {
		case ' ', '\t':
			if len(r.ws) >= maxPendingSpace {
				r.out = append(r.out, r.ws...)
				r.ws = r.ws[:0]
			}
			r.ws = append(r.ws, c)
		case '\r':
			r.cr = true
		case '\n':
			r.ws = r.ws[:0]
			r.out = append(r.out, '\n')
		case '=':
			r.out = append(r.out, r.ws...)
			r.ws = r.ws[:0]
			r.state = qpEq
		default:
			r.out = append(r.out, r.ws...)
			r.ws = r.ws[:0]
			r.out = append(r.out, c)
		}
	case qpEq:
		switch {
		case c == '\r':
			r.state = qpEqCR
		case c == '\n':
			r.state = qpText // soft line break
		case c == ' ' || c == '\t':
			r.ws = append(r.ws[:0], c)
			r.state = qpEqSpace
		default:
			if _, ok := unhex(c); ok {
				r.hex1, r.state = c, qpEqHex
				return
			}
			r.out = append(r.out, '=')
			r.state = qpText
			r.step(c)
		}
	case qpEqHex:
		r.state = qpText
		if lo, ok := unhex(c); ok {
			hi, _ := unhex(r.hex1)
			r.out = append(r.out, hi<<4|lo)
			return
		}
		r.out = append(r.out, '=', r.hex1)
		r.step(c)
	case qpEqSpace:
		switch c {
		case ' ', '\t':
			if len(r.ws) < maxPendingSpace {
				r.ws = append(r.ws, c)
				return
			}
		case '\r':
			r.ws = r.ws[:0]
			r.state = qpEqCR
			return
		case '\n':
			r.ws = r.ws[:0]
			r.state = qpText
			return
		}
		// "= x": a '=' of text after all.
		r.out = append(r.out, '=')
		r.out = append(r.out, r.ws...)
		r.ws = r.ws[:0]
		r.state = qpText
		r.step(c)
	case qpEqCR:
		r.state = qpText
		if c != '\n' {
			r.step(c) // "=\r" then text: a soft break all the same
		}
	}
}

func (r *qpReader) finish() {
	r.eof = true
	switch r.state {
	case qpText:
		if r.cr {
			r.out = append(r.out, r.ws...)
			r.out = append(r.out, '\r')
		}
		// Whitespace at the very end is trailing too: dropped.
	case qpEq:
		r.out = append(r.out, '=')
	case qpEqHex:
		r.out = append(r.out, '=', r.hex1)
	}
	r.ws = r.ws[:0]
}
