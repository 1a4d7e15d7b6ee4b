package workflow

import (
	"slices"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// pendingMail is a mail to one participant that a delivery holds back until
// it has applied everything in the inbound mail.
type pendingMail struct {
	s      *state
	kind   string
	to     *store.Participant
	byName string
	l      *letter
	atts   []mail.OutgoingAttachment
}

// kindRank orders the kinds of mail a delivery may merge: the mail that
// results is of the highest kind among them (a handoff that also confirms a
// deadline is a handoff, with the handoff's subject).
var kindRank = map[string]int{
	kindReply: 1, kindComment: 2, kindConfirm: 3, kindDraft: 4, kindHold: 5, kindBinder: 6, kindHandoff: 7,
}

// post holds a mail to a participant until the delivery has run its course,
// so that one inbound mail gives each person one mail that says all of it:
// several commands, or a command and files, are answered together. flush
// queues them.
func (d *delivery) post(tx *store.Tx, s *state, kind string, to *store.Participant, byName string, l *letter, atts []mail.OutgoingAttachment) error {
	for _, pm := range d.pending {
		if pm.s.c.ID != s.c.ID || pm.to.ID != to.ID {
			continue
		}
		if kindRank[kind] > kindRank[pm.kind] {
			// The new mail leads: it is the stronger kind, and what was
			// held joins it.
			l.absorb(pm.l)
			pm.kind, pm.byName, pm.l, pm.to = kind, byName, l, to
		} else {
			pm.l.absorb(l)
		}
		for _, a := range atts {
			if !slices.Contains(pm.atts, a) {
				pm.atts = append(pm.atts, a)
			}
		}
		return nil
	}
	d.pending = append(d.pending, &pendingMail{s: s, kind: kind, to: to, byName: byName, l: l, atts: atts})
	return nil
}

// flush queues the mail post held back, in the order first posted.
func (d *delivery) flush(tx *store.Tx) error {
	for _, pm := range d.pending {
		if err := d.outbox.post(tx, pm.s, pm.kind, pm.to, pm.byName, pm.l, pm.atts); err != nil {
			return err
		}
	}
	d.pending = nil
	return nil
}

// absorb adds what o says to l, for one mail that says both: o's gist
// becomes a paragraph of l, and its note, documents, sections and history
// join l's where l has none of the same.
func (l *letter) absorb(o *letter) {
	for _, p := range append([]string{o.Preheader}, o.Paras...) {
		if p != "" && p != l.Preheader && !slices.Contains(l.Paras, p) {
			l.Paras = append(l.Paras, p)
		}
	}
	if l.Note == "" {
		l.NoteBy, l.Note = o.NoteBy, o.Note
	}
	for _, c := range o.Changes {
		// A document is listed once, as the leading mail has it (the
		// handoff's "v1 → v2" over the status's "v2").
		if !slices.ContainsFunc(l.Changes, func(x change) bool { return x.Document == c.Document }) {
			l.Changes = append(l.Changes, c)
		}
	}
	for _, sec := range o.Sections {
		if !slices.ContainsFunc(l.Sections, func(x section) bool { return x.Title == sec.Title }) {
			l.Sections = append(l.Sections, sec)
		}
	}
	if len(l.Digest) == 0 {
		l.Digest = o.Digest
	}
	if l.MessageID == "" {
		l.MessageID = o.MessageID
	}
}
