package workflow

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/mail/reply"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow/changes"
)

// This file holds every sentence the gateway writes: one constructor per
// kind of mail. Constructors get loaded data and return a letter; they read
// no store and send nothing (letter.go renders, outbox.go sends).

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
	kindPurge    = "purge"    // to the owner: a wrapped-up collaboration is purged in a week
)

const (
	footerPlain   = "Reply to this mail to take part. Commands go on the first lines of a reply; /help lists them."
	footerNotice  = "This is an automatic message from a turnmail gateway."
	footerSummary = "You get this summary once a week. Reply to the address given for a collaboration with /status for details, /summary off to stop these mails, or /timezone Europe/Paris to get them in your own time zone."
	timeLayout    = "2006-01-02 15:04 UTC"
)

// topicOf is a collaboration's conversation topic: its own words with the
// tag once at the end (Thread-Topic, and the subject after "Re: ").
func topicOf(c *store.Collab) string {
	return fmt.Sprintf("%s [tm:%s]", c.Subject, c.ID)
}

// subjectFor is the subject of every mail of a collaboration: one subject
// after the reply prefix, so that clients that thread by subject (Gmail,
// Outlook) keep one conversation (MAIL-NOTES). Whose turn it is shows in the
// inbox line all the same: the preheader, first in the body, is what
// clients show beside the subject ("Your turn on …").
func subjectFor(c *store.Collab) string {
	return "Re: " + topicOf(c)
}

// noticeSubject is the subject of a notice answering a mail with subject.
func noticeSubject(subject string) string {
	if subject == "" {
		subject = "your message"
	}
	return "Re: " + BaseSubject(subject)
}

// summarySubject is the subject of a weekly summary.
func summarySubject(waiting, active int) string {
	return fmt.Sprintf("Weekly summary: %d waiting on you, %d active", waiting, active)
}

// viaName is the display name of the gateway's From when it writes on
// someone's behalf.
func viaName(name string) string {
	if name == "" {
		return "turnmail"
	}
	return name + " (via turnmail)"
}

// deadlineLine opens every mail about an active collaboration with a
// deadline: when it is due on the reader's clock (loc), with the zone, and
// in how many days, or that it is overdue (DESIGN §2.9).
func deadlineLine(c *store.Collab, now time.Time, loc *time.Location) string {
	// The deadline is the end of its day on the clock of whoever set it:
	// the minute before shows that day, on the reader's clock when it is
	// the same day there too.
	local := c.Deadline.Add(-time.Minute).In(loc)
	due := local.Format("2006-01-02 15:04 MST")
	if day := local.Format("2006-01-02"); day != c.DeadlineDate && c.DeadlineDate != "" {
		due = fmt.Sprintf("%s (until %s, your time)", c.DeadlineDate, due)
	}
	if c.Overdue(now) {
		return fmt.Sprintf("Overdue: “%s” was due %s, %s ago.", c.Subject, due, days(c.Deadline.Sub(now).Abs()))
	}
	return fmt.Sprintf("Due %s, in %s.", due, days(c.Deadline.Sub(now)))
}

// days writes a duration as people count days to a deadline.
func days(d time.Duration) string {
	switch n := int(d.Hours() / 24); {
	case d < 24*time.Hour:
		return "less than a day"
	case n == 1:
		return "1 day"
	default:
		return fmt.Sprintf("%d days", n)
	}
}

// handoffLetter hands the turn to a person of the party that now holds it:
// the note of the turn that ended, the documents and the history.
func handoffLetter(s *state, to *store.Participant, t *store.Turn, byName string, changes []change, digest []digestRow) *letter {
	c := s.c
	holder := c.Parties[c.TurnParty].Name
	handed := "handed over"
	if t.How == "skip" {
		handed = "skipped"
	}
	l := &letter{
		Preheader: fmt.Sprintf("Your turn on “%s”: %s %s turn %d.", c.Subject, byName, handed, t.Number),
		Paras:     []string{fmt.Sprintf("%s now holds turn %d. Reply to this mail with your edited files to hand the turn back, or with /done on the first line to hand it back without files.", holder, c.Turn)},
		NoteBy:    byName, Note: t.Note, Changes: changes, Digest: digest,
	}
	switch to.Role {
	case store.RoleContributor:
		l.Paras = []string{fmt.Sprintf("%s now holds turn %d.", holder, c.Turn), contributorCan}
	case store.RoleFollower, store.RoleGhost:
		l.Paras = []string{fmt.Sprintf("%s now holds turn %d. You follow this collaboration; its leaders hand the turn back.", holder, c.Turn)}
	}
	return l
}

// handedOverLetter tells the party that ended turn t (or started the
// collaboration) what went to the other side.
func handedOverLetter(s *state, to, by *store.Participant, t *store.Turn, byName string, changes []change, digest []digestRow) *letter {
	c := s.c
	holder := c.Parties[c.TurnParty].Name
	what := fmt.Sprintf("%s handed turn %d over to %s.", displayName(by), t.Number, holder)
	switch {
	case t.How == "start":
		what = fmt.Sprintf("Collaboration “%s” started; %s has the turn.", c.Subject, holder)
	case t.How == "skip" && to.ID == by.ID:
		what = fmt.Sprintf("You skipped turn %d: %s has the turn, with no new versions.", t.Number, holder)
	case t.How == "skip":
		what = fmt.Sprintf("%s skipped turn %d: %s has the turn, with no new versions.", displayName(by), t.Number, holder)
	case to.ID == by.ID:
		what = fmt.Sprintf("You handed turn %d over to %s.", t.Number, holder)
	}
	return &letter{
		Preheader: what,
		Paras:     []string{"They have the latest files. You will get them back, with their note, when they hand the turn back."},
		NoteBy:    byName, Note: t.Note, Changes: changes, Digest: digest,
	}
}

// draftForLeaderLetter passes a contributor's draft to a leader of their
// party.
func draftForLeaderLetter(s *state, author *store.Participant, note string, changes []change) *letter {
	return &letter{
		Preheader: fmt.Sprintf("%s sent a draft for %s's turn on “%s”.", displayName(author), s.c.Parties[author.Party].Name, s.c.Subject),
		Paras:     []string{"It stays inside your party. It goes to the other side with your party's turn when a leader ends it: reply with your own files (yours win for the same document), or with /done."},
		NoteBy:    displayName(author), Note: note, Changes: changes,
	}
}

