package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

const showUsage = `show [--json] ID

Shows one collaboration: its parties and participants, documents and their
versions, pending drafts and the turns so far.`

// The read model lives in workflow; these are the names the command and
// its tests use for it.
type (
	collabDetail      = workflow.CollabView
	partyDetail       = workflow.PartyView
	participantDetail = workflow.ParticipantView
	docDetail         = workflow.DocumentView
	versionDetail     = workflow.VersionView
	draftDetail       = workflow.DraftView
	turnDetail        = workflow.TurnView
	versionRef        = workflow.VersionRef
)

// showCollab loads collaboration id.
func showCollab(tx *store.Tx, id string) (*collabDetail, error) { return workflow.LoadView(tx, id) }

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
	for _, pp := range d.Pending {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", "(no party yet)", oneLine(pp.Address), oneLine(pp.Name), pp.Role)
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
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, oneLine(t.Party), oneLine(t.EndedBy), formatTime(t.Ended), t.How, versionList(t), oneLine(note))
	}
	return tw.Flush()
}

// versionList names t's versions for one table cell: "-" when none.
func versionList(t turnDetail) string {
	if len(t.Versions) == 0 {
		return "-"
	}
	return oneLine(t.Files())
}
