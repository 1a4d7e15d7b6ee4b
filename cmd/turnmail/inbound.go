package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/turnmail/turnmail/store"
)

const inboundUsage = `inbound [--json] [--outcome OUTCOME]

Lists the received mail the gateway accepted and what became of each: the
audit records. Records with outcome unprocessable keep the raw message and can
be run again with: turnmail reprocess ID.`

// outcomes are the values --outcome accepts.
var outcomes = store.Outcomes

// inboundRecords returns the audit records, oldest first, only those with
// the given outcome unless it is "".
func inboundRecords(tx *store.Tx, outcome string) ([]*store.Inbound, error) {
	list := []*store.Inbound{}
	err := tx.Inbounds(func(in *store.Inbound) error {
		if outcome == "" || in.Outcome == outcome {
			list = append(list, in)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list inbound: %w", err)
	}
	return list, nil
}

func runInbound(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("inbound", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	outcome := fs.String("outcome", "", "list only records with `OUTCOME`: "+strings.Join(outcomes, ", "))
	if err := a.parse(fs, inboundUsage, args, 0); err != nil {
		return err
	}
	if *outcome != "" && !slices.Contains(outcomes, *outcome) {
		return badUsage(fs, inboundUsage, fmt.Sprintf("unknown outcome %q", *outcome))
	}
	list, err := view(a, func(tx *store.Tx) ([]*store.Inbound, error) { return inboundRecords(tx, *outcome) })
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(a.stdout, list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tOUTCOME\tCOLLAB\tFROM\tSUBJECT\tDETAIL")
	for _, in := range list {
		collab := in.Collab
		if collab == "" {
			collab = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, formatTime(in.Time), in.Outcome, collab, oneLine(in.From), oneLine(in.Subject), oneLine(in.Detail))
	}
	return tw.Flush()
}
