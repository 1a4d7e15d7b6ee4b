package workflow

import (
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

// ReminderKeys are the markers of the reminders whose triggers have passed
// for c at now.
func (e *Engine) ReminderKeys(c *store.Collab, now time.Time) []string {
	var keys []string
	for _, r := range e.reminders(c, now) {
		keys = append(keys, r.key)
	}
	return keys
}
