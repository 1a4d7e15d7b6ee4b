package workflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
)

// start creates a collaboration from a mail to the plain gateway address with
// attachments (DESIGN §2.1): two parties by mail domain, the sender owner and
// leader, To recipients leaders and Cc recipients contributors of their party.
// The starter's domain is her party's; the other party's is its first
// leader's, the first To recipient outside her domain. Anyone of a third
// domain (outside counsel, of either side) is pending: in the collaboration
// but in no party's private circle until a leader places them. Turn 1 is
// the sender's and ends at once with the attachments as version 1; turn 2
// goes to the other party.
func (d *delivery) start(tx *store.Tx) error {
	msg := d.msg
	if msg.From == nil {
		return d.unmatched(tx)
	}
	if k, _, _ := d.e.tag.Classify(msg.From.Addr); k != tag.AddrForeign {
		// Mail "from" the gateway's own domain is forged or looping; a
		// collaboration owned by the gateway would mail itself.
		d.record("", store.OutcomeRejected, "sender is in the gateway's own domain")
		return nil
	}
	if !d.e.mayStart(msg.From.Addr) {
		// Otherwise anyone could have the gateway mail their attachments to
		// whomever they name in To.
		d.record("", store.OutcomeRejected, "sender may not start collaborations")
		return d.notice(tx, "", "not-allowed", notAllowedLetter(d.e.tag.Gateway()))
	}
	cid, err := tx.NewCollabID()
	if err != nil {
		return fmt.Errorf("new collaboration id: %w", err)
	}
	subject := BaseSubject(msg.Subject)
	if subject == "" {
		subject = strings.TrimSuffix(msg.Attachments[0].Filename, extOf(msg.Attachments[0].Filename))
	}
	c := &store.Collab{
		ID: cid, Subject: subject, State: store.StateActive, Created: d.now,
		Turn: 1, TurnParty: 0, TurnSince: d.now, RootMsgID: msg.MessageID,
	}
	s := &state{c: c, latest: map[string]*store.Version{}}
	add := func(a mail.Address, party int, role string, pending bool) *store.Participant {
		addr := strings.ToLower(a.Addr)
		if p := s.byAddress(addr); p != nil {
			return p
		}
		p := &store.Participant{ID: s.nextPID(), Address: addr, Name: a.Name, Party: party, Role: role, Added: d.now, Pending: pending}
		if pending {
			s.pending = append(s.pending, p)
		} else {
			s.people = append(s.people, p)
		}
		return p
	}
	owner := add(*msg.From, 0, store.RoleLeader, false)
	c.Owner = owner.ID
	home := domainOf(owner.Address)
	// The other party's domain: the first To recipient's outside the
	// starter's domain; when all her To recipients are colleagues, the first
	// such Cc recipient's. "" when everyone shares her domain.
	otherDom := ""
	for _, a := range slices.Concat(msg.To, msg.Cc) {
		if k, _, _ := d.e.tag.Classify(a.Addr); k == tag.AddrForeign && domainOf(a.Addr) != home {
			otherDom = domainOf(a.Addr)
			break
		}
	}
	var ours []mail.Address // the starter's To recipients of their own domain
	for _, list := range []struct {
		addrs []mail.Address
		role  string
	}{{msg.To, store.RoleLeader}, {msg.Cc, store.RoleContributor}} {
		for _, a := range list.addrs {
			if k, _, _ := d.e.tag.Classify(a.Addr); k != tag.AddrForeign || s.byAddress(a.Addr) != nil {
				continue // the gateway itself, or someone listed twice
			}
			switch domainOf(a.Addr) {
			case home:
				if list.role == store.RoleLeader {
					ours = append(ours, a)
				}
				add(a, 0, list.role, false)
			case otherDom:
				add(a, 1, list.role, false)
			default:
				// Neither side's: whose counsel they are is for a leader
				// to say. Put in a party, they would read its internal
				// mail, perhaps the other side's.
				add(a, 1, list.role, true)
			}
		}
	}
	if len(s.party(1)) == 0 {
		// Everyone shares the starter's domain: her To recipients are the
		// other side (a review inside one company).
		for _, a := range ours {
			s.byAddress(a.Addr).Party = 1
		}
	}
	other := s.party(1)
	if len(other) == 0 {
		d.record("", store.OutcomeRejected, "no other party among the recipients")
		return d.notice(tx, "", "no-other-party", noOtherPartyLetter(d.e.tag.Gateway()))
	}
	if !hasRole(other, store.RoleLeader) {
		other[0].Role = store.RoleLeader // someone must be able to end their turn
	}
	c.Parties = partyNames(home, other)
	for _, p := range slices.Concat(s.people, s.pending) {
		if err := tx.PutParticipant(cid, p); err != nil {
			return fmt.Errorf("store participant: %w", err)
		}
	}
	files := make([]incoming, len(msg.Attachments))
	for i, a := range msg.Attachments {
		files[i] = incoming{att: a, author: owner.ID}
	}
	ch, err := d.storeVersions(tx, s, files)
	if err != nil {
		return err
	}
	reply, rest := d.replyText()
	_, note := ParseCommands(reply)
	d.record(cid, store.OutcomeStarted, fmt.Sprintf("%d document(s), %d participant(s), %d not yet in a party", len(ch), len(s.people), len(s.pending)))
	d.logAfterCommit("collaboration started", "collab", cid, "owner", owner.Address, "documents", len(ch), "pending", len(s.pending))
	if err := d.endTurn(tx, s, owner, "start", note, rest, ch); err != nil {
		return err
	}
	// The owner's confirmation says who is where, and who still needs a
	// place: the gateway guessed from mail domains, and only she knows.
	if err := d.post(tx, s, kindConfirm, owner, displayName(owner), startedPartiesLetter(s, owner), nil); err != nil {
		return err
	}
	for _, p := range s.pending {
		if err := d.post(tx, s, kindConfirm, p, displayName(owner), pendingLetter(s, p, owner), nil); err != nil {
			return err
		}
	}
	return d.tellLeftOut(tx, s, owner)
}

