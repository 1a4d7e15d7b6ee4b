package message

import (
	"bufio"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/turnmail/turnmail/mail"
)

// dateLayout is RFC 5322 §3.3 date-time, with a numeric zone only.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// lowerBase32 keeps Message-IDs and boundaries lower case: some MTAs fold case.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewMessageID returns a fresh, globally unique Message-ID (without <>) under
// domain: "<random base32>@domain".
func NewMessageID(domain string) string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand since Go 1.24)
	return lowerBase32.EncodeToString(b[:]) + "@" + domain
}

// field is one header field, kept as a pair so that order is ours to choose.
type field struct{ k, v string }

// entity is one MIME entity to render: content header fields and either a
// leaf body or child parts.
type entity struct {
	mediaType string  // multipart/* when parts is set
	fields    []field // content fields after Content-Type
	body      func(w io.Writer) error
	parts     []entity
}

// WriteMessage renders m as a complete RFC 5322 message with CRLF line
// endings, streaming attachment content from blobs (never holding an
// attachment in memory).
//
// Structure: multipart/mixed { multipart/alternative { text/plain, text/html },
// attachments }, dropping the levels that are not needed. Text parts are UTF-8
// quoted-printable (their line breaks come back as CRLF when decoded),
// attachments base64. Every message carries Auto-Submitted: auto-generated and
// X-Auto-Response-Suppress: All (RFC 3834) so that it never triggers replies.
//
// A message that can never be rendered (no Message-ID, no recipient, a line
// break in a header value) gives a *mail.PermanentError; failures to read a blob do
// not, since the store may recover.
func WriteMessage(w io.Writer, m *mail.Outgoing, blobs mail.BlobOpener) error {
	hdr, err := messageFields(m)
	if err != nil {
		return &mail.PermanentError{Err: err}
	}

	body := entity{
		mediaType: "text/plain; charset=utf-8",
		fields:    []field{{"Content-Transfer-Encoding", "quoted-printable"}},
		body:      quotedPrintable(m.Text),
	}
	if m.HTML != "" {
		html := entity{
			mediaType: "text/html; charset=utf-8",
			fields:    []field{{"Content-Transfer-Encoding", "quoted-printable"}},
			body:      quotedPrintable(m.HTML),
		}
		body = entity{mediaType: "multipart/alternative", parts: []entity{body, html}}
	}
	if len(m.Attachments) > 0 {
		parts := []entity{body}
		for _, a := range m.Attachments {
			parts = append(parts, attachmentEntity(a, blobs))
		}
		body = entity{mediaType: "multipart/mixed", parts: parts}
	}

	bw := bufio.NewWriter(w)
	if err := writeEntity(bw, hdr, body); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

// messageFields returns m's header fields in the order they are written.
func messageFields(m *mail.Outgoing) ([]field, error) {
	// net/mail drops line breaks from addresses it formats: refuse them
	// rather than send to an address nobody asked for.
	addrs := []string{m.From.Addr, m.To.Addr}
	if m.ReplyTo != nil {
		addrs = append(addrs, m.ReplyTo.Addr)
	}
	for _, a := range addrs {
		if strings.ContainsAny(a, "\r\n") {
			return nil, fmt.Errorf("mail: address %q has a line break", a)
		}
	}
	switch {
	case m.MessageID == "":
		return nil, errors.New("mail: outgoing message has no Message-ID")
	case m.From.Addr == "":
		return nil, errors.New("mail: outgoing message has no From address")
	case m.To.Addr == "":
		return nil, errors.New("mail: outgoing message has no To address")
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	fs := []field{
		{"Date", date.Format(dateLayout)},
		{"From", formatAddress(m.From)},
		{"To", formatAddress(m.To)},
	}
	if m.ReplyTo != nil {
		fs = append(fs, field{"Reply-To", formatAddress(*m.ReplyTo)})
	}
	fs = append(fs,
		field{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		field{"Message-ID", "<" + m.MessageID + ">"},
	)
	if m.InReplyTo != "" {
		fs = append(fs, field{"In-Reply-To", "<" + m.InReplyTo + ">"})
	}
	if len(m.References) > 0 {
		// Separated by spaces so the header writer folds between ids.
		fs = append(fs, field{"References", "<" + strings.Join(m.References, "> <") + ">"})
	}
	if m.ListID != "" {
		fs = append(fs, field{"List-Id", m.ListID})
	}
	if m.ListPost != "" {
		fs = append(fs, field{"List-Post", "<mailto:" + m.ListPost + ">"})
	}
	if m.ListUnsubscribe != "" {
		fs = append(fs, field{"List-Unsubscribe", m.ListUnsubscribe})
	}
	fs = append(fs,
		field{"MIME-Version", "1.0"},
		field{"Auto-Submitted", "auto-generated"},
		field{"X-Auto-Response-Suppress", "All"},
	)
	for _, kv := range m.Header {
		fs = append(fs, field{kv[0], mime.QEncoding.Encode("utf-8", kv[1])})
	}
	for _, f := range fs {
		if strings.ContainsAny(f.k, "\r\n: ") || strings.ContainsAny(f.v, "\r\n") {
			return nil, fmt.Errorf("mail: header field %q has a line break or bad name", f.k)
		}
	}
	return fs, nil
}

func formatAddress(a mail.Address) string {
	return (&netmail.Address{Name: a.Name, Address: a.Addr}).String()
}

// writeEntity writes e with the header fields top before its own.
func writeEntity(w io.Writer, top []field, e entity) error {
	ctype := e.mediaType
	var boundary string
	if len(e.parts) > 0 {
		boundary = newBoundary()
		ctype = mime.FormatMediaType(e.mediaType, map[string]string{"boundary": boundary})
	}
	fs := append(append(top[:len(top):len(top)], field{"Content-Type", ctype}), e.fields...)
	var b strings.Builder
	for _, f := range fs {
		if err := foldField(&b, f); err != nil {
			return &mail.PermanentError{Err: err}
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if len(e.parts) == 0 {
		return e.body(w)
	}
	for i, p := range e.parts {
		delim := "\r\n--" + boundary + "\r\n"
		if i == 0 {
			delim = delim[2:]
		}
		if _, err := io.WriteString(w, delim); err != nil {
			return fmt.Errorf("write boundary: %w", err)
		}
		if err := writeEntity(w, nil, p); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "\r\n--"+boundary+"--\r\n"); err != nil {
		return fmt.Errorf("write boundary: %w", err)
	}
	return nil
}

// foldField writes f as "Key: value" CRLF, folded at spaces so that lines
// stay within 78 octets where the words allow (RFC 5322 §2.1.1). A word longer
// than that gets a line of its own; one that cannot fit in 998 octets is an
// error.
func foldField(b *strings.Builder, f field) error {
	line := f.k + ":"
	for i, word := range strings.Split(f.v, " ") {
		// Fold only before a non-empty word after the first one: the first
		// stays next to its key, and a run of spaces stays on one line.
		if i > 0 && word != "" && len(line)+1+len(word) > 78 {
			b.WriteString(line + "\r\n")
			line = ""
		}
		line += " " + word
		if len(line) > 998 {
			return fmt.Errorf("mail: header field %s has a word too long for one line", f.k)
		}
	}
	b.WriteString(line + "\r\n")
	return nil
}

// newBoundary returns a random multipart boundary. "=_" can occur in neither
// quoted-printable (which encodes "=") nor base64 output, so the boundary
// cannot collide with an encoded body whatever it holds.
func newBoundary() string {
	var b [15]byte
	rand.Read(b[:])
	return "=_tm" + hex.EncodeToString(b[:])
}

func quotedPrintable(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		// Not Binary: LF and CRLF both become CRLF line breaks.
		qp := quotedprintable.NewWriter(w)
		if _, err := io.WriteString(qp, s); err != nil {
			return fmt.Errorf("write text part: %w", err)
		}
		if err := qp.Close(); err != nil {
			return fmt.Errorf("write text part: %w", err)
		}
		return nil
	}
}

func attachmentEntity(a mail.OutgoingAttachment, blobs mail.BlobOpener) entity {
	fallback := quotedFallback(a.Filename)
	ctype := "application/octet-stream"
	if t, params, err := mime.ParseMediaType(a.ContentType); err == nil {
		delete(params, "name")
		if s := mime.FormatMediaType(t, params); s != "" {
			ctype = s
		}
	}
	return entity{
		mediaType: ctype + "; name=" + fallback,
		fields: []field{
			{"Content-Disposition", "attachment; " + rfc2231Param("filename", a.Filename) + "; filename=" + fallback},
			{"Content-Transfer-Encoding", "base64"},
		},
		body: func(w io.Writer) error {
			r, err := blobs.OpenBlob(a.Blob.Digest)
			if err != nil {
				return fmt.Errorf("open attachment %q: %w", a.Filename, err)
			}
			defer r.Close()
			n, err := writeBase64Lines(w, r)
			if err != nil {
				return fmt.Errorf("write attachment %q: %w", a.Filename, err)
			}
			// A short blob would go out as a silently truncated document.
			if a.Blob.Size > 0 && n != a.Blob.Size {
				return fmt.Errorf("attachment %q: blob %s has %d bytes, want %d", a.Filename, a.Blob.Digest, n, a.Blob.Size)
			}
			return nil
		},
	}
}

// quotedFallback returns name as a quoted-string for filename= and name=, for
// clients that do not read RFC 2231: as is when it is short printable ASCII,
// else as RFC 2047 encoded words (what Outlook and most webmails write). The
// words are at most 75 octets and separated by spaces, so the header writer
// can fold between them.
func quotedFallback(name string) string {
	plain := len(name) <= 60
	for i := 0; i < len(name) && plain; i++ {
		plain = name[i] >= 0x20 && name[i] < 0x7f
	}
	if !plain {
		name = mime.BEncoding.Encode("utf-8", name)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// rfc2231Param formats name*=utf-8”<pct-encoded> (RFC 2231 §4), split into
// continuations name*0*=, name*1*= … (§3) at character boundaries so that no
// piece is long and every line can be folded.
func rfc2231Param(name, value string) string {
	const maxPiece = 48
	var pieces []string
	var b strings.Builder
	for _, r := range value {
		var buf [utf8.UTFMax]byte
		enc := ""
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			if isAttrChar(c) {
				enc += string(rune(c))
			} else {
				enc += fmt.Sprintf("%%%02X", c)
			}
		}
		if b.Len() > 0 && b.Len()+len(enc) > maxPiece {
			pieces = append(pieces, b.String())
			b.Reset()
		}
		b.WriteString(enc)
	}
	pieces = append(pieces, b.String())
	if len(pieces) == 1 {
		return name + "*=utf-8''" + pieces[0]
	}
	s := make([]string, len(pieces))
	for i, p := range pieces {
		if i == 0 {
			p = "utf-8''" + p
		}
		s[i] = fmt.Sprintf("%s*%d*=%s", name, i, p)
	}
	return strings.Join(s, "; ")
}

// isAttrChar reports whether c may appear unencoded in an RFC 2231 extended
// value; the set is kept narrower than the RFC's for clients that get it wrong.
func isAttrChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// base64Line is the input of one line of base64, which RFC 2045 §6.8 has
// at most 76 characters long: 57 octets make 76.
const base64Line = 57

// writeBase64Lines writes what r holds as base64 in lines of 76 characters
// separated by CRLF (the boundary that follows brings the last line's), and
// returns how many octets it read. It encodes a
// block of lines with one call and writes it with one: a byte-wise
// encoder is a tenth as fast, and every handoff carries its attachments.
func writeBase64Lines(w io.Writer, r io.Reader) (int64, error) {
	const lines = 64
	in := make([]byte, lines*base64Line)
	out := make([]byte, 0, lines*(76+2))
	var total int64
	for {
		n, err := io.ReadFull(r, in)
		total += int64(n)
		out = out[:0]
		for p := in[:n]; len(p) > 0; {
			if total > int64(n) || len(out) > 0 {
				out = append(out, "\r\n"...)
			}
			k := min(base64Line, len(p))
			out = base64.StdEncoding.AppendEncode(out, p[:k])
			p = p[k:]
		}
		if len(out) > 0 {
			if _, werr := w.Write(out); werr != nil {
				return total, werr
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}
