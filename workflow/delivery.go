package workflow

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// delivery is one inbound message on its way through the rules. apply runs
// inside one write transaction; everything it decides, including the mail it
// sends, commits together or not at all.
type delivery struct {
	e      *Engine
	log    *slog.Logger
	env    mail.Envelope
	digest string
	size   int64
	msg    *mail.Message
	perr   error          // a parse problem that is answered, not fatal (too many attachments)
	prev   *store.Inbound // the record being reprocessed, if any

	now    time.Time
	in     *store.Inbound
	dup    bool
	events []event // logged by report, once the transaction has committed
}

// event is a log line about a change, held back until the change is
// durable: a failed transaction must not leave "collaboration started" in
// the log.
type event struct {
	msg  string
	args []any
}

// logAfterCommit queues an info line for report.
func (d *delivery) logAfterCommit(msg string, args ...any) {
	d.events = append(d.events, event{msg, args})
}

// dedupeKey identifies a message across redeliveries: its Message-ID, or
// the digest of its bytes when it has none.
func (d *delivery) dedupeKey() string {
	if d.msg.MessageID != "" {
		return d.msg.MessageID
	}
	return "sha256:" + d.digest
}

func (d *delivery) apply(tx *store.Tx) error {
	d.now = d.e.cfg.Now().UTC()
	d.dup, d.events = false, nil
	msg := d.msg
	d.in = &store.Inbound{
		Time: d.now, Source: d.env.Source, EnvFrom: d.env.From, Recipients: d.env.Recipients,
		MsgID: msg.MessageID, Digest: d.digest, Size: d.size, Subject: msg.Subject,
	}
	if msg.From != nil {
		d.in.From = msg.From.Addr
	}
	key := d.dedupeKey()
	cid, dir, err := tx.MsgID(key)
	switch {
	case err == nil && dir == store.DirIn && d.prev == nil:
		d.dup = true
		return nil
	case err == nil && dir == store.DirOut:
		d.record(cid, store.OutcomeIgnored, "our own message came back")
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up %s: %w", key, err)
	default:
		if err := d.decide(tx); err != nil {
			return err
		}
	}
	if err := tx.PutMsgID(key, d.in.Collab, store.DirIn); err != nil {
		return fmt.Errorf("index message id: %w", err)
	}
	if d.prev != nil {
		d.in.ID, d.in.Time = d.prev.ID, d.prev.Time
		return tx.PutInbound(d.in)
	}
	return tx.AddInbound(d.in)
}

func (d *delivery) record(cid, outcome, detail string) {
	d.in.Collab, d.in.Outcome, d.in.Detail = cid, outcome, detail
}

// report logs what became of the message, after the commit.
func (d *delivery) report() {
	if d.dup {
		d.log.Info("duplicate message ignored", "msgid", d.msg.MessageID)
		return
	}
	for _, ev := range d.events {
		d.log.Info(ev.msg, ev.args...)
	}
	d.log.Info("message applied", "inbound", d.in.ID, "msgid", d.in.MsgID, "from", d.in.From,
		"collab", d.in.Collab, "outcome", d.in.Outcome, "detail", d.in.Detail)
}

// decide routes the message (DESIGN §3) and applies the rules.
func (d *delivery) decide(tx *store.Tx) error {
	msg := d.msg
	if reason := d.autoReason(); reason != "" {
		d.record("", store.OutcomeIgnored, reason)
		return nil
	}
	cid, pid, err := d.route(tx)
	if err != nil {
		return err
	}
	if cid == "" {
		switch {
		case d.perr != nil:
			d.record("", store.OutcomeRejected, d.perr.Error())
			return d.notice(tx, "", "too-many-attachments", tooManyLetter())
		case d.toGateway() && len(msg.Attachments) > 0:
			return d.start(tx)
		}
		return d.unmatched(tx)
	}
	s, err := loadState(tx, cid)
	if err != nil {
		return err
	}
	var p *store.Participant
	if msg.From != nil {
		p = s.byAddress(msg.From.Addr)
	}
	switch {
	case p == nil:
		// Strangers change nothing and hear nothing back: answering would
		// confirm the address to whoever is probing it.
		d.record(cid, store.OutcomeStranger, "sender is not a participant")
		return nil
	case pid != "" && p.ID != pid:
		// A participant writing to someone else's reply address (a
		// Reply-All that kept it): the address does not name them, so
		// nothing changes, but they are told where to write.
		d.record(cid, store.OutcomeRejected, fmt.Sprintf("sent by %s to the tagged address of %s", p.ID, pid))
		return d.answer(tx, s, p, &letter{
			Preheader: fmt.Sprintf("Your mail went to %s's reply address for “%s”, so nothing changed.", s.who(pid), s.c.Subject),
			Paras:     []string{"Each person has their own reply address. Send it again as a reply to a gateway mail addressed to you (Reply-To: " + d.e.tag.Address(cid, p.ID) + ")."},
		})
	}
	return d.fromParticipant(tx, s, p)
}