func hasRole(ps []*store.Participant, role string) bool {
	for _, p := range ps {
		if p.Role == role {
			return true
		}
	}
	return false
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	return strings.ToLower(addr[i+1:])
}

// partyNames names the parties after their main mail domain: "ACME" for
// acme.test. The other side is named after its most common domain; when both
// names agree, after its first leader.
func partyNames(home string, other []*store.Participant) []store.Party {
	count := map[string]int{}
	best := ""
	for _, p := range other {
		dom := domainOf(p.Address)
		count[dom]++
		if best == "" || count[dom] > count[best] {
			best = dom
		}
	}
	a, b := domainName(home), domainName(best)
	if b == a {
		lead := other[0]
		for _, p := range other {
			if p.Role == store.RoleLeader {
				lead = p
				break
			}
		}
		b = strings.ToUpper(lead.Address[:strings.IndexByte(lead.Address, '@')])
	}
	return []store.Party{{Name: a}, {Name: b}}
}

// domainName is the organisation part of a domain, upper-cased: the label
// before the public suffix, approximated as the second-to-last label unless
// that is a short second-level label like "co" in acme.co.uk.
func domainName(dom string) string {
	labels := strings.Split(dom, ".")
	if len(labels) == 1 {
		return strings.ToUpper(labels[0])
	}
	i := len(labels) - 2
	if i > 0 && len(labels[i]) <= 3 && len(labels[i+1]) == 2 && (labels[i] == "co" || labels[i] == "com" || labels[i] == "ac" || labels[i] == "gov" || labels[i] == "org" || labels[i] == "net") {
		i--
	}
	return strings.ToUpper(labels[i])
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

// mayStart reports whether addr may start a collaboration.
func (e *Engine) mayStart(addr string) bool {
	if len(e.cfg.AllowedSenders) == 0 {
		return true
	}
	addr = strings.ToLower(addr)
	for _, a := range e.cfg.AllowedSenders {
		if a == AnySender || a == addr || (strings.HasPrefix(a, "@") && strings.HasSuffix(addr, a)) {
			return true
		}
	}
	return false
}
