package workflow

import (
	"context"
	"errors"
	"time"

	"github.com/turnmail/turnmail/store"
)

// The keys of the scheduler's markers, for BenchmarkTickSummaries: it seeds
// a store with the markers that the ticks before it would have left, so
// that its tick does what a running gateway's does at a weekly slot, not
// what the first tick of a gateway does (remind every turn held for days).

// SummaryKey is the marker of address's summary for the week of slot.
func SummaryKey(address string, slot time.Time) string { return summaryKey(address, slot) }

// PruneKey is the marker of the day of now's pruning of old markers.
func PruneKey(now time.Time) string { return pruneKey(now) }

// Reminded leaves what the ticks up to now left of c's reminders: the
// markers of those whose triggers have passed, and c's entries in the due
// index without those, and without those that can no longer be sent.
func (e *Engine) Reminded(tx *store.Tx, c *store.Collab, now time.Time) error {
	for _, d := range []store.Due{{Kind: store.DueHeld, At: c.TurnSince, Collab: c.ID},
		{Kind: store.DueBefore, At: c.Deadline, Collab: c.ID}, {Kind: store.DueOverdue, At: c.Deadline, Collab: c.ID}} {
		if !tx.HasDue(d) {
			continue
		}
		step, r, _, err := e.judge(tx, d, now)
		if err == nil && step == dueRemind {
			_, err = tx.MarkOnce(r.key, now)
		}
		if err == nil && (step == dueRemind || step == dueDrop) {
			err = tx.DropDue(d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReminderKeys are the markers of the reminders whose triggers have passed
// for c at now.
func (e *Engine) ReminderKeys(c *store.Collab, now time.Time) []string {
	var keys []string
	for _, r := range e.reminders(c, now) {
		keys = append(keys, r.key)
	}
	return keys
}

// TickDue and TickSummaries are the two walks of Tick, for
// BenchmarkTickIdle: the reminders, purge warnings and purges due, and the
// weekly summaries.
func (e *Engine) TickDue(ctx context.Context, now time.Time) (TickReport, error) {
	var rep TickReport
	failed, err := e.tickDue(ctx, now.UTC(), &rep)
	if err == nil {
		err = errors.Join(failed...)
	}
	return rep, err
}

func (e *Engine) TickSummaries(ctx context.Context, now time.Time) (TickReport, error) {
	var rep TickReport
	err := e.tickPeople(ctx, now.UTC(), &rep)
	return rep, err
}

// ApplyTime is how long deliveries' apply has run inside write
// transactions so far, and how many times it ran.
func (e *Engine) ApplyTime() (time.Duration, int64) {
	return time.Duration(e.applyNanos.Load()), e.applyRuns.Load()
}

// AfterPrecompare has f called for each mail between the comparisons made
// before its write transaction and that transaction, with how many were
// made. Set it before any mail comes in.
func (e *Engine) AfterPrecompare(f func(n int)) { e.precompared = f }
