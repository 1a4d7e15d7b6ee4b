package mail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// MaxTextBytes bounds the text and HTML bodies Parse keeps; the rest of a
// longer body is read and dropped.
const MaxTextBytes = 1 << 20

// maxHeaderBytes bounds the top-level header.
const maxHeaderBytes = 1 << 20

// ErrTooManyAttachments is returned by Parse when a message holds more
// attachments than ParseOptions.MaxAttachments.
var ErrTooManyAttachments = errors.New("mail: too many attachments")

// ErrLimit is wrapped by the error Parse returns when a message exceeds one of
// its bounds (header bytes or fields, MIME depth or parts); the error's text
// says which, in words fit for the sender.
var ErrLimit = errors.New("mail: message exceeds a limit")

// ErrMalformed is wrapped by the error Parse returns when the top-level
// header cannot be read at all (or exceeds 1 MiB), or multiparts nest deeper
// than allowed.
var ErrMalformed = errors.New("mail: malformed message")

// Message is what turnmail needs of a received mail. Header fields are
// decoded (RFC 2047) to UTF-8.
type Message struct {
	MessageID   string   // without <>; "" when absent
	InReplyTo   []string // without <>
	References  []string // without <>, in order
	Subject     string
	Date        time.Time // zero when absent or unparseable
	From        *Address  // nil when absent or unparseable; Addr lower-cased
	ReplyTo     []Address // Addr lower-cased
	To, Cc      []Address // Addr lower-cased; unparseable entries skipped, group syntax handled
	DeliveredTo []string  // Delivered-To and X-Original-To values, lower-cased

	// Text is the first text/plain body part that is not an attachment and
	// HTML the first text/html one (raw HTML), both decoded to UTF-8 and cut
	// at MaxTextBytes.
	Text string
	HTML string

	Attachments []Attachment

	// Auto is a short reason when the header or a delivery-report part marks
	// the mail as automatic (auto-reply, bounce, feedback report, list,
	// loop), "" otherwise. Parse does not know the envelope: a caller that
	// has one must also treat a null envelope sender as automatic, e.g. by
	// checking Envelope.From == "" (AutoReason does both for a header).
	Auto string

	// TNEF is set when a winmail.dat (application/ms-tnef) part was present:
	// Outlook rich text that hides the real attachments. It is not stored.
	TNEF bool

	// Skipped holds human notes on parts left out: signatures, calendar
	// invites, inline images of the HTML body, extra text parts, parts that
	// could not be read.
	Skipped []string
}

// Attachment is one document-like part of a received mail.
type Attachment struct {
	Filename    string // sanitised, never empty
	ContentType string // media type, lower-case, no parameters
	ContentID   string // without <>
	Inline      bool   // Content-Disposition: inline, or none on a part with a Content-ID
	Blob        Blob   // stored through the BlobWriter
}

// ParseOptions bounds what Parse accepts. A nil *ParseOptions is the same as
// a zero ParseOptions.
type ParseOptions struct {
	MaxAttachments int // attachments stored per message; 0 means 100
	MaxDepth       int // multipart nesting; 0 means 20
}

// Parse reads a message from r in one pass, streaming every attachment into
// blobs (never holding an attachment in memory), and returns what it found.
//
// Bad parts are left out with a note in Skipped rather than failing the
// message. Only an unreadable top-level header, or multiparts nested deeper
// than MaxDepth, is an error, wrapping ErrMalformed; more attachments than
// MaxAttachments returns ErrTooManyAttachments together with the Message read
// so far (its header fields are complete), and an error of the
// BlobWriter is returned wrapped. Inline images referenced from the HTML body are
// stored while streaming (the HTML may come after them) and dropped from
// Attachments afterwards; their blobs are left for the store's sweep.
func Parse(r io.Reader, blobs BlobWriter, opts *ParseOptions) (*Message, error) {
	p := &parser{blobs: blobs, maxAttachments: 100, maxDepth: 20, msg: &Message{}}
	if opts != nil {
		if opts.MaxAttachments > 0 {
			p.maxAttachments = opts.MaxAttachments
		}
		if opts.MaxDepth > 0 {
			p.maxDepth = opts.MaxDepth
		}
	}
	// Bound the header as go-message's own Read does; the body is bounded
	// by whoever hands us the message (SMTP size limit, spool).
	lr := &io.LimitedReader{R: r, N: maxHeaderBytes}
	br := bufio.NewReader(lr)
	skipJunkBeforeHeader(br)
	th, err := textproto.ReadHeader(br)
	if lr.N <= 0 {
		return nil, fmt.Errorf("%w: header longer than %d bytes", ErrMalformed, maxHeaderBytes)
	}
	lr.N = math.MaxInt64
	if err != nil {
		if th.Len() == 0 {
			return nil, fmt.Errorf("%w: read header: %v", ErrMalformed, err)
		}
		// A broken line ends the header early, as it would for most mail
		// clients; what was read before it still describes the message.
		p.skip("header cut short: %v", err)
	}
	h := gomail.Header{Header: message.Header{Header: th}}
	p.msg.readHeader(h)
	p.msg.Auto = headerAutoReason(h)
	if err := p.part(h.Header, br, 0); errors.Is(err, ErrTooManyAttachments) {
		// The header is still good: the caller answers the sender with it.
		return p.msg, err
	} else if err != nil {
		return nil, err
	}
	p.dropReferencedInline()
	return p.msg, nil
}

