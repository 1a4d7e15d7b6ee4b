package store

import (
	"time"

	"github.com/turnmail/turnmail/mail"
)

// Collaboration states.
const (
	StateActive  = "active"
	StateWrapped = "wrapped"
)

// Participant roles.
const (
	RoleLeader      = "leader"
	RoleContributor = "contributor"
	RoleFollower    = "follower"
	RoleGhost       = "ghost"
)

// Inbound outcomes: what became of an accepted mail.
const (
	OutcomeStarted       = "started"       // started a collaboration
	OutcomeTurn          = "turn"          // ended a turn
	OutcomeDraft         = "draft"         // stored as a party's draft
	OutcomeComment       = "comment"       // relayed to the sender's party
	OutcomeCommand       = "command"       // commands only (/status, /help…)
	OutcomeEmpty         = "empty"         // no files, text or commands; the sender was told
	OutcomeRejected      = "rejected"      // refused by a rule; the sender was told
	OutcomeStranger      = "stranger"      // sender is not a participant; nothing changed
	OutcomeUnmatched     = "unmatched"     // matched nothing; a notice went back
	OutcomeIgnored       = "ignored"       // automatic mail (auto-reply, bounce, list)
	OutcomeUnprocessable = "unprocessable" // could not be parsed or applied; kept raw
	OutcomeHeld          = "held"          // not applied until confirmed or released (DESIGN §3); kept raw
	OutcomeDropped       = "dropped"       // held, then dropped by an operator
	OutcomePostmaster    = "postmaster"    // to postmaster@: kept raw for the operator
	OutcomeBounce        = "bounce"        // came back to a bounce address: its outbound mail failed
)

// Outcomes lists every outcome, in the order above.
var Outcomes = []string{
	OutcomeStarted, OutcomeTurn, OutcomeDraft, OutcomeComment, OutcomeCommand, OutcomeEmpty,
	OutcomeRejected, OutcomeStranger, OutcomeUnmatched, OutcomeIgnored, OutcomeUnprocessable,
	OutcomeHeld, OutcomeDropped, OutcomePostmaster, OutcomeBounce,
}

// Collab is one collaboration. Parties has two entries: index 0 is the
// starter's party, index 1 the other side.
type Collab struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"`
	Owner     string    `json:"owner"` // participant id
	Created   time.Time `json:"created"`
	Wrapped   time.Time `json:"wrapped,omitzero"`
	Turn      int       `json:"turn"`       // number of the current (open) turn
	TurnParty int       `json:"turn_party"` // index into Parties
	TurnSince time.Time `json:"turn_since"`
	Parties   []Party   `json:"parties"`
	NextPID   int       `json:"next_pid"`   // participant ids are "p1", "p2", …
	NextDoc   int       `json:"next_doc"`   // document ids are "d1", "d2", …
	RootMsgID string    `json:"root_msgid"` // Message-ID of the mail that started it
	// Deadline, when set, is the instant the collaboration is due: the end
	// of DeadlineDate in the time zone of whoever set it.
	Deadline     time.Time `json:"deadline,omitzero"`
	DeadlineDate string    `json:"deadline_date,omitempty"` // as given: "2026-12-05"
	// ClosingNote is the owner's note on the /wrapup mail, which the closing
	// binder and the export open with; "" while active and after /reopen.
	ClosingNote string `json:"closing_note,omitempty"`
}

// Overdue reports whether an active collaboration is past its deadline.
func (c *Collab) Overdue(now time.Time) bool {
	return c.State == StateActive && !c.Deadline.IsZero() && !now.Before(c.Deadline)
}

// Person holds one address's own settings, across all its collaborations.
type Person struct {
	Address    string `json:"address"`
	TimeZone   string `json:"time_zone,omitempty"`   // IANA name; "" for the configured default
	SummaryOff bool   `json:"summary_off,omitempty"` // no weekly summaries
}

// Party is one side of a collaboration.
type Party struct {
	Name string `json:"name"`
}

// Participant is a person in a collaboration.
type Participant struct {
	ID      string    `json:"id"`
	Address string    `json:"address"` // lower-case
	Name    string    `json:"name,omitempty"`
	Party   int       `json:"party"`
	Role    string    `json:"role"`
	Added   time.Time `json:"added"`
	// Thread holds the Message-IDs of the latest gateway mail sent to this
	// participant, oldest first, bounded: their In-Reply-To and References.
	// Kept per person so that nobody's References name mail of the other
	// party's they never saw.
	Thread []string `json:"thread,omitempty"`
	// Pending marks someone in the collaboration but in neither party yet
	// (outside counsel Cc'd at the start): Party means nothing until a
	// leader places them, and they get no party's mail. The zero value is
	// "placed", so that records written before the field read as placed.
	Pending bool `json:"pending,omitempty"`
	// Removed is when the person was taken out of the collaboration; zero
	// while they are in it. The record stays so that the history can still
	// name who ended a turn or wrote a version.
	Removed time.Time `json:"removed,omitzero"`
}

