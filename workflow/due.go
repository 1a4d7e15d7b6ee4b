package workflow

import (
	"errors"
	"time"

	"github.com/turnmail/turnmail/store"
)

// The tick finds reminders, purge warnings and purges in the store's due
// index, which files each collaboration under the times their triggers
// follow (store.DueKind): it seeks, for each kind, from the start to the
// time whose entries are due by now under the configuration, and visits
// only those. An entry goes once the tick has done what it stands for, or
// found it outdated, in the transaction that queues the mail and sets its
// marker, so that the ticks of a minute with nothing due read a few pages
// and write nothing, however many collaborations there are.

// dueRange is one kind of entry of the due index and the latest time of
// its entries that is due at the tick's now.
type dueRange struct {
	kind  store.DueKind
	until time.Time
}

// dueRanges are the ranges of the due index a tick at now visits: none for
// reminders or purges the configuration turns off.
func (e *Engine) dueRanges(now time.Time) []dueRange {
	var rs []dueRange
	if held := e.cfg.Reminders.HeldFor; held > 0 {
		rs = append(rs, dueRange{store.DueHeld, now.Add(-held)})
	}
	// Without a reminder before the deadline, its entries are still
	// visited once the deadline has passed, to be dropped: they can never
	// be sent.
	rs = append(rs,
		dueRange{store.DueBefore, now.Add(max(e.cfg.Reminders.BeforeDeadline, 0))},
		dueRange{store.DueOverdue, now})
	if after := e.cfg.Retention.PurgeAfter; after > 0 {
		rs = append(rs,
			dueRange{store.DueWrapped, now.Add(-after + PurgeNotice)},
			dueRange{store.DuePurge, now.Add(-PurgeNotice)})
	}
	return rs
}

// dueCursor is where a tick's walk over the due index goes on: in the
// range at index rng of its dueRanges, after the entry after.
type dueCursor struct {
	rng   int
	after store.Due
}

// planDue reads, from cur on, up to tickScan entries of the ranges of the
// due index that are due at the plan's now, and keeps those that call for
// something, to be done in a write transaction (a reminder, a warning, an
// entry dropped) or, for purges, in one of their own. It returns where the
// walk goes on, and whether there may be more.
func (p *tickPlan) planDue(tx *store.Tx, cur dueCursor) (next dueCursor, more bool, err error) {
	ranges, seen := p.e.dueRanges(p.now), 0
	for ; cur.rng < len(ranges); cur.rng, cur.after = cur.rng+1, (store.Due{}) {
		r := ranges[cur.rng]
		ds, err := tx.DueUntil(r.kind, cur.after, r.until, tickScan-seen)
		if err != nil {
			return cur, false, err
		}
		for _, d := range ds {
			step, _, _, err := p.e.judge(tx, d, p.now)
			switch {
			case err != nil:
				return cur, false, err
			case step == duePurge:
				p.purge = append(p.purge, d.Collab)
			case step != dueKeep:
				p.due = append(p.due, d)
			}
			cur.after = d
		}
		if seen += len(ds); seen == tickScan {
			return cur, true, nil
		}
	}
	return cur, false, nil
}

// dueStep is what an entry of the due index calls for at a tick.
type dueStep int

const (
	dueKeep   dueStep = iota // nothing yet: the entry stays
	dueDrop                  // done before, or outdated: the entry goes
	dueRemind                // a reminder, then the entry goes
	dueWarn                  // the owner's warning, then the entry is the purge's, at now
	dueWarned                // warned before: the entry is the purge's, at that warning
	duePurge                 // the purge, which takes the entry with the collaboration
)

// judge says what entry d calls for at now, read in tx: for dueRemind the
// reminder, for dueWarned when the owner was warned. An entry whose
// collaboration no longer holds the time it was filed under is outdated:
// PutCollab filed the new one.
func (e *Engine) judge(tx *store.Tx, d store.Due, now time.Time) (step dueStep, r reminder, warned time.Time, err error) {
	c, err := tx.Collab(d.Collab)
	if errors.Is(err, store.ErrNotFound) {
		return dueDrop, r, warned, nil
	} else if err != nil {
		return dueKeep, r, warned, err
	}
	switch d.Kind {
	case store.DueHeld, store.DueBefore, store.DueOverdue:
		at, why := c.Deadline, remindOverdue
		switch d.Kind {
		case store.DueHeld:
			at, why = c.TurnSince, remindHeld
		case store.DueBefore:
			why = remindDeadline
		}
		if c.State != store.StateActive || !at.Equal(d.At) {
			return dueDrop, r, warned, nil
		}
		for _, x := range e.reminders(c, now) {
			if x.why != why {
				continue
			}
			if tx.Marked(x.key) {
				return dueDrop, r, warned, nil
			}
			return dueRemind, x, warned, nil
		}
		if d.Kind == store.DueBefore && !now.Before(c.Deadline) {
			// Past the deadline the overdue reminder is sent instead.
			return dueDrop, r, warned, nil
		}
		return dueKeep, r, warned, nil
	case store.DueWrapped, store.DuePurge:
		if c.State != store.StateWrapped || c.Wrapped.IsZero() || d.Kind == store.DueWrapped && !c.Wrapped.Equal(d.At) {
			return dueDrop, r, warned, nil
		}
		warn, purge, err := e.retention(tx, c, now)
		switch {
		case err != nil:
			return dueKeep, r, warned, err
		case warn:
			return dueWarn, r, warned, nil
		case purge:
			return duePurge, r, warned, nil
		case d.Kind == store.DueWrapped:
			if at, ok, err := tx.MarkedAt(purgeWarnKey(c)); err != nil || ok {
				return dueWarned, r, at, err
			}
		}
		// Not yet; for a purge, because PurgeAfter grew since the warning:
		// the entry is visited at every tick until it is due.
		return dueKeep, r, warned, nil
	}
	// A kind this code does not know, from a newer turnmail: not ours.
	return dueKeep, r, warned, nil
}

// settle does what entry d calls for, judged again in the transaction
// that does it (another tick may have come first, or the collaboration
// changed since the plan), and returns the kind of mail it queued, if any.
func (p *tickPlan) settle(tx *store.Tx, o *outbox, d store.Due) (string, error) {
	if !tx.HasDue(d) {
		return "", nil
	}
	step, r, warned, err := p.e.judge(tx, d, p.now)
	if err != nil {
		return "", err
	}
	var sent string
	switch step {
	case dueKeep, duePurge:
		return "", nil
	case dueRemind:
		sent, err = p.sendReminder(tx, o, r)
	case dueWarn:
		if sent, err = p.sendPurgeWarning(tx, o, d.Collab); err == nil {
			err = tx.PutPurgeDue(d.Collab, p.now)
		}
	case dueWarned:
		err = tx.PutPurgeDue(d.Collab, warned)
	}
	if err == nil {
		err = tx.DropDue(d)
	}
	return sent, err
}
