package main

import (
	"context"
	"flag"
)

const releaseUsage = `release ID

Applies held mail (see turnmail inbound --outcome held) as if its sender had
confirmed it: use it when you know the mail is genuine although nothing
vouched for its From. Prints its new outcome.`

const dropUsage = `drop ID

Gives up on held mail (see turnmail inbound --outcome held): it is never
applied, and its record stays with outcome dropped.`

func runRelease(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	if err := a.parse(fs, releaseUsage, args, 1); err != nil {
		return err
	}
	id, err := inboundID(fs, releaseUsage)
	if err != nil {
		return err
	}
	if _, err := a.engine.Release(ctx, id); err != nil {
		return inboundError("release", id, err)
	}
	return printInbound(a, id)
}

func runDrop(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("drop", flag.ContinueOnError)
	if err := a.parse(fs, dropUsage, args, 1); err != nil {
		return err
	}
	id, err := inboundID(fs, dropUsage)
	if err != nil {
		return err
	}
	if err := a.engine.Drop(id); err != nil {
		return inboundError("drop", id, err)
	}
	return printInbound(a, id)
}
