package message

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"

	"github.com/turnmail/turnmail/mail"
)

// Delivery reports (bounces). A report that the delivery of a message
// failed arrives as an RFC 3464 delivery status notification
// (multipart/report with a message/delivery-status part; RFC 6533
// message/global-delivery-status for internationalised mail) or, from older
// servers, as plain text. ReadReport reads either; the remote server's words
// come out as a mail.Refusal with its RFC 3463 enhanced status.
//
// Anyone can send a report to a bounce address, so everything is bounded:
// what is read, the header (Parse's bounds), the parts looked at, the
// status part, each of its fields, and the text the regexps see.

// maxReport bounds what is read of a report: its machine-readable part comes
// before the returned message, which may be large.
const maxReport = 1 << 20

// maxStatusPart bounds a message/delivery-status part.
const maxStatusPart = 64 << 10

// maxReportParts bounds the parts of a multipart/report looked through for
// the status part. RFC 6522 §3 has two or three: the text for people, the
// status, the returned message.
const maxReportParts = 10

// maxStatusField bounds a status field's unfolded value. Servers quote
// replies of a few lines; a person is shown 400 bytes of one (clip).
const maxStatusField = 4 << 10

// maxBounceText bounds the text of a plain bounce searched for the reply it
// quotes: the explanation comes first, the returned message after it. An
// SMTP reply line is at most 512 octets (RFC 5321 §4.5.3.1.5); longer lines
// are cut at maxReplyLine before a regexp sees them.
const (
	maxBounceText = 64 << 10
	maxReplyLine  = 1 << 10
)

// A Report is what a delivery report says of the message it is about.
type Report struct {
	Failed    bool          // delivery failed; a delay or relay notice is no failure
	Action    string        // the report's Action ("failed", "delayed", …), "failed" for a plain bounce
	Recipient string        // Final-Recipient, for the log; "" when not given
	Said      *mail.Refusal // the remote server's words; nil when the report does not give them
}

// ReadReport reads the report in raw, the whole message that msg was parsed
// from: the delivery status part of an RFC 3464 (or RFC 6533) report, or a
// plain bounce told by its sender and subject. It returns nil for anything
// else (an auto-reply sent to the return path, say). It reads at most 1 MiB
// of raw. A nil msg (Parse refused the message) is a mail that is no plain
// bounce: only a status part is read.
func ReadReport(raw io.Reader, msg *Message) *Report {
	br := bufio.NewReaderSize(io.LimitReader(raw, maxReport), lineBufferSize)
	skipJunkBeforeHeader(br)
	fields := 0
	block, _, err := readHeaderBlock(br, headerBounds{
		maxBytes: maxHeaderBytes, maxFields: maxHeaderFields,
		total: &fields, maxTotal: maxMessageFields, what: "the message header",
	}, nil)
	if err != nil {
		return nil // over Parse's bounds: Parse refuses it too
	}
	hdr, err := parseHeaderBlock(block)
	if err != nil && hdr.Len() == 0 {
		return nil
	}
	// The boundary is read as Parse reads it, which survives Content-Type
	// fields mime.ParseMediaType rejects.
	ct := hdr.Get("Content-Type")
	if headerToken(ct) == "multipart/report" {
		if boundary := scanParams(ct)[paramKey{name: "boundary", section: -1}]; boundary != "" {
			mr := newMultipartReader(br, boundary, headerBounds{
				maxBytes: maxPartHeaderBytes, maxFields: maxPartHeaderFields,
				total: &fields, maxTotal: maxMessageFields, what: "a MIME part header",
			})
			if r := readStatus(mr); r != nil {
				return r
			}
		}
	}
	if msg == nil || !plainBounce(hdr, msg) {
		return nil
	}
	r := &Report{Failed: true, Action: "failed"}
	low := strings.ToLower(msg.Subject)
	if strings.Contains(low, "delay") || strings.Contains(low, "warning") {
		r.Failed, r.Action = false, "delayed"
	}
	// Exim and Gmail name the addresses that failed in a field of their
	// own, the first of which is enough for the log.
	if a, _, _ := strings.Cut(hdr.Get("X-Failed-Recipients"), ","); strings.TrimSpace(a) != "" {
		a = strings.Trim(strings.TrimSpace(a), "<>")
		r.Recipient = strings.ToValidUTF8(truncateUTF8(a, maxRecipient), "\uFFFD")
	}
	r.Said = replyInText(msg.Text)
	return r
}