// skipJunkBeforeHeader drops what some tools put before a message's header:
// the "From sender date" line of an mbox file, lines of nothing but blanks.
func skipJunkBeforeHeader(br *bufio.Reader) {
	for {
		b, _ := br.Peek(br.Size())
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return
		}
		line := b[:i+1]
		blank := len(bytes.Trim(line, " \t\r\n")) == 0
		empty := len(bytes.Trim(line, "\r\n")) == 0
		if empty || (!blank && !bytes.HasPrefix(line, []byte("From "))) {
			return // an empty line is a message without header: ReadHeader's business
		}
		br.Discard(len(line))
	}
}

// parser holds the state of one Parse call.
type parser struct {
	blobs          BlobWriter
	maxAttachments int
	maxDepth       int
	msg            *Message
	haveText       bool
	haveHTML       bool
	explicit       []bool // per attachment: Content-Disposition: attachment
}

func (p *parser) skip(format string, args ...any) {
	p.msg.Skipped = append(p.msg.Skipped, fmt.Sprintf(format, args...))
}

// part handles one entity: h is its header and body its raw (still
// transfer-encoded) body. depth counts the multiparts around it.
func (p *parser) part(h message.Header, body io.Reader, depth int) error {
	ct := h.Get("Content-Type")
	mediaType := headerToken(ct)
	if mediaType == "" || !strings.Contains(mediaType, "/") {
		mediaType = "text/plain" // RFC 2045 §5.2
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		return p.multipart(mediaType, ct, body, depth+1)
	}

	disp := headerToken(h.Get("Content-Disposition"))
	name := partFilename(h)
	lname := strings.ToLower(name)
	what := mediaType
	if name != "" {
		what = fmt.Sprintf("%q (%s)", name, mediaType)
	}
	switch {
	case signatureTypes[mediaType] || lname == "smime.p7s" || lname == "signature.asc":
		p.skip("signature %s", what)
	case mediaType == "text/calendar" || mediaType == "application/ics":
		p.skip("calendar invite %s", what)
	case mediaType == "application/ms-tnef" || mediaType == "application/vnd.ms-tnef" || lname == "winmail.dat":
		p.msg.TNEF = true
		p.skip("Outlook rich text (TNEF) %s", what)
	case reportTypes[mediaType]:
		if p.msg.Auto == "" {
			p.msg.Auto = "report part: " + mediaType
		}
		p.skip("delivery report %s", what)
	case (mediaType == "text/plain" || mediaType == "text/html") && disp != "attachment" && name == "":
		p.body(h, mediaType, body)
	default:
		return p.attachment(h, mediaType, disp, name, body)
	}
	return nil
}

// Parts that are never documents.
var (
	signatureTypes = map[string]bool{
		"application/pkcs7-signature":   true,
		"application/x-pkcs7-signature": true,
		"application/pgp-signature":     true,
	}
	// Machine-readable parts of delivery and feedback reports (RFC 3464,
	// RFC 6533, RFC 5965, RFC 8098); the returned message itself, when
	// present, is a message/rfc822 part and kept like any forwarded mail.
	reportTypes = map[string]bool{
		"message/delivery-status":                 true,
		"message/global-delivery-status":          true,
		"message/feedback-report":                 true,
		"message/disposition-notification":        true,
		"message/global-disposition-notification": true,
		"text/rfc822-headers":                     true,
		"message/global-headers":                  true,
	}
)

// multipart walks the parts of a multipart body. It builds the multipart
// reader from its own reading of the boundary, which survives the malformed
// Content-Type fields go-message rejects (unquoted "=", spaces around it).
func (p *parser) multipart(mediaType, ct string, body io.Reader, depth int) error {
	if depth > p.maxDepth {
		return fmt.Errorf("%w: multipart nesting deeper than %d", ErrMalformed, p.maxDepth)
	}
	boundary := scanParams(ct)[paramKey{name: "boundary", section: -1}]
	if boundary == "" {
		p.skip("%s without boundary", mediaType)
		return nil
	}
	mr := textproto.NewMultipartReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			// The reader cannot resynchronise reliably after a broken
			// part header or a missing closing boundary: keep what came
			// before.
			p.skip("%s cut short: %v", mediaType, err)
			return nil
		}
		if err := p.part(message.Header{Header: part.Header}, part, depth); err != nil {
			return err
		}
	}
}

