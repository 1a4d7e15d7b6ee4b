package store

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
)

// Zip signatures (APPNOTE.TXT §4.3.7, §4.3.12).
var (
	sigLocal   = []byte("PK\x03\x04")
	sigCentral = []byte("PK\x01\x02")
)

const (
	// localHeaderSize is the fixed part of a zip local file header: then
	// come the name and the extra field (APPNOTE.TXT §4.3.7).
	localHeaderSize = 30
	// methodDeflate is the compression method of deflated members.
	methodDeflate = 8
	// flagDescriptor is bit 3 of a local header's flags: the sizes are
	// not in the header but in a data descriptor after the data.
	flagDescriptor = 1 << 3
	// maxName is the longest member name read to choose the member's chunk
	// sizes; a member with a longer one is taken for media.
	maxName = 1 << 10

	// minSegment is the shortest stretch a boundary ends: one nearer to the
	// boundary before is passed over, and what lies between shares a chunk
	// with what follows. A small member (a few hundred bytes of XML that
	// change with every save) still gets a chunk of its own.
	minSegment = 256
	// shortSegment and maxShortSegments bound what many small members cost:
	// a blob's boundaries end at most maxShortSegments segments shorter
	// than shortSegment, and pass over the rest. An office file has tens
	// to hundreds of members; a zip with a header every few hundred bytes,
	// valid or hostile, gets no more chunks than that plus one per
	// shortSegment, so its manifest stays within a few percent of its size
	// however it is made.
	shortSegment     = 4 << 10
	maxShortSegments = 1024

	// cutBufSize is the look-ahead in which headers are parsed. It must
	// hold a local header with a name of maxName bytes, and a deflate
	// block's header.
	cutBufSize = 64 << 10
)

// parse states of a cutReader.
const (
	parseStart   = iota // at offset 0, not knowing whether the content is a zip file
	parseHeader         // a header, or something else, is expected at the offset at
	parseScan           // the offsets from at on are searched for a header's signature
	parseDeflate        // in a member's deflate stream, at the byte at
	parseDone           // no boundary comes: the content is not a zip file
)

// cutReader reads a blob's content for the chunker and ends a segment, by
// returning io.EOF, where a chunk must end whatever the content-defined cuts
// say: at each member of a zip file (docx, xlsx, pptx, odt), so that an edit
// in one member never costs a chunk of its neighbour, and at the deflate
// blocks of the XML members, which edits change. next starts the next
// segment, and params says what sizes to cut it into.
//
// Content that starts with a local file header is a zip file. Each local
// header is parsed as it passes, and gets a boundary. When the member is
// deflated XML, its stream is followed (see deflateScanner) to find its
// blocks and its end; otherwise, when the header says how long the data
// is, the next header is expected right after it. When it does not (a data
// descriptor follows the data, as archive/zip and many other streaming
// writers do), when the stream is not valid, or when what is found where a
// header should be is none, the content is searched for the next header's
// signature. The first central directory header gets a boundary too. A
// false signature inside compressed data only adds a boundary, which costs
// a little dedupe at most.
//
// Nothing is buffered beyond cutBufSize, every step of the parser moves
// forward, so no content can make it loop, and segments are at least
// minSegment long, but the last; the chunker still bounds each chunk by its
// maximum.
type cutReader struct {
	r   io.Reader
	err error // r's, returned once buf is drained

	buf      []byte // buf[off:end] is read from r, not yet passed on
	off, end int
	pos      int64 // content offset of buf[off]

	state int
	at    int64 // parseHeader: the offset of the expected header; parseScan: where the search resumes
	inDir bool  // the central directory has begun

	inflate     deflateScanner // parseDeflate: the member's stream
	streamStart int64          // parseDeflate: where the stream starts
	member      *chunkParams   // parseDeflate: the member's sizes
	// parseDeflate: a block found at blockAt, or -1. It becomes a
	// boundary once it proves at least minSegment long: Go's writer ends
	// a stream with an empty block, and a sync flush makes one too, and a
	// boundary there would keep the next member's header from having its
	// own.
	blockAt int64

	cut       int64        // the boundary found and not yet reached, or -1
	cutParams *chunkParams // the sizes of the segment starting at cut
	// The boundary after cut, at the data of an XML member whose header
	// holds its size and checksum, or -1; dataNext says that cut is it.
	// Such a header changes whenever the member does: cut off, it costs
	// a few dozen bytes, not a chunk of the data it would share.
	dataCut  int64
	dataNext bool

	segStart int64        // where the current segment began
	minFrom  int64        // where minSegment counts from: the last boundary but one at a header's data
	seg      *chunkParams // the sizes of the current segment
	short    int          // segments shorter than shortSegment so far
	ended    bool         // the segment ended at pos: Read returns io.EOF until next
}

