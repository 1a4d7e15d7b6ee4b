package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-message/textproto"
)

// A multipart reader of our own (RFC 2046 §5.1), because go-message's reads
// each part header with no bound (GOTCHAS): one part with millions of header
// lines costs gigabytes. Ours reads part headers through readHeaderBlock,
// which stops at the byte and field bounds, reads bodies line by line
// through a fixed buffer, and tells a part that the message ends inside from
// one closed by its delimiter.

// lineBufferSize is the read buffer of each multipart level. A line longer
// than it is passed on in pieces; only a delimiter line must fit, and
// boundaries are at most 70 characters (RFC 2046 §5.1.1).
const lineBufferSize = 16 << 10

// headerBounds caps one header block, and counts the fields of the whole
// message in total.
type headerBounds struct {
	maxBytes  int
	maxFields int
	total     *int // fields so far in the message
	maxTotal  int
	what      string // "the message header", "a MIME part header"
}

// readHeaderBlock reads a header block from br up to and including the
// empty line that ends it (or the end of input), and returns it, ready for
// textproto.ReadHeader. delimiter, when not nil, reports a line that ends the
// block early: a part header cut off by the next boundary; the line is
// consumed and returned as stop.
func readHeaderBlock(br *bufio.Reader, b headerBounds, delimiter func([]byte) bool) (block, stop []byte, err error) {
	var buf bytes.Buffer
	lineStart := true
	fields := 0
	for {
		line, err := br.ReadSlice('\n')
		full := err == nil
		if len(line) > 0 {
			if lineStart && (full || err == io.EOF) {
				if isBlankLine(line) {
					break
				}
				if delimiter != nil && delimiter(line) {
					stop = line
					break
				}
			}
			if lineStart && line[0] != ' ' && line[0] != '\t' {
				fields++
				*b.total++
				if fields > b.maxFields {
					return nil, nil, &LimitError{Reason: fmt.Sprintf("%s has more than %d fields", b.what, b.maxFields)}
				}
				if *b.total > b.maxTotal {
					return nil, nil, &LimitError{Reason: fmt.Sprintf("the message has more than %d header fields", b.maxTotal)}
				}
			}
			if buf.Len()+len(line) > b.maxBytes {
				return nil, nil, &LimitError{Reason: fmt.Sprintf("%s is longer than %s", b.what, byteSize(b.maxBytes))}
			}
			buf.Write(line)
		}
		lineStart = full
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return nil, nil, fmt.Errorf("read header: %w", err)
		}
	}
	if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
		buf.WriteString("\r\n")
	}
	buf.WriteString("\r\n")
	return buf.Bytes(), stop, nil
}

// parseHeaderBlock parses what readHeaderBlock returned. On a broken line it
// returns the fields before it with the error, as textproto.ReadHeader does.
func parseHeaderBlock(block []byte) (textproto.Header, error) {
	return textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(block), min(len(block)+16, 64<<10)))
}

func isBlankLine(line []byte) bool {
	return len(bytes.TrimRight(line, "\r\n")) == 0
}

// byteSize writes n bytes as people do: "64 KiB", "1 MiB".
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// multipartReader walks the parts of one multipart body.
type multipartReader struct {
	br     *bufio.Reader
	dash   []byte      // "--" + boundary
	parent *partReader // the part this multipart is the body of; nil at the top
	bounds headerBounds
	part   *partReader
	closed bool // the close delimiter was seen
	ended  bool // the body ended (close delimiter or end of input)
	// cut is set when the body ended without its close delimiter because the
	// message itself ended.
	cut bool
}

// errNoParts is returned by next when a multipart body holds no delimiter
// at all.
var errNoParts = errors.New("no part matches the boundary")

func newMultipartReader(body io.Reader, boundary string, bounds headerBounds) *multipartReader {
	mr := &multipartReader{dash: []byte("--" + boundary), bounds: bounds}
	if pr, ok := body.(*partReader); ok {
		mr.parent = pr
	}
	if br, ok := body.(*bufio.Reader); ok && br.Size() >= lineBufferSize {
		mr.br = br
	} else {
		mr.br = bufio.NewReaderSize(body, lineBufferSize)
	}
	return mr
}

