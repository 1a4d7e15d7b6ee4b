package workflow

import (
	"errors"
	"fmt"
	"io"
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
// as for a refusal at the smarthost (DeliveryFailed). message.ReadReport
// reads the report.
//
// The bounce check comes before automatic mail is set aside: every report is
// automatic mail (a null sender, multipart/report), and would otherwise be
// recorded as ignored.

// bounce is what a report that came back to a bounce address says.
type bounce struct {
	id uint64 // the outbound message it is about
	message.Report
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
			if r := message.ReadReport(raw, msg); r != nil {
				return &bounce{id: id, Report: *r}
			}
			return nil
		}
	}
	return nil
}

// applyBounce records the report in tx: the message it names fails, and its
// collaboration's owner is told. A report of a delay, of a message not in
// the queue or failed already changes nothing.
func (d *delivery) applyBounce(tx *store.Tx) error {
	b := d.bounce
	if !b.Failed {
		d.record("", store.OutcomeIgnored, fmt.Sprintf("delivery report for outbound %d: %s", b.id, b.Action))
		return nil
	}
	reason := "bounced"
	if b.Said != nil {
		reason += ": " + b.Said.Error()
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
	d.logAfterCommit("outbound mail bounced", "collab", o.Collab, "outbox_id", o.ID, "to", o.Msg.To.Addr, "recipient", b.Recipient, "reason", reason)
	q := mail.QueuedMail{ID: o.ID, Attempts: o.Attempts, Collab: o.Collab, Kind: o.Kind, Msg: o.Msg}
	return d.e.reportUndelivered(tx, d.now, q, undelivered{said: b.Said, refused: true})
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
