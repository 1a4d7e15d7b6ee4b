package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// fromParticipant applies a participant's mail: commands first, then the
// files or the text by the turn rules of DESIGN §2.4–2.7. Whatever it does,
// the sender hears of it: nothing a participant sends is silently dropped.
func (d *delivery) fromParticipant(tx *store.Tx, s *state, p *store.Participant) error {
	if p.Pending {
		return d.fromPending(tx, s, p)
	}
	c := s.c
	reply, rest := d.replyText()
	cmds, note := ParseCommands(reply)
	if strings.EqualFold(BaseSubject(d.msg.Subject), "unsubscribe") {
		// A List-Unsubscribe mailto from a weekly summary.
		cmds = append(cmds, Command{Name: "summary", Args: []string{"off"}, Line: "unsubscribe"})
	}
	if err := d.tellLeftOut(tx, s, p); err != nil {
		return err
	}
	if d.perr != nil {
		d.record(c.ID, store.OutcomeRejected, d.perr.Error())
		return d.answer(tx, s, p, tooManyLetter())
	}
	end, wrap, reopen, status := "", false, false, false
	for _, cmd := range cmds {
		switch cmd.Name {
		case "done", "skip":
			if why := d.mayEndTurn(s, p); why != "" {
				if err := d.refuse(tx, s, p, cmd, why); err != nil {
					return err
				}
				continue
			}
			end = cmd.Name
			if cmd.Name == "done" && len(cmd.Args) == 1 && strings.EqualFold(cmd.Args[0], "all") {
				d.carryStale = true
			}
		case "wrapup", "reopen":
			if p.ID != c.Owner {
				if err := d.refuse(tx, s, p, cmd, whyOnlyOwner(s.who(c.Owner))); err != nil {
					return err
				}
				continue
			}
			if cmd.Name == "wrapup" {
				wrap = c.State == store.StateActive
			} else {
				reopen = c.State == store.StateWrapped
			}
		case "drop":
			if err := d.dropDrafts(tx, s, p, cmd); err != nil {
				return err
			}
		case "deadline":
			if err := d.setDeadline(tx, s, p, cmd); err != nil {
				return err
			}
		case "add", "remove", "move", "role":
			if err := d.changePeople(tx, s, p, cmd); err != nil {
				return err
			}
		case "timezone", "summary":
			if err := d.personSetting(tx, s, p, cmd); err != nil {
				return err
			}
		case "status":
			// Answered last, so that it tells where things stand after
			// everything else in the mail.
			status = true
		case "help":
			if err := d.answer(tx, s, p, helpLetter(d.e.tag.Address(c.ID, p.ID))); err != nil {
				return err
			}
		default:
			if err := d.refuse(tx, s, p, cmd, whyUnknown); err != nil {
				return err
			}
		}
	}
	d.record(c.ID, store.OutcomeCommand, commandNames(cmds))
	if reopen {
		if err := d.reopen(tx, s, p); err != nil {
			return err
		}
	}
	if c.State == store.StateWrapped {
		if len(d.msg.Attachments) > 0 || (note != "" && len(cmds) == 0) {
			d.record(c.ID, store.OutcomeRejected, "collaboration is wrapped up")
			if err := d.answer(tx, s, p, wrappedLetter(c)); err != nil {
				return err
			}
		}
	} else if err := d.act(tx, s, p, end, wrap, cmds, note, rest); err != nil {
		return err
	}
	if status {
		return d.status(tx, s, p)
	}
	return nil
}

// act applies what the mail carries besides its commands: files, the end
// of the turn, a comment; then the wrap-up it asked for.
func (d *delivery) act(tx *store.Tx, s *state, p *store.Participant, end string, wrap bool, cmds []Command, note, rest string) error {
	var err error
	switch {
	case len(d.msg.Attachments) > 0:
		err = d.files(tx, s, p, note, rest)
	case end != "":
		err = d.handOver(tx, s, p, end, note, rest)
	case note != "" && !wrap:
		// With /wrapup the note is the closing note, for everyone: not a
		// comment for the owner's party.
		err = d.comment(tx, s, p, note)
	case len(cmds) == 0:
		err = d.empty(tx, s, p)
	}
	if err != nil {
		return err
	}
	if wrap {
		return d.wrapUp(tx, s, p, note)
	}
	return nil
}

// status answers /status, with the drafts and history it loads first: a
// letter reads no store.
func (d *delivery) status(tx *store.Tx, s *state, p *store.Participant) error {
	digest, err := historyDigest(tx, s)
	if err != nil {
		return err
	}
	return d.answer(tx, s, p, statusLetter(s, p, digest))
}

