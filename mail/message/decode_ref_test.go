package message

import (
	"fmt"
	"io"
	"strings"
)

// The decoders as they were before they worked on blocks (issue 11): a byte
// and a quantum at a time, simple enough to read as the definition of what
// base64Reader and qpReader return. FuzzDecoders holds the fast ones to
// them, byte for byte and damage for damage. Only the names differ.

// refDecoding is the state refBase64Reader and refQPReader share: the source, a
// chunk of its input, and the decoded bytes not yet returned.
type refDecoding struct {
	src   io.Reader
	in    [8 << 10]byte
	buf   []byte // holds out
	out   []byte // decoded, not yet returned
	eof   bool   // finish has run
	err   error
	empty int
}

// refDecoder is one transfer encoding's steps: decode a chunk of input into
// out, and finish what is pending at the end of the input (setting eof).
type refDecoder interface {
	decode(in []byte)
	finish()
}

// read is the Read of both decoders: it decodes chunk after chunk until
// there is output, the input ends or fails.
func (d *refDecoding) read(b []byte, dec refDecoder) (int, error) {
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

// refBase64Alphabet maps a byte to its sextet, or to one of the classes below.
var refBase64Alphabet = func() (t [256]byte) {
	for i := range t {
		t[i] = refB64Bad
	}
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(enc); i++ {
		t[enc[i]] = byte(i)
	}
	for _, c := range " \t\r\n\f\v" {
		t[c] = refB64Space
	}
	t['='] = refB64Pad
	return t
}()

const (
	refB64Space = 0x40 + iota
	refB64Pad
	refB64Bad
)

// refBase64Reader decodes base64 leniently: whitespace is skipped, a missing
// final padding is supplied, padding in the middle (encoders that pad every
// chunk they write) restarts the quantum. Characters outside the alphabet
// are skipped as RFC 2045 §6.8 says, but make the part damaged: real clients
// never write them, so they mean the body was mangled in transit. A body that
// ends one character into a quantum was cut short.
type refBase64Reader struct {
	refDecoding
	quad   [4]byte
	nq     int
	bad    int
	broken bool // '=' after a single character of a quantum
	cut    bool
}

func (r *refBase64Reader) Damage() string {
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

func (r *refBase64Reader) Read(b []byte) (int, error) { return r.read(b, r) }

func (r *refBase64Reader) decode(in []byte) {
	if r.buf == nil {
		r.buf = make([]byte, 0, len(r.in)*3/4+3)
	}
	out := r.buf[:0]
	for _, c := range in {
		switch v := refBase64Alphabet[c]; v {
		case refB64Space:
		case refB64Bad:
			r.bad++
		case refB64Pad:
			// "xx==" and "xxx=": the padding ends the quantum early.
			if r.nq == 1 {
				r.broken = true
			}
			out = r.flushQuantum(out)
		default:
			r.quad[r.nq] = v
			if r.nq++; r.nq == 4 {
				out = r.flushQuantum(out)
			}
		}
	}
	r.out = out
}

// flushQuantum appends the bytes of the sextets collected so far (one fewer
// than sextets, none for a lone one) and starts a new quantum.
func (r *refBase64Reader) flushQuantum(out []byte) []byte {
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

func (r *refBase64Reader) finish() {
	r.eof = true
	if r.nq == 1 {
		r.cut = true // six bits are not a byte: the rest is missing
	}
	r.out = r.flushQuantum(r.out) // missing padding is not damage
}

// refQPReader decodes quoted-printable (RFC 2045 §6.7) leniently: a '=' that
// starts no escape or soft line break is kept as written (the RFC's advice
// for "=" followed by other characters), lower-case hex digits are accepted,
// and whitespace at the end of a line, which transports may add, is dropped
// (rule 3). Nothing in quoted-printable shows a cut, so it reports no damage
// of its own.
type refQPReader struct {
	refDecoding
	state int
	hex1  byte
	ws    []byte // whitespace not yet known to be inside a line
	cr    bool   // a CR waiting for its LF
}

const (
	refQPText    = iota
	refQPEq      // after '='
	refQPEqHex   // after '=' and one hex digit
	refQPEqSpace // after '=' and whitespace: a soft break with padding, or text
	refQPEqCR    // after '=' (and whitespace) and CR
)

// refMaxPendingSpace bounds the whitespace held back to see whether it ends a
// line; a longer run is text.
const refMaxPendingSpace = 1 << 10

func (r *refQPReader) Damage() string { return "" }

func (r *refQPReader) Read(b []byte) (int, error) { return r.read(b, r) }

func (r *refQPReader) decode(in []byte) {
	if r.buf == nil {
		r.buf = make([]byte, 0, len(r.in)+refMaxPendingSpace+2)
	}
	r.out = r.buf[:0]
	for _, c := range in {
		r.step(c)
	}
}

func refUnhex(c byte) (byte, bool) {
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

func (r *refQPReader) step(c byte) {
	switch r.state {
	case refQPText:
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
			if len(r.ws) >= refMaxPendingSpace {
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
			r.state = refQPEq
		default:
			r.out = append(r.out, r.ws...)
			r.ws = r.ws[:0]
			r.out = append(r.out, c)
		}
	case refQPEq:
		switch {
		case c == '\r':
			r.state = refQPEqCR
		case c == '\n':
			r.state = refQPText // soft line break
		case c == ' ' || c == '\t':
			r.ws = append(r.ws[:0], c)
			r.state = refQPEqSpace
		default:
			if _, ok := refUnhex(c); ok {
				r.hex1, r.state = c, refQPEqHex
				return
			}
			r.out = append(r.out, '=')
			r.state = refQPText
			r.step(c)
		}
	case refQPEqHex:
		r.state = refQPText
		if lo, ok := refUnhex(c); ok {
			hi, _ := refUnhex(r.hex1)
			r.out = append(r.out, hi<<4|lo)
			return
		}
		r.out = append(r.out, '=', r.hex1)
		r.step(c)
	case refQPEqSpace:
		switch c {
		case ' ', '\t':
			if len(r.ws) < refMaxPendingSpace {
				r.ws = append(r.ws, c)
				return
			}
		case '\r':
			r.ws = r.ws[:0]
			r.state = refQPEqCR
			return
		case '\n':
			r.ws = r.ws[:0]
			r.state = refQPText
			return
		}
		// "= x": a '=' of text after all.
		r.out = append(r.out, '=')
		r.out = append(r.out, r.ws...)
		r.ws = r.ws[:0]
		r.state = refQPText
		r.step(c)
	case refQPEqCR:
		r.state = refQPText
		if c != '\n' {
			r.step(c) // "=\r" then text: a soft break all the same
		}
	}
}

func (r *refQPReader) finish() {
	r.eof = true
	switch r.state {
	case refQPText:
		if r.cr {
			r.out = append(r.out, r.ws...)
			r.out = append(r.out, '\r')
		}
		// Whitespace at the very end is trailing too: dropped.
	case refQPEq:
		r.out = append(r.out, '=')
	case refQPEqHex:
		r.out = append(r.out, '=', r.hex1)
	}
	r.ws = r.ws[:0]
}

// newRefDecoder is newDecoder with the reference decoders, for base64 and
// quoted-printable only.
func newRefDecoder(cte string, r io.Reader) decodedReader {
	if strings.EqualFold(cte, "base64") {
		return &refBase64Reader{refDecoding: refDecoding{src: r}}
	}
	return &refQPReader{refDecoding: refDecoding{src: r}}
}
