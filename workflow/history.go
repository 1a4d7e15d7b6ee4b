package workflow

import (
	"fmt"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// historyDigest lists the ended turns: turn, party, who, when, files and the
// first line of the note (DESIGN §2.3).
func historyDigest(tx *store.Tx, s *state) ([]digestRow, error) {
	turns, err := tx.Turns(s.c.ID)
	if err != nil {
		return nil, fmt.Errorf("load turns: %w", err)
	}
	rows := make([]digestRow, 0, len(turns))
	for _, t := range turns {
		rows = append(rows, digestRow{
			Turn: t.Number, Party: s.c.Parties[t.Party].Name, Who: s.who(t.EndedBy),
			When: t.Ended.UTC().Format(timeLayout), Files: turnFilesLine(s, t), Note: gist(t.Note),
		})
	}
	return rows, nil
}

// wrapUp ends the collaboration: everyone gets the closing binder, the final
// version of every document and the full history (DESIGN §2.7).
func (d *delivery) wrapUp(tx *store.Tx, s *state, by *store.Participant) error {
	c := s.c
	c.State, c.Wrapped = store.StateWrapped, d.now
	if err := tx.PutCollab(c); err != nil {
		return fmt.Errorf("store collaboration: %w", err)
	}
	d.record(c.ID, store.OutcomeCommand, "wrapped up")
	d.logAfterCommit("collaboration wrapped up", "collab", c.ID, "by", by.Address)
	digest, err := historyDigest(tx, s)
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
	for _, p := range s.people {
		if err := d.post(tx, s, kindBinder, p, displayName(by), binderLetter(s, by, changes, digest), atts); err != nil {
			return err
		}
	}
	return nil
}