// draftStoredLetter tells the author of a draft where it is.
func draftStoredLetter(s *state, author *store.Participant, changes []change) *letter {
	party := s.c.Parties[author.Party].Name
	what := "They travel with your party's turn when a leader of your party ends it."
	if !s.holds(author) {
		what = fmt.Sprintf("It is %s's turn, so the turn did not move. Your files are kept as %s's draft and travel with your party's next turn.", s.c.Parties[s.c.TurnParty].Name, party)
	}
	return &letter{
		Preheader: fmt.Sprintf("Your files are stored as %s's draft on “%s”.", party, s.c.Subject),
		Paras:     []string{what},
		Changes:   changes,
	}
}

// commentLetter relays a comment inside the commenter's party.
func commentLetter(s *state, by *store.Participant, note string) *letter {
	return &letter{
		Preheader: fmt.Sprintf("%s commented on “%s” (your party only).", displayName(by), s.c.Subject),
		NoteBy:    displayName(by), Note: note,
		Paras: []string{"Comments stay inside your party. The note that ends a turn is what the other side reads."},
	}
}

// binderLetter closes a wrapped-up collaboration: the owner's closing note,
// the final versions and the full history, every note whole.
func binderLetter(s *state, by *store.Participant, changes []change, rows []digestRow) *letter {
	return &letter{
		Preheader: fmt.Sprintf("“%s” is wrapped up: the final versions and the full history.", s.c.Subject),
		Paras:     []string{fmt.Sprintf("%s wrapped up the collaboration after %d turn(s).", displayName(by), len(rows))},
		NoteBy:    displayName(by), Note: s.c.ClosingNote,
		Changes: changes, Digest: rows,
	}
}

// reopenedLetter tells to that by reopened a wrapped-up collaboration, and
// whose turn it is now.
func reopenedLetter(s *state, by, to *store.Participant) *letter {
	c := s.c
	holder := c.Parties[c.TurnParty].Name
	what := fmt.Sprintf("You will get the files when %s hands the turn over.", holder)
	switch {
	case to.Role == store.RoleFollower || to.Role == store.RoleGhost:
		what = "You follow this collaboration; its leaders hand the turn over."
	case s.holds(to) && to.Role == store.RoleLeader:
		what = "Your party holds the turn: reply with your edited files to hand it over, or with /done on the first line to hand it over without files."
	case s.holds(to):
		what = "Your party holds the turn: files you send go to your party's leaders as a draft, and travel with the turn when a leader hands it over."
	}
	return &letter{
		Preheader: fmt.Sprintf("%s reopened “%s”: turn %d is with %s.", displayName(by), c.Subject, c.Turn, holder),
		Paras:     []string{what},
	}
}

// purgeWarningLetter tells the owner of a wrapped-up collaboration that the
// gateway deletes its data at purge, and how to keep it.
func purgeWarningLetter(c *store.Collab, purge time.Time) *letter {
	return &letter{
		Preheader: fmt.Sprintf("“%s”, wrapped up on %s, will be deleted from the gateway on %s.", c.Subject, c.Wrapped.UTC().Format("2006-01-02"), purge.UTC().Format(timeLayout)),
		Paras: []string{
			"Its documents, every version, the notes and the history go for good; the mails people received keep what they carried.",
			"To keep it, reply to this mail with /reopen on the first line: a reopened collaboration is not deleted. You can wrap it up again afterwards with /wrapup, which starts the time again.",
		},
	}
}

// statusLetter answers /status: whose turn it is, the documents, the
// people, the history (the party's drafts are in every mail to it, see
// outbox.post). Ghosts of the other party are not shown (DESIGN §1).
func statusLetter(s *state, to *store.Participant, digest []digestRow) *letter {
	c := s.c
	l := &letter{Preheader: fmt.Sprintf("“%s”: turn %d is with %s since %s.", c.Subject, c.Turn, c.Parties[c.TurnParty].Name, c.TurnSince.UTC().Format(timeLayout))}
	if c.State == store.StateWrapped {
		l.Preheader = fmt.Sprintf("“%s” was wrapped up on %s.", c.Subject, c.Wrapped.UTC().Format(timeLayout))
	} else if c.DeadlineDate != "" {
		l.Paras = append(l.Paras, "Due "+c.DeadlineDate+".")
	}
	for _, doc := range s.docs {
		if v := s.latest[doc.ID]; v != nil {
			l.Changes = append(l.Changes, change{Document: doc.Name, From: v.Number, To: v.Number, ToSize: v.Blob.Size})
		}
	}
	l.Sections = append(l.Sections, partySections(s, to)...)
	l.Digest = digest
	return l
}

// partySections lists each party's people and roles as to may see them:
// ghosts of the other party are left out (DESIGN §1). People not yet placed
// follow, with the command that places them in to's party.
func partySections(s *state, to *store.Participant) []section {
	var secs []section
	for i, party := range s.c.Parties {
		sec := section{Title: "Party " + party.Name}
		for _, p := range s.party(i) {
			if p.Role == store.RoleGhost && p.Party != to.Party {
				continue
			}
			sec.Lines = append(sec.Lines, fmt.Sprintf("%s, %s", personName(p), p.Role))
		}
		secs = append(secs, sec)
	}
	if len(s.pending) > 0 {
		sec := section{Title: "Not yet in a party (they get no party's mail until a leader places them)"}
		for _, p := range s.pending {
			sec.Lines = append(sec.Lines, fmt.Sprintf("%s, %s: to place them in %s, a leader of it writes /move %s %s", personName(p), p.Role, s.c.Parties[to.Party].Name, p.Address, s.c.Parties[to.Party].Name))
		}
		secs = append(secs, sec)
	}
	return secs
}

// ghostName stands for a ghost of party in mail the other party reads.
func ghostName(party string) string {
	return "someone of " + party
}

// personName names a participant with their address: "Eve Law
// <eve@lawfirm.test>", or the address alone.
func personName(p *store.Participant) string {
	if p.Name == "" {
		return p.Address
	}
	return fmt.Sprintf("%s <%s>", p.Name, p.Address)
}

