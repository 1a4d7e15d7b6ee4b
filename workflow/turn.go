package workflow

import (
	"fmt"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// incoming is a file arriving as a version: an attachment of this mail, or a
// draft travelling with the turn.
type incoming struct {
	att    message.Attachment
	author string // participant id
	msgID  string
	doc    string // document id when already known (a draft's), else matched by name
}

// stored is what became of one incoming file.
type stored struct {
	doc       *store.Document
	v         *store.Version // the new version, or the latest when unchanged
	prev      *store.Version // nil for a new document
	unchanged bool           // byte-identical to the latest version: "re-sent unchanged"
	split     bool           // matched a document another file of the mail already changed
	twice     bool           // a second file of the same name in one mail: not stored
}

// storeVersions stores files as new versions of the collaboration's
// documents, matching each to its document by name (DESIGN §3). A file
// identical to its document's latest version is reported, not stored again.
// One mail makes at most one version of a document: a second file for the
// same document ("contract clean.docx" beside "contract redline.docx") is
// kept as a document of its own, under the name it was sent with.
func (d *delivery) storeVersions(tx *store.Tx, s *state, files []incoming) ([]stored, error) {
	var names []string
	var idx []int
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.doc
		if f.doc == "" {
			names = append(names, f.att.Filename)
			idx = append(idx, i)
		}
	}
	for j, id := range s.match(names) {
		ids[idx[j]] = id
	}
	var out []stored
	used := map[string]bool{}
	for i, f := range files {
		doc := s.doc(ids[i])
		split := doc != nil && used[doc.ID]
		if doc == nil || split {
			if doc = s.docNamed(f.att.Filename); doc != nil && used[doc.ID] {
				// The very same name twice in one mail: the first counts.
				out = append(out, stored{doc: doc, v: s.latest[doc.ID], prev: s.latest[doc.ID], unchanged: true, twice: true})
				continue
			}
		}
		if doc == nil {
			doc = &store.Document{ID: s.nextDocID(), Name: f.att.Filename, Created: d.now}
			if err := tx.PutDocument(s.c.ID, doc); err != nil {
				return nil, fmt.Errorf("store document %s: %w", doc.Name, err)
			}
			s.docs = append(s.docs, doc)
		}
		used[doc.ID] = true
		prev := s.latest[doc.ID]
		if prev != nil && prev.Blob.Digest == f.att.Blob.Digest {
			out = append(out, stored{doc: doc, v: prev, prev: prev, unchanged: true, split: split})
			continue
		}
		v := &store.Version{
			Doc: doc.ID, Number: 1, Blob: f.att.Blob, Filename: f.att.Filename, ContentType: f.att.ContentType,
			Turn: s.c.Turn, Author: f.author, MsgID: f.msgID, Time: d.now,
		}
		if prev != nil {
			v.Number = prev.Number + 1
		}
		if err := tx.PutVersion(s.c.ID, v); err != nil {
			return nil, fmt.Errorf("store version %d of %s: %w", v.Number, doc.Name, err)
		}
		s.latest[doc.ID] = v
		out = append(out, stored{doc: doc, v: v, prev: prev, split: split})
	}
	return out, nil
}

// handOver ends the turn of p's party with p's files and the party's drafts
// (p's own files win where both touch one document, DESIGN §2.4).
func (d *delivery) handOver(tx *store.Tx, s *state, p *store.Participant, how, note, rest string) error {
	files := make([]incoming, 0, len(d.msg.Attachments))
	for _, a := range d.msg.Attachments {
		files = append(files, incoming{att: a, author: p.ID, msgID: d.msg.MessageID})
	}
	ch, err := d.storeVersions(tx, s, files)
	if err != nil {
		return err
	}
	if how != "skip" {
		more, err := d.draftsTravel(tx, s, p.Party, ch)
		if err != nil {
			return err
		}
		ch = append(ch, more...)
	}
	d.record(s.c.ID, store.OutcomeTurn, fmt.Sprintf("turn %d ended (%s), %d document(s)", s.c.Turn, how, countChanged(ch)))
	return d.endTurn(tx, s, p, how, note, rest, ch)
}

