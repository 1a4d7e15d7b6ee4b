package workflow

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// Bounces (DESIGN §6). Every outbound mail leaves MAIL FROM a bounce address
// of its own (tag.BounceAddress, collab+b.<outbound id>.<mac>@), so a report
// that its delivery failed, which a server past the smarthost sends days
// later to that address, names the message it is about: the rules mark the
// message failed and tell the collaboration's owner, in the same plain words
// as for a refusal at the smarthost (DeliveryFailed). Reports arrive as
// RFC 3464 delivery status notifications (multipart/report with a
// message/delivery-status part) or, from older servers, as plain text.
//
// The bounce check comes before automatic mail is set aside: every report is
// automatic mail (a null sender, multipart/report), and would otherwise be
// recorded as ignored.

// maxReport bounds what is read of a report: its machine-readable part comes
// before the returned message, which may be large.
const maxReport = 1 << 20

// maxStatusPart bounds a message/delivery-status part.
const maxStatusPart = 64 << 10

// bounce is what a report that came back to a bounce address says.
type bounce struct {
	id        uint64        // the outbound message it is about
	failed    bool          // delivery failed; a delay or relay notice is no failure
	action    string        // the report's Action ("failed", "delayed", …), "failed" for a plain bounce
	recipient string        // Final-Recipient, for the log; "" when not given
	said      *mail.Refusal // the remote server's words; nil when the report does not give them
}

// bounceOf returns the report a mail to a bounce address carries, or nil
// when the mail is not for one or is no report (an auto-reply sent to the
// return path, say). raw is the whole message.
func (e *Engine) bounceOf(env mail.Envelope, msg *message.Message, raw io.Reader) *bounce {
	addrs := append(append([]string(nil), env.Recipients...), msg.DeliveredTo...)
	for _, a := range msg.To {
		addrs = append(addrs, a.Addr)
	}
	for _, a := range addrs {
		if id, ok := e.tag.ParseBounce(a); ok {
			return readBounce(id, msg, raw)
		}
	}
	return nil
}

// readBounce reads the report of message id from raw: the delivery status
// part of an RFC 3464 report, or a plain bounce told by its sender and
// subject. It returns nil for anything else.
func readBounce(id uint64, msg *message.Message, raw io.Reader) *bounce {
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(raw, maxReport)))
	hdr, err := tp.ReadMIMEHeader()
	if err != nil && len(hdr) == 0 {
		return nil
	}
	mt, params, _ := mime.ParseMediaType(hdr.Get("Content-Type"))
	if mt == "multipart/report" && params["boundary"] != "" {
		if b := readStatus(multipart.NewReader(tp.R, params["boundary"])); b != nil {
			b.id = id
			return b
		}
	}
	if !plainBounce(hdr, msg) {
		return nil
	}
	b := &bounce{id: id, failed: true, action: "failed"}
	low := strings.ToLower(msg.Subject)
	if strings.Contains(low, "delay") || strings.Contains(low, "warning") {
		b.failed, b.action = false, "delayed"
	}
	b.said = replyInText(msg.Text)
	return b
}