func helpSections() []section {
	return []section{{Title: "Commands (one per line, at the top of a reply)", Lines: []string{
		"/done: end your party's turn (leaders); drafts made on the current versions travel with it",
		"/done all: the same, and stale drafts (made on an older version) travel too",
		"/drop contract.docx, /drop all: discard your party's drafts (leaders)",
		"/skip: hand the turn over without documents (leaders)",
		"/status: where things stand",
		"/deadline YYYY-MM-DD: when it is due, the end of that day in your time zone; /deadline none removes it (leaders)",
		"/timezone Europe/Paris: your time zone, for summaries and deadlines",
		"/summary on, /summary off: your weekly summary of all your collaborations",
		"/add ADDRESS [leader|contributor|follower|ghost] [PARTY]: add someone, a contributor of your party unless you say otherwise (leaders, to their own party; the owner, to either)",
		"/remove ADDRESS: take someone out of the collaboration (leaders, of their own party; the owner, anyone but themselves)",
		"/move ADDRESS PARTY: place someone not yet in a party, in your own (leaders); move anyone (owner)",
		"/role ADDRESS leader|contributor|follower|ghost: change someone's role (leaders, in their own party; the owner, anyone); a ghost reads along and is never shown to the other party",
		"/help: this list",
		"/wrapup: end the collaboration and send everyone the final versions (owner)",
		"/reopen: reopen a wrapped-up collaboration (owner)",
	}}}
}

// helpLetter answers /help; reply is the person's own reply address.
func helpLetter(reply string) *letter {
	return &letter{
		Preheader: "How to work with the gateway.",
		Paras: []string{
			"Reply to any gateway mail (its Reply-To is your own address: " + reply + ") with your edited files attached, named as you like. When your party holds the turn and you lead it, that hands the turn over; otherwise the files are kept as your party's draft.",
			"Text above the quoted mail is your note. Without files it is a comment for your own party.",
		},
		Sections: helpSections(),
	}
}

// Why a command was not carried out, for refusedCommandLetter.
const (
	whyWrapped       = "the collaboration is wrapped up"
	whyNotLeader     = "only a leader of your party can end its turn"
	whyUnknown       = "it is not a command the gateway knows"
	whyDeadlineUsage = "write /deadline YYYY-MM-DD, or /deadline none"
	whyDeadlineDate  = "the date must be written YYYY-MM-DD"
	whyDeadlinePast  = "that day is past"
	whyDeadlineRole  = "only a leader can set the deadline"
	whyTimezone      = "write an IANA time zone name, such as /timezone Europe/Paris"
	whySummary       = "write /summary on or /summary off"
	whyDropRole      = "only a leader of your party can drop its drafts"
	whyDropUsage     = "write /drop and the document's name, or /drop all"
	whyDropNone      = "your party has no draft of that name"
)

// Why a change of people was not carried out, for refusedCommandLetter.
const (
	whyPeopleLeader   = "only a leader can change who takes part"
	whyAddUsage       = "write /add ADDRESS, optionally followed by a role (leader, contributor, follower, ghost) and a party"
	whyRemoveUsage    = "write /remove ADDRESS"
	whyMoveUsage      = "write /move ADDRESS PARTY"
	whyRoleUsage      = "write /role ADDRESS ROLE, the role one of leader, contributor, follower, ghost"
	whyBadAddress     = "that is not a mail address"
	whyGatewayAddress = "that is an address of the gateway itself"
	whyOwnerStays     = "the owner stays in the collaboration, in their party, as a leader"
	whyPendingOwner   = "only the owner can remove someone who is not yet in a party"
)

// whyUnknownParty says a party name matched none of parties.
func whyUnknownParty(name string, parties []string) string {
	return fmt.Sprintf("there is no party %q: the parties are %s", name, strings.Join(parties, " and "))
}

// whyAddArg says an argument of /add is neither a role nor a party.
func whyAddArg(arg string, roles, parties []string) string {
	return fmt.Sprintf("%q is neither a role (%s) nor a party (%s)", arg, strings.Join(roles, ", "), strings.Join(parties, ", "))
}

// whyAlreadyIn says the person to add is in the collaboration already.
func whyAlreadyIn(s *state, p *store.Participant) string {
	if p.Pending {
		return fmt.Sprintf("%s is in the collaboration already, not yet in a party: place them with /move %s PARTY", p.Address, p.Address)
	}
	return fmt.Sprintf("%s is in %s already, as a %s: use /move or /role to change that", p.Address, s.c.Parties[p.Party].Name, p.Role)
}

// whyNotIn says nobody of that address takes part.
func whyNotIn(addr string) string {
	return addr + " does not take part in this collaboration"
}

// whyOwnParty says a leader changes people of their own party only.
func whyOwnParty(own, owner string) string {
	return fmt.Sprintf("a leader changes the people of their own party (%s) only; the owner (%s) can do it for either party", own, owner)
}

// whyAlreadyThere says a move would change nothing.
func whyAlreadyThere(addr, party string) string {
	return fmt.Sprintf("%s is in %s already", addr, party)
}

// whyAlreadyRole says a role change would change nothing.
func whyAlreadyRole(addr, role string) string {
	return fmt.Sprintf("%s is a %s already", addr, role)
}

// whyLastLeader says the change would leave a party without a leader, so
// nobody could end its turns.
func whyLastLeader(addr, party string) string {
	return fmt.Sprintf("%s is the only leader of %s, and a party needs one to end its turns: make someone else a leader first (/role ADDRESS leader)", addr, party)
}

// whyNotYourTurn says a command needs the turn that party holds.
func whyNotYourTurn(holder string) string {
	return fmt.Sprintf("the turn is with %s, not your party", holder)
}

// whyOnlyOwner says a command is the owner's.
func whyOnlyOwner(owner string) string {
	return "only the owner (" + owner + ") can do that"
}

// refusedCommandLetter says a command line was not carried out, and why.
func refusedCommandLetter(line, why string) *letter {
	return &letter{
		Preheader: fmt.Sprintf("%q was not carried out: %s.", line, why),
		Sections:  helpSections(),
	}
}

// droppedLetter confirms the drafts a leader dropped.
func droppedLetter(s *state, docs []string) *letter {
	return &letter{Preheader: fmt.Sprintf("Dropped the draft(s) of %s on “%s”.", strings.Join(docs, ", "), s.c.Subject)}
}