func (c *cutReader) reset(r io.Reader) {
	if c.buf == nil {
		c.buf = make([]byte, cutBufSize)
	}
	*c = cutReader{r: r, buf: c.buf, cut: -1, blockAt: -1, dataCut: -1, seg: &defaultChunks}
}

// next starts the segment after the one that ended, and reports whether
// there is one: false at the end of the content.
func (c *cutReader) next() bool {
	if !c.ended {
		return false
	}
	c.ended = false
	c.segStart = c.pos
	c.seg = c.cutParams
	return true
}

// params returns the chunk sizes for the current segment. For the first, it
// reads ahead to the first member's header, if any: the sizes are chosen
// before the chunker reads. A read error waits for Read to return it.
func (c *cutReader) params() chunkParams {
	if c.pos == 0 && !c.ended {
		for c.state == parseStart || c.state == parseHeader && c.at == 0 && c.cut < 0 {
			if c.parse() {
				continue
			}
			if c.err != nil {
				break
			}
			c.fill()
		}
		if c.cut == 0 {
			c.seg = c.cutParams
		}
	}
	return *c.seg
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.ended {
			return 0, io.EOF
		}
		if c.cut == c.pos {
			n := c.pos - c.segStart
			take := n >= shortSegment || (c.pos-c.minFrom >= minSegment || c.dataNext) && c.short < maxShortSegments
			if take && !c.dataNext {
				c.minFrom = c.pos
			}
			c.cut, c.dataNext = -1, false
			if c.dataCut >= 0 {
				c.cut, c.dataCut, c.dataNext = c.dataCut, -1, true
			}
			if take {
				if n < shortSegment {
					c.short++
				}
				c.ended = true
				continue
			}
			// Too near the last boundary: what follows joins the segment.
		}
		if c.off < c.end {
			limit := c.frontier()
			if c.cut >= 0 {
				limit = min(limit, c.cut)
			}
			if n := min(int64(len(p)), int64(c.end-c.off), limit-c.pos); n > 0 {
				copy(p, c.buf[c.off:c.off+int(n)])
				c.off += int(n)
				c.pos += n
				return int(n), nil
			}
		} else if c.state == parseDone && c.err == nil && c.cut < 0 {
			// Nothing to parse: straight from r, without a copy.
			n, err := c.r.Read(p)
			c.pos += int64(n)
			c.err = err
			if n > 0 || err == nil {
				return n, nil
			}
			return 0, err
		}
		if c.parse() {
			continue
		}
		if c.err != nil {
			if c.off == c.end {
				return 0, c.err
			}
			// A truncated header or stream never completes: pass the
			// rest on.
			c.state = parseDone
			continue
		}
		c.fill()
	}
}

// frontier returns the offset up to which the parser has found every
// boundary: Read may pass on what comes before it.
func (c *cutReader) frontier() int64 {
	switch c.state {
	case parseStart:
		return 0
	case parseHeader, parseScan:
		return c.at
	case parseDeflate:
		if c.blockAt >= 0 {
			return c.blockAt
		}
		return c.at
	default:
		return 1<<63 - 1
	}
}

// fill reads more of r into buf, moving what is unread to its start.
func (c *cutReader) fill() {
	if c.off > 0 {
		c.end = copy(c.buf, c.buf[c.off:c.end])
		c.off = 0
	}
	if c.end == len(c.buf) {
		// The parser needs less than cutBufSize ahead of pos, so this
		// cannot be; were it, reading nothing would loop.
		c.state = parseDone
		return
	}
	n, err := c.r.Read(c.buf[c.end:])
	c.end += n
	c.err = err
}

// buffered returns the bytes of buf from content offset at on, if at is
// buffered.
func (c *cutReader) buffered(at int64) []byte {
	if at < c.pos || at-c.pos > int64(c.end-c.off) {
		return nil
	}
	return c.buf[c.off+int(at-c.pos) : c.end]
}

// parse takes one step with what buf holds, and reports whether it did: it
// needs more content otherwise, or waits for Read to reach the boundary it
// found.
func (c *cutReader) parse() bool {
	switch c.state {
	case parseStart:
		b := c.buffered(0)
		if len(b) < len(sigLocal) {
			return false
		}
		c.state = parseDone
		if bytes.HasPrefix(b, sigLocal) {
			c.state = parseHeader
		}
		return true
	case parseHeader:
		if c.cut >= 0 {
			return false // one boundary at a time
		}
		return c.header()
	case parseDeflate:
		if c.cut >= 0 {
			return false
		}
		return c.deflate()
	case parseScan:
		return c.scan()
	}
	return false
}

