package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

const tickUsage = `tick [--now TIME]

Runs every scheduled job once, as if the clock said TIME (RFC 3339, e.g.
2026-11-30T08:00:00Z; default: now): the weekly summaries whose slot has
come, the reminders whose trigger has passed and, with [retention]
purge_after, the owners' warnings and the purges of wrapped-up
collaborations; each mail goes once however often tick runs. serve runs the
same every minute; tick is for cron and for tests. While serve runs, the
mail goes out through it.`

func runTick(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("tick", flag.ContinueOnError)
	nowFlag := fs.String("now", "", "run as if the clock said `TIME` (RFC 3339)")
	if err := a.parse(fs, tickUsage, args, 0); err != nil {
		return err
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return badUsage(fs, tickUsage, fmt.Sprintf("--now %q: want RFC 3339, e.g. 2026-11-30T08:00:00Z", *nowFlag))
		}
		now = t
	}
	rep, err := a.engine.Tick(ctx, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "queued %d weekly summaries and %d reminders\n", rep.Summaries, rep.Reminders)
	if rep.Warnings+rep.Purged > 0 {
		fmt.Fprintf(a.stdout, "warned %d owners of a purge in a week, purged %d wrapped-up collaborations\n", rep.Warnings, rep.Purged)
	}
	return nil
}