// draftsTravel turns the party's drafts into versions as its turn ends and
// clears them, except where the leader's own files (ch) already changed the
// document (those drafts are dropped: the leader's file wins) and for stale
// drafts, made on an older version than the current one: handing those over
// would undo the other party's work, so they stay, and every mail to the
// party says so, unless the mail said "/done all".
func (d *delivery) draftsTravel(tx *store.Tx, s *state, party int, ch []stored) ([]stored, error) {
	drafts, err := tx.Drafts(s.c.ID, party)
	if err != nil {
		return nil, fmt.Errorf("load drafts: %w", err)
	}
	touched := map[string]bool{}
	for _, c := range ch {
		touched[c.doc.ID] = true
	}
	// Drafts of documents that were new when drafted are matched now: the
	// leader's files may have just created their document.
	var names []string
	for _, dr := range drafts {
		if dr.Doc == "" {
			names = append(names, dr.Filename)
		}
	}
	matched := s.match(names)
	var travel []incoming
	for _, dr := range drafts {
		doc := dr.Doc
		if doc == "" {
			doc, matched = matched[0], matched[1:]
		}
		if doc != "" && touched[doc] {
			if err := tx.DeleteDraft(s.c.ID, dr); err != nil {
				return nil, err
			}
			continue
		}
		if s.stale(dr) && !d.carryStale {
			continue
		}
		if err := tx.DeleteDraft(s.c.ID, dr); err != nil {
			return nil, err
		}
		travel = append(travel, incoming{
			att:    message.Attachment{Filename: dr.Filename, ContentType: dr.ContentType, Blob: dr.Blob},
			author: dr.Author, msgID: dr.MsgID, doc: doc,
		})
	}
	return d.storeVersions(tx, s, travel)
}

func countChanged(ch []stored) int {
	n := 0
	for _, c := range ch {
		if !c.unchanged {
			n++
		}
	}
	return n
}

// endTurn closes the current turn, gives the next one to the other party,
// sends that party the handoff and the handing party a confirmation.
func (d *delivery) endTurn(tx *store.Tx, s *state, by *store.Participant, how, note, rest string, ch []stored) error {
	c := s.c
	t := &store.Turn{
		Number: c.Turn, Party: c.TurnParty, Started: c.TurnSince, Ended: d.now, EndedBy: by.ID,
		How: how, Note: note, Stripped: rest, MsgID: d.msg.MessageID,
	}
	for _, x := range ch {
		if !x.unchanged {
			t.Versions = append(t.Versions, store.VersionRef{Doc: x.doc.ID, Number: x.v.Number})
		}
	}
	if err := tx.PutTurn(c.ID, t); err != nil {
		return fmt.Errorf("store turn %d: %w", t.Number, err)
	}
	from := c.TurnParty
	c.Turn++
	c.TurnParty = 1 - from
	c.TurnSince = d.now
	if err := tx.PutCollab(c); err != nil {
		return fmt.Errorf("store collaboration: %w", err)
	}
	d.logAfterCommit("turn handed over", "collab", c.ID, "turn", t.Number, "by", by.Address, "to_party", c.Parties[c.TurnParty].Name)
	digest, err := d.handoffDigest(tx, s, t)
	if err != nil {
		return err
	}
	cmp := d.compare(tx, ch)
	changes, atts := describeChanges(s, ch, cmp, true)
	byName := fmt.Sprintf("%s (%s)", displayName(by), c.Parties[from].Name)
	for _, p := range s.party(c.TurnParty) {
		if err := d.post(tx, s, kindHandoff, p, displayName(by), handoffLetter(s, p, t, byName, changes, digest), atts); err != nil {
			return err
		}
	}
	changes, _ = describeChanges(s, ch, cmp, false)
	marks := markupWarnings(s, from, ch, cmp)
	for _, p := range s.party(from) {
		l := handedOverLetter(s, p, by, t, byName, changes, digest)
		if len(marks) > 0 {
			l.Sections = append(l.Sections, section{Title: "Review marks that went to the other side", Lines: marks})
		}
		if err := d.post(tx, s, kindConfirm, p, displayName(by), l, nil); err != nil {
			return err
		}
	}
	return nil
}

// describeChanges lists changed documents for a letter and, when attach is
// set, the attachments carrying their new versions ("contract (v2).docx").
func describeChanges(s *state, ch []stored, cmp map[string]*comparison, attach bool) ([]change, []mail.OutgoingAttachment) {
	var out []change
	var atts []mail.OutgoingAttachment
	listed := map[string]bool{}
	for _, x := range ch {
		listed[x.doc.ID] = true
		c := change{Document: x.doc.Name, To: x.v.Number, ToSize: x.v.Blob.Size}
		if x.prev != nil {
			c.From, c.FromSize = x.prev.Number, x.prev.Blob.Size
		}
		switch {
		case x.twice:
			c.Remark = remarkTwice
		case x.unchanged:
			c.Remark = remarkUnchanged
		case x.split && x.prev == nil:
			c.Remark = remarkSplit
		}
		if k := cmp[x.doc.ID]; k != nil && !x.unchanged {
			c.What = changeLines(k)
		}
		if !x.unchanged && attach {
			c.Attached = VersionedName(x.doc.Name, x.v.Number)
			atts = append(atts, mail.OutgoingAttachment{Filename: c.Attached, ContentType: x.v.ContentType, Blob: x.v.Blob})
		}
		out = append(out, c)
	}
	// Every document, so that nobody wonders whether the version they have
	// of one the turn left alone is still the latest.
	for _, doc := range s.docs {
		if v := s.latest[doc.ID]; v != nil && !listed[doc.ID] {
			out = append(out, change{Document: doc.Name, From: v.Number, To: v.Number, ToSize: v.Blob.Size, Remark: remarkKept})
		}
	}
	return out, atts
}
