package workflow

import (
	"fmt"
	netmail "net/mail"
	"slices"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
)

// This file holds who takes part: /add, /remove, /move and /role (DESIGN
// §2.6). The rules:
//
//   - Leaders change the people of their own party: they add to it, and
//     remove, or change the role of, its people. They place someone not yet
//     in a party (outside counsel Cc'd at the start) in their own party with
//     /move. The owner may do all of it, for either party.
//   - Nobody else brings a person into a party's private circle, so a leader
//     cannot put anyone in the other party, nor take someone from it.
//   - The owner stays: in the collaboration, in their party, as a leader.
//   - A party keeps at least one leader, or nobody could end its turns.
//   - The actor is answered; the person gets a mail of their own (welcome,
//     with their reply address and what their role lets them do; removed;
//     new role). The people of the person's party are told, whatever the
//     role: a newcomer reads their party's internal mail. The other party
//     is told of additions, removals and moves, never of a ghost; role
//     changes are a party's own business.

// roles are the roles a command may give, in the order /help lists them.
var roles = []string{store.RoleLeader, store.RoleContributor, store.RoleFollower, store.RoleGhost}

// changePeople applies one of /add, /remove, /move and /role from actor.
func (d *delivery) changePeople(tx *store.Tx, s *state, actor *store.Participant, cmd Command) error {
	switch {
	case actor.Role != store.RoleLeader && actor.ID != s.c.Owner:
		return d.refuse(tx, s, actor, cmd, whyPeopleLeader)
	case s.c.State != store.StateActive:
		return d.refuse(tx, s, actor, cmd, whyWrapped)
	}
	switch cmd.Name {
	case "add":
		return d.addPerson(tx, s, actor, cmd)
	case "remove":
		return d.removePerson(tx, s, actor, cmd)
	case "move":
		return d.movePerson(tx, s, actor, cmd)
	}
	return d.setRole(tx, s, actor, cmd)
}

// addPerson applies /add ADDRESS [ROLE] [PARTY]: the role and the party in
// either order, a contributor of the actor's own party unless they say
// otherwise. Someone removed before comes back under their old id, so that
// the reply address they had works again.
func (d *delivery) addPerson(tx *store.Tx, s *state, actor *store.Participant, cmd Command) error {
	if len(cmd.Args) < 1 || len(cmd.Args) > 3 {
		return d.refuse(tx, s, actor, cmd, whyAddUsage)
	}
	addr, why := d.parseAddress(cmd.Args[0])
	if why != "" {
		return d.refuse(tx, s, actor, cmd, why)
	}
	role, party := store.RoleContributor, actor.Party
	seenRole, seenParty := false, false
	for _, arg := range cmd.Args[1:] {
		if r, ok := parseRole(arg); ok && !seenRole {
			role, seenRole = r, true
			continue
		}
		i, ok := s.partyIndex(arg)
		switch {
		case !ok:
			return d.refuse(tx, s, actor, cmd, whyAddArg(arg, roles, s.partyNames()))
		case seenParty:
			return d.refuse(tx, s, actor, cmd, whyAddUsage)
		}
		party, seenParty = i, true
	}
	if p := s.byAddress(addr); p != nil {
		return d.refuse(tx, s, actor, cmd, whyAlreadyIn(s, p))
	}
	if party != actor.Party && actor.ID != s.c.Owner {
		return d.refuse(tx, s, actor, cmd, whyOwnParty(s.c.Parties[actor.Party].Name, s.who(s.c.Owner)))
	}
	p := s.removed(addr)
	if p == nil {
		p = &store.Participant{ID: s.nextPID(), Address: addr}
		if err := tx.PutCollab(s.c); err != nil {
			return fmt.Errorf("store collaboration: %w", err)
		}
		s.gone = append(s.gone, p) // regrouped below, with the rest
	}
	p.Party, p.Role, p.Pending, p.Removed, p.Added = party, role, false, time.Time{}, d.now
	s.regroup()
	if err := tx.PutParticipant(s.c.ID, p); err != nil {
		return err
	}
	ch := peopleChange{kind: peopleAdd, by: displayName(actor), who: personName(p), party: s.c.Parties[party].Name, role: role}
	d.logAfterCommit("participant added", "collab", s.c.ID, "participant", p.ID, "address", p.Address, "party", ch.party, "role", role, "by", actor.Address)
	if err := d.post(tx, s, kindConfirm, p, displayName(actor), welcomeLetter(s, p, ch, d.e.tag.Address(s.c.ID, p.ID)), nil); err != nil {
		return err
	}
	return d.tellPeople(tx, s, actor, p, ch, -1, party, role == store.RoleGhost)
}

