package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/turnmail/turnmail/mail"
)

// MaxTextBytes bounds the text and HTML bodies Parse keeps; the rest of a
// longer body is read and dropped.
const MaxTextBytes = 1 << 20

// Bounds on the structure of a message. With them, and with attachments
// streamed and text cut at MaxTextBytes, Parse holds at most a few MiB
// whatever it is given: one part header, one line buffer per MIME level, the
// text bodies and a note per part.
const (
	maxHeaderBytes      = 1 << 20  // the top-level header
	maxHeaderFields     = 5000     // fields of the top-level header
	maxPartHeaderBytes  = 64 << 10 // each part header
	maxPartHeaderFields = 256      // fields of each part header
	maxMessageFields    = 10000    // header fields of the message and all its parts
	defaultMaxParts     = 1000     // MIME entities, multiparts included
	defaultMaxDepth     = 20
)

// ErrTooManyAttachments is returned by Parse when a message holds more
// attachments than ParseOptions.MaxAttachments.
var ErrTooManyAttachments = errors.New("mail: too many attachments")

// ErrLimit is wrapped by the error Parse returns when a message exceeds one of
// its bounds (header bytes or fields, MIME depth or parts); the error's text
// says which, in words fit for the sender.
var ErrLimit = errors.New("mail: message exceeds a limit")

// ErrMalformed is wrapped by the error Parse returns when the top-level
// header cannot be read at all.
var ErrMalformed = errors.New("mail: malformed message")

// A LimitError is a bound of Parse that a message exceeds. Its text is
// Reason, one sentence for the sender ("a MIME part header is longer than 64
// KiB"); errors.Is(err, ErrLimit) holds for it.
type LimitError struct {
	Reason string
}

func (e *LimitError) Error() string        { return e.Reason }
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Message is what turnmail needs of a received mail. Header fields are
// decoded (RFC 2047) to UTF-8.
type Message struct {
	MessageID   string   // without <>; "" when absent
	InReplyTo   []string // without <>
	References  []string // without <>, in order
	Subject     string
	Date        time.Time      // zero when absent or unparseable
	From        *mail.Address  // nil when absent or unparseable; Addr lower-cased
	ReplyTo     []mail.Address // Addr lower-cased
	To, Cc      []mail.Address // Addr lower-cased; unparseable entries skipped, group syntax handled
	DeliveredTo []string       // Delivered-To and X-Original-To values, lower-cased
	AuthResults []string       // Authentication-Results values, top to bottom (see DMARCVerdict)

	// Text is the first text/plain body part that is not an attachment and
	// HTML the first text/html one (raw HTML), both decoded to UTF-8 and cut
	// at MaxTextBytes.
	Text string
	HTML string

	// Attachments are the documents of the mail, those inside a winmail.dat
	// included.
	Attachments []Attachment

	// Damaged are attachments whose content arrived broken: cut short, or
	// with characters their transfer encoding does not allow. What could be
	// decoded is stored, but it is not the file the sender meant: tell them,
	// never take it for a version. Each is also noted in Skipped.
	Damaged []Attachment

	// Calendar names the calendar invites (text/calendar, application/ics,
	// .ics files) that were left out: "invite.ics", or "calendar invite" for
	// an unnamed one. They are not documents; the sender should be told they
	// were not passed on.
	Calendar []string

	// Auto is a short reason when the header or a delivery-report part marks
	// the mail as automatic (auto-reply, bounce, feedback report, list,
	// loop), "" otherwise. Parse does not know the envelope: a caller that
	// has one must also treat a null envelope sender as automatic, e.g. by
	// checking Envelope.From == "" (AutoReason does both for a header).
	Auto string

	// TNEF is set when a winmail.dat (application/ms-tnef) part held
	// something Parse could not take out: it is not a TNEF stream, it is
	// damaged, or it holds Outlook items rather than files. The attachments
	// it could take out are in Attachments; a winmail.dat that held only the
	// rich-text body does not set TNEF.
	TNEF bool

	// Skipped holds human notes on parts left out: signatures, calendar
	// invites, inline images of the HTML body, extra text parts, damaged
	// attachments, parts that could not be read.
	Skipped []string
}

// Attachment is one document-like part of a received mail.
type Attachment struct {
	Filename    string    // sanitised, never empty
	ContentType string    // media type, lower-case, no parameters
	ContentID   string    // without <>
	Inline      bool      // Content-Disposition: inline, or none on a part with a Content-ID
	Blob        mail.Blob // stored through the BlobWriter
}

// ParseOptions bounds what Parse accepts. A nil *ParseOptions is the same as
// a zero ParseOptions.
type ParseOptions struct {
	MaxAttachments int // attachments stored per message, damaged ones included; 0 means 100
	MaxDepth       int // multipart nesting; 0 means 20
	MaxParts       int // MIME entities, multiparts included; 0 means 1000
}

