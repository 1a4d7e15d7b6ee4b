package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/turnmail/turnmail/store"
)

// This file is the read model of a collaboration: what `turnmail show`,
// `show --json`, `list` and `export` print, loaded in one read transaction.
// People appear by address, parties and documents by name, never by their
// store ids. The JSON field names and their order are the output of
// `show --json` and `list --json`: a contract.

// CollabSummary is one collaboration in a list.
type CollabSummary struct {
	ID      string   `json:"id"`
	Subject string   `json:"subject"`
	State   string   `json:"state"`
	Turn    TurnHeld `json:"turn"`
}

// TurnHeld is a collaboration's current, open turn. Since is zero in a
// summary.
type TurnHeld struct {
	Number int       `json:"number"`
	Party  string    `json:"party"` // party name
	Since  time.Time `json:"since,omitzero"`
}

// CollabView is everything there is to tell about one collaboration. Its
// slices are never nil, so that JSON says [] rather than null.
type CollabView struct {
	ID      string      `json:"id"`
	Subject string      `json:"subject"`
	State   string      `json:"state"`
	Created time.Time   `json:"created"`
	Wrapped time.Time   `json:"wrapped,omitzero"`
	Owner   string      `json:"owner"` // address
	Turn    TurnHeld    `json:"turn"`
	Parties []PartyView `json:"parties"`
	// Pending are the people in the collaboration but in no party yet
	// (outside counsel a leader has still to place), in id order.
	Pending   []ParticipantView `json:"pending"`
	Documents []DocumentView    `json:"documents"`
	Drafts    []DraftView       `json:"drafts"`
	Turns     []TurnView        `json:"turns"` // the ended turns, oldest first

	// ClosingNote is the owner's note on the /wrapup mail, whole; "" when
	// there was none, or the collaboration is active.
	ClosingNote string `json:"closing_note,omitempty"`
}

// PartyView is one party and its participants, in the order the store
// keeps them.
type PartyView struct {
	Name         string            `json:"name"`
	Participants []ParticipantView `json:"participants"`
}

// ParticipantView is one person in a party, or not yet in one. Party is
// the name of the party they are in: "" (and left out of the JSON) for
// someone pending.
type ParticipantView struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	Party   string `json:"party,omitempty"`
}

// DocumentView is one document and all its versions, oldest first.
type DocumentView struct {
	Name     string        `json:"name"`
	Versions []VersionView `json:"versions"`
}

// VersionView is one stored version of a document.
type VersionView struct {
	Number   int       `json:"number"`
	SHA256   string    `json:"sha256"` // the blob's digest
	Size     int64     `json:"size"`
	Filename string    `json:"filename"` // as sent
	Turn     int       `json:"turn"`
	Author   string    `json:"author"` // address
	Time     time.Time `json:"time"`
}

// DraftView is one pending draft of a party.
type DraftView struct {
	Party    string `json:"party"`
	Name     string `json:"name"` // document name: the draft's own for a new document
	Filename string `json:"filename"`
	Author   string `json:"author"` // address
	Size     int64  `json:"size"`
	Base     int    `json:"base,omitempty"`  // the version it was made on
	Stale    bool   `json:"stale,omitempty"` // made on an older version than the latest: /done leaves it
}

// TurnView is one ended turn: a row of the history.
type TurnView struct {
	Number   int          `json:"number"`
	Party    string       `json:"party"`
	EndedBy  string       `json:"ended_by"` // address
	Ended    time.Time    `json:"ended"`
	How      string       `json:"how"`
	Note     string       `json:"note"` // whole, as written
	Versions []VersionRef `json:"versions"`
}

// VersionRef names a version that travelled with a turn.
type VersionRef struct {
	Document string `json:"document"`
	Number   int    `json:"number"`
}

// Files names the versions of t as "contract.docx v2, annex.pdf v1", or ""
// when the turn carried none.
func (t TurnView) Files() string {
	names := make([]string, len(t.Versions))
	for i, v := range t.Versions {
		names[i] = fmt.Sprintf("%s v%d", v.Document, v.Number)
	}
	return strings.Join(names, ", ")
}

// notFoundError is LoadView's error for an unknown id. It says only which
// id, as the CLI has always printed it, and is a store.ErrNotFound.
type notFoundError struct {
	id  string
	err error
}

func (e *notFoundError) Error() string { return fmt.Sprintf("no collaboration %q", e.id) }
func (e *notFoundError) Unwrap() error { return e.err }

// ListCollabs summarises every collaboration, oldest first.
func ListCollabs(tx *store.Tx) ([]CollabSummary, error) {
	cs, err := tx.Collabs()
	if err != nil {
		return nil, err
	}
	list := make([]CollabSummary, len(cs))
	for i, c := range cs {
		list[i] = CollabSummary{
			ID:      c.ID,
			Subject: c.Subject,
			State:   c.State,
			Turn:    TurnHeld{Number: c.Turn, Party: partyName(c, c.TurnParty)},
		}
	}
	return list, nil
}

