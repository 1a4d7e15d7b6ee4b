package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/turnmail/turnmail/store"
)

const queueUsage = `queue [--json]
       turnmail queue retry ID | --all
       turnmail queue drop ID

Lists the outbound mail that is waiting for its next attempt (queued) or
was given up on (failed), oldest first: id, state, attempts, the next
attempt, kind, recipient and the last error. Sent mail is not listed.

retry makes a queued or failed message due now (--all: every one); a failed
message keeps its count of attempts, so one that had used all 20 gets one
more. drop gives up on a queued or failed message: it is never sent, and its
record stays with state dropped. While serve runs, a retry is sent at once.`

// queueEntry is one message in turnmail queue's list. Its JSON names are a
// stable interface: add, never rename.
type queueEntry struct {
	ID       uint64 `json:"id"`
	To       string `json:"to"`
	Kind     string `json:"kind"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	// NextAttempt is when a queued message is tried next, null for a
	// failed one.
	NextAttempt *time.Time `json:"next_attempt"`
	LastError   string     `json:"last_error"`
	Collab      string     `json:"collab"`
	Subject     string     `json:"subject"`
	MessageID   string     `json:"message_id"`
}

// queueEntries returns the queued and failed messages, oldest first.
func queueEntries(tx *store.Tx) ([]queueEntry, error) {
	list := []queueEntry{}
	err := tx.Outbounds(func(o *store.Outbound) error {
		if o.State != store.OutboundQueued && o.State != store.OutboundFailed {
			return nil
		}
		e := queueEntry{
			ID: o.ID, To: o.Msg.To.Addr, Kind: o.Kind, State: o.State, Attempts: o.Attempts, LastError: o.LastError,
			Collab: o.Collab, Subject: o.Msg.Subject, MessageID: o.Msg.MessageID,
		}
		if o.State == store.OutboundQueued {
			next := o.NextTry.UTC()
			e.NextAttempt = &next
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list outbound: %w", err)
	}
	return list, nil
}

func runQueue(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON (the list)")
	all := fs.Bool("all", false, "retry every queued and failed message")
	configPath, err := parseFlags(fs, queueUsage, args, anyArgs)
	if err != nil {
		return err
	}
	// The command line is checked whole before the store is opened.
	sub := fs.Arg(0)
	var id uint64
	switch {
	case sub == "" && !*all:
	case sub == "retry" && *all && fs.NArg() == 1:
	case (sub == "retry" || sub == "drop") && !*all && fs.NArg() == 2:
		if id, err = strconv.ParseUint(fs.Arg(1), 10, 64); err != nil {
			return badUsage(fs, queueUsage, fmt.Sprintf("outbound ID %q is not a number", fs.Arg(1)))
		}
	case sub == "retry":
		return badUsage(fs, queueUsage, "retry takes one ID, or --all")
	case sub == "drop":
		return badUsage(fs, queueUsage, "drop takes one ID")
	default:
		return badUsage(fs, queueUsage, fmt.Sprintf("unknown queue command %q: want retry or drop", sub))
	}
	if *asJSON && sub != "" {
		return badUsage(fs, queueUsage, "--json is for the list")
	}
	if a.open != nil {
		if err := a.open(configPath); err != nil {
			return err
		}
	}

	now := time.Now()
	switch {
	case sub == "retry" && *all:
		n, err := a.st.RetryOutbounds(now)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%d messages due now\n", n)
		return nil
	case sub == "retry":
		o, err := a.st.RetryOutbound(id, now)
		if err != nil {
			return outboundError(id, err)
		}
		fmt.Fprintf(a.stdout, "outbound %d to %s: queued, due now\n", o.ID, oneLine(o.Msg.To.Addr))
		return nil
	case sub == "drop":
		o, err := a.st.DropOutbound(id, now)
		if err != nil {
			return outboundError(id, err)
		}
		fmt.Fprintf(a.stdout, "outbound %d to %s: dropped\n", o.ID, oneLine(o.Msg.To.Addr))
		return nil
	}

	list, err := view(a, queueEntries)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(a.stdout, list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tKIND\tTO\tLAST ERROR")
	for _, e := range list {
		next := "-"
		if e.NextAttempt != nil {
			next = formatTime(*e.NextAttempt)
		}
		lastErr := e.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.Attempts, next, e.Kind, oneLine(e.To), oneLine(lastErr))
	}
	return tw.Flush()
}

// outboundError says "no outbound message 9" for an unknown id.
func outboundError(id uint64, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no outbound message %d", id)
	}
	return err
}