// Parse reads a message from r in one pass, streaming every attachment into
// blobs (never holding an attachment in memory), and returns what it found.
// Every read ends: a body whose transfer encoding is broken ends that part
// (see Message.Damaged), and no input makes Parse loop.
//
// Bad parts are left out with a note in Skipped rather than failing the
// message. An unreadable top-level header is an error wrapping ErrMalformed.
// A message over one of the bounds (top-level header over 1 MiB or 5,000
// fields, a part header over 64 KiB or 256 fields, 10,000 header fields in
// all, multiparts nested deeper than MaxDepth, more than MaxParts parts)
// returns a *LimitError, wrapping ErrLimit, as soon as the bound is crossed,
// without reading the rest of r. More attachments than MaxAttachments returns
// ErrTooManyAttachments together with the Message read so far (its header
// fields are complete), and an error of the BlobWriter is returned wrapped.
// Inline images referenced from the HTML body are stored while streaming (the
// HTML may come after them) and dropped from Attachments afterwards; their
// blobs are left for the store's sweep, as are those of a message refused by
// a bound.
func Parse(r io.Reader, blobs mail.BlobWriter, opts *ParseOptions) (*Message, error) {
	p := &parser{blobs: blobs, maxAttachments: 100, maxDepth: defaultMaxDepth, maxParts: defaultMaxParts, msg: &Message{}}
	if opts != nil {
		if opts.MaxAttachments > 0 {
			p.maxAttachments = opts.MaxAttachments
		}
		if opts.MaxDepth > 0 {
			p.maxDepth = opts.MaxDepth
		}
		if opts.MaxParts > 0 {
			p.maxParts = opts.MaxParts
		}
	}
	br := bufio.NewReaderSize(r, lineBufferSize)
	skipJunkBeforeHeader(br)
	block, _, err := readHeaderBlock(br, headerBounds{
		maxBytes: maxHeaderBytes, maxFields: maxHeaderFields,
		total: &p.fields, maxTotal: maxMessageFields, what: "the message header",
	}, nil)
	if err != nil {
		return nil, err
	}
	th, err := parseHeaderBlock(block)
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
	p.topCharset = declaredCharset(h.Get("Content-Type"))
	if err := p.part(h.Header, br, 0); errors.Is(err, ErrTooManyAttachments) {
		// The header is still good: the caller answers the sender with it.
		return p.msg, err
	} else if err != nil {
		return nil, err
	}
	p.renameRaw()
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
	blobs          mail.BlobWriter
	maxAttachments int
	maxDepth       int
	maxParts       int
	msg            *Message
	haveText       bool
	haveHTML       bool
	parts          int // entities seen
	fields         int // header fields seen, all headers together
	topCharset     string
	textCharset    string    // first non-UTF-8 charset a text part declares
	raw            []rawName // names that depend on the charset
}

// rawName is an attachment whose name is raw 8-bit bytes read before the
// message's charset was known.
type rawName struct {
	damaged bool // in Damaged rather than Attachments
	i       int
	h       message.Header
}

func (p *parser) skip(format string, args ...any) {
	p.msg.Skipped = append(p.msg.Skipped, fmt.Sprintf(format, args...))
}

// declaredCharset returns the charset parameter of a Content-Type field,
// lower-case, or "" for none and for the charsets that say nothing about
// 8-bit names (ASCII, UTF-8).
func declaredCharset(ct string) string {
	switch cs := strings.ToLower(strings.TrimSpace(paramValue(ct, "charset"))); cs {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		return ""
	default:
		return cs
	}
}

// nameCharset is the charset to read a part's raw 8-bit name in: the part's
// own, else the message's text parts', else the top level's.
func (p *parser) nameCharset(h message.Header) string {
	if cs := declaredCharset(h.Get("Content-Type")); cs != "" {
		return cs
	}
	if p.textCharset != "" {
		return p.textCharset
	}
	return p.topCharset
}