// pendingDraftsSection is in every mail to a party with drafts waiting for
// its turn, so that nobody ends a turn without knowing what goes with it,
// and a stale draft (made on an older version than the latest, which the
// other party may have changed since) is never handed over unseen.
func pendingDraftsSection(s *state, party int, drafts []*store.Draft) section {
	sec := section{Title: fmt.Sprintf("Drafts of %s waiting for its turn", s.c.Parties[party].Name)}
	for _, dr := range drafts {
		doc := dr.Name
		if x := s.doc(dr.Doc); x != nil {
			doc = x.Name
		}
		line := fmt.Sprintf("%s: %s from %s (%s)", doc, dr.Filename, s.who(dr.Author), humanSize(dr.Blob.Size))
		if dr.Base > 0 {
			line += fmt.Sprintf(", made on v%d", dr.Base)
		}
		if s.stale(dr) {
			line += fmt.Sprintf(". STALE: the current version is v%d, so /done will not send it; /done all sends it anyway, /drop %s discards it, or send a new file made on v%d", s.latest[dr.Doc].Number, doc, s.latest[dr.Doc].Number)
		}
		sec.Lines = append(sec.Lines, line)
	}
	return sec
}

// wrappedLetter answers files or a note sent to a wrapped-up collaboration.
func wrappedLetter(c *store.Collab) *letter {
	return &letter{
		Preheader: fmt.Sprintf("“%s” is wrapped up; your mail changed nothing.", c.Subject),
		Paras:     []string{"The owner can reopen it with /reopen on the first line of a reply."},
	}
}

// emptyLetter answers a mail with nothing in it to apply.
func emptyLetter(c *store.Collab) *letter {
	return &letter{
		Preheader: fmt.Sprintf("Your mail about “%s” had no files, no text of yours and no commands, so nothing changed.", c.Subject),
		Paras:     []string{"Attach the edited files to hand them over, write above the quoted text to comment, or put a command such as /status on the first line."},
	}
}

// followerFilesLetter answers files from a follower or ghost.
func followerFilesLetter() *letter {
	return &letter{
		Preheader: "Your files were not stored: you follow this collaboration without sending documents.",
		Paras:     []string{"Ask a leader of your party to add you as a contributor, or send the files to them."},
	}
}

// outOfTurnLetter answers files sent out of turn where the gateway refuses
// them.
func outOfTurnLetter(c *store.Collab) *letter {
	return &letter{
		Preheader: fmt.Sprintf("Your files were not stored: it is %s's turn on “%s”.", c.Parties[c.TurnParty].Name, c.Subject),
		Paras:     []string{"Send them again when your party has the turn; you will get a mail saying so."},
	}
}

// deadlineLetter tells everyone that byName set c's deadline (or removed
// it, when c has none now).
func deadlineLetter(c *store.Collab, byName string) *letter {
	what := "removed the deadline"
	if c.DeadlineDate != "" {
		what = "set the deadline to " + c.DeadlineDate
	}
	return &letter{Preheader: fmt.Sprintf("%s %s for “%s”.", byName, what, c.Subject)}
}

// Settings a person changes for themselves, for settingLetter.
const (
	settingTimeZone   = "timezone"
	settingSummaryOff = "summary off"
	settingSummaryOn  = "summary on"
)

// settingLetter confirms a person's own setting.
func settingLetter(p *store.Person, setting string) *letter {
	switch setting {
	case settingTimeZone:
		return &letter{Preheader: "Your time zone is now " + p.TimeZone + ": weekly summaries and deadlines you set follow it."}
	case settingSummaryOff:
		return &letter{Preheader: "Weekly summaries are off. /summary on turns them back on."}
	}
	return &letter{Preheader: "Weekly summaries are on."}
}

// Kinds of change to who takes part, for peopleChange.
const (
	peopleAdd    = "add"
	peopleRemove = "remove"
	peopleMove   = "move"
	peopleRole   = "role"
)

// peopleChange is one change to who takes part, as the letters tell it.
type peopleChange struct {
	kind  string // peopleAdd, …
	by    string // who made it, as others see them
	who   string // the person, with their address (personName)
	party string // the party they are in now, or were in when removed ("" when pending)
	from  string // for a move: the party they left, "" when they were in none
	role  string // their role now
	was   string // for a role change: their role before
}

// line says what happened, in one sentence for everyone but the person.
func (ch peopleChange) line() string {
	switch ch.kind {
	case peopleAdd:
		return fmt.Sprintf("%s added %s to %s as a %s.", ch.by, ch.who, ch.party, ch.role)
	case peopleRemove:
		if ch.party == "" {
			return fmt.Sprintf("%s removed %s from the collaboration.", ch.by, ch.who)
		}
		return fmt.Sprintf("%s removed %s (%s) from the collaboration.", ch.by, ch.who, ch.party)
	case peopleMove:
		if ch.from == "" {
			return fmt.Sprintf("%s placed %s in %s, as a %s.", ch.by, ch.who, ch.party, ch.role)
		}
		return fmt.Sprintf("%s moved %s from %s to %s, as a %s.", ch.by, ch.who, ch.from, ch.party, ch.role)
	}
	return fmt.Sprintf("%s made %s a %s of %s (was a %s).", ch.by, ch.who, ch.role, ch.party, ch.was)
}

// roleDuty says what a role lets its holder do, for the person holding it.
func roleDuty(role string) string {
	switch role {
	case store.RoleLeader:
		return "As a leader you end your party's turns (reply with the edited files, or with /done) and manage your party's people (/add, /remove, /move, /role)."
	case store.RoleContributor:
		return "As a contributor you send drafts (reply with your edited files) and comments (reply with text) to your own party; a leader of your party hands the turn to the other side."
	case store.RoleFollower:
		return "As a follower you get your party's mail and read along; you do not send documents."
	}
	return "As a ghost you get your party's mail and read along, like a follower, and the other party is never shown your name."
}

// peopleDoneLetter answers the leader who changed who takes part.
func peopleDoneLetter(ch peopleChange) *letter {
	return &letter{
		Preheader: ch.line(),
		Paras:     []string{"/status lists everyone in the collaboration."},
	}
}

// peopleNewsLetter tells a participant that someone was added, removed,
// moved or given another role.
func peopleNewsLetter(s *state, ch peopleChange) *letter {
	return &letter{Preheader: fmt.Sprintf("“%s”: %s", s.c.Subject, ch.line())}
}

