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
	id, err := inboundID(fs, reprocessUsage)
	if err != nil {
		return err
	}
	if err := a.engine.Reprocess(ctx, id); err != nil {
		return inboundError("reprocess", id, err)
	}
	return printInbound(a, id)
}

// inboundID reads the ID argument of a command about one inbound record.
func inboundID(fs *flag.FlagSet, usage string) (uint64, error) {
	id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
	if err != nil {
		return 0, badUsage(fs, usage, fmt.Sprintf("inbound ID %q is not a number", fs.Arg(0)))
	}
	return id, nil
}

// inboundError words the failure of action on inbound record id.
func inboundError(action string, id uint64, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no inbound record %d", id)
	}
	return fmt.Errorf("%s inbound %d: %w", action, id, err)
}

// printInbound prints the outcome of inbound record id: "inbound 7: turn".
func printInbound(a *app, id uint64) error {
	var in *store.Inbound
	err := a.st.View(func(tx *store.Tx) (err error) {
		in, err = tx.Inbound(id)
		return err
	})
	if err != nil {
		return inboundError("read", id, err)
	}
	fmt.Fprintf(a.stdout, "inbound %d: %s", id, in.Outcome)
	if in.Detail != "" {
		fmt.Fprintf(a.stdout, ": %s", oneLine(in.Detail))
	}
	fmt.Fprintln(a.stdout)
	return nil
}
