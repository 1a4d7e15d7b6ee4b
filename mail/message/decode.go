package message

import (
	"errors"
	"fmt"
	"io"
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
// out, and finish what is pending at the end of the input (setting eof).
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
		r.buf = make([]byte, 0, len(r.in)*3/4+3)
	}
	out := r.buf[:0]
	for _, c := range in {
		switch v := base64Alphabet[c]; v {
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
	r.out = r.buf[:0]
	for _, c := range in {
		r.step(c)
	}
}

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