// welcomeLetter greets someone who was added to a party or placed in one;
// reply is their own reply address.
func welcomeLetter(s *state, p *store.Participant, ch peopleChange, reply string) *letter {
	what := fmt.Sprintf("%s added you to “%s” as a %s of %s.", ch.by, s.c.Subject, ch.role, ch.party)
	if ch.kind == peopleMove {
		what = fmt.Sprintf("%s placed you in %s on “%s”, as a %s: from now on you get %s's mail.", ch.by, ch.party, s.c.Subject, ch.role, ch.party)
	}
	l := &letter{
		Preheader: what,
		Paras: []string{
			roleDuty(p.Role),
			"Your own reply address for this collaboration is " + reply + ": it is the Reply-To of every gateway mail you get, and mail to it acts as you. Reply with /status on the first line to see where things stand.",
		},
		Sections: helpSections(),
	}
	for _, doc := range s.docs {
		if v := s.latest[doc.ID]; v != nil {
			l.Changes = append(l.Changes, change{Document: doc.Name, From: v.Number, To: v.Number, ToSize: v.Blob.Size})
		}
	}
	return l
}

// removedLetter tells someone they were taken out of a collaboration. It is
// the last mail they get about it.
func removedLetter(s *state, ch peopleChange) *letter {
	return &letter{
		Preheader: fmt.Sprintf("%s removed you from “%s”.", ch.by, s.c.Subject),
		Paras:     []string{"You will get no more mail about it, and mail you send to it changes nothing. If this is a mistake, ask " + ch.by + " to add you again."},
	}
}

// roleLetter tells someone their role changed.
func roleLetter(s *state, p *store.Participant, ch peopleChange) *letter {
	return &letter{
		Preheader: fmt.Sprintf("%s made you a %s of %s on “%s” (you were a %s).", ch.by, ch.role, ch.party, s.c.Subject, ch.was),
		Paras:     []string{roleDuty(p.Role)},
	}
}

// startedPartiesLetter tells the owner, with her confirmation of the start,
// who the gateway put in which party, and who is in none yet.
func startedPartiesLetter(s *state, owner *store.Participant) *letter {
	own := s.c.Parties[owner.Party].Name
	l := &letter{
		Preheader: "The gateway put people in parties by mail domain: To recipients lead, Cc recipients contribute. /add, /remove, /move and /role change that.",
		Sections:  partySections(s, owner),
	}
	for _, p := range s.pending {
		l.Paras = append(l.Paras, fmt.Sprintf("%s is of neither party's mail domain, so is in no party yet and gets none of either party's mail. To place them in %s, reply with this line: /move %s %s", personName(p), own, p.Address, own))
	}
	return l
}

// pendingLetter is the one mail someone gets while they are in a
// collaboration but in no party; owner started it.
func pendingLetter(s *state, p *store.Participant, owner *store.Participant) *letter {
	return &letter{
		Preheader: fmt.Sprintf("You are in “%s”, started by %s, but not yet in a party.", s.c.Subject, displayName(owner)),
		Paras: []string{
			fmt.Sprintf("Your address is of neither party's mail domain (%s), so the gateway did not put you in either party's private circle. Until a leader places you in one, you get none of its mail, and what you send to the collaboration changes nothing.", strings.Join(s.partyNames(), ", ")),
			fmt.Sprintf("%s (%s), or a leader of the party you work with, places you with /move %s PARTY. You will get a mail when that happens.", displayName(owner), owner.Address, p.Address),
		},
	}
}

// notPlacedLetter answers mail from someone not yet in a party.
func notPlacedLetter(s *state, owner *store.Participant) *letter {
	return &letter{
		Preheader: fmt.Sprintf("Your mail about “%s” changed nothing: you are not yet in a party.", s.c.Subject),
		Paras:     []string{fmt.Sprintf("Ask %s (%s), or a leader of the party you work with, to place you; until then nothing you send is passed on. You will get a mail when you are placed.", displayName(owner), owner.Address)},
	}
}

// colleagueLetter tells to that who (address addr), of their party's mail
// domain but not in the collaboration, wrote to it with files, and how to
// add them.
func colleagueLetter(s *state, to *store.Participant, who, addr string, files []string) *letter {
	party := s.c.Parties[to.Party].Name
	l := &letter{
		Preheader: fmt.Sprintf("%s wrote to “%s”, but does not take part in it, so nothing of their mail was applied.", who, s.c.Subject),
	}
	if len(files) > 0 {
		l.Paras = append(l.Paras, "They sent: "+strings.Join(files, ", ")+".")
	}
	add := fmt.Sprintf("/add %s contributor", addr)
	if to.Role == store.RoleLeader {
		l.Paras = append(l.Paras, fmt.Sprintf("They share a mail domain with %s. To add them to %s, reply with this line: %s (or leader, follower, ghost instead of contributor).", party, party, add))
	} else {
		l.Paras = append(l.Paras, fmt.Sprintf("They share a mail domain with %s. A leader of %s can add them with this line: %s", party, party, add))
	}
	l.Paras = append(l.Paras, "They were not answered: whether they take part is for your party to say. Once added, they get a mail with their own reply address, and can send their mail again.")
	return l
}

// wrongAddressLetter answers a participant who wrote to someone else's
// reply address; own is theirs.
func wrongAddressLetter(s *state, whose, own string) *letter {
	return &letter{
		Preheader: fmt.Sprintf("Your mail went to %s's reply address for “%s”, so nothing changed.", whose, s.c.Subject),
		Paras:     []string{"Each person has their own reply address. Send it again as a reply to a gateway mail addressed to you (Reply-To: " + own + ")."},
	}
}

// unmatchedLetter answers mail that reached no collaboration.
func unmatchedLetter(gateway string) *letter {
	return &letter{
		Preheader: "Your mail did not reach any collaboration, and did not start one.",
		Paras: []string{
			"To start a collaboration, write to the other party as usual, attach the documents, and Cc " + gateway + ".",
			"To take part in one, reply to a mail the gateway sent you: its Reply-To address is your own.",
		},
	}
}

// notAllowedLetter answers someone the operator does not let start
// collaborations.
func notAllowedLetter(gateway string) *letter {
	return &letter{
		Preheader: "No collaboration was started: this gateway starts collaborations only for the people and domains its operator allows.",
		Paras:     []string{"Ask whoever runs " + gateway + " to allow your address, or ask a colleague who is allowed to start it. Sending the mail again will not help."},
	}
}

// noOtherPartyLetter answers a start with nobody to hand the turn to.
func noOtherPartyLetter(gateway string) *letter {
	return &letter{
		Preheader: "No collaboration was started: your mail had no one to hand the turn to.",
		Paras: []string{
			"To start a collaboration, write to the other party (in To), attach the documents, and Cc this address: " + gateway + ".",
			"People of your own mail domain join your party; the others form the other party, who gets the turn next.",
		},
	}
}

