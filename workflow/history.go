package workflow

import (
	"fmt"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

const timeLayout = "2006-01-02 15:04 UTC"

// historyDigest lists the ended turns: turn, party, who, when, files and the
// first line of the note (DESIGN §2.3).
func historyDigest(tx *store.Tx, s *state) ([]digestRow, error) {
	turns, err := tx.Turns(s.c.ID)
	if err != nil {
		return nil, fmt.Errorf("load turns: %w", err)
	}
	rows := make([]digestRow, 0, len(turns))
	for _, t := range turns {
		var files []string
		for _, v := range t.Versions {
			name := v.Doc
			if doc := s.doc(v.Doc); doc != nil {
				name = doc.Name
			}
			files = append(files, fmt.Sprintf("%s v%d", name, v.Number))
		}
		rows = append(rows, digestRow{
			Turn: t.Number, Party: s.c.Parties[t.Party].Name, Who: s.who(t.EndedBy),
			When: t.Ended.UTC().Format(timeLayout), Files: strings.Join(files, ", "), Note: firstLine(t.Note),
		})
	}
	return rows, nil
}

// firstLine is the first non-empty line of s, shortened for a digest.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if r := []rune(line); len(r) > 100 {
			line = string(r[:99]) + "…"
		}
		return line
	}
	return ""
}

// statusLetter answers /status: whose turn it is, the documents, the
// people, the history. Ghosts of the other party are not shown (DESIGN §1).
func statusLetter(s *state, to *store.Participant, drafts []*store.Draft, digest []digestRow) *letter {
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
	if len(drafts) > 0 {
		sec := section{Title: "Drafts of " + c.Parties[to.Party].Name}
		for _, dr := range drafts {
			sec.Lines = append(sec.Lines, fmt.Sprintf("%s from %s (%s)", dr.Filename, s.who(dr.Author), humanSize(dr.Blob.Size)))
		}
		l.Sections = append(l.Sections, sec)
	}
	for i, party := range c.Parties {
		sec := section{Title: "Party " + party.Name}
		for _, p := range s.party(i) {
			if p.Role == store.RoleGhost && p.Party != to.Party {
				continue
			}
			sec.Lines = append(sec.Lines, fmt.Sprintf("%s <%s>, %s", displayName(p), p.Address, p.Role))
		}
		l.Sections = append(l.Sections, sec)
	}
	l.Digest = digest
	return l
}

func tooManyLetter() *letter {
	return &letter{
		Preheader: "Your mail carried more attachments than the gateway takes in one mail; nothing was stored.",
		Paras:     []string{"Send the files over several mails, or zip them together. Sending the same mail again will not help."},
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

// leftOutLetter tells the sender what of their mail was not passed on.
func leftOutLetter(lines []string) *letter {
	return &letter{
		Preheader: "Some of what you sent was not passed on.",
		Paras:     []string{"The rest of your mail was taken in as usual."},
		Sections:  []section{{Title: "Not passed on", Lines: lines}},
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

func helpSections() []section {
	return []section{{Title: "Commands (one per line, at the top of a reply)", Lines: []string{
		"/done: end your party's turn (leaders); drafts travel with it",
		"/skip: hand the turn over without documents (leaders)",
		"/status: where things stand",
		"/deadline YYYY-MM-DD: when it is due, the end of that day in your time zone; /deadline none removes it (leaders)",
		"/timezone Europe/Paris: your time zone, for summaries and deadlines",
		"/summary on, /summary off: your weekly summary of all your collaborations",
		"/help: this list",
		"/wrapup: end the collaboration and send everyone the final versions (owner)",
		"/reopen: reopen a wrapped-up collaboration (owner)",
	}}}
}

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
		changes = append(changes, change{Document: doc.Name, From: v.Number, To: v.Number, ToSize: v.Blob.Size, Attached: name, Remark: "final"})
		atts = append(atts, mail.OutgoingAttachment{Filename: name, ContentType: v.ContentType, Blob: v.Blob})
	}
	for _, p := range s.people {
		if err := d.post(tx, s, kindBinder, p, displayName(by), &letter{
			Preheader: fmt.Sprintf("“%s” is wrapped up: the final versions and the full history.", c.Subject),
			Paras:     []string{fmt.Sprintf("%s wrapped up the collaboration after %d turn(s).", displayName(by), len(digest))},
			Changes:   changes, Digest: digest,
		}, atts); err != nil {
			return err
		}
	}
	return nil
}