// readStatus finds the message/delivery-status part among the first parts
// of a report and reads its per-recipient fields (RFC 3464 §2.3): the first
// recipient whose delivery failed, or the first recipient. nil when there
// is none.
func readStatus(mr *multipartReader) *Report {
	for range maxReportParts {
		h, body, _, err := mr.next()
		if err != nil {
			return nil // the end, a part header over its bounds, a read error
		}
		mt := headerToken(h.Get("Content-Type"))
		// RFC 6533 is the same for internationalised mail.
		if mt != "message/delivery-status" && mt != "message/global-delivery-status" {
			continue
		}
		// RFC 6532 §3.5 lets types defined since, the global status part
		// among them, be base64 or quoted-printable, and relays that
		// re-encode parts do it to the plain one too. The decoders are
		// lenient; an encoding they do not know is read as is.
		dec, _ := newDecoder(h.Get("Content-Transfer-Encoding"), body)
		data, _ := io.ReadAll(io.LimitReader(dec, maxStatusPart))
		return statusFields(data)
	}
	return nil
}

// statusGroup holds the fields of one group of a delivery-status body that
// a report is read from.
type statusGroup struct {
	values [4][]byte // by fieldAction…
	seen   [4]bool
}

const (
	fieldAction = iota
	fieldRecipient
	fieldStatus
	fieldDiagnostic
)

// field returns where the value of the field named name goes, or nil for a
// field not read or seen already in the group: RFC 3464 §2.3 has each at
// most once, and the first one is taken.
func (g *statusGroup) field(name []byte) *[]byte {
	var i int
	switch strings.ToLower(string(bytes.TrimSpace(name))) {
	case "action":
		i = fieldAction
	case "final-recipient":
		i = fieldRecipient
	case "status":
		i = fieldStatus
	case "diagnostic-code":
		i = fieldDiagnostic
	default:
		return nil
	}
	if g.seen[i] {
		return nil
	}
	g.seen[i] = true
	return &g.values[i]
}

// statusFields reads the groups of fields of a delivery-status body
// (RFC 3464 §2.1): one for the message, then one per recipient, each ended
// by a blank line. Folded fields are unfolded up to maxStatusField; a line
// that is no field is skipped.
func statusFields(data []byte) *Report {
	var first *Report
	var g statusGroup
	var cur *[]byte // the field a continuation line belongs to; nil: dropped
	end := func() *Report {
		// The first group is the message's (Reporting-MTA, …); a
		// recipient's has an Action.
		if len(bytes.TrimSpace(g.values[fieldAction])) > 0 {
			r := recipientReport(&g)
			if r.Failed {
				return r
			}
			if first == nil {
				first = r
			}
		}
		g, cur = statusGroup{}, nil
		return nil
	}
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) == 0:
			if r := end(); r != nil {
				return r
			}
		case line[0] == ' ' || line[0] == '\t':
			if cur != nil {
				*cur = appendValue(*cur, []byte(" "), bytes.TrimSpace(line))
			}
		default:
			name, value, ok := bytes.Cut(line, []byte(":"))
			if cur = nil; ok {
				if cur = g.field(name); cur != nil {
					*cur = appendValue(nil, bytes.TrimSpace(value))
				}
			}
		}
	}
	if r := end(); r != nil {
		return r
	}
	return first
}

// appendValue appends parts to v as long as v stays within maxStatusField.
func appendValue(v []byte, parts ...[]byte) []byte {
	for _, p := range parts {
		if room := maxStatusField - len(v); len(p) > room {
			return append(v, p[:max(room, 0)]...)
		}
		v = append(v, p...)
	}
	return v
}

// recipientReport reads one recipient's fields. A status part is ASCII or,
// in a global one, UTF-8; 8-bit bytes that are not UTF-8 are read as
// Latin-1, so that the server's words reach a person as text.
func recipientReport(g *statusGroup) *Report {
	// Sendmail comments its actions ("delivered (to mailbox)"); the
	// action is the word before.
	r := &Report{Action: firstWord(toUTF8(g.values[fieldAction]))}
	r.Failed = r.Action == "failed"
	if kind, addr, ok := strings.Cut(toUTF8(g.values[fieldRecipient]), ";"); ok {
		r.Recipient = strings.TrimSpace(addr)
		if strings.EqualFold(strings.TrimSpace(kind), "utf-8") {
			r.Recipient = unembedUnicode(r.Recipient)
		}
		r.Recipient = strings.ToValidUTF8(truncateUTF8(r.Recipient, maxRecipient), "\uFFFD")
	}
	status := strings.Fields(toUTF8(g.values[fieldStatus]))
	enhanced := ""
	if len(status) > 0 && enhancedRE.MatchString(status[0]) {
		enhanced = status[0]
	}
	kind, text, ok := strings.Cut(toUTF8(g.values[fieldDiagnostic]), ";")
	if !ok {
		text, kind = kind, ""
	}
	if text = strings.TrimSpace(text); text != "" {
		if strings.EqualFold(strings.TrimSpace(kind), "smtp") {
			r.Said = parseReply(text)
		}
		if r.Said == nil {
			r.Said = &mail.Refusal{Text: clip(text)}
		}
	} else if enhanced != "" {
		r.Said = &mail.Refusal{}
	}
	if r.Said != nil && r.Said.Enhanced == "" {
		r.Said.Enhanced = enhanced
	}
	return r
}