// body keeps the first text/plain and the first text/html body part.
func (p *parser) body(h message.Header, mediaType string, body io.Reader) {
	if (mediaType == "text/plain" && p.haveText) || (mediaType == "text/html" && p.haveHTML) {
		p.skip("further %s body part", mediaType)
		return
	}
	r, err := transferDecoded(h, body)
	if err != nil {
		p.skip("%s body: %v", mediaType, err)
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxTextBytes))
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, r)
		if n > 0 {
			p.skip("%s body cut at %d bytes", mediaType, MaxTextBytes)
		}
	}
	if err != nil {
		p.skip("%s body not read to the end: %v", mediaType, err)
	}
	text, err := decodeText(paramValue(h.Get("Content-Type"), "charset"), raw)
	if err != nil {
		p.skip("%s body: %v", mediaType, err)
	}
	text = truncateUTF8(text, MaxTextBytes)
	if mediaType == "text/plain" {
		p.msg.Text, p.haveText = text, true
	} else {
		p.msg.HTML, p.haveHTML = text, true
	}
}

// transferDecoded undoes a part's Content-Transfer-Encoding, and nothing
// else: attachments are stored as sent, and body text is converted from its
// charset by decodeText. An unknown encoding is reported with the body
// readable as is.
func transferDecoded(h message.Header, body io.Reader) (io.Reader, error) {
	th := message.Header{}
	th.Set("Content-Type", "application/octet-stream")
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
		th.Set("Content-Transfer-Encoding", cte)
	}
	e, err := message.New(th, body)
	return e.Body, err
}

// attachment streams a document part into a blob.
func (p *parser) attachment(h message.Header, mediaType, disp, name string, body io.Reader) error {
	if len(p.msg.Attachments) >= p.maxAttachments {
		return fmt.Errorf("%w: more than %d", ErrTooManyAttachments, p.maxAttachments)
	}
	r, err := transferDecoded(h, body)
	if err != nil {
		p.skip("attachment %q stored undecoded: %v", name, err)
	}
	src := &readErrRecorder{r: r}
	var in io.Reader = src
	fname := SanitizeFilename(name)
	if fname == "" && (mediaType == "message/rfc822" || mediaType == "message/global") {
		// A forwarded message is named after its subject, read from the
		// start of the stream without holding more than the peek buffer.
		br := bufio.NewReaderSize(src, 64<<10)
		fname = SanitizeFilename(peekSubject(br))
		if fname != "" {
			fname += ".eml"
		}
		in = br
	}
	if fname == "" {
		fname = generatedFilename(len(p.msg.Attachments)+1, mediaType)
	}
	blob, err := p.blobs.PutBlob(in)
	if err != nil {
		if src.err != nil {
			p.skip("attachment %q unreadable: %v", fname, src.err)
			return nil
		}
		return fmt.Errorf("store attachment %q: %w", fname, err)
	}
	cid := contentID(h)
	p.msg.Attachments = append(p.msg.Attachments, Attachment{
		Filename:    fname,
		ContentType: mediaType,
		ContentID:   cid,
		Inline:      disp == "inline" || (disp == "" && cid != ""),
		Blob:        blob,
	})
	p.explicit = append(p.explicit, disp == "attachment")
	return nil
}

// readErrRecorder remembers the error of reading a part, so that a broken
// part (bad base64, cut-off message) is told apart from a failing BlobWriter.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (r *readErrRecorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// peekSubject returns the decoded Subject of the message at the start of br
// without consuming anything, or "" when its header does not fit in the
// buffer.
func peekSubject(br *bufio.Reader) string {
	b, _ := br.Peek(br.Size())
	hr := bufio.NewReader(bytes.NewReader(b))
	skipJunkBeforeHeader(hr)
	th, _ := textproto.ReadHeader(hr)
	h := gomail.Header{Header: message.Header{Header: th}}
	return headerText(h, "Subject")
}

// contentID returns a part's Content-ID without angle brackets.
func contentID(h message.Header) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(h.Get("Content-Id")), "<>"))
}

// dropReferencedInline removes the attachments the HTML body shows in place
// (<img src="cid:…">): signature logos and pasted images, not documents.
// Parts sent with Content-Disposition: attachment stay, whatever the HTML
// does with them.
func (p *parser) dropReferencedInline() {
	refs := cidRefs(p.msg.HTML)
	if len(refs) == 0 {
		return
	}
	kept := p.msg.Attachments[:0]
	for i, a := range p.msg.Attachments {
		if a.ContentID != "" && !p.explicit[i] && refs[strings.ToLower(a.ContentID)] {
			p.skip("inline image %q shown by the HTML body (cid:%s)", a.Filename, a.ContentID)
			continue
		}
		kept = append(kept, a)
	}
	p.msg.Attachments = kept
}

