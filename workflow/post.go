package workflow

import (
	"fmt"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// maxRefs bounds the Message-IDs a participant's mail keeps in References.
const maxRefs = 10

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
	html := l.HTML()
	m := mail.Outgoing{
		MessageID: message.NewMessageID(d.e.tag.Domain()),
		Date:      d.now,
		From:      mail.Address{Name: "turnmail", Addr: d.e.tag.Gateway()},
		To:        *d.msg.From,
		Subject:   noticeSubject(d.msg.Subject),
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

// listPhrase quotes a subject for use as the phrase of a List-Id.
func listPhrase(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", " ", "\n", " ").Replace(s)
	return `"` + s + `"`
}