// removePerson applies /remove ADDRESS. The record stays, marked removed,
// so that the history still names them.
func (d *delivery) removePerson(tx *store.Tx, s *state, actor *store.Participant, cmd Command) error {
	if len(cmd.Args) != 1 {
		return d.refuse(tx, s, actor, cmd, whyRemoveUsage)
	}
	p, why := d.target(s, cmd.Args[0])
	if why == "" {
		why = s.mayRemove(actor, p)
	}
	if why != "" {
		return d.refuse(tx, s, actor, cmd, why)
	}
	from := -1
	ch := peopleChange{kind: peopleRemove, by: displayName(actor), who: personName(p), role: p.Role}
	if !p.Pending {
		from, ch.party = p.Party, s.c.Parties[p.Party].Name
	}
	p.Removed = d.now
	s.regroup()
	if err := tx.PutParticipant(s.c.ID, p); err != nil {
		return err
	}
	d.logAfterCommit("participant removed", "collab", s.c.ID, "participant", p.ID, "address", p.Address, "by", actor.Address)
	if err := d.post(tx, s, kindConfirm, p, displayName(actor), removedLetter(s, ch), nil); err != nil {
		return err
	}
	return d.tellPeople(tx, s, actor, p, ch, from, -1, p.Role == store.RoleGhost)
}

// movePerson applies /move ADDRESS PARTY: a leader places someone not yet in
// a party in their own; the owner moves anyone. They keep their role.
func (d *delivery) movePerson(tx *store.Tx, s *state, actor *store.Participant, cmd Command) error {
	if len(cmd.Args) != 2 {
		return d.refuse(tx, s, actor, cmd, whyMoveUsage)
	}
	p, why := d.target(s, cmd.Args[0])
	if why != "" {
		return d.refuse(tx, s, actor, cmd, why)
	}
	party, ok := s.partyIndex(cmd.Args[1])
	if !ok {
		return d.refuse(tx, s, actor, cmd, whyUnknownParty(cmd.Args[1], s.partyNames()))
	}
	if why := s.mayMove(actor, p, party); why != "" {
		return d.refuse(tx, s, actor, cmd, why)
	}
	from := -1
	ch := peopleChange{kind: peopleMove, by: displayName(actor), who: personName(p), party: s.c.Parties[party].Name, role: p.Role}
	if !p.Pending {
		from, ch.from = p.Party, s.c.Parties[p.Party].Name
	}
	p.Party, p.Pending = party, false
	s.regroup()
	if err := tx.PutParticipant(s.c.ID, p); err != nil {
		return err
	}
	d.logAfterCommit("participant moved", "collab", s.c.ID, "participant", p.ID, "address", p.Address, "party", ch.party, "by", actor.Address)
	if err := d.post(tx, s, kindConfirm, p, displayName(actor), welcomeLetter(s, p, ch, d.e.tag.Address(s.c.ID, p.ID)), nil); err != nil {
		return err
	}
	return d.tellPeople(tx, s, actor, p, ch, from, party, p.Role == store.RoleGhost)
}

// setRole applies /role ADDRESS ROLE.
func (d *delivery) setRole(tx *store.Tx, s *state, actor *store.Participant, cmd Command) error {
	if len(cmd.Args) != 2 {
		return d.refuse(tx, s, actor, cmd, whyRoleUsage)
	}
	p, why := d.target(s, cmd.Args[0])
	if why != "" {
		return d.refuse(tx, s, actor, cmd, why)
	}
	role, ok := parseRole(cmd.Args[1])
	if !ok {
		return d.refuse(tx, s, actor, cmd, whyRoleUsage)
	}
	if why := s.mayChangeRole(actor, p, role); why != "" {
		return d.refuse(tx, s, actor, cmd, why)
	}
	ch := peopleChange{kind: peopleRole, by: displayName(actor), who: personName(p), role: role, was: p.Role}
	p.Role = role
	if err := tx.PutParticipant(s.c.ID, p); err != nil {
		return err
	}
	d.logAfterCommit("participant role changed", "collab", s.c.ID, "participant", p.ID, "address", p.Address, "role", role, "by", actor.Address)
	if p.Pending {
		// Someone not yet in a party hears only that they are not in one
		// (their pending mail); the role is theirs once placed.
		return d.answer(tx, s, actor, peopleDoneLetter(ch))
	}
	ch.party = s.c.Parties[p.Party].Name
	if err := d.post(tx, s, kindConfirm, p, displayName(actor), roleLetter(s, p, ch), nil); err != nil {
		return err
	}
	// The other party is never told: how a party shares its work is its
	// own business, and a ghost must not show in their mail.
	return d.tellPeople(tx, s, actor, p, ch, p.Party, p.Party, true)
}