// delimiter reports whether line (with its line break) is a boundary
// delimiter line, and whether it is the close delimiter. RFC 2046 §5.1.1
// allows only whitespace after the boundary: a longer line is another
// boundary that starts with ours.
func (mr *multipartReader) delimiter(line []byte) (is, closing bool) {
	if !bytes.HasPrefix(line, mr.dash) {
		return false, false
	}
	rest := line[len(mr.dash):]
	if bytes.HasPrefix(rest, []byte("--")) {
		return true, true
	}
	return len(bytes.Trim(rest, " \t\r\n")) == 0, false
}

// sourceEnded tells whether the end of input the reader met is the end of
// the message, not the end of an enclosing part closed by its delimiter.
func (mr *multipartReader) sourceEnded() bool {
	return mr.parent == nil || mr.parent.cut
}

// next returns the next part's header and body, io.EOF after the last one.
// The previous part's body is skipped. A header over its bounds returns an
// error wrapping ErrLimit; a header line textproto cannot read returns the
// fields before it with the part, and the error in hdrErr.
func (mr *multipartReader) next() (h textproto.Header, body *partReader, hdrErr, err error) {
	if mr.part == nil {
		// The preamble, up to the first delimiter.
		for !mr.ended {
			line, err := mr.br.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
				return h, nil, nil, fmt.Errorf("read multipart: %w", err)
			}
			if is, closing := mr.delimiter(line); is && (err == nil || err == io.EOF) {
				mr.closed, mr.ended = closing, closing
				break
			}
			for err == bufio.ErrBufferFull { // the rest of a long line
				_, err = mr.br.ReadSlice('\n')
			}
			if err == io.EOF {
				mr.ended, mr.cut = true, mr.sourceEnded()
				return h, nil, nil, errNoParts
			}
		}
	} else if _, err := io.Copy(io.Discard, mr.part); err != nil {
		return h, nil, nil, err
	}
	if mr.ended {
		return h, nil, nil, io.EOF
	}
	block, stop, err := readHeaderBlock(mr.br, mr.bounds, func(line []byte) bool {
		is, _ := mr.delimiter(line)
		return is
	})
	if err != nil {
		return h, nil, nil, err
	}
	h, hdrErr = parseHeaderBlock(block)
	mr.part = &partReader{mr: mr, atLineStart: true}
	if stop != nil {
		// The next delimiter came before the end of the header: an empty
		// part.
		_, closing := mr.delimiter(stop)
		mr.part.ended, mr.closed, mr.ended = true, closing, closing
	}
	return h, mr.part, hdrErr, nil
}

// partReader is the body of one part: everything up to the line break
// before the next delimiter.
type partReader struct {
	mr          *multipartReader
	buf         []byte
	cur         []byte // not yet returned
	eol         []byte // the line break held back: it belongs to a delimiter that may follow
	atLineStart bool
	ended       bool
	// cut is set when the message ended inside this part: no delimiter
	// closed it.
	cut bool
	err error
}

func (pr *partReader) Read(b []byte) (int, error) {
	for len(pr.cur) == 0 {
		if pr.err != nil {
			return 0, pr.err
		}
		if pr.ended {
			return 0, io.EOF
		}
		pr.fill()
	}
	n := copy(b, pr.cur)
	pr.cur = pr.cur[n:]
	return n, nil
}

// fill reads the next line, or piece of a long line, into cur.
func (pr *partReader) fill() {
	mr := pr.mr
	line, err := mr.br.ReadSlice('\n')
	if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
		pr.err = fmt.Errorf("read multipart: %w", err)
		return
	}
	if pr.atLineStart && err != bufio.ErrBufferFull && len(line) > 0 {
		if is, closing := mr.delimiter(line); is {
			pr.ended = true
			mr.closed, mr.ended = closing, closing || err == io.EOF
			return
		}
	}
	pr.buf = append(pr.buf[:0], pr.eol...)
	pr.eol = nil
	content := line
	if err == nil {
		if bytes.HasSuffix(line, []byte("\r\n")) {
			content, pr.eol = line[:len(line)-2], crlfBytes
		} else {
			content, pr.eol = line[:len(line)-1], lfBytes
		}
	}
	pr.buf = append(pr.buf, content...)
	pr.atLineStart = err == nil
	if err == io.EOF {
		// The input ends inside the part: there is no delimiter to claim a
		// last line break, so it is content.
		pr.buf = append(pr.buf, pr.eol...)
		pr.eol = nil
		pr.ended, mr.ended = true, true
		pr.cut = mr.sourceEnded()
		mr.cut = pr.cut
	}
	pr.cur = pr.buf
}

var (
	crlfBytes = []byte("\r\n")
	lfBytes   = []byte("\n")
)