// tooManyLetter answers a mail with more attachments than are taken.
func tooManyLetter() *letter {
	return &letter{
		Preheader: "Your mail carried more attachments than the gateway takes in one mail; nothing was stored.",
		Paras:     []string{"Send the files over several mails, or zip them together. Sending the same mail again will not help."},
	}
}

// refusedLetter tells the sender of mail fetched over IMAP that it exceeds
// one of the parser's limits.
func refusedLetter(reason string) *letter {
	return &letter{
		Preheader: "Your mail was not taken in: " + reason + ".",
		Paras:     []string{"Nothing of it was applied. Sending the same mail again will not help: send the files over several smaller mails, or zip them together."},
	}
}

// leftOutLines says, for the sender, which parts of msg were not passed on
// as documents and why: damaged files, calendar invites, programs (set
// aside before the rules), a winmail.dat that could not be unpacked.
func leftOutLines(msg *message.Message, programs []message.Attachment) []string {
	var l []string
	for _, a := range msg.Damaged {
		l = append(l, a.Filename+": arrived damaged (cut short or garbled on the way), so it was not passed on; please send it again")
	}
	for _, name := range msg.Calendar {
		l = append(l, name+": a calendar invite; the gateway passes on documents only, so send invites to the people themselves")
	}
	for _, a := range programs {
		l = append(l, a.Filename+": a program or script; the gateway passes on documents only")
	}
	if msg.TNEF {
		l = append(l, "winmail.dat: Outlook sent the attachments inside it in a form the gateway cannot read; switch the message format to HTML or plain text and send the files again")
	}
	return l
}

// leftOutLetter tells the sender what of their mail was not passed on.
func leftOutLetter(lines []string) *letter {
	return &letter{
		Preheader: "Some of what you sent was not passed on.",
		Paras:     []string{"The rest of your mail was taken in as usual."},
		Sections:  []section{{Title: "Not passed on", Lines: lines}},
	}
}

// holdLetter asks the person a held mail names to confirm it. dmarcFailed
// says a trusted server found the From forged, and the owner is asked.
func holdLetter(s *state, msg *message.Message, dmarcFailed bool, ref string) *letter {
	from := "(no sender)"
	if msg.From != nil {
		from = msg.From.Addr
	}
	what := []string{"From: " + from, "Subject: " + msg.Subject}
	if !msg.Date.IsZero() {
		what = append(what, "Date: "+msg.Date.Format("Mon, 2 Jan 2006 15:04 MST"))
	}
	var files []string
	for _, a := range msg.Attachments {
		files = append(files, a.Filename)
	}
	if len(files) > 0 {
		what = append(what, "Files: "+strings.Join(files, ", "))
	}
	l := &letter{
		Preheader: fmt.Sprintf("A mail about “%s” that says it is from you is on hold until you confirm you sent it.", s.c.Subject),
		Paras: []string{
			"It did not come through your own reply address, and nothing vouched for its sender, so anyone could have written it. Nothing changed yet.",
			"If you sent it, reply to this mail (any text will do) and it is applied as you sent it. If you did not, ignore this mail: it stays on hold and changes nothing.",
		},
		Sections:  []section{{Title: "The mail on hold", Lines: what}},
		MessageID: ref,
	}
	if dmarcFailed {
		l.Preheader = fmt.Sprintf("A mail about “%s” from %s failed its sender's domain check (DMARC), and is on hold.", s.c.Subject, from)
		l.Paras = []string{
			"The server in front of the gateway found that the domain in its From did not send it: it is most likely forged. Nothing changed.",
			"If you know it is genuine, reply to this mail (any text will do) and it is applied as its sender sent it. Otherwise ignore this mail: it stays on hold.",
		}
	}
	return l
}

// Why a reminder is sent, for reminderLetter.
const (
	remindHeld     = "held"
	remindDeadline = "deadline"
	remindOverdue  = "overdue"
)

// reminderLetter reminds the turn holders of c.
func reminderLetter(c *store.Collab, to *store.Participant, why string) *letter {
	holder := c.Parties[c.TurnParty].Name
	var what string
	switch why {
	case remindHeld:
		what = fmt.Sprintf("Turn %d of “%s” has been with %s since %s.", c.Turn, c.Subject, holder, c.TurnSince.UTC().Format(timeLayout))
	case remindDeadline:
		// When exactly is the deadline line's, above every mail's text.
		what = fmt.Sprintf("“%s” is due soon, and turn %d is with %s.", c.Subject, c.Turn, holder)
	case remindOverdue:
		what = fmt.Sprintf("“%s” is past its deadline, and turn %d is with %s.", c.Subject, c.Turn, holder)
	}
	l := &letter{
		Preheader: "Reminder: " + what,
		Paras:     []string{"Reply with your edited files to hand the turn over, or with /done on the first line. /status shows where things stand."},
	}
	if to.Role != store.RoleLeader {
		l.Paras = []string{contributorCan}
	}
	return l
}

// contributorCan says what a contributor of the party holding the turn can
// do: they cannot end it.
const contributorCan = "Send your edited files in reply to this mail: they go to your party's leaders as a draft, and travel with the turn when a leader ends it. /status shows where things stand."

// undeliveredLetter tells the owner that mail of kind, sent at sent, to
// to was given up on, and what the recipient's server said of it (u).
func undeliveredLetter(c *store.Collab, to mail.Address, kind string, sent time.Time, u undelivered) *letter {
	who := to.Addr
	if to.Name != "" {
		who = fmt.Sprintf("%s <%s>", to.Name, to.Addr)
	}
	l := &letter{Preheader: fmt.Sprintf("Mail about “%s” could not be delivered to %s.", c.Subject, who)}
	l.Paras = append(l.Paras, fmt.Sprintf("It was %s, sent %s.", kindWords(kind), sent.UTC().Format(timeLayout)))
	switch said := u.said; {
	case u.refused && said != nil && said.Text == "" && said.Enhanced != "":
		l.Paras = append(l.Paras, "Their mail server refused it, with status "+said.Enhanced+".")
	case u.refused && said != nil:
		l.Paras = append(l.Paras, "Their mail server refused it: “"+said.Error()+"”.")
	case u.refused:
		l.Paras = append(l.Paras, "Their mail server sent it back without saying why.")
	case said != nil:
		l.Paras = append(l.Paras, fmt.Sprintf("Their mail server kept putting it off (“%s”), and the gateway gave up after %d attempts.", said.Error(), u.attempts))
	default:
		l.Paras = append(l.Paras, fmt.Sprintf("The gateway could not hand it on, and gave up after %d attempts; its operator can see why (turnmail queue).", u.attempts))
	}
	if u.said != nil {
		if gloss := statusWords(u.said.Enhanced); gloss != "" {
			l.Paras = append(l.Paras, gloss)
		}
	}
	l.Paras = append(l.Paras, "Check the address, or reach them another way; the collaboration itself is unchanged.")
	return l
}