// empty answers a mail with no files, no new text and no commands (a reply
// holding only the quote, or only a pasted image). The answer goes at most
// once a day: an auto-responder that slipped through detection would
// otherwise be answered forever.
func (d *delivery) empty(tx *store.Tx, s *state, p *store.Participant) error {
	d.record(s.c.ID, store.OutcomeEmpty, "no files, text or commands")
	first, err := tx.MarkOnce(fmt.Sprintf("empty\x00%s\x00%s\x00%s", s.c.ID, p.ID, d.now.Format("2006-01-02")), d.now)
	if err != nil || !first {
		return err
	}
	return d.answer(tx, s, p, emptyLetter(s.c))
}

// mayEndTurn says why p may not end the current turn, or "".
func (d *delivery) mayEndTurn(s *state, p *store.Participant) string {
	switch {
	case s.c.State != store.StateActive:
		return whyWrapped
	case !s.holds(p):
		return whyNotYourTurn(s.c.Parties[s.c.TurnParty].Name)
	case p.Role != store.RoleLeader:
		return whyNotLeader
	}
	return ""
}

// refuse tells the sender that a command was not carried out.
func (d *delivery) refuse(tx *store.Tx, s *state, p *store.Participant, cmd Command, why string) error {
	return d.answer(tx, s, p, refusedCommandLetter(cmd.Line, why))
}

func commandNames(cmds []Command) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = "/" + c.Name
	}
	return strings.Join(names, " ")
}

// files applies attachments from a participant: a leader of the party
// holding the turn ends it; anyone else's files are kept as their party's
// drafts (or refused out of turn when the policy says so).
func (d *delivery) files(tx *store.Tx, s *state, p *store.Participant, note, rest string) error {
	switch {
	case p.Role == store.RoleFollower || p.Role == store.RoleGhost:
		d.record(s.c.ID, store.OutcomeRejected, "files from a "+p.Role)
		return d.answer(tx, s, p, followerFilesLetter())
	case s.holds(p) && p.Role == store.RoleLeader:
		return d.handOver(tx, s, p, "files", note, rest)
	case !s.holds(p) && d.e.cfg.OutOfTurn == OutOfTurnReject:
		d.record(s.c.ID, store.OutcomeRejected, "out of turn")
		return d.answer(tx, s, p, outOfTurnLetter(s.c))
	}
	return d.drafts(tx, s, p, note)
}

// drafts keeps p's attachments as their party's drafts: they travel with
// the party's next turn when a leader ends it.
func (d *delivery) drafts(tx *store.Tx, s *state, p *store.Participant, note string) error {
	names := make([]string, len(d.msg.Attachments))
	for i, a := range d.msg.Attachments {
		names[i] = a.Filename
	}
	ids := s.match(names)
	var changes []change
	var atts []mail.OutgoingAttachment
	for i, a := range d.msg.Attachments {
		dr := &store.Draft{
			Party: p.Party, Doc: ids[i], Name: a.Filename, Blob: a.Blob, Filename: a.Filename,
			ContentType: a.ContentType, Author: p.ID, MsgID: d.msg.MessageID, Time: d.now,
		}
		ch := change{Document: a.Filename, ToSize: a.Blob.Size, Remark: remarkDraft, Attached: a.Filename}
		if doc := s.doc(ids[i]); doc != nil {
			ch.Document = doc.Name
			if v := s.latest[doc.ID]; v != nil {
				ch.From, ch.To, ch.FromSize = v.Number, v.Number, v.Blob.Size
				dr.Base = v.Number
			}
		}
		if err := tx.PutDraft(s.c.ID, dr); err != nil {
			return fmt.Errorf("store draft %s: %w", a.Filename, err)
		}
		changes = append(changes, ch)
		atts = append(atts, mail.OutgoingAttachment{Filename: a.Filename, ContentType: a.ContentType, Blob: a.Blob})
	}
	d.record(s.c.ID, store.OutcomeDraft, fmt.Sprintf("%d file(s) kept as %s's draft", len(atts), s.c.Parties[p.Party].Name))
	for _, l := range s.party(p.Party) {
		if l.Role != store.RoleLeader || l.ID == p.ID {
			continue
		}
		if err := d.post(tx, s, kindDraft, l, displayName(p), draftForLeaderLetter(s, p, note, changes), atts); err != nil {
			return err
		}
	}
	// The author's own files are not sent back to them.
	own := make([]change, len(changes))
	for i, ch := range changes {
		ch.Attached = ""
		own[i] = ch
	}
	return d.post(tx, s, kindConfirm, p, "", draftStoredLetter(s, p, own), nil)
}

// comment relays a reply without files to the rest of the sender's party:
// what a party says during its turn stays inside it (DESIGN §2.4).
func (d *delivery) comment(tx *store.Tx, s *state, p *store.Participant, note string) error {
	d.record(s.c.ID, store.OutcomeComment, gist(note))
	for _, o := range s.party(p.Party) {
		if o.ID == p.ID {
			continue
		}
		if err := d.post(tx, s, kindComment, o, displayName(p), commentLetter(s, p, note), nil); err != nil {
			return err
		}
	}
	return nil
}