// LoadView loads collaboration id. An unknown id gives an error that
// errors.Is store.ErrNotFound.
func LoadView(tx *store.Tx, id string) (*CollabView, error) {
	c, err := tx.Collab(id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, &notFoundError{id: id, err: err}
		}
		return nil, err
	}
	ps, err := tx.Participants(id)
	if err != nil {
		return nil, err
	}
	// address maps participant ids to addresses; an id without a record
	// (which the store should not have) shows as itself.
	addrs := make(map[string]string, len(ps))
	for _, p := range ps {
		addrs[p.ID] = p.Address
	}
	address := func(pid string) string {
		if a, ok := addrs[pid]; ok {
			return a
		}
		return pid
	}

	v := &CollabView{
		ID:        c.ID,
		Subject:   c.Subject,
		State:     c.State,
		Created:   c.Created,
		Wrapped:   c.Wrapped,
		Owner:     address(c.Owner),
		Turn:      TurnHeld{Number: c.Turn, Party: partyName(c, c.TurnParty), Since: c.TurnSince},
		Parties:   make([]PartyView, len(c.Parties)),
		Pending:   []ParticipantView{},
		Documents: []DocumentView{},
		Drafts:    []DraftView{},
		Turns:     []TurnView{},
	}
	v.ClosingNote = c.ClosingNote
	for i, party := range c.Parties {
		v.Parties[i] = PartyView{Name: party.Name, Participants: []ParticipantView{}}
	}
	for _, p := range ps {
		switch {
		case !p.Removed.IsZero():
			continue // named in the history through addrs, no longer in a party
		case p.Pending:
			v.Pending = append(v.Pending, ParticipantView{Address: p.Address, Name: p.Name, Role: p.Role})
			continue
		case p.Party < 0 || p.Party >= len(v.Parties):
			return nil, fmt.Errorf("participant %s of %s: no party %d", p.ID, id, p.Party)
		}
		v.Parties[p.Party].Participants = append(v.Parties[p.Party].Participants,
			ParticipantView{Address: p.Address, Name: p.Name, Role: p.Role, Party: c.Parties[p.Party].Name})
	}

	docs, err := tx.Documents(id)
	if err != nil {
		return nil, err
	}
	docNames := make(map[string]string, len(docs))
	latest := make(map[string]int, len(docs))
	for _, doc := range docs {
		docNames[doc.ID] = doc.Name
		vs, err := tx.Versions(id, doc.ID)
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 {
			latest[doc.ID] = vs[len(vs)-1].Number
		}
		dv := DocumentView{Name: doc.Name, Versions: make([]VersionView, len(vs))}
		for i, ver := range vs {
			dv.Versions[i] = VersionView{
				Number:   ver.Number,
				SHA256:   ver.Blob.Digest,
				Size:     ver.Blob.Size,
				Filename: ver.Filename,
				Turn:     ver.Turn,
				Author:   address(ver.Author),
				Time:     ver.Time,
			}
		}
		v.Documents = append(v.Documents, dv)
	}

	for party := range c.Parties {
		drafts, err := tx.Drafts(id, party)
		if err != nil {
			return nil, err
		}
		for _, dr := range drafts {
			name := dr.Name
			if dr.Doc != "" {
				name = docNames[dr.Doc]
			}
			v.Drafts = append(v.Drafts, DraftView{
				Party:    partyName(c, dr.Party),
				Name:     name,
				Filename: dr.Filename,
				Author:   address(dr.Author),
				Size:     dr.Blob.Size,
				Base:     dr.Base,
				Stale:    draftStale(dr, latest[dr.Doc]),
			})
		}
	}

	turns, err := tx.Turns(id)
	if err != nil {
		return nil, err
	}
	for _, t := range turns {
		tv := TurnView{
			Number:   t.Number,
			Party:    partyName(c, t.Party),
			EndedBy:  address(t.EndedBy),
			Ended:    t.Ended,
			How:      t.How,
			Note:     t.Note,
			Versions: make([]VersionRef, len(t.Versions)),
		}
		for i, ref := range t.Versions {
			tv.Versions[i] = VersionRef{Document: docNames[ref.Doc], Number: ref.Number}
		}
		v.Turns = append(v.Turns, tv)
	}
	return v, nil
}

// partyName returns the name of party i of c, or "party i" for an index
// the collaboration does not have.
func partyName(c *store.Collab, i int) string {
	if i < 0 || i >= len(c.Parties) {
		return fmt.Sprintf("party %d", i)
	}
	return c.Parties[i].Name
}