// tellPeople answers the actor and tells the others of change ch to p: the
// people of the parties p left (from) and joined (to), -1 for none; the
// rest of the collaboration unless private (a ghost, or a role change).
func (d *delivery) tellPeople(tx *store.Tx, s *state, actor, p *store.Participant, ch peopleChange, from, to int, private bool) error {
	if actor.ID != p.ID {
		// Someone who changed their own place or role has the mail that
		// tells them so.
		if err := d.answer(tx, s, actor, peopleDoneLetter(ch)); err != nil {
			return err
		}
	}
	for _, o := range s.people {
		if o.ID == actor.ID || o.ID == p.ID {
			continue
		}
		if private && o.Party != from && o.Party != to {
			continue
		}
		if err := d.post(tx, s, kindConfirm, o, displayName(actor), peopleNewsLetter(s, ch), nil); err != nil {
			return err
		}
	}
	return nil
}

// parseAddress reads a command's address argument ("eve@lawfirm.test",
// "<eve@lawfirm.test>", "mailto:eve@lawfirm.test"), lower-cased, or says
// why it is none a participant may have.
func (d *delivery) parseAddress(arg string) (string, string) {
	arg = strings.TrimPrefix(strings.Trim(arg, "<>,;"), "mailto:")
	a, err := netmail.ParseAddress(arg)
	if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
		return "", whyBadAddress
	}
	addr := strings.ToLower(a.Address)
	if k, _, _ := d.e.tag.Classify(addr); k != tag.AddrForeign {
		// A participant at the gateway's own domain would have the gateway
		// mail itself.
		return "", whyGatewayAddress
	}
	return addr, ""
}

// target finds the participant a command names, or says why there is none.
func (d *delivery) target(s *state, arg string) (*store.Participant, string) {
	addr, why := d.parseAddress(arg)
	if why != "" {
		return nil, why
	}
	if p := s.byAddress(addr); p != nil {
		return p, ""
	}
	return nil, whyNotIn(addr)
}

// parseRole matches a role name, whatever its case.
func parseRole(arg string) (string, bool) {
	i := slices.IndexFunc(roles, func(r string) bool { return strings.EqualFold(r, arg) })
	if i < 0 {
		return "", false
	}
	return roles[i], true
}

// mayRemove says why actor may not remove p, or "".
func (s *state) mayRemove(actor, p *store.Participant) string {
	owner := actor.ID == s.c.Owner
	switch {
	case p.ID == s.c.Owner:
		return whyOwnerStays
	case p.Pending && !owner:
		return whyPendingOwner
	case p.Pending:
		return ""
	case !owner && p.Party != actor.Party:
		return whyOwnParty(s.c.Parties[actor.Party].Name, s.who(s.c.Owner))
	}
	return s.keepsLeader(p)
}

// mayMove says why actor may not move p into party, or "".
func (s *state) mayMove(actor, p *store.Participant, party int) string {
	switch {
	case p.ID == s.c.Owner:
		return whyOwnerStays
	case !p.Pending && p.Party == party:
		return whyAlreadyThere(p.Address, s.c.Parties[party].Name)
	case actor.ID == s.c.Owner:
	case party != actor.Party || !p.Pending:
		// A leader could otherwise put one of their own into the other
		// side's private circle, or take one of theirs.
		return whyOwnParty(s.c.Parties[actor.Party].Name, s.who(s.c.Owner))
	}
	if p.Pending {
		return ""
	}
	return s.keepsLeader(p)
}