// maxRecipient bounds Report.Recipient: a path is at most 256 octets
// (RFC 5321 §4.5.3.1.3), and the recipient goes into a log line.
const maxRecipient = 256

// unembedUnicode undoes the \x{HEXPOINT} escapes of an RFC 6533 §3
// utf-8-address ("b\x{F8}b@axe.test"); an escape that is none is kept as
// written.
func unembedUnicode(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		// RFC 6533 §3 writes the code point in hex: one to six digits
		// are taken.
		if j := strings.IndexByte(s[:min(len(s), 10)], '}'); j >= 4 {
			if n, err := strconv.ParseUint(s[3:j], 16, 32); err == nil && utf8.ValidRune(rune(n)) {
				b.WriteRune(rune(n))
				s = s[j+1:]
				continue
			}
		}
		b.WriteString(`\x{`)
		s = s[3:]
	}
	b.WriteString(s)
	return b.String()
}

var (
	enhancedRE = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
	// replyRE is an SMTP reply as servers quote it: a code, maybe an
	// enhanced status, the text.
	replyRE = regexp.MustCompile(`^([45][0-9]{2})[ -]+(?:([45]\.[0-9]{1,3}\.[0-9]{1,3})\s+)?(.+)$`)
	// continuedRE is the code a multi-line reply repeats on each line,
	// which unfolding leaves inside the text ("… Please try 550-5.1.1
	// double-checking …").
	continuedRE = regexp.MustCompile(`\s[45][0-9]{2}[ -][45]\.[0-9]{1,3}\.[0-9]{1,3}\s`)
	// saidRE is where plain bounces quote the reply: qmail's "Remote host
	// said:", Exim's "SMTP error from remote mail server after RCPT TO:<…>:"
	// or, in older Exim's plain bounces, "host mx.example [192.0.2.7]:",
	// and the like.
	saidRE = regexp.MustCompile(`(?i)(?:said|server|>|\]):\s*([45][0-9]{2}[ -].*)$`)
)

// parseReply reads an SMTP reply quoted in a report, or returns nil. s is
// at most maxStatusField or maxReplyLine long.
func parseReply(s string) *mail.Refusal {
	m := replyRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil
	}
	code, _ := strconv.Atoi(m[1])
	text := continuedRE.ReplaceAllString(" "+m[3]+" ", " ")
	return &mail.Refusal{Code: code, Enhanced: m[2], Text: clip(strings.TrimSpace(text))}
}

// replyInText finds the reply a plain bounce quotes: the first line that is
// one, or that quotes one after "said:". Only the first maxBounceText of
// text, and of each line its first maxReplyLine, are looked at.
func replyInText(text string) *mail.Refusal {
	text = truncateUTF8(text, maxBounceText)
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSpace(truncateUTF8(line, maxReplyLine))
		if r := parseReply(line); r != nil {
			return r
		}
		if m := saidRE.FindStringSubmatch(line); m != nil {
			if r := parseReply(m[1]); r != nil {
				return r
			}
		}
	}
	return nil
}

// plainBounce tells a bounce without a delivery-status part by the ways
// mail systems have always marked them: the mailer daemon's address or a
// subject saying so. An auto-reply sent to the return path is none.
func plainBounce(h textproto.Header, msg *Message) bool {
	if v := strings.ToLower(h.Get("Auto-Submitted")); strings.HasPrefix(strings.TrimSpace(v), "auto-replied") {
		return false
	}
	if msg.From != nil {
		local, _, _ := strings.Cut(strings.ToLower(msg.From.Addr), "@")
		switch local {
		case "mailer-daemon", "mailer_daemon", "mail-daemon", "postmaster", "mail-delivery-subsystem":
			return true
		}
	}
	subject := strings.ToLower(msg.Subject)
	for _, s := range bounceSubjects {
		if strings.Contains(subject, s) {
			return true
		}
	}
	return false
}

// bounceSubjects are in the subjects of plain bounces.
var bounceSubjects = []string{
	"undeliver", "delivery status notification", "failure notice", "returned mail", "mail delivery failed",
	"delivery failure", "could not be delivered", "unzustellbar", "nicht zustellbar", "non remis", "onbestelbaar",
}

// clip bounds a server's words for a mail to a person.
func clip(s string) string {
	const max = 400
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
