package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/turnmail/turnmail/store"
)

const showUsage = `show [--json] ID

Shows one collaboration: its parties and participants, documents and their
versions, pending drafts and the turns so far.`

// collabDetail is everything show tells about a collaboration, and what
// export writes out. People appear by address, parties and documents by
// name. Its JSON field names are a contract.
type collabDetail struct {
	ID        string        `json:"id"`
	Subject   string        `json:"subject"`
	State     string        `json:"state"`
	Created   time.Time     `json:"created"`
	Wrapped   time.Time     `json:"wrapped,omitzero"`
	Owner     string        `json:"owner"`
	Turn      turnHeld      `json:"turn"`
	Parties   []partyDetail `json:"parties"`
	Documents []docDetail   `json:"documents"`
	Drafts    []draftDetail `json:"drafts"`
	Turns     []turnDetail  `json:"turns"`
}

type partyDetail struct {
	Name         string              `json:"name"`
	Participants []participantDetail `json:"participants"`
}

type participantDetail struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	Role    string `json:"role"`
}

type docDetail struct {
	Name     string          `json:"name"`
	Versions []versionDetail `json:"versions"`
}

type versionDetail struct {
	Number   int       `json:"number"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Filename string    `json:"filename"` // as sent
	Turn     int       `json:"turn"`
	Author   string    `json:"author"`
	Time     time.Time `json:"time"`
}

type draftDetail struct {
	Party    string `json:"party"`
	Name     string `json:"name"` // document name
	Filename string `json:"filename"`
	Author   string `json:"author"`
	Size     int64  `json:"size"`
}

type turnDetail struct {
	Number   int          `json:"number"`
	Party    string       `json:"party"`
	EndedBy  string       `json:"ended_by"`
	Ended    time.Time    `json:"ended"`
	How      string       `json:"how"`
	Note     string       `json:"note"`
	Versions []versionRef `json:"versions"`
}

type versionRef struct {
	Document string `json:"document"`
	Number   int    `json:"number"`
}

// showCollab gathers everything about collaboration id.
func showCollab(tx *store.Tx, id string) (*collabDetail, error) {
	c, err := tx.Collab(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no collaboration %q", id)
	} else if err != nil {
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

	d := &collabDetail{
		ID:        c.ID,
		Subject:   c.Subject,
		State:     c.State,
		Created:   c.Created,
		Wrapped:   c.Wrapped,
		Owner:     address(c.Owner),
		Turn:      turnHeld{Number: c.Turn, Party: partyName(c, c.TurnParty), Since: c.TurnSince},
		Parties:   make([]partyDetail, len(c.Parties)),
		Documents: []docDetail{},
		Drafts:    []draftDetail{},
		Turns:     []turnDetail{},
	}
	for i, party := range c.Parties {
		d.Parties[i] = partyDetail{Name: party.Name, Participants: []participantDetail{}}
	}
	for _, p := range ps {
		if p.Party < 0 || p.Party >= len(d.Parties) {
			return nil, fmt.Errorf("participant %s of %s: no party %d", p.ID, id, p.Party)
		}
		d.Parties[p.Party].Participants = append(d.Parties[p.Party].Participants,
			participantDetail{Address: p.Address, Name: p.Name, Role: p.Role})
	}

	docs, err := tx.Documents(id)
	if err != nil {
		return nil, err
	}
	docNames := make(map[string]string, len(docs))
	for _, doc := range docs {
		docNames[doc.ID] = doc.Name
		vs, err := tx.Versions(id, doc.ID)
		if err != nil {
			return nil, err
		}
		dd := docDetail{Name: doc.Name, Versions: make([]versionDetail, len(vs))}
		for i, v := range vs {
			dd.Versions[i] = versionDetail{
				Number:   v.Number,
				SHA256:   v.Blob.Digest,
				Size:     v.Blob.Size,
				Filename: v.Filename,
				Turn:     v.Turn,
				Author:   address(v.Author),
				Time:     v.Time,
			}
		}
		d.Documents = append(d.Documents, dd)
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
			d.Drafts = append(d.Drafts, draftDetail{
				Party:    partyName(c, dr.Party),
				Name:     name,
				Filename: dr.Filename,
				Author:   address(dr.Author),
				Size:     dr.Blob.Size,
			})
		}
	}

	turns, err := tx.Turns(id)
	if err != nil {
		return nil, err
	}
	for _, t := range turns {
		td := turnDetail{
			Number:   t.Number,
			Party:    partyName(c, t.Party),
			EndedBy:  address(t.EndedBy),
			Ended:    t.Ended,
			How:      t.How,
			Note:     t.Note,
			Versions: make([]versionRef, len(t.Versions)),
		}
		for i, v := range t.Versions {
			td.Versions[i] = versionRef{Document: docNames[v.Doc], Number: v.Number}
		}
		d.Turns = append(d.Turns, td)
	}
	return d, nil
}

func runShow(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, showUsage, args, 1); err != nil {
		return err
	}
	d, err := viewCollab(a, collabID(fs.Arg(0)))
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(a.stdout, d)
	}
	return writeDetail(a.stdout, d)
}

// viewCollab runs showCollab in a read transaction of a's store.
func viewCollab(a *app, id string) (*collabDetail, error) {
	return view(a, func(tx *store.Tx) (*collabDetail, error) { return showCollab(tx, id) })
}

// writeDetail writes the human form of show.
func writeDetail(w io.Writer, d *collabDetail) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", d.ID, oneLine(d.Subject))
	fmt.Fprintf(tw, "state:\t%s\n", d.State)
	fmt.Fprintf(tw, "created:\t%s by %s\n", formatTime(d.Created), d.Owner)
	if d.State == store.StateWrapped {
		fmt.Fprintf(tw, "wrapped:\t%s\n", formatTime(d.Wrapped))
	} else {
		fmt.Fprintf(tw, "turn:\t%d, held by %s since %s\n", d.Turn.Number, oneLine(d.Turn.Party), formatTime(d.Turn.Since))
	}

	fmt.Fprintln(tw, "\nPARTY\tADDRESS\tNAME\tROLE")
	for _, p := range d.Parties {
		for _, pp := range p.Participants {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(p.Name), oneLine(pp.Address), oneLine(pp.Name), pp.Role)
		}
	}

	fmt.Fprintln(tw, "\nDOCUMENT\tVERSION\tSIZE\tTURN\tAUTHOR\tTIME\tFILENAME")
	for _, doc := range d.Documents {
		for _, v := range doc.Versions {
			fmt.Fprintf(tw, "%s\tv%d\t%d\t%d\t%s\t%s\t%s\n", oneLine(doc.Name), v.Number, v.Size, v.Turn, oneLine(v.Author), formatTime(v.Time), oneLine(v.Filename))
		}
	}

	if len(d.Drafts) > 0 {
		fmt.Fprintln(tw, "\nDRAFT OF\tPARTY\tSIZE\tAUTHOR\tFILENAME")
		for _, dr := range d.Drafts {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", oneLine(dr.Name), oneLine(dr.Party), dr.Size, oneLine(dr.Author), oneLine(dr.Filename))
		}
	}

	fmt.Fprintln(tw, "\nTURN\tPARTY\tENDED BY\tENDED\tHOW\tVERSIONS\tNOTE")
	for _, t := range d.Turns {
		note, _, _ := strings.Cut(t.Note, "\n")
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, oneLine(t.Party), oneLine(t.EndedBy), formatTime(t.Ended), t.How, versionList(t.Versions), oneLine(note))
	}
	return tw.Flush()
}

// versionList names versions as "contract.docx v2, annex.pdf v1".
func versionList(vs []versionRef) string {
	if len(vs) == 0 {
		return "-"
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = fmt.Sprintf("%s v%d", oneLine(v.Document), v.Number)
	}
	return strings.Join(names, ", ")
}