// kindWords says in words which mail of a collaboration a kind is.
func kindWords(kind string) string {
	switch kind {
	case kindHandoff:
		return "the mail handing them the turn"
	case kindConfirm:
		return "the mail telling them what had happened"
	case kindDraft:
		return "a draft from their party"
	case kindComment:
		return "a comment from their party"
	case kindReply:
		return "the answer to their command"
	case kindBinder:
		return "the closing binder"
	case kindSummary:
		return "their weekly summary"
	case kindReminder:
		return "a reminder of their turn"
	case kindHold:
		return "a request to confirm a mail sent in their name"
	case kindPurge:
		return "the notice of the purge"
	}
	return "a mail from the gateway"
}

// statusWords explains the commonest RFC 3463 statuses, or returns "".
func statusWords(status string) string {
	_, detail, _ := strings.Cut(status, ".")
	switch detail {
	case "1.1":
		return "That means the address does not exist there."
	case "1.2", "1.10":
		return "That means their mail domain takes no mail."
	case "2.1":
		return "That means the mailbox is disabled."
	case "2.2":
		return "That means the mailbox is full."
	case "2.3", "3.4":
		return "That means the mail was too large for them."
	case "4.7":
		return "That means it could not be delivered in time."
	case "7.1":
		return "That means their server does not take mail from the gateway: a spam filter, or a rule of theirs."
	}
	return ""
}

// summaryLetter is a person's weekly summary, one section per
// collaboration (weekSection), what waits on them first.
func summaryLetter(sections []section, waiting, overdue int) *letter {
	l := &letter{Footer: footerSummary, Sections: sections}
	l.Preheader = fmt.Sprintf("%d active collaboration(s), %d waiting on you, %d overdue.", len(sections), waiting, overdue)
	if len(sections) == 0 {
		l.Preheader = "You are in no active collaboration."
	}
	return l
}

// weekSection describes collaboration s for participant pt in a summary:
// whose turn and since when, the deadline, the turns that ended in the week
// before to, with dates on to's clock; tag is pt's reply address. A ghost
// sees the other party's turns without their people or notes.
func weekSection(s *state, pt *store.Participant, turns []*store.Turn, overdue bool, to time.Time, tag string) section {
	c := s.c
	holder := c.Parties[c.TurnParty].Name
	switch {
	case c.TurnParty == pt.Party && pt.Role == store.RoleLeader:
		holder = "waiting on you (" + holder + ")"
	case c.TurnParty == pt.Party:
		holder = "with your party (" + holder + ")"
	}
	title := fmt.Sprintf("%s [tm:%s]: turn %d, %s since %s", c.Subject, c.ID, c.Turn, holder, c.TurnSince.In(to.Location()).Format("2006-01-02"))
	switch {
	case overdue:
		title += fmt.Sprintf(", OVERDUE since %s", c.DeadlineDate)
	case c.DeadlineDate != "":
		title += ", due " + c.DeadlineDate
	}
	sec := section{Title: title}
	for _, t := range turns {
		if !t.Ended.Before(to) {
			break
		}
		party := c.Parties[t.Party].Name
		when := t.Ended.In(to.Location()).Format("Mon 2 Jan")
		if pt.Role == store.RoleGhost && t.Party != pt.Party {
			sec.Lines = append(sec.Lines, fmt.Sprintf("%s: %s ended turn %d", when, party, t.Number))
			continue
		}
		line := fmt.Sprintf("%s: %s (%s) ended turn %d", when, s.whoFor(t.EndedBy, pt), party, t.Number)
		if files := turnFilesLine(s, t); files != "" {
			line += ": " + files
		}
		if n := gist(t.Note); n != "" {
			line += " (“" + n + "”)"
		}
		sec.Lines = append(sec.Lines, line)
	}
	if len(sec.Lines) == 0 {
		sec.Lines = append(sec.Lines, "No turns ended this week.")
	}
	sec.Lines = append(sec.Lines, "For details, reply to "+tag+" with /status ("+statusLink(tag)+").")
	return sec
}

// statusLink is a mailto link that writes /status to the collaboration.
func statusLink(tag string) string {
	return "mailto:" + tag + "?subject=status&body=" + url.QueryEscape("/status")
}

// changeLines says what changed in a document, under its line in a letter:
// counts, the first changed passages old and new, the cells per sheet, the
// review markup it still carries.
func changeLines(c *comparison) []string {
	if c.err != nil {
		return []string{"Could not be compared: the file cannot be read as its name says."}
	}
	var l []string
	switch sum := c.sum; {
	case sum == nil || sum.Unsupported:
	case sum.TooLarge:
		l = append(l, "Too large to compare.")
	case sum.Same():
		l = append(l, "No change in the text.")
	case sum.Format == changes.XLSX:
		for _, sh := range sum.Sheets {
			l = append(l, sheetLine(sh))
			for _, cell := range sh.Cells {
				l = append(l, fmt.Sprintf("  %s: %s → %s", cell.Ref, quoteOr(cell.Old, "empty"), quoteOr(cell.New, "empty")))
			}
		}
	default:
		l = append(l, countsLine(sum.Counts, string(sum.Unit)))
		unit := "¶"
		if sum.Unit == changes.Lines {
			unit = "line"
		}
		for _, p := range sum.Passages {
			switch p.Kind {
			case changes.Changed:
				l = append(l, fmt.Sprintf("%s %d: “%s” → “%s”", unit, p.At, p.Old, p.New))
			case changes.Added:
				l = append(l, fmt.Sprintf("%s %d added: “%s”", unit, p.At, p.New))
			case changes.Removed:
				l = append(l, fmt.Sprintf("%s %d removed: “%s”", unit, p.At, p.Old))
			}
		}
	}
	m := c.markup
	if c.sum != nil && c.sum.Markup != nil {
		m = c.sum.Markup
	}
	if m != nil && m.Any() {
		l = append(l, "Still carries "+markupPhrase(m)+".")
	}
	return l
}

