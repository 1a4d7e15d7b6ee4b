package message

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"

	"github.com/turnmail/turnmail/mail"
)

// Delivery reports (bounces). A report that the delivery of a message
// failed arrives as an RFC 3464 delivery status notification
// (multipart/report with a message/delivery-status part; RFC 6533
// message/global-delivery-status for internationalised mail) or, from older
// servers, as plain text. ReadReport reads either; the remote server's words
// come out as a mail.Refusal with its RFC 3463 enhanced status.

// maxReport bounds what is read of a report: its machine-readable part comes
// before the returned message, which may be large.
const maxReport = 1 << 20

// maxStatusPart bounds a message/delivery-status part.
const maxStatusPart = 64 << 10

// A Report is what a delivery report says of the message it is about.
type Report struct {
	Failed    bool          // delivery failed; a delay or relay notice is no failure
	Action    string        // the report's Action ("failed", "delayed", …), "failed" for a plain bounce
	Recipient string        // Final-Recipient, for the log; "" when not given
	Said      *mail.Refusal // the remote server's words; nil when the report does not give them
}

// ReadReport reads the report in raw, the whole message that msg is parsed
// from: the delivery status part of an RFC 3464 report, or a plain bounce
// told by its sender and subject. It returns nil for anything else (an
// auto-reply sent to the return path, say).
func ReadReport(raw io.Reader, msg *Message) *Report {
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(raw, maxReport)))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil && len(hdr) == 0 {
		return nil
	}
	mt, params, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	if mt == "multipart/report" && params["boundary"] != "" {
		if r := readStatus(multipart.NewReader(tp.R, params["boundary"])); r != nil {
			return r
		}
	}
	if !plainBounce(hdr, msg) {
		return nil
	}
	r := &Report{Failed: true, Action: "failed"}
	low := strings.ToLower(msg.Subject)
	if strings.Contains(low, "delay") || strings.Contains(low, "warning") {
		r.Failed, r.Action = false, "delayed"
	}
	r.Said = replyInText(msg.Text)
	return r
}

// readStatus finds the message/delivery-status part of a report and reads
// its per-recipient fields (RFC 3464 §2.3): the first recipient whose
// delivery failed, or the first recipient. nil when there is none.
func readStatus(mr *multipart.Reader) *Report {
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil
		}
		mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		// RFC 6533 is the same for internationalised mail.
		if mt != "message/delivery-status" && mt != "message/global-delivery-status" {
			continue
		}
		var body io.Reader = p
		if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		data, _ := io.ReadAll(io.LimitReader(body, maxStatusPart))
		return statusFields(data)
	}
}

// statusFields reads the groups of fields of a delivery-status body: one
// for the message, then one per recipient.
func statusFields(data []byte) *Report {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	var first *Report
	for {
		h, err := tp.ReadMIMEHeader()
		// The first group is the message's (Reporting-MTA, …); a
		// recipient's has an Action.
		if h.Get("Action") != "" {
			r := recipientReport(h)
			if r.Failed {
				return r
			}
			if first == nil {
				first = r
			}
		}
		if err != nil {
			return first
		}
	}
}

// recipientReport reads one recipient's fields.
func recipientReport(h textproto.MIMEHeader) *Report {
	r := &Report{Action: strings.ToLower(strings.TrimSpace(h.Get("Action")))}
	r.Failed = r.Action == "failed"
	if _, addr, ok := strings.Cut(h.Get("Final-Recipient"), ";"); ok {
		r.Recipient = strings.TrimSpace(addr)
	}
	status := strings.Fields(h.Get("Status"))
	enhanced := ""
	if len(status) > 0 && enhancedRE.MatchString(status[0]) {
		enhanced = status[0]
	}
	kind, text, ok := strings.Cut(h.Get("Diagnostic-Code"), ";")
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
	// and the like.
	saidRE = regexp.MustCompile(`(?i)(?:said|server|>):\s*([45][0-9]{2}[ -].*)$`)
)

// parseReply reads an SMTP reply quoted in a report, or returns nil.
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
// one, or that quotes one after "said:".
func replyInText(text string) *mail.Refusal {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
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
func plainBounce(h textproto.MIMEHeader, msg *Message) bool {
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
