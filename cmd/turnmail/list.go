package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/turnmail/turnmail/workflow"
)

const listUsage = `list [--json]

Lists the collaborations, oldest first: id, state, the current turn and the
party holding it, subject.`

type (
	collabSummary = workflow.CollabSummary
	turnHeld      = workflow.TurnHeld
)

func runList(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, listUsage, args, 0); err != nil {
		return err
	}
	list, err := view(a, workflow.ListCollabs)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(a.stdout, list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTURN\tHOLDER PARTY\tSUBJECT")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.ID, c.State, c.Turn.Number, oneLine(c.Turn.Party), oneLine(c.Subject))
	}
	return tw.Flush()
}