// countsLine is "3 paragraphs changed, 1 added, 2 removed".
func countsLine(n changes.Counts, unit string) string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{n.Changed, "changed"}, {n.Added, "added"}, {n.Removed, "removed"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) > 0 {
		if strings.HasPrefix(parts[0], "1 ") {
			unit = strings.TrimSuffix(unit, "s")
		}
		parts[0] = strings.Replace(parts[0], " ", " "+unit+" ", 1)
	}
	return strings.Join(parts, ", ") + "."
}

// sheetLine is one xlsx sheet's line: "Sheet Prices: 3 cells changed, 1 added."
func sheetLine(sh changes.Sheet) string {
	switch {
	case sh.Added:
		return fmt.Sprintf("Sheet %s: new, %d cells.", sh.Name, sh.Counts.Total())
	case sh.Removed:
		return fmt.Sprintf("Sheet %s: removed.", sh.Name)
	}
	name := sh.Name
	if sh.OldName != "" {
		name = fmt.Sprintf("%s (was %s)", sh.Name, sh.OldName)
	}
	return fmt.Sprintf("Sheet %s: %s", name, countsLine(sh.Counts, "cells"))
}

func quoteOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return "“" + s + "”"
}

// markupPhrase is "3 tracked changes and 2 comments (Dave Axe: 2 tracked
// changes, 1 comment; Eve Law: 1 tracked change, 1 comment)".
func markupPhrase(m *changes.Markup) string {
	s := countPhrase(m.TrackedChanges(), m.Comments)
	var who []string
	for _, a := range m.Authors {
		name := a.Name
		if name == "" {
			name = "no author recorded"
		}
		who = append(who, name+": "+countPhrase(a.Insertions+a.Deletions+a.Formatting, a.Comments))
	}
	if len(who) > 0 {
		s += " (" + strings.Join(who, "; ") + ")"
	}
	return s
}

func countPhrase(tracked, comments int) string {
	var parts []string
	if tracked > 0 {
		parts = append(parts, plural(tracked, "tracked change"))
	}
	if comments > 0 {
		parts = append(parts, plural(comments, "comment"))
	}
	return strings.Join(parts, " and ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// markupWarnings warn the party that handed documents over when one still
// carries comments or tracked changes by its own people: the other side
// can read every one of them. Authors are matched by name, as Word and
// LibreOffice record them.
func markupWarnings(s *state, party int, ch []stored, cmp map[string]*comparison) []string {
	var out []string
	for _, x := range ch {
		c := cmp[x.doc.ID]
		if c == nil || x.unchanged {
			continue
		}
		m := c.markup
		if c.sum != nil && c.sum.Markup != nil {
			m = c.sum.Markup
		}
		if m == nil {
			continue
		}
		var ours []string
		for _, a := range m.Authors {
			if p := s.personNamed(party, a.Name); p != nil {
				ours = append(ours, fmt.Sprintf("%s: %s", displayName(p), countPhrase(a.Insertions+a.Deletions+a.Formatting, a.Comments)))
			}
		}
		if len(ours) > 0 {
			out = append(out, fmt.Sprintf("%s v%d still carries review marks of your party (%s): the other side sees them. To take them out, accept or reject the changes and delete the comments, then send a new version.",
				x.doc.Name, x.v.Number, strings.Join(ours, "; ")))
		}
	}
	return out
}

// describe is a change's line in the text part.
func (c change) describe() string {
	var b strings.Builder
	b.WriteString(c.Document)
	switch {
	case c.From == 0:
		fmt.Fprintf(&b, ": new, v%d (%s)", c.To, humanSize(c.ToSize))
	case c.From == c.To:
		fmt.Fprintf(&b, ": v%d (%s)", c.To, humanSize(c.ToSize))
	default:
		fmt.Fprintf(&b, ": v%d (%s) → v%d (%s)", c.From, humanSize(c.FromSize), c.To, humanSize(c.ToSize))
	}
	if c.Remark != "" {
		b.WriteString(", " + c.Remark)
	}
	if c.Attached != "" {
		fmt.Fprintf(&b, ", attached as %q", c.Attached)
	}
	return b.String()
}

// Remarks on a change.
const (
	remarkDraft     = "draft"
	remarkFinal     = "final"
	remarkUnchanged = "re-sent unchanged"
	remarkTwice     = "another attachment of the mail has the same name: this one was not stored"
	remarkSplit     = "kept as a document of its own: another file of the mail already changed the document it resembles"
	remarkKept      = "unchanged this turn, not attached"
	remarkTooBig    = "not attached: too large for one mail (see below)"
)

// titleTooBig heads the files a mail left out for their size.
const titleTooBig = "Files too large to attach"

// leftOutFileLine says where to get a file left out of a mail for its
// size: the link, valid until expires, or whom to ask when there is none.
func leftOutFileLine(name string, size, limit int64, url string, expires time.Time) string {
	line := fmt.Sprintf("%s (%s) is over this mail's %s for attachments", name, humanSize(size), humanSize(limit))
	if url == "" {
		return line + "; the gateway keeps it: ask the person who sent it, or the gateway's operator (turnmail export)."
	}
	return fmt.Sprintf("%s; download it until %s: %s", line, expires.UTC().Format("2006-01-02"), url)
}

// describe is a history row's line in the text part.
func (r digestRow) describe() string {
	s := fmt.Sprintf("Turn %d · %s · %s · %s", r.Turn, r.Party, r.Who, r.When)
	if r.Files != "" {
		s += " · " + r.Files
	}
	// A note of several lines (the binder's are whole) keeps its lines, each
	// indented under its row.
	for line := range strings.Lines(r.Note) {
		if line = strings.TrimRight(line, " \t\r\n"); line != "" {
			line = "    " + line
		}
		s += "\n" + line
	}
	return s
}

// turnFilesLine is what a history row says turn t carried.
func turnFilesLine(s *state, t *store.Turn) string {
	if t.How == "skip" {
		return "skipped"
	}
	return s.turnFiles(t)
}

// gist is the line of a note a history row or summary shows: not its
// salutation (reply.Gist).
func gist(note string) string { return reply.Gist(note, 100) }
