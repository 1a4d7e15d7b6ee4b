package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// historyDigest lists the ended turns: turn, party, who, when, files and the
// gist of the note (DESIGN §2.3).
func historyDigest(tx *store.Tx, s *state) ([]digestRow, error) {
	return history(tx, s, gist)
}

// fullHistory lists the ended turns as historyDigest does, with every note
// whole: the closing binder is the record people keep, and a gist is not the
// note.
func fullHistory(tx *store.Tx, s *state) ([]digestRow, error) {
	return history(tx, s, strings.TrimSpace)
}

// history lists the ended turns, each note as note gives it. Both parties
// read the same rows, so someone who has become a ghost since ending a turn
// is not named in them.
func history(tx *store.Tx, s *state, note func(string) string) ([]digestRow, error) {
	turns, err := tx.Turns(s.c.ID)
	if err != nil {
		return nil, fmt.Errorf("load turns: %w", err)
	}
	rows := make([]digestRow, 0, len(turns))
	for _, t := range turns {
		rows = append(rows, historyRow(s, t, note(t.Note)))
	}
	return rows, nil
}

func historyRow(s *state, t *store.Turn, note string) digestRow {
	return digestRow{
		Turn: t.Number, Party: s.c.Parties[t.Party].Name, Who: s.whoFor(t.EndedBy, nil),
		When: t.Ended.UTC().Format(timeLayout), Files: turnFilesLine(s, t), Note: note,
	}
}

// endedTurns are the turns of a collaboration that had ended when a mail
// that may end the next one was read, with the gists of their notes: read
// by precompare before the write transaction, where decoding them all and
// cutting every note to its gist would hold up the other mails' commits.
// Turns are never changed once ended, so they hold for as long as the
// collaboration's turn is still next.
type endedTurns struct {
	cid   string
	next  int // the collaboration's turn when read
	turns []*store.Turn
	gists []string
}

// readEndedTurns keeps s's ended turns for handoffDigest.
func (d *delivery) readEndedTurns(tx *store.Tx, s *state) error {
	turns, err := tx.Turns(s.c.ID)
	if err != nil {
		return fmt.Errorf("load turns: %w", err)
	}
	e := &endedTurns{cid: s.c.ID, next: s.c.Turn, turns: turns, gists: make([]string, len(turns))}
	for i, t := range turns {
		e.gists[i] = gist(t.Note)
	}
	d.ended = e
	return nil
}

// handoffDigest is historyDigest in the transaction where t, the
// collaboration's turn, has just ended: from the turns precompare read when
// no other turn has ended since, from tx otherwise. The rows themselves are
// built here, from s, so that names and ghosts are those of now.
func (d *delivery) handoffDigest(tx *store.Tx, s *state, t *store.Turn) ([]digestRow, error) {
	e := d.ended
	if e == nil || e.cid != s.c.ID || e.next != t.Number {
		return historyDigest(tx, s)
	}
	rows := make([]digestRow, 0, len(e.turns)+1)
	for i, et := range e.turns {
		rows = append(rows, historyRow(s, et, e.gists[i]))
	}
	return append(rows, historyRow(s, t, gist(t.Note))), nil
}

// wrapUp ends the collaboration: everyone, both parties, gets the closing
// binder: the owner's closing note, the final version of every document and
// the full history (DESIGN §2.7). The note is kept with the collaboration,
// for the export.
func (d *delivery) wrapUp(tx *store.Tx, s *state, by *store.Participant, note string) error {
	c := s.c
	c.State, c.Wrapped, c.ClosingNote = store.StateWrapped, d.now, note
	if err := tx.PutCollab(c); err != nil {
		return fmt.Errorf("store collaboration: %w", err)
	}
	d.record(c.ID, store.OutcomeCommand, "wrapped up")
	d.logAfterCommit("collaboration wrapped up", "collab", c.ID, "by", by.Address)
	digest, err := fullHistory(tx, s)
	if err != nil {
		return err
	}
	var changes []change
	var atts []mail.OutgoingAttachment
	for _, doc := range s.docs {
		v := s.latest[doc.ID]
		if v == nil {
			continue
		}
		name := VersionedName(doc.Name, v.Number)
		changes = append(changes, change{Document: doc.Name, From: v.Number, To: v.Number, ToSize: v.Blob.Size, Attached: name, Remark: remarkFinal})
		atts = append(atts, mail.OutgoingAttachment{Filename: name, ContentType: v.ContentType, Blob: v.Blob})
	}
	// A turn this same mail ended is over before it began: a "Your turn" for
	// a collaboration that is wrapped up, or "they will hand it back", would
	// be wrong, and the binder carries that turn, its note and its files.
	d.dropPending(c.ID, kindHandoff, kindConfirm)
	for _, p := range s.people {
		if err := d.post(tx, s, kindBinder, p, displayName(by), binderLetter(s, by, changes, digest), atts); err != nil {
			return err
		}
	}
	return nil
}

// dropPending forgets the mail of the given kinds about collaboration cid
// that this delivery holds back.
func (d *delivery) dropPending(cid string, kinds ...string) {
	kept := d.pending[:0]
	for _, pm := range d.pending {
		if pm.s.c.ID != cid || !slices.Contains(kinds, pm.kind) {
			kept = append(kept, pm)
		}
	}
	clear(d.pending[len(kept):])
	d.pending = kept
}

// reopen makes a wrapped-up collaboration active again, its turn with the
// party that held it, from now; everyone is told who reopened it and whose
// turn it is. Its closing note no longer closes anything.
func (d *delivery) reopen(tx *store.Tx, s *state, by *store.Participant) error {
	c := s.c
	c.State, c.Wrapped, c.TurnSince, c.ClosingNote = store.StateActive, time.Time{}, d.now, ""
	if err := tx.PutCollab(c); err != nil {
		return fmt.Errorf("store collaboration: %w", err)
	}
	d.logAfterCommit("collaboration reopened", "collab", c.ID, "by", by.Address)
	for _, p := range s.people {
		if err := d.post(tx, s, kindConfirm, p, displayName(by), reopenedLetter(s, by, p), nil); err != nil {
			return err
		}
	}
	return nil
}
