package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/turnmail/turnmail/store"
)

const listUsage = `list [--json]

Lists the collaborations, oldest first: id, state, the current turn and the
party holding it, subject.`

// collabSummary is one collaboration in the output of list. Its JSON field
// names are a contract.
type collabSummary struct {
	ID      string   `json:"id"`
	Subject string   `json:"subject"`
	State   string   `json:"state"`
	Turn    turnHeld `json:"turn"`
}

// turnHeld is a collaboration's current, open turn.
type turnHeld struct {
	Number int       `json:"number"`
	Party  string    `json:"party"` // party name
	Since  time.Time `json:"since,omitzero"`
}

// listCollabs summarises every collaboration.
func listCollabs(tx *store.Tx) ([]collabSummary, error) {
	cs, err := tx.Collabs()
	if err != nil {
		return nil, err
	}
	list := make([]collabSummary, len(cs))
	for i, c := range cs {
		list[i] = collabSummary{
			ID:      c.ID,
			Subject: c.Subject,
			State:   c.State,
			Turn:    turnHeld{Number: c.Turn, Party: partyName(c, c.TurnParty)},
		}
	}
	return list, nil
}

// partyName returns the name of party i of c.
func partyName(c *store.Collab, i int) string {
	if i < 0 || i >= len(c.Parties) {
		return fmt.Sprintf("party %d", i)
	}
	return c.Parties[i].Name
}

func runList(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, listUsage, args, 0); err != nil {
		return err
	}
	list, err := view(a, listCollabs)
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
