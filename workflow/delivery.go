package workflow

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/mail/reply"
	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
)

// delivery is one inbound message on its way through the rules. apply runs
// inside one write transaction; everything it decides, including the mail it
// sends, commits together or not at all. The transaction is a group commit
// (store.Batch) that other mails may share: when one of them fails, apply
// runs again, so it sets afresh everything it sets.
type delivery struct {
	outbox // its e, and its now: when the transaction began
	log    *slog.Logger
	env    mail.Envelope
	digest string
	size   int64
	msg    *message.Message
	perr   error          // a parse problem that is answered, not fatal (too many attachments)
	prev   *store.Inbound // the record being reprocessed or released, if any
	dmarc  string         // what a trusted server said of DMARC for the From (mail.DMARCPass…)
	// vouched applies the mail as if a tagged address had carried it: it was
	// released by an operator or confirmed by the person it names.
	vouched bool
	raw     string      // blob digest of the raw message, once stored (see errNeedRaw)
	held    *delivery   // the held mail this one may confirm, loaded by ingest
	bounce  *bounce     // the report it is, when it came to a bounce address (bounce.go)
	spool   *mail.Spool // the held mail's own spool, closed by release
	// carryStale says the mail ended the turn with "/done all": the
	// party's stale drafts travel too (see draftsTravel).
	carryStale bool
	// settings says the mail changed a person's settings, which may make
	// their summary due at once (see walkGate).
	settings bool
	// programs are attachments set aside as programs (see isProgram).
	programs []message.Attachment
	// compared holds the comparisons of versions made so far, by the two
	// versions compared: by precompare before the transaction, and by
	// compare in it. A run of apply again reuses them: they depend on the
	// versions alone.
	compared map[compareKey]*comparison
	// ended holds the ended turns precompare read, for the handoff's history
	// (see handoffDigest).
	ended *endedTurns

	in      *store.Inbound
	dup     bool
	events  []event        // logged by report, once the transaction has committed
	pending []*pendingMail // mail to participants, queued by flush (see post)
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
	return bytesKey(d.digest)
}

// sender is who a redelivery must come from to be one (DESIGN §6): the
// header From and the envelope sender, so that a stranger reusing someone's
// Message-ID first does not make their mail pass for a redelivery.
func (d *delivery) sender() string {
	from := ""
	if d.msg.From != nil {
		from = d.msg.From.Addr
	}
	return from + " " + d.env.From
}

func (d *delivery) apply(tx *store.Tx) error {
	d.now = d.e.cfg.Now().UTC()
	d.dup, d.events, d.pending, d.carryStale, d.settings = false, nil, nil, false, false
	msg := d.msg
	d.in = &store.Inbound{
		Time: d.now, Source: d.env.Source, EnvFrom: d.env.From, Recipients: d.env.Recipients,
		MsgID: msg.MessageID, Digest: d.digest, Size: d.size, Subject: msg.Subject,
	}
	if msg.From != nil {
		d.in.From = msg.From.Addr
	}
	key := d.dedupeKey()
	if d.prev == nil {
		_, seen, err := tx.Received(d.sender(), key)
		if err != nil {
			return err
		}
		if seen {
			d.dup = true
			return nil
		}
		// Numbered first: a hold's confirmation request names it.
		if err := tx.AddInbound(d.in); err != nil {
			return err
		}
	} else {
		// Loaded before the transaction: a release, confirmation or
		// reprocessing that got there first wins, and this one stops.
		cur, err := tx.Inbound(d.prev.ID)
		if err != nil {
			return err
		}
		if cur.Outcome != d.prev.Outcome {
			return fmt.Errorf("inbound %d is %s now, no longer %s", d.prev.ID, cur.Outcome, d.prev.Outcome)
		}
		d.in.ID, d.in.Time = d.prev.ID, d.prev.Time
	}
	_, dir, err := tx.MsgID(msg.MessageID)
	switch {
	case msg.MessageID != "" && err == nil && dir == store.DirOut:
		d.record("", store.OutcomeIgnored, "our own message came back")
	case msg.MessageID != "" && err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up %s: %w", msg.MessageID, err)
	default:
		if err := d.decide(tx); err != nil {
			return err
		}
		if err := d.flush(tx); err != nil {
			return err
		}
	}
	if err := tx.PutReceived(d.sender(), key, d.in.Collab); err != nil {
		return fmt.Errorf("index received message: %w", err)
	}
	if err := tx.PutReceived("", bytesKey(d.digest), d.in.Collab); err != nil {
		return fmt.Errorf("index received bytes: %w", err)
	}
	if d.threads() {
		// Replies to this mail now lead to its collaboration.
		if err := tx.PutMsgID(msg.MessageID, d.in.Collab, store.DirIn); err != nil {
			return fmt.Errorf("index message id: %w", err)
		}
	}
	return tx.PutInbound(d.in)
}

// threads reports whether the mail joins its collaboration's thread: a
// participant's mail that was applied. A stranger's, or a held one, must not
// make the Message-ID it chose lead anywhere.
func (d *delivery) threads() bool {
	if d.msg.MessageID == "" || d.in.Collab == "" {
		return false
	}
	switch d.in.Outcome {
	case store.OutcomeStranger, store.OutcomeIgnored, store.OutcomeHeld, store.OutcomeUnprocessable, store.OutcomeBounce:
		return false
	}
	return true
}

