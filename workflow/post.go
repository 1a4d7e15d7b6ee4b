package workflow

import (
	"fmt"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// Kinds of gateway mail, as recorded in the outbound queue.
const (
	kindHandoff  = "handoff"  // your party holds the turn now
	kindConfirm  = "confirm"  // what happened, for the other party and the sender
	kindDraft    = "draft"    // a contributor's draft, for their party's leaders
	kindComment  = "comment"  // a comment, relayed inside the sender's party
	kindReply    = "reply"    // the answer to a command (/status, /help)
	kindBinder   = "binder"   // the closing binder of a wrapped-up collaboration
	kindNotice   = "notice"   // something went wrong; rate-limited
	kindFailure  = "delivery" // mail to a participant was given up on
	kindSummary  = "summary"  // the weekly summary
	kindReminder = "reminder" // a turn held long, a deadline near or passed
	kindHold     = "hold"     // a held mail: confirm that you sent it
	maxRefs      = 10         // Message-IDs kept for References
	footerPlain  = "Reply to this mail to take part. Commands go on the first lines of a reply; /help lists them."
	footerNotice = "This is an automatic message from a turnmail gateway."
)

// subjectFor is the subject of a collaboration's mail: its own words kept
// stable for threading (MAIL-NOTES), with the tag once at the end.
func subjectFor(c *store.Collab, kind string) string {
	prefix := "Re: "
	if kind == kindHandoff {
		prefix = "Your turn: "
	}
	return fmt.Sprintf("%s%s [tm:%s]", prefix, c.Subject, c.ID)
}

// answer tells a participant what became of their mail, through their own
// reply address.
func (d *delivery) answer(tx *store.Tx, s *state, p *store.Participant, l *letter) error {
	return d.post(tx, s, kindReply, p, "", l, nil)
}

// notice answers a sender outside any collaboration's mail flow: what went
// wrong and what to do. It goes at most once per address, kind and day, and
// never to automatic mail (DESIGN §6).
func (d *delivery) notice(tx *store.Tx, cid, reason string, l *letter) error {
	if d.msg.From == nil || d.autoReason() != "" {
		return nil
	}
	to := d.msg.From.Addr
	if !strings.EqualFold(d.env.From, to) {
		// The header From is anyone's to write: answering it would mail
		// whoever a forger names (backscatter). The envelope sender is
		// where the sending server sends its own bounces.
		d.log.Debug("notice withheld: envelope sender is not the header From", "from", to, "env_from", d.env.From, "reason", reason)
		return nil
	}
	first, err := tx.MarkOnce(fmt.Sprintf("notice\x00%s\x00%s\x00%s", to, reason, d.now.Format("2006-01-02")), d.now)
	if err != nil || !first {
		return err
	}
	if l.Footer == "" {
		l.Footer = footerNotice
	}
	html, err := l.HTML()
	if err != nil {
		return err
	}
	subject := d.msg.Subject
	if subject == "" {
		subject = "your message"
	}
	m := mail.Outgoing{
		MessageID: message.NewMessageID(d.e.tag.Domain()),
		Date:      d.now,
		From:      mail.Address{Name: "turnmail", Addr: d.e.tag.Gateway()},
		To:        *d.msg.From,
		Subject:   "Re: " + BaseSubject(subject),
		InReplyTo: d.msg.MessageID,
		Header:    [][2]string{{"X-Turnmail-Kind", kindNotice}},
		Text:      l.Text(),
		HTML:      html,
	}
	if d.msg.MessageID != "" {
		m.References = []string{d.msg.MessageID}
	}
	if cid != "" {
		m.Header = append(m.Header, [2]string{"X-Turnmail-Collab", cid})
	}
	return d.enqueue(tx, cid, kindNotice, &m)
}

func viaName(name string) string {
	if name == "" {
		return "turnmail"
	}
	return name + " (via turnmail)"
}

// listPhrase quotes a subject for use as the phrase of a List-Id.
func listPhrase(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", " ", "\n", " ").Replace(s)
	return `"` + s + `"`
}