// cidRefs collects the lower-cased Content-IDs an HTML body refers to with
// cid: URLs (RFC 2392).
func cidRefs(html string) map[string]bool {
	refs := map[string]bool{}
	s := strings.ToLower(html)
	for {
		i := strings.Index(s, "cid:")
		if i < 0 {
			return refs
		}
		s = s[i+4:]
		end := strings.IndexAny(s, "\"'<>() \t\r\n")
		if end < 0 {
			end = len(s)
		}
		if id := percentDecode(s[:end]); id != "" {
			refs[id] = true
		}
		s = s[end:]
	}
}

// readHeader fills the header fields of m.
func (m *Message) readHeader(h gomail.Header) {
	m.MessageID = firstOf(msgIDList(h, "Message-Id"))
	m.InReplyTo = msgIDList(h, "In-Reply-To")
	m.References = msgIDList(h, "References")
	m.Subject = headerText(h, "Subject")
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	if from := addressList(h.Values("From")); len(from) > 0 {
		m.From = &from[0]
	}
	m.ReplyTo = addressList(h.Values("Reply-To"))
	m.To = addressList(h.Values("To"))
	m.Cc = addressList(h.Values("Cc"))
	for _, k := range []string{"Delivered-To", "X-Original-To"} {
		for _, v := range h.Values(k) {
			for _, a := range addressList([]string{v}) {
				if !slices.Contains(m.DeliveredTo, a.Addr) {
					m.DeliveredTo = append(m.DeliveredTo, a.Addr)
				}
			}
		}
	}
}

// headerText returns an unstructured header field decoded to UTF-8; a field
// with undecodable encoded words or raw 8-bit bytes is kept as written.
func headerText(h gomail.Header, k string) string {
	return decodeWordsOr8bit(h.Get(k))
}

// msgIDList returns the message identifiers of a Message-ID, In-Reply-To or
// References field. Where go-message rejects the field (comments, phrases
// from old mailers), every <…> in it is taken.
func msgIDList(h gomail.Header, k string) []string {
	if k == "Message-Id" {
		if id, err := h.MessageID(); err == nil && id != "" {
			return []string{id}
		}
	} else if ids, err := h.MsgIDList(k); err == nil {
		return ids
	}
	var ids []string
	s := h.Get(k)
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(s[i+1 : i+j]); id != "" {
			ids = append(ids, id)
		}
		s = s[i+j+1:]
	}
	return ids
}

func firstOf(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// addressList parses address fields (several when a broken mailer repeats
// the field). A list go-message rejects is split and each entry parsed on
// its own, so one bad entry (raw 8-bit name, missing quotes) loses only
// itself.
func addressList(fields []string) []Address {
	var out []Address
	add := func(name, addr string) {
		addr = strings.ToLower(strings.TrimSpace(addr))
		local, domain, ok := strings.Cut(addr, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(addr, " \t<>,;:\"") {
			return
		}
		// go-message leaves encoded words in charsets it lacks (UTF-7).
		out = append(out, Address{Name: decodeWordsOr8bit(name), Addr: toUTF8([]byte(addr))})
	}
	for _, f := range fields {
		if strings.TrimSpace(f) == "" {
			continue
		}
		if l, err := gomail.ParseAddressList(f); err == nil {
			for _, a := range l {
				add(a.Name, a.Address)
			}
			continue
		}
		for _, entry := range splitAddressList(f) {
			if a, err := gomail.ParseAddress(entry); err == nil {
				add(a.Name, a.Address)
				continue
			}
			add(lenientAddress(entry))
		}
	}
	return out
}

// splitAddressList splits at commas outside quotes, comments and <…>.
func splitAddressList(s string) []string {
	var out []string
	var quoted bool
	var depth, angle int
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == ',' && depth == 0 && angle == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// lenientAddress takes the name and address out of an entry no parser
// accepts: the last <…>, or else the first word with an '@'. A group
// "name:" prefix and ";" suffix are dropped.
func lenientAddress(s string) (name, addr string) {
	s = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), ";"))
	if i := strings.IndexByte(s, ':'); i >= 0 && !strings.ContainsAny(s[:i], "@<\"") {
		s = strings.TrimSpace(s[i+1:])
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		addr = s[i+1:]
		if j := strings.IndexByte(addr, '>'); j >= 0 {
			addr = addr[:j]
		}
		name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
		return name, addr
	}
	for _, w := range strings.Fields(s) {
		if strings.Contains(w, "@") {
			return "", strings.Trim(w, `"'()`)
		}
	}
	return "", ""
}