// release frees what a held mail's delivery holds.
func (d *delivery) release() {
	if d.spool != nil {
		d.spool.Close()
	}
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
	if d.toPostmaster() {
		if d.raw == "" {
			return errNeedRaw
		}
		d.in.Raw = d.raw
		d.record("", store.OutcomePostmaster, "kept for the operator")
		d.logAfterCommit("mail for postmaster kept", "inbound", d.in.ID, "from", d.in.From)
		return nil
	}
	if d.bounce != nil {
		return d.applyBounce(tx) // before automatic mail, which every report is, is set aside
	}
	if reason := d.autoReason(); reason != "" {
		d.record("", store.OutcomeIgnored, reason)
		return nil
	}
	m, s, err := d.route(tx)
	if err != nil {
		return err
	}
	if d.dmarc == message.DMARCFail && !d.vouched {
		// A trusted server says the From is forged, whatever matched it.
		var owner *store.Participant
		if s != nil {
			owner = s.byID(s.c.Owner)
		}
		return d.hold(tx, s, owner, "a trusted server found DMARC failing for the From")
	}
	if s == nil {
		switch {
		case d.perr != nil:
			d.record("", store.OutcomeRejected, d.perr.Error())
			return d.notice(tx, "", "too-many-attachments", tooManyLetter())
		case d.toGateway() && len(msg.Attachments) > 0:
			return d.start(tx)
		case d.toGateway() && len(d.leftOut()) > 0:
			d.record("", store.OutcomeRejected, "no documents: "+strings.Join(d.leftOut(), "; "))
			return d.notice(tx, "", "left-out", leftOutLetter(d.leftOut()))
		}
		return d.unmatched(tx)
	}
	var p *store.Participant
	if msg.From != nil {
		p = s.byAddress(msg.From.Addr)
	}
	switch {
	case p == nil:
		// Strangers change nothing and hear nothing back: answering would
		// confirm the address to whoever is probing it. A colleague of a
		// participant is told of to that participant's party instead.
		return d.fromStranger(tx, s, m)
	case m.pid != "" && p.ID != m.pid:
		// A participant writing to someone else's reply address (a
		// Reply-All that kept it): the address does not name them, so
		// nothing changes, but they are told where to write.
		d.record(m.cid, store.OutcomeRejected, fmt.Sprintf("sent by %s to the tagged address of %s", p.ID, m.pid))
		return d.answer(tx, s, p, wrongAddressLetter(s, s.whoFor(m.pid, p), d.e.tag.Address(m.cid, p.ID)))
	case d.confirms(s, p, m):
		return d.confirm(tx, s, p)
	}
	if why := d.mustHold(m); why != "" {
		return d.hold(tx, s, p, why)
	}
	return d.fromParticipant(tx, s, p)
}

// toPostmaster reports whether the mail is for postmaster@ the gateway's
// domain (RFC 5321 §4.5.1): it is the operator's, not the rules'.
func (d *delivery) toPostmaster() bool {
	for _, a := range d.env.Recipients {
		local, domain, _ := strings.Cut(a, "@")
		if strings.EqualFold(local, "postmaster") && strings.EqualFold(domain, d.e.tag.Domain()) {
			return true
		}
	}
	return false
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
		if k, _, _ := d.e.tag.Classify(a); k == tag.AddrGateway {
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
// address, then the thread, then the subject tag, and hands on the state it
// loaded to tell (nil when nothing matched). An unknown collaboration id
// (purged, or forged in a subject) does not match.
func (d *delivery) route(tx *store.Tx) (match, *state, error) {
	loaded := map[string]*state{}
	load := func(cid string) (*state, error) {
		if s, ok := loaded[cid]; ok {
			return s, nil
		}
		s, err := loadState(tx, cid)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		loaded[cid] = s
		return s, err
	}
	var tagged []match
	for _, a := range d.candidateAddrs() {
		if k, c, p := d.e.tag.Classify(a); k == tag.AddrTagged {
			s, err := load(c)
			if err != nil {
				return match{}, nil, err
			}
			if s != nil {
				tagged = append(tagged, match{cid: c, pid: p, by: byTag})
			}
		}
	}
	if len(tagged) > 0 {
		// A Reply-All can carry other people's tagged addresses too: the
		// sender's own one is the one that names them.
		for _, t := range tagged {
			if p := loaded[t.cid].byID(t.pid); p != nil && d.msg.From != nil && strings.EqualFold(p.Address, d.msg.From.Addr) {
				return t, loaded[t.cid], nil
			}
		}
		return tagged[0], loaded[tagged[0].cid], nil
	}
	refs := append(append([]string(nil), d.msg.InReplyTo...), reversed(d.msg.References)...)
	for _, ref := range refs {
		c, _, ok := d.e.tag.ParseReplyRef(ref)
		if !ok {
			// A reply token names whose copy was answered, not who is
			// answering: a forwarded thread carries someone else's. Any
			// other reference must be one of ours, or a mail we received.
			var err error
			c, _, err = tx.MsgID(ref)
			if errors.Is(err, store.ErrNotFound) || (err == nil && c == "") {
				continue
			}
			if err != nil {
				return match{}, nil, fmt.Errorf("look up reference %s: %w", ref, err)
			}
		}
		s, err := load(c)
		if err != nil || s != nil {
			return match{cid: c, by: byThread}, s, err
		}
	}
	if c, ok := SubjectTag(d.msg.Subject); ok {
		s, err := load(c)
		if err != nil || s != nil {
			return match{cid: c, by: bySubject}, s, err
		}
	}
	return match{}, nil, nil
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
func (d *delivery) replyText() (note, rest string) {
	if strings.TrimSpace(d.msg.Text) != "" {
		return reply.Extract(d.msg.Text)
	}
	if d.msg.HTML != "" {
		return reply.ExtractHTML(d.msg.HTML)
	}
	return "", ""
}
