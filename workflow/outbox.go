package workflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// outbox is the one writer of gateway mail: every mail the gateway sends is
// queued through it, in the store transaction of the change that causes it.
// A delivery writes through its own; the tick and the failure hook, which
// have no inbound mail, make one of their own.
type outbox struct {
	e   *Engine
	now time.Time // the time the mail says it was written
}

// post queues one mail about collaboration s to participant to, in tx. byName is the person whose action caused it; the
// mail is From "<byName> (via turnmail)" at the gateway address, never the
// person's own address (DMARC).
func (o *outbox) post(tx *store.Tx, s *state, kind string, to *store.Participant, byName string, l *letter, atts []mail.OutgoingAttachment) error {
	c := s.c
	tag := o.e.tag
	reply := tag.Address(c.ID, to.ID)
	if l.Footer == "" {
		l.Footer = footerPlain
	}
	if kind != kindBinder && kind != kindFailure && to.Placed() && to.Party >= 0 && to.Party < len(c.Parties) {
		drafts, err := tx.Drafts(c.ID, to.Party)
		if err != nil {
			return fmt.Errorf("load drafts for %s: %w", to.ID, err)
		}
		if len(drafts) > 0 {
			l.Sections = append(l.Sections, pendingDraftsSection(s, to.Party, drafts))
		}
	}
	if c.State == store.StateActive && !c.Deadline.IsZero() {
		person, err := tx.Person(to.Address)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load person %s: %w", to.Address, err)
		}
		l.Paras = append([]string{deadlineLine(c, o.now, o.e.location(person))}, l.Paras...)
	}
	atts = o.fit(c, l, atts)
	html := l.HTML()
	msgID := l.MessageID
	if msgID == "" {
		msgID = message.NewMessageID(tag.Domain())
	}
	m := mail.Outgoing{
		MessageID: msgID,
		Date:      o.now,
		From:      mail.Address{Name: viaName(byName), Addr: tag.Gateway()},
		To:        mail.Address{Name: to.Name, Addr: to.Address},
		ReplyTo:   &mail.Address{Addr: reply},
		Subject:   subjectFor(c),
		InReplyTo: c.RootMsgID,
		ListID:    fmt.Sprintf("%s <%s.%s>", listPhrase(c.Subject), c.ID, tag.Domain()),
		ListPost:  reply,
		Header: [][2]string{
			{"X-Turnmail-Collab", c.ID}, {"X-Turnmail-Kind", kind},
			// Outlook groups a conversation by these, whatever the subject.
			{"Thread-Topic", topicOf(c)}, {"Thread-Index", message.ThreadIndex(c.Created, topicOf(c), o.now)},
		},
		Text: l.Text(),
		HTML: html,
	}
	// Thread on the mail this person last had from the gateway, below the
	// mail that started it all, which every first participant got.
	if c.RootMsgID != "" {
		m.References = append(m.References, c.RootMsgID)
	}
	m.References = append(m.References, to.Thread...)
	if n := len(to.Thread); n > 0 {
		m.InReplyTo = to.Thread[n-1]
	}
	m.References = append(m.References, tag.ReplyRef(c.ID, to.ID))
	m.Attachments = atts
	if err := o.enqueue(tx, c.ID, kind, &m); err != nil {
		return err
	}
	to.Thread = append(to.Thread, m.MessageID)
	if len(to.Thread) > maxRefs {
		to.Thread = to.Thread[len(to.Thread)-maxRefs:]
	}
	if err := tx.PutParticipant(c.ID, to); err != nil {
		return fmt.Errorf("store participant %s: %w", to.ID, err)
	}
	return nil
}

// enqueue queues m in tx and indexes its Message-ID, so that replies to it
// lead back to cid.
func (o *outbox) enqueue(tx *store.Tx, cid, kind string, m *mail.Outgoing) error {
	// Due at once by the engine's clock: a tick run "as if" at a later time
	// (turnmail tick --now) still sends now.
	out := &store.Outbound{Collab: cid, Kind: kind, Msg: *m, Created: o.now, NextTry: o.e.cfg.Now()}
	if err := tx.Enqueue(out); err != nil {
		return fmt.Errorf("queue %s mail to %s: %w", kind, m.To.Addr, err)
	}
	if err := tx.PutMsgID(m.MessageID, cid, store.DirOut); err != nil {
		return fmt.Errorf("index outbound message id: %w", err)
	}
	return nil
}

// fit leaves out of a mail the attachments beyond the configured total,
// in order, and says so in l: with a download link when the gateway has
// a public URL.
func (o *outbox) fit(c *store.Collab, l *letter, atts []mail.OutgoingAttachment) []mail.OutgoingAttachment {
	limit := o.e.cfg.MaxAttachmentBytes
	if limit <= 0 {
		return atts
	}
	var kept []mail.OutgoingAttachment
	var left []string
	total := int64(0)
	for _, a := range atts {
		if total+a.Blob.Size <= limit {
			total += a.Blob.Size
			kept = append(kept, a)
			continue
		}
		url := ""
		if o.e.cfg.DownloadURL != nil {
			url = o.e.cfg.DownloadURL(c.ID, a.Blob.Digest, a.Filename, o.now.Add(downloadFor))
		}
		left = append(left, leftOutFileLine(a.Filename, a.Blob.Size, limit, url, o.now.Add(downloadFor)))
		for i := range l.Changes {
			if l.Changes[i].Attached == a.Filename {
				l.Changes[i].Attached = ""
				l.Changes[i].Remark = joinRemark(l.Changes[i].Remark, remarkTooBig)
			}
		}
	}
	if len(left) > 0 {
		l.Sections = append(l.Sections, section{Title: titleTooBig, Lines: left})
	}
	return kept
}

func joinRemark(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}