// unmatched answers a mail that belongs to no collaboration and starts none.
func (d *delivery) unmatched(tx *store.Tx) error {
	d.record("", store.OutcomeUnmatched, "matched no collaboration")
	return d.notice(tx, "", "unmatched", unmatchedLetter(d.e.tag.Gateway()))
}

// setDeadline applies /deadline YYYY-MM-DD (or "none"): a leader of either
// party sets when the collaboration is due, the end of that day in their own
// time zone. Everyone is told.
func (d *delivery) setDeadline(tx *store.Tx, s *state, p *store.Participant, cmd Command) error {
	c := s.c
	if p.Role != store.RoleLeader {
		return d.refuse(tx, s, p, cmd, whyDeadlineRole)
	}
	if c.State != store.StateActive {
		return d.refuse(tx, s, p, cmd, whyWrapped)
	}
	if len(cmd.Args) != 1 {
		return d.refuse(tx, s, p, cmd, whyDeadlineUsage)
	}
	if strings.EqualFold(cmd.Args[0], "none") {
		c.Deadline, c.DeadlineDate = time.Time{}, ""
	} else {
		person, err := d.person(tx, p.Address)
		if err != nil {
			return err
		}
		day, err := time.ParseInLocation("2006-01-02", cmd.Args[0], d.e.location(person))
		if err != nil {
			return d.refuse(tx, s, p, cmd, whyDeadlineDate)
		}
		end := day.AddDate(0, 0, 1)
		if !end.After(d.now) {
			return d.refuse(tx, s, p, cmd, whyDeadlinePast)
		}
		c.Deadline, c.DeadlineDate = end.UTC(), cmd.Args[0]
	}
	if err := tx.PutCollab(c); err != nil {
		return fmt.Errorf("store collaboration: %w", err)
	}
	d.logAfterCommit("deadline set", "collab", c.ID, "deadline", c.DeadlineDate, "by", p.Address)
	for _, o := range s.people {
		if err := d.post(tx, s, kindConfirm, o, displayName(p), deadlineLetter(c, displayName(p)), nil); err != nil {
			return err
		}
	}
	return nil
}

// personSetting applies /timezone Area/City and /summary on|off: settings
// of the person, across all their collaborations.
func (d *delivery) personSetting(tx *store.Tx, s *state, p *store.Participant, cmd Command) error {
	person, err := d.person(tx, p.Address)
	if err != nil {
		return err
	}
	var setting string
	switch arg := strings.Join(cmd.Args, " "); {
	case cmd.Name == "timezone":
		loc, err := time.LoadLocation(arg)
		if arg == "" || arg == "Local" || err != nil { // "Local" would be the server's zone
			return d.refuse(tx, s, p, cmd, whyTimezone)
		}
		person.TimeZone, setting = loc.String(), settingTimeZone
	case strings.EqualFold(arg, "off"):
		person.SummaryOff, setting = true, settingSummaryOff
	case strings.EqualFold(arg, "on"):
		person.SummaryOff, setting = false, settingSummaryOn
	default:
		return d.refuse(tx, s, p, cmd, whySummary)
	}
	if err := tx.PutPerson(person); err != nil {
		return err
	}
	d.settings = true
	return d.answer(tx, s, p, settingLetter(person, setting))
}

// person returns the settings of address, new ones when it has none.
func (d *delivery) person(tx *store.Tx, address string) (*store.Person, error) {
	p, err := tx.Person(address)
	if errors.Is(err, store.ErrNotFound) {
		return &store.Person{Address: address}, nil
	}
	return p, err
}

// dropDrafts discards drafts of the leader's party, named by document or
// file name, or all of them: "/drop contract.docx", "/drop all".
func (d *delivery) dropDrafts(tx *store.Tx, s *state, p *store.Participant, cmd Command) error {
	if p.Role != store.RoleLeader {
		return d.refuse(tx, s, p, cmd, whyDropRole)
	}
	if len(cmd.Args) == 0 {
		return d.refuse(tx, s, p, cmd, whyDropUsage)
	}
	drafts, err := tx.Drafts(s.c.ID, p.Party)
	if err != nil {
		return fmt.Errorf("drop drafts: %w", err)
	}
	name := strings.Join(cmd.Args, " ")
	var dropped []string
	for _, dr := range drafts {
		doc := dr.Name
		if x := s.doc(dr.Doc); x != nil {
			doc = x.Name
		}
		if !strings.EqualFold(name, "all") && !strings.EqualFold(name, doc) && !strings.EqualFold(name, dr.Filename) {
			continue
		}
		if err := tx.DeleteDraft(s.c.ID, dr); err != nil {
			return err
		}
		dropped = append(dropped, doc)
	}
	if len(dropped) == 0 {
		return d.refuse(tx, s, p, cmd, whyDropNone)
	}
	d.logAfterCommit("drafts dropped", "collab", s.c.ID, "participant", p.ID, "drafts", len(dropped))
	return d.answer(tx, s, p, droppedLetter(s, dropped))
}