// part handles one entity: h is its header and body its raw (still
// transfer-encoded) body. depth counts the multiparts around it.
func (p *parser) part(h message.Header, body io.Reader, depth int) error {
	if p.parts++; p.parts > p.maxParts {
		return &LimitError{Reason: fmt.Sprintf("the message has more than %d MIME parts", p.maxParts)}
	}
	ct := h.Get("Content-Type")
	mediaType := headerToken(ct)
	if mediaType == "" || !strings.Contains(mediaType, "/") {
		mediaType = "text/plain" // RFC 2045 §5.2
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		return p.multipart(mediaType, ct, body, depth+1)
	}
	if strings.HasPrefix(mediaType, "text/") && p.textCharset == "" {
		p.textCharset = declaredCharset(ct)
	}

	disp := headerToken(h.Get("Content-Disposition"))
	name := partFilename(h, p.nameCharset(h))
	lname := strings.ToLower(name)
	what := mediaType
	if name != "" {
		what = fmt.Sprintf("%q (%s)", name, mediaType)
	}
	switch {
	case signatureTypes[mediaType] || lname == "smime.p7s" || lname == "signature.asc":
		p.skip("signature %s", what)
	case calendarTypes[mediaType] || strings.HasSuffix(lname, ".ics") || strings.HasSuffix(lname, ".vcs"):
		p.calendar(SanitizeFilename(name))
		p.skip("calendar invite %s", what)
	case mediaType == "application/ms-tnef" || mediaType == "application/vnd.ms-tnef" || lname == "winmail.dat":
		return p.tnef(h, what, body)
	case reportTypes[mediaType]:
		if p.msg.Auto == "" {
			p.msg.Auto = "report part: " + mediaType
		}
		p.skip("delivery report %s", what)
	case (mediaType == "text/plain" || mediaType == "text/html") && disp != "attachment" && name == "":
		return p.body(h, mediaType, body)
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
	// iCalendar (RFC 5545 §8.1) and its older vCalendar form, which
	// Outlook and Lotus Notes still send.
	calendarTypes = map[string]bool{
		"text/calendar":         true,
		"application/ics":       true,
		"text/x-vcalendar":      true,
		"application/x-ics":     true,
		"text/x-calendar":       true,
		"application/calendar":  true,
		"application/vcalendar": true,
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

// calendar lists an invite once. Outlook sends each invite twice, as a
// text/calendar alternative and as an invite.ics attachment: an unnamed one
// is listed only while nothing else is.
func (p *parser) calendar(name string) {
	const unnamed = "calendar invite"
	l := p.msg.Calendar
	switch {
	case name == "" && len(l) > 0:
	case name == "":
		p.msg.Calendar = append(l, unnamed)
	case len(l) == 1 && l[0] == unnamed:
		p.msg.Calendar = []string{name}
	case !slices.Contains(l, name):
		p.msg.Calendar = append(l, name)
	}
}

// multipart walks the parts of a multipart body. It reads the boundary
// itself, which survives the malformed Content-Type fields go-message
// rejects (unquoted "=", spaces around it).
func (p *parser) multipart(mediaType, ct string, body io.Reader, depth int) error {
	if depth > p.maxDepth {
		return &LimitError{Reason: fmt.Sprintf("the message has MIME parts nested more than %d deep", p.maxDepth)}
	}
	boundary := scanParams(ct)[paramKey{name: "boundary", section: -1}]
	if boundary == "" {
		p.skip("%s without boundary", mediaType)
		return nil
	}
	mr := newMultipartReader(body, boundary, headerBounds{
		maxBytes: maxPartHeaderBytes, maxFields: maxPartHeaderFields,
		total: &p.fields, maxTotal: maxMessageFields, what: "a MIME part header",
	})
	for n := 0; ; n++ {
		th, part, hdrErr, err := mr.next()
		if err == io.EOF {
			if n == 0 {
				p.skip("%s has no part before its closing boundary", mediaType)
			}
			if !mr.closed && mr.cut {
				p.skip("%s cut short: the message ends before its closing boundary", mediaType)
			}
			return nil
		}
		if errors.Is(err, ErrLimit) {
			return err
		}
		if err == errNoParts {
			p.skip("%s cut short: %v", mediaType, err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mediaType, err)
		}
		if hdrErr != nil {
			p.skip("part header cut short: %v", hdrErr)
		}
		if err := p.part(message.Header{Header: th}, part, depth); err != nil {
			return err
		}
	}
}

// cutShort tells whether body is a part that the message ended inside.
func cutShort(body io.Reader) bool {
	pr, ok := body.(*partReader)
	return ok && pr.cut
}

// decoded undoes the transfer encoding of a part's body, noting an encoding
// it does not know (the body is then read as is).
func (p *parser) decoded(h message.Header, what string, body io.Reader) decodedReader {
	d, err := newDecoder(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		p.skip("%s read undecoded: %v", what, err)
	}
	return d
}

// body keeps the first text/plain and the first text/html body part.
func (p *parser) body(h message.Header, mediaType string, body io.Reader) error {
	if (mediaType == "text/plain" && p.haveText) || (mediaType == "text/html" && p.haveHTML) {
		p.skip("further %s body part", mediaType)
		return nil
	}
	r := p.decoded(h, mediaType+" body", body)
	raw, err := io.ReadAll(io.LimitReader(r, MaxTextBytes))
	if err == nil {
		var n int64
		n, err = io.Copy(io.Discard, r)
		if n > 0 {
			p.skip("%s body cut at %d bytes", mediaType, MaxTextBytes)
		}
	}
	if err != nil {
		return fmt.Errorf("%s body: %w", mediaType, err)
	}
	if d := r.Damage(); d != "" {
		p.skip("%s body damaged: %s", mediaType, d)
	}
	if cutShort(body) {
		p.skip("%s body cut short: the message ends inside it", mediaType)
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
	return nil
}

// attachment streams a document part into a blob.
func (p *parser) attachment(h message.Header, mediaType, disp, name string, body io.Reader) error {
	if len(p.msg.Attachments)+len(p.msg.Damaged) >= p.maxAttachments {
		return fmt.Errorf("%w: more than %d", ErrTooManyAttachments, p.maxAttachments)
	}
	dec := p.decoded(h, fmt.Sprintf("attachment %q", name), body)
	var in io.Reader = dec
	fname := SanitizeFilename(name)
	if fname == "" && (mediaType == "message/rfc822" || mediaType == "message/global") {
		// A forwarded message is named after its subject, read from the
		// start of the stream without holding more than the peek buffer.
		br := bufio.NewReaderSize(dec, 64<<10)
		fname = SanitizeFilename(peekSubject(br))
		if fname != "" {
			fname += ".eml"
		}
		in = br
	}
	if fname == "" {
		fname = generatedFilename(len(p.msg.Attachments)+len(p.msg.Damaged)+1, mediaType)
	}
	blob, err := p.blobs.PutBlob(in)
	if err != nil {
		return fmt.Errorf("store attachment %q: %w", fname, err)
	}
	cid := contentID(h)
	a := Attachment{
		Filename:    fname,
		ContentType: mediaType,
		ContentID:   cid,
		Inline:      disp == "inline" || (disp == "" && cid != ""),
		Blob:        blob,
	}
	damage := dec.Damage()
	if cutShort(body) && !declaredSizeMatches(h, blob.Size) {
		damage = strings.TrimPrefix(damage+", the message ends inside it", ", ")
	}
	if damage != "" {
		p.skip("attachment %q damaged (%s): %d bytes kept", fname, damage, blob.Size)
		p.msg.Damaged = append(p.msg.Damaged, a)
	} else {
		p.msg.Attachments = append(p.msg.Attachments, a)
	}
	if name != "" && rawNonUTF8Name(h) && p.nameCharset(h) == "" {
		p.raw = append(p.raw, rawName{damaged: damage != "", i: len(p.msg.Attachments) - 1, h: h})
		if damage != "" {
			p.raw[len(p.raw)-1].i = len(p.msg.Damaged) - 1
		}
	}
	return nil
}

// declaredSizeMatches reports whether the Content-Disposition size
// parameter (RFC 2183 §2.7, which Outlook and Exchange write exactly) says
// the part is n bytes: then a part the message ends in is whole, only its
// closing boundary is missing.
func declaredSizeMatches(h message.Header, n int64) bool {
	v := paramValue(h.Get("Content-Disposition"), "size")
	size, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return err == nil && size == n
}

// renameRaw reads again the raw 8-bit names read before the message showed
// its charset (the text part after the attachment).
func (p *parser) renameRaw() {
	for _, r := range p.raw {
		cs := p.nameCharset(r.h)
		if cs == "" {
			continue
		}
		l := p.msg.Attachments
		if r.damaged {
			l = p.msg.Damaged
		}
		if name := SanitizeFilename(partFilename(r.h, cs)); name != "" {
			l[r.i].Filename = name
		}
	}
	p.raw = nil
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
// (<img src="cid:…">): signature logos and pasted images, not documents,
// whatever their Content-Disposition says (Outlook sends its signature logos
// in multipart/related as "attachment"). RFC 2392 makes the cid: URL the
// reference.
func (p *parser) dropReferencedInline() {
	refs := cidRefs(p.msg.HTML)
	if len(refs) == 0 {
		return
	}
	drop := func(l []Attachment) []Attachment {
		kept := l[:0]
		for _, a := range l {
			if a.ContentID != "" && refs[strings.ToLower(a.ContentID)] {
				p.skip("inline image %q shown by the HTML body (cid:%s)", a.Filename, a.ContentID)
				continue
			}
			kept = append(kept, a)
		}
		return kept
	}
	p.msg.Attachments = drop(p.msg.Attachments)
	p.msg.Damaged = drop(p.msg.Damaged)
	if len(p.msg.Damaged) == 0 {
		p.msg.Damaged = nil
	}
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
	m.AuthResults = h.Values("Authentication-Results")
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
func addressList(fields []string) []mail.Address {
	var out []mail.Address
	add := func(name, addr string) {
		addr = strings.ToLower(strings.TrimSpace(addr))
		local, domain, ok := strings.Cut(addr, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(addr, " \t<>,;:\"") {
			return
		}
		// go-message leaves encoded words in charsets it lacks (UTF-7).
		out = append(out, mail.Address{Name: decodeWordsOr8bit(name), Addr: toUTF8([]byte(addr))})
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