// header parses what is at the offset at, where a header is expected.
func (c *cutReader) header() bool {
	b := c.buffered(c.at)
	if len(b) < len(sigLocal) {
		return false
	}
	switch {
	case bytes.HasPrefix(b, sigLocal):
		if len(b) < localHeaderSize {
			return false
		}
		flags := binary.LittleEndian.Uint16(b[6:])
		method := binary.LittleEndian.Uint16(b[8:])
		size := binary.LittleEndian.Uint32(b[18:])
		nameLen := int(binary.LittleEndian.Uint16(b[26:]))
		extraLen := int(binary.LittleEndian.Uint16(b[28:]))
		xml := false
		if nameLen <= maxName {
			if len(b) < localHeaderSize+nameLen {
				return false
			}
			xml = xmlMember(b[localHeaderSize : localHeaderSize+nameLen])
		}
		params := &largeChunks
		switch {
		case xml && method == methodDeflate:
			params = &deflateChunks
		case xml:
			params = &smallChunks
		}
		c.cut, c.cutParams, c.inDir = c.at, params, false
		data := c.at + localHeaderSize + int64(nameLen) + int64(extraLen)
		if xml && flags&flagDescriptor == 0 {
			c.dataCut = data
		}
		switch {
		case xml && method == methodDeflate:
			// Its blocks get boundaries; its end is where the stream
			// ends, whether or not the header says.
			c.state, c.at, c.streamStart, c.member, c.blockAt = parseDeflate, data, data, params, -1
			c.inflate.reset()
		case flags&flagDescriptor == 0 && size != 0xFFFFFFFF:
			c.at = data + int64(size)
		default:
			// The size is in a data descriptor, or in a zip64 extra
			// field: search.
			c.state, c.at = parseScan, data
		}
	case bytes.HasPrefix(b, sigCentral):
		if !c.inDir {
			c.cut, c.cutParams, c.inDir = c.at, &defaultChunks, true
		}
		c.state, c.at = parseScan, c.at+int64(len(sigCentral))
	default:
		c.state = parseScan
	}
	return true
}

// deflate follows a member's deflate stream.
func (c *cutReader) deflate() bool {
	before := c.inflate.pos
	r := c.inflate.scan(c.buffered(c.at), c.err != nil)
	c.at = c.streamStart + c.inflate.pos>>3
	switch r {
	case scanMore:
		if c.inflate.pos == before {
			return false
		}
	case scanBlock:
		// The block before, if shorter than minSegment, gives way.
		if c.blockAt >= 0 && c.at-c.blockAt >= minSegment {
			c.cut, c.cutParams = c.blockAt, c.member
		}
		c.blockAt = c.at
		return true
	case scanEnd:
		// What follows, a data descriptor or not, is searched.
		c.state, c.at = parseScan, c.streamStart+(c.inflate.pos+7)>>3
	default:
		c.state = parseScan
	}
	if c.blockAt >= 0 {
		if c.at-c.blockAt >= minSegment {
			c.cut, c.cutParams = c.blockAt, c.member
		}
		if c.at-c.blockAt >= minSegment || c.state != parseDeflate {
			c.blockAt = -1
		}
	}
	return true
}

// scan searches for the next local or central directory header's
// signature from the offset at on.
func (c *cutReader) scan() bool {
	b := c.buffered(c.at)
	if len(b) < len(sigLocal) {
		return false
	}
	// A signature starts at i when b[i:i+4] is one; the last 3 bytes wait
	// for more content.
	for i := 0; ; i++ {
		j := bytes.Index(b[i:], sigLocal[:2])
		if j < 0 {
			break
		}
		i += j
		if i+len(sigLocal) > len(b) {
			c.at += int64(i)
			return true
		}
		if bytes.HasPrefix(b[i:], sigLocal) || bytes.HasPrefix(b[i:], sigCentral) {
			c.state, c.at = parseHeader, c.at+int64(i)
			return true
		}
	}
	c.at += int64(len(b) - (len(sigLocal) - 1))
	return true
}

// xmlMember reports whether a zip member is XML: the parts of office
// documents that edits change (the text, comments, properties), which
// compress to little. Other members (images, fonts, embedded files) are
// mostly carried from version to version unchanged.
func xmlMember(name []byte) bool {
	n := strings.ToLower(string(name))
	return strings.HasSuffix(n, ".xml") || strings.HasSuffix(n, ".rels")
}