// autoReason says why the message is automatic mail that must never be
// answered, or "".
func (d *delivery) autoReason() string {
	if d.msg.Auto != "" {
		return d.msg.Auto
	}
	if d.env.From == "" && d.env.Source != "imap" {
		return "null envelope sender"
	}
	return ""
}

// toGateway reports whether the plain gateway address is among the
// message's recipients.
func (d *delivery) toGateway() bool {
	for _, a := range d.candidateAddrs() {
		if k, _, _ := d.e.tag.Classify(a); k == mail.AddrGateway {
			return true
		}
	}
	return false
}

func (d *delivery) candidateAddrs() []string {
	addrs := append([]string(nil), d.env.Recipients...)
	for _, a := range d.msg.To {
		addrs = append(addrs, a.Addr)
	}
	for _, a := range d.msg.Cc {
		addrs = append(addrs, a.Addr)
	}
	return append(addrs, d.msg.DeliveredTo...)
}

// route finds the collaboration a message belongs to (DESIGN §3): a tagged
// address, then the thread, then the subject tag. pid is set when a tagged
// address or reply reference names the participant. An unknown collaboration
// id (purged, or forged in a subject) does not match.
func (d *delivery) route(tx *store.Tx) (cid, pid string, err error) {
	exists := func(id string) (bool, error) {
		_, err := tx.Collab(id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	var tagged [][2]string
	for _, a := range d.candidateAddrs() {
		if k, c, p := d.e.tag.Classify(a); k == mail.AddrTagged {
			ok, err := exists(c)
			if err != nil {
				return "", "", err
			}
			if ok {
				tagged = append(tagged, [2]string{c, p})
			}
		}
	}
	if len(tagged) > 0 {
		// A Reply-All can carry other people's tagged addresses too: the
		// sender's own one is the one that names them.
		for _, t := range tagged {
			if own, err := d.isSender(tx, t[0], t[1]); own || err != nil {
				return t[0], t[1], err
			}
		}
		return tagged[0][0], tagged[0][1], nil
	}
	refs := append(append([]string(nil), d.msg.InReplyTo...), reversed(d.msg.References)...)
	for _, ref := range refs {
		if c, _, ok := d.e.tag.ParseReplyRef(ref); ok {
			// A reply token names whose copy was answered, not who is
			// answering: a forwarded thread carries someone else's.
			ok, err := exists(c)
			if ok || err != nil {
				return c, "", err
			}
			continue
		}
		c, _, err := tx.MsgID(ref)
		if errors.Is(err, store.ErrNotFound) || (err == nil && c == "") {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("look up reference %s: %w", ref, err)
		}
		return c, "", nil
	}
	if c, ok := SubjectTag(d.msg.Subject); ok {
		ok, err := exists(c)
		if ok || err != nil {
			return c, "", err
		}
	}
	return "", "", nil
}

// isSender reports whether participant pid of collaboration cid sent the
// message.
func (d *delivery) isSender(tx *store.Tx, cid, pid string) (bool, error) {
	if d.msg.From == nil {
		return false, nil
	}
	ps, err := tx.Participants(cid)
	if err != nil {
		return false, fmt.Errorf("load participants of %s: %w", cid, err)
	}
	for _, p := range ps {
		if p.ID == pid {
			return strings.EqualFold(p.Address, d.msg.From.Addr), nil
		}
	}
	return false, nil
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

// replyText is the sender's new text: quotes and signature cut, with what
// was cut kept apart.
func (d *delivery) replyText() (reply, rest string) {
	if strings.TrimSpace(d.msg.Text) != "" {
		return mail.ExtractReply(d.msg.Text)
	}
	if d.msg.HTML != "" {
		return mail.ExtractHTMLReply(d.msg.HTML), ""
	}
	return "", ""
}
