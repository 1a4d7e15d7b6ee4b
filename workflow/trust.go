package workflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// How a mail was matched to its collaboration (DESIGN §3).
const (
	byTag     = "tagged address"
	byThread  = "thread"
	bySubject = "subject tag"
)

// match is what routing found: the collaboration, the participant a tagged
// address names (by == byTag), and how.
type match struct {
	cid, pid string
	by       string
}

// maxHoldRequests bounds the confirmation requests one person gets per
// collaboration and day, so that a forger cannot flood them through us.
// Mail held beyond it waits for an operator (turnmail release).
const maxHoldRequests = 5

// errNeedRaw aborts a transaction that decided to keep the mail raw (held,
// or for the postmaster) before its raw bytes were stored: blobs are written
// outside the transaction, so ingest stores them and runs it again.
var errNeedRaw = errors.New("workflow: raw message needed")

// holdRefPrefix starts the Message-ID of a confirmation request:
// held.<inbound id>.<random>@<gateway domain>. A reply names it in
// In-Reply-To; it comes to the person's tagged address, which is what proves
// who replies: the id only says which held mail they mean.
const holdRefPrefix = "held."

func holdRef(inbound uint64, domain string) string {
	return holdRefPrefix + strconv.FormatUint(inbound, 10) + "." + message.NewMessageID(domain)
}

// parseHoldRef returns the inbound id a confirmation request's Message-ID
// names.
func parseHoldRef(ref, domain string) (uint64, bool) {
	rest, ok := strings.CutPrefix(ref, holdRefPrefix)
	if !ok || !strings.HasSuffix(strings.ToLower(rest), "@"+domain) {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ".")
	id, err := strconv.ParseUint(num, 10, 64)
	return id, ok && err == nil
}

// mustHold says why the mail may not act on what its header From claims, or
// "" when it may (DESIGN §3): a tagged address is a secret the person
// received, and acts on its own; a thread or subject match acts only when a
// trusted server's DMARC pass vouches for the From.
func (d *delivery) mustHold(m match) string {
	switch {
	case d.vouched || m.by == byTag:
		return ""
	case d.dmarc == message.DMARCPass:
		return ""
	case d.e.cfg.Unauthenticated == UnauthenticatedAccept:
		return ""
	}
	return "matched by " + m.by + ", and no trusted DMARC pass vouches for the From"
}

// hold keeps the mail unapplied, raw, with outcome held. When confirmer is
// set (the person the mail claims to come from, or the owner when DMARC
// failed), they get one mail at their own address asking them to confirm it
// by replying from there: a forger never sees that mail.
func (d *delivery) hold(tx *store.Tx, s *state, confirmer *store.Participant, why string) error {
	if d.raw == "" {
		return errNeedRaw
	}
	cid := ""
	if s != nil {
		cid = s.c.ID
	}
	d.in.Raw = d.raw
	d.record(cid, store.OutcomeHeld, why)
	d.logAfterCommit("message held", "collab", cid, "inbound", d.in.ID, "from", d.in.From, "reason", why)
	if confirmer == nil {
		return nil
	}
	asked := false
	for i := range maxHoldRequests {
		first, err := tx.MarkOnce(fmt.Sprintf("hold\x00%s\x00%s\x00%s\x00%d", cid, confirmer.ID, d.now.Format("2006-01-02"), i), d.now)
		if err != nil {
			return err
		}
		if first {
			asked = true
			break
		}
	}
	if !asked {
		d.logAfterCommit("hold not confirmable by mail: too many requests today", "collab", cid, "participant", confirmer.ID, "inbound", d.in.ID)
		return nil
	}
	d.in.Confirmer, d.in.Confirm = confirmer.ID, holdRef(d.in.ID, d.e.tag.Domain())
	return d.post(tx, s, kindHold, confirmer, "", holdLetter(s, d.msg, d.dmarc == message.DMARCFail, d.in.Confirm), nil)
}

// confirm applies the held mail this one confirms, in the same transaction:
// p wrote from their tagged address in reply to the request. A request
// answered before (a second reply, or one racing a release) changes nothing.
func (d *delivery) confirm(tx *store.Tx, s *state, p *store.Participant) error {
	h := d.held
	cur, err := tx.Inbound(h.prev.ID)
	if err != nil {
		return err
	}
	if h.msg == nil || cur.Outcome != store.OutcomeHeld || cur.Confirm != h.prev.Confirm {
		d.record(s.c.ID, store.OutcomeCommand, fmt.Sprintf("confirms held inbound %d, which is %s now", h.prev.ID, cur.Outcome))
		return nil
	}
	if err := h.apply(tx); err != nil {
		return fmt.Errorf("apply held inbound %d: %w", h.prev.ID, err)
	}
	d.record(s.c.ID, store.OutcomeCommand, fmt.Sprintf("confirmed held inbound %d", h.prev.ID))
	d.logAfterCommit("held message confirmed", "collab", s.c.ID, "participant", p.ID, "inbound", h.prev.ID)
	return nil
}

// confirms reports whether the mail, from p through their tagged address,
// answers the confirmation request of the held mail ingest loaded for it.
func (d *delivery) confirms(s *state, p *store.Participant, m match) bool {
	h := d.held
	return h != nil && m.by == byTag && m.pid == p.ID && h.prev.Confirmer == p.ID && h.prev.Collab == s.c.ID
}