// readStatus finds the message/delivery-status part of a report and reads
// its per-recipient fields (RFC 3464 §2.3): the first recipient whose
// delivery failed, or the first recipient. nil when there is none.
func readStatus(mr *multipart.Reader) *bounce {
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
func statusFields(data []byte) *bounce {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	var first *bounce
	for {
		h, err := tp.ReadMIMEHeader()
		// The first group is the message's (Reporting-MTA, …); a
		// recipient's has an Action.
		if h.Get("Action") != "" {
			b := recipientBounce(h)
			if b.failed {
				return b
			}
			if first == nil {
				first = b
			}
		}
		if err != nil {
			return first
		}
	}
}

// recipientBounce reads one recipient's fields.
func recipientBounce(h textproto.MIMEHeader) *bounce {
	b := &bounce{action: strings.ToLower(strings.TrimSpace(h.Get("Action")))}
	b.failed = b.action == "failed"
	if _, addr, ok := strings.Cut(h.Get("Final-Recipient"), ";"); ok {
		b.recipient = strings.TrimSpace(addr)
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
			b.said = parseReply(text)
		}
		if b.said == nil {
			b.said = &mail.Refusal{Text: clip(text)}
		}
	} else if enhanced != "" {
		b.said = &mail.Refusal{}
	}
	if b.said != nil && b.said.Enhanced == "" {
		b.said.Enhanced = enhanced
	}
	return b
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
func plainBounce(h textproto.MIMEHeader, msg *message.Message) bool {
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

// applyBounce records the report in tx: the message it names fails, and its
// collaboration's owner is told. A report of a delay, of a message not in
// the queue or failed already changes nothing.
func (d *delivery) applyBounce(tx *store.Tx) error {
	b := d.bounce
	if !b.failed {
		d.record("", store.OutcomeIgnored, fmt.Sprintf("delivery report for outbound %d: %s", b.id, b.action))
		return nil
	}
	reason := "bounced"
	if b.said != nil {
		reason += ": " + b.said.Error()
	}
	o, changed, err := tx.Bounce(b.id, d.now, reason)
	if errors.Is(err, store.ErrNotFound) {
		d.record("", store.OutcomeIgnored, fmt.Sprintf("bounce for outbound %d, which is not in the queue", b.id))
		return nil
	}
	if err != nil {
		return fmt.Errorf("record bounce: %w", err)
	}
	detail := fmt.Sprintf("outbound %d to %s %s", o.ID, o.Msg.To.Addr, reason)
	if !changed {
		d.record(o.Collab, store.OutcomeBounce, detail+"; it had "+o.State+" already")
		return nil
	}
	d.record(o.Collab, store.OutcomeBounce, detail)
	d.logAfterCommit("outbound mail bounced", "collab", o.Collab, "outbox_id", o.ID, "to", o.Msg.To.Addr, "recipient", b.recipient, "reason", reason)
	q := mail.QueuedMail{ID: o.ID, Attempts: o.Attempts, Collab: o.Collab, Kind: o.Kind, Msg: o.Msg}
	return d.e.reportUndelivered(tx, d.now, q, undelivered{said: b.said, refused: true})
}

// undelivered is what the owner is told of a message given up on.
type undelivered struct {
	said     *mail.Refusal // the recipient's server's words; nil when there are none to quote
	refused  bool          // their server refused it; false: the gateway gave up trying
	attempts int           // the attempts made, when the gateway gave up
}

// reportUndelivered queues, in tx, the owner's notice that mail q was
// given up on. Mail that is not about a collaboration, or that was itself
// such a report or a notice, is not reported: reporting it could loop. Nor
// is mail to the owner: the notice would go where the mail did not.
func (e *Engine) reportUndelivered(tx *store.Tx, now time.Time, q mail.QueuedMail, u undelivered) error {
	cid, kind := q.Collab, q.Kind
	if cid == "" || kind == kindFailure || kind == kindNotice {
		return nil
	}
	s, err := loadState(tx, cid)
	if errors.Is(err, store.ErrNotFound) {
		return nil // purged since
	} else if err != nil {
		return err
	}
	owner := s.byID(s.c.Owner)
	if owner == nil || strings.EqualFold(owner.Address, q.Msg.To.Addr) {
		return nil
	}
	o := &outbox{e: e, now: now}
	return o.post(tx, s, kindFailure, owner, "", undeliveredLetter(s.c, q.Msg.To, kind, q.Msg.Date, u), nil)
}

// DeliveryFailed tells a collaboration's owner that mail to one of its
// participants was given up on (DESIGN §6), quoting the recipient's server
// and nothing of the gateway's own plumbing (its relay, the stage of the
// session). It is the outbound worker's OnFailed hook.
func (e *Engine) DeliveryFailed(q mail.QueuedMail, cause error) {
	var said *mail.Refusal
	errors.As(cause, &said)
	u := undelivered{said: said, refused: said != nil && said.Code >= 500}
	if !u.refused {
		u.attempts = q.Attempts + 1
	}
	err := e.st.Update(func(tx *store.Tx) error {
		return e.reportUndelivered(tx, e.cfg.Now().UTC(), q, u)
	})
	if err != nil {
		e.log.Error("report failed delivery", "err", err, "outbox_id", q.ID, "collab", q.Collab)
	}
}