// Placed reports whether p is in a party now: neither pending nor removed.
// Only placed people get their party's mail and may act.
func (p *Participant) Placed() bool {
	return !p.Pending && p.Removed.IsZero()
}

// Turn is one numbered turn. A turn that has ended never changes.
type Turn struct {
	Number   int          `json:"number"`
	Party    int          `json:"party"`
	Started  time.Time    `json:"started"`
	Ended    time.Time    `json:"ended"`
	EndedBy  string       `json:"ended_by"` // participant id
	How      string       `json:"how"`      // "start", "files", "done", "skip", "wrapup"
	Note     string       `json:"note,omitempty"`
	Stripped string       `json:"stripped,omitempty"` // quoted text and signature cut from the note
	MsgID    string       `json:"msgid,omitempty"`
	Versions []VersionRef `json:"versions,omitempty"`
}

// VersionRef names one version of one document.
type VersionRef struct {
	Doc    string `json:"doc"` // document id
	Number int    `json:"number"`
}

// Document is one logical file of a collaboration.
type Document struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"` // e.g. "contract.docx", from its first version
	Created time.Time `json:"created"`
}

// Version is one stored state of a document.
type Version struct {
	Doc         string    `json:"doc"`
	Number      int       `json:"number"`
	Blob        mail.Blob `json:"blob"`
	Filename    string    `json:"filename"` // as sent
	ContentType string    `json:"content_type"`
	Turn        int       `json:"turn"`
	Author      string    `json:"author"` // participant id
	MsgID       string    `json:"msgid,omitempty"`
	Time        time.Time `json:"time"`
}

// Draft is a file a party has sent outside the moment it could become a
// version: a contributor's edit during the party's turn, or any edit out of
// turn. It becomes a version when a leader of the party ends a turn.
type Draft struct {
	Party       int       `json:"party"`
	Doc         string    `json:"doc,omitempty"` // document id; "" for a new document
	Name        string    `json:"name"`          // document name (for a new document)
	Blob        mail.Blob `json:"blob"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Author      string    `json:"author"`
	MsgID       string    `json:"msgid,omitempty"`
	Time        time.Time `json:"time"`
	// Base is the version of Doc the draft was made on, so that a draft
	// made before the other party's newer version is not handed over as if
	// it were the latest (a stale draft). 0 for a new document, and in
	// drafts stored before it was recorded, which count as current.
	Base int `json:"base,omitempty"`
}

// Inbound is the audit record of one accepted mail and what became of it.
type Inbound struct {
	ID         uint64    `json:"id"`
	Time       time.Time `json:"time"`
	Source     string    `json:"source"`
	EnvFrom    string    `json:"env_from"`
	Recipients []string  `json:"recipients"`
	MsgID      string    `json:"msgid,omitempty"`
	Digest     string    `json:"digest"` // SHA-256 of the raw message
	Size       int64     `json:"size"`
	From       string    `json:"from,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Collab     string    `json:"collab,omitempty"`
	Outcome    string    `json:"outcome"`
	Detail     string    `json:"detail,omitempty"`
	Raw        string    `json:"raw,omitempty"` // blob digest of the raw message, when kept
	// A held mail's confirmer: the participant asked to confirm it (or, when
	// DMARC failed, the owner), and the Message-ID of that request, which
	// their reply names. Both empty when nobody was asked.
	Confirmer string `json:"confirmer,omitempty"`
	Confirm   string `json:"confirm,omitempty"`
}

// Outbound is a message in the outbound queue.
type Outbound struct {
	ID        uint64        `json:"id"`
	Collab    string        `json:"collab,omitempty"`
	Kind      string        `json:"kind"` // "handoff", "confirm", "notice", …
	Msg       mail.Outgoing `json:"msg"`
	State     string        `json:"state"` // "queued", "sent", "failed"
	Attempts  int           `json:"attempts"`
	NextTry   time.Time     `json:"next_try"`
	LastError string        `json:"last_error,omitempty"`
	Created   time.Time     `json:"created"`
	Done      time.Time     `json:"done,omitzero"`
}
