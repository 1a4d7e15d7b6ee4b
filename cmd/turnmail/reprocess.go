package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/turnmail/turnmail/store"
)

const reprocessUsage = `reprocess ID

Runs the kept raw message of inbound record ID (see turnmail inbound
--outcome unprocessable) through the rules again, for instance after an
upgrade that fixed what made it fail, and prints its new outcome.`

func runReprocess(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("reprocess", flag.ContinueOnError)
	if err := a.parse(fs, reprocessUsage, args, 1); err != nil {
		return err
	}
	id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if err != nil {
		return badUsage(fs, reprocessUsage, fmt.Sprintf("inbound ID %q is not a number", fs.Arg(0)))
	}
	err = a.engine.Reprocess(ctx, id)
	var in *store.Inbound
	if err == nil {
		err = a.st.View(func(tx *store.Tx) error {
			in, err = tx.Inbound(id)
			return err
		})
	}
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no inbound record %d", id)
	} else if err != nil {
		return fmt.Errorf("reprocess inbound %d: %w", id, err)
	}
	fmt.Fprintf(a.stdout, "inbound %d: %s", id, in.Outcome)
	if in.Detail != "" {
		fmt.Fprintf(a.stdout, ": %s", oneLine(in.Detail))
	}
	fmt.Fprintln(a.stdout)
	return nil
}