// mayChangeRole says why actor may not make p a role, or "".
func (s *state) mayChangeRole(actor, p *store.Participant, role string) string {
	switch {
	case p.ID == s.c.Owner && role != store.RoleLeader:
		return whyOwnerStays
	case p.Role == role:
		return whyAlreadyRole(p.Address, role)
	case actor.ID != s.c.Owner && (p.Pending || p.Party != actor.Party):
		return whyOwnParty(s.c.Parties[actor.Party].Name, s.who(s.c.Owner))
	case p.Pending || role == store.RoleLeader:
		return ""
	}
	return s.keepsLeader(p)
}

// keepsLeader says why p's party would be left without a leader if p
// stopped leading it, or "".
func (s *state) keepsLeader(p *store.Participant) string {
	if p.Role != store.RoleLeader {
		return ""
	}
	for _, o := range s.party(p.Party) {
		if o.ID != p.ID && o.Role == store.RoleLeader {
			return ""
		}
	}
	return whyLastLeader(p.Address, s.c.Parties[p.Party].Name)
}

// fromPending answers mail from someone not yet in a party: it changes
// nothing, and they are told so, at most once a day (an auto-responder that
// slipped through detection would otherwise be answered for ever).
func (d *delivery) fromPending(tx *store.Tx, s *state, p *store.Participant) error {
	d.record(s.c.ID, store.OutcomeRejected, "sender is not yet in a party")
	first, err := tx.MarkOnce(fmt.Sprintf("pending\x00%s\x00%s\x00%s", s.c.ID, p.ID, d.now.Format("2006-01-02")), d.now)
	if err != nil || !first {
		return err
	}
	return d.answer(tx, s, p, notPlacedLetter(s, s.byID(s.c.Owner)))
}

// fromStranger handles mail from someone who is not a participant. It
// changes nothing, and its sender hears nothing back: answering would
// confirm the address to whoever is probing it. But a colleague of
// participants (their mail domain; say frank@axe.test replying with the
// signed file to Bob's reply address) is no prober: the leaders of their
// colleagues' party, and the person whose reply address they wrote to, are
// told, with the line that adds them. Whether they take part is for their
// party to say, so they are not answered either. The leaders hear of one
// colleague once a day at most.
func (d *delivery) fromStranger(tx *store.Tx, s *state, m match) error {
	d.record(m.cid, store.OutcomeStranger, "sender is not a participant")
	if d.msg.From == nil {
		return nil
	}
	addr := strings.ToLower(d.msg.From.Addr)
	if s.removed(addr) != nil {
		// They were told they were removed; their colleagues removed them.
		d.in.Detail = "sender was removed from the collaboration"
		return nil
	}
	parties := s.colleaguesOf(addr, m.pid)
	if len(parties) == 0 {
		return nil
	}
	var names []string
	for _, i := range parties {
		names = append(names, s.c.Parties[i].Name)
	}
	d.in.Detail = "sender is not a participant, a colleague of " + strings.Join(names, " and ")
	first, err := tx.MarkOnce(fmt.Sprintf("colleague\x00%s\x00%s\x00%s", s.c.ID, addr, d.now.Format("2006-01-02")), d.now)
	if err != nil || !first {
		return err
	}
	d.in.Detail += ", who were told"
	d.logAfterCommit("colleague of participants wrote", "collab", s.c.ID, "from", addr, "parties", strings.Join(names, ","))
	var files []string
	for _, a := range d.msg.Attachments {
		files = append(files, a.Filename)
	}
	who := addr
	if d.msg.From.Name != "" {
		who = fmt.Sprintf("%s <%s>", d.msg.From.Name, addr)
	}
	for _, i := range parties {
		for _, o := range s.party(i) {
			if o.Role != store.RoleLeader && o.ID != m.pid {
				continue
			}
			if err := d.post(tx, s, kindConfirm, o, "", colleagueLetter(s, o, who, addr, files), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// colleaguesOf lists the parties whose people share addr's mail domain: the
// party of the person whose reply address was written to (pid), when they
// share it; otherwise every party with someone of that domain.
func (s *state) colleaguesOf(addr, pid string) []int {
	dom := domainOf(addr)
	if p := s.byID(pid); p != nil && p.Placed() && domainOf(p.Address) == dom {
		return []int{p.Party}
	}
	var parties []int
	for _, p := range s.people {
		if domainOf(p.Address) == dom && !slices.Contains(parties, p.Party) {
			parties = append(parties, p.Party)
		}
	}
	slices.Sort(parties)
	return parties
}
