package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // people's time zones, on hosts without a zoneinfo database

	"github.com/turnmail/turnmail/store"
)

// tickBatch is how many people's mail one write transaction queues: small
// enough to keep a transaction's dirty pages in a few MB, large enough that
// fsyncs do not dominate a tick over many thousand people.
const tickBatch = 250

// tickScan is how many entries of the due index, or people, one read
// transaction of a tick looks at: a tick holds one batch at a time, so its memory is the
// same for ten people or a million, and no read transaction stays open long
// enough to keep bbolt from reusing many pages.
const tickScan = 2000

// TickReport says what a tick queued.
type TickReport struct {
	Summaries int // weekly summaries
	Reminders int // reminders to turn holders
	Warnings  int // owners told that a wrapped-up collaboration is purged in a week
	Purged    int // wrapped-up collaborations deleted
}

// Tick runs every scheduled job as if the clock said now: the weekly
// summaries whose slot has come (DESIGN §2.8), the reminders whose trigger
// has passed (§2.9) and, with a retention period, the owners' warnings a week
// before a wrapped-up collaboration is purged and the purges that are due
// (§2.7). Each mail is queued in the same transaction as the marker that
// makes it go out once, so ticks may run any number of times, concurrently,
// after restarts or downtime: a missed week is sent once, at the next tick.
//
// A tick walks the entries of the store's due index that are due, then the
// people in address order (the store's members index), a bounded batch per
// read transaction: it plans a batch, queues what is due in it, and goes on
// after the batch's last entry or person. Nothing it holds grows with the
// store, and a collaboration with nothing due costs the tick nothing. The
// walk over the people runs once a quarter hour (walkGate).
func (e *Engine) Tick(ctx context.Context, now time.Time) (TickReport, error) {
	now = now.UTC()
	var rep TickReport
	failed, err := e.tickDue(ctx, now, &rep)
	if gen, due := e.walk.due(now); err == nil && due {
		if err = e.tickPeople(ctx, now, &rep); err == nil {
			e.walk.walked(now, gen)
		}
	}
	if rep.Summaries+rep.Reminders+rep.Warnings > 0 {
		e.log.Info("scheduled mail queued", "now", now, "summaries", rep.Summaries, "reminders", rep.Reminders, "purge_warnings", rep.Warnings)
	}
	if err != nil {
		return rep, err
	}
	e.pruneMarks(now)
	return rep, errors.Join(failed...)
}

// tickDue plans and queues the reminders and purge warnings due, and
// purges the collaborations due, from the store's due index (due.go), in
// batches of tickScan entries. A purge that fails does not keep the others
// from theirs: its error is among the failed returned, and the next tick
// tries it again.
func (e *Engine) tickDue(ctx context.Context, now time.Time, rep *TickReport) (failed []error, err error) {
	mapped := e.newMappedBound()
	for cur := (dueCursor{}); ; {
		if err := ctx.Err(); err != nil {
			return failed, err
		}
		p := &tickPlan{e: e, now: now, mapped: mapped}
		var more bool
		err := e.st.View(func(tx *store.Tx) error {
			var err error
			cur, more, err = p.planDue(tx, cur)
			return err
		})
		if err != nil {
			return failed, fmt.Errorf("plan reminders and purges: %w", err)
		}
		if err := p.run(ctx, rep); err != nil {
			return failed, err
		}
		// Each purge is a transaction of its own: a collaboration is
		// deleted whole or not at all, and a tick never holds the store
		// for many.
		for _, cid := range p.purge {
			if err := ctx.Err(); err != nil {
				return failed, err
			}
			purged, err := e.purge(cid, now)
			if err != nil {
				failed = append(failed, err) // the store's error names the collaboration
				continue
			}
			if purged {
				rep.Purged++
			}
		}
		if !more {
			mapped.release(e.st.ReleaseMapped)
			return failed, nil
		}
		mapped.done(e.st.ReleaseMapped) // the plan's reads
	}
}

// walkGate lets a tick skip the walk over everyone's weekly summaries
// when one already went through in the same quarter hour of the clock and
// no one's settings changed since. A summary slot is a time of day in a
// person's time zone, and every zone's offset from UTC is whole quarter
// hours: slots come at the start of a quarter hour, and a walk in each finds
// them all. The walk reads every person's marker, some 0.3 s of CPU for
// 10,000 people: once a quarter hour, not once a minute. A change of
// settings (summaries on, a time zone) can make a summary due at once, and
// opens the gate; what else could (a collaboration started for someone whose
// others are all wrapped up, with skip_empty) waits for the next quarter.
type walkGate struct {
	mu      sync.Mutex
	quarter time.Time // of the last walk that went through
	gen     uint64    // counts the changes of settings
}

// due reports whether a tick at now walks, and the generation its walk,
// if it goes through, closes the gate for.
func (g *walkGate) due(now time.Time) (gen uint64, due bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen, !g.quarter.Equal(now.Truncate(15 * time.Minute))
}

// walked closes the gate for now's quarter hour, unless settings changed
// while the walk read the store.
func (g *walkGate) walked(now time.Time, gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gen == gen {
		g.quarter = now.Truncate(15 * time.Minute)
	}
}

// changed opens the gate: someone's settings changed.
func (g *walkGate) changed() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	g.quarter = time.Time{}
}

// tickPeople plans and queues the weekly summaries of everyone, in batches
// of tickScan people or tickBatch summaries, whichever comes first.
func (e *Engine) tickPeople(ctx context.Context, now time.Time, rep *TickReport) error {
	zones := map[string]*time.Location{} // LoadLocation reads the zoneinfo file at every call
	mapped := e.newMappedBound()
	for after := ""; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := &tickPlan{e: e, now: now, zones: zones, mapped: mapped}
		var more bool
		err := e.st.View(func(tx *store.Tx) error {
			var err error
			after, more, err = p.planPeople(tx, after)
			return err
		})
		if err != nil {
			return fmt.Errorf("plan summaries: %w", err)
		}
		if err := p.run(ctx, rep); err != nil {
			return err
		}
		if !more {
			mapped.release(e.st.ReleaseMapped)
			return nil
		}
		mapped.done(e.st.ReleaseMapped) // the plan's reads
	}
}

// run queues what p found to do, tickBatch jobs per write transaction. A
// plan with nothing to do writes nothing.
func (p *tickPlan) run(ctx context.Context, rep *TickReport) error {
	jobs := p.jobs()
	for len(jobs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := jobs[:min(tickBatch, len(jobs))]
		jobs = jobs[len(batch):]
		var r TickReport
		err := p.e.st.Update(func(tx *store.Tx) error {
			r = TickReport{}
			o := &outbox{e: p.e, now: p.now}
			for _, job := range batch {
				sent, err := job(tx, o)
				if err != nil {
					return err
				}
				p.mapped.done(tx.ReleaseMapped)
				switch sent {
				case "":
				case kindSummary:
					r.Summaries++
				case kindPurge:
					r.Warnings++
				default:
					r.Reminders++
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("queue scheduled mail: %w", err)
		}
		rep.Summaries += r.Summaries
		rep.Reminders += r.Reminders
		rep.Warnings += r.Warnings
	}
	return nil
}

// markHorizon is how long markers that only matter for a while are kept:
// notices (once a day), empty-reply answers (once a day) and summaries (one
// within a week of another). Reminder markers stay: they keep a trigger that
// still holds from firing again.
const markHorizon = 30 * 24 * time.Hour

var prunedMarks = []string{"notice\x00", "empty\x00", "summary\x00", "prune\x00", "pending\x00", "colleague\x00"}

// pruneMarks drops old markers once a day, so the marks bucket does not grow
// with every week of every person. It is housekeeping: a failure is logged
// and tried again at the next tick.
func (e *Engine) pruneMarks(now time.Time) {
	key := pruneKey(now)
	var done bool
	if err := e.st.View(func(tx *store.Tx) error { done = tx.Marked(key); return nil }); err != nil || done {
		return
	}
	n := 0
	err := e.st.Update(func(tx *store.Tx) error {
		n = 0
		if first, err := tx.MarkOnce(key, now); err != nil || !first {
			return err
		}
		for _, prefix := range prunedMarks {
			k, err := tx.PruneMarks(prefix, now.Add(-markHorizon))
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		e.log.Warn("prune markers", "err", err)
	} else if n > 0 {
		e.log.Info("pruned old markers", "count", n)
	}
}

// pruneKey is the marker of the day of now's pruning of old markers.
func pruneKey(now time.Time) string {
	return "prune\x00" + now.Format("2006-01-02")
}

// tickPlan is what a tick found to do in one batch of collaborations or
// people, read in one view of the store.
type tickPlan struct {
	e      *Engine
	now    time.Time
	zones  map[string]*time.Location // by name, for the whole tick
	people []*personPlan             // due for a summary
	due    []store.Due               // entries of the due index to settle: reminders, warnings, entries to drop
	purge  []string                  // wrapped-up collaborations to purge
	mapped *mappedBound              // the walk's, for the whole walk
}

// personPlan is one person whose weekly summary slot has come.
type personPlan struct {
	address string
	slot    time.Time // the slot, in the person's time zone
}

// reminder is one trigger that has passed for a collaboration.
type reminder struct {
	cid, why, key string
}

// planPeople reads, from the members index, the people after the address
// after whose summary is due and not yet sent, until it has looked at
// tickScan people or found tickBatch. It returns the last address it read,
// and whether there may be more.
func (p *tickPlan) planPeople(tx *store.Tx, after string) (last string, more bool, err error) {
	last, seen := after, 0
	err = tx.EachMember(after, func(addr string, ms []store.Membership) (bool, error) {
		last, seen = addr, seen+1
		slot, due, err := p.summaryDue(tx, addr, ms)
		if err != nil {
			return false, err
		}
		if due {
			p.people = append(p.people, &personPlan{address: addr, slot: slot})
		}
		more = seen == tickScan || len(p.people) == tickBatch
		return !more, nil
	})
	return last, more, err
}

// summaryDue says whether address, in the collaborations ms, is due a
// summary, and for which slot: their slot has come, they joined before it,
// have not had one within a week, have not turned summaries off and, with
// skip_empty, are in an active collaboration. The cheap checks come first:
// most ticks of a week find everyone's summary sent.
func (p *tickPlan) summaryDue(tx *store.Tx, address string, ms []store.Membership) (time.Time, bool, error) {
	person, err := tx.Person(address)
	if errors.Is(err, store.ErrNotFound) {
		person = &store.Person{Address: address}
	} else if err != nil {
		return time.Time{}, false, err
	}
	if person.SummaryOff {
		return time.Time{}, false, nil
	}
	loc, ok := p.zones[person.TimeZone]
	if !ok {
		loc = p.e.location(person)
		p.zones[person.TimeZone] = loc
	}
	slot := lastSlot(p.now, loc, p.e.cfg.Summary.Weekday, p.e.cfg.Summary.Hour)
	// Someone who joined after this week's slot first hears at the next
	// one: a fresh install does not greet everyone with a summary.
	since := ms[0].Added
	for _, m := range ms[1:] {
		if m.Added.Before(since) {
			since = m.Added
		}
	}
	if !since.Before(slot) || summarySent(tx, address, slot) {
		return time.Time{}, false, nil
	}
	if p.e.cfg.Summary.SkipEmpty {
		active, err := anyActive(tx, ms)
		if err != nil || !active {
			return time.Time{}, false, err
		}
	}
	return slot, true, nil
}

// anyActive reports whether one of the collaborations of ms is active.
func anyActive(tx *store.Tx, ms []store.Membership) (bool, error) {
	for _, m := range ms {
		c, err := activeCollab(tx, m.Collab)
		if err != nil || c != nil {
			return c != nil, err
		}
	}
	return false, nil
}

// activeCollab returns collaboration cid if it is active, and nil if it is
// not, or is gone: a membership of a collaboration purged is none.
func activeCollab(tx *store.Tx, cid string) (*store.Collab, error) {
	c, err := tx.Collab(cid)
	if errors.Is(err, store.ErrNotFound) || err == nil && c.State != store.StateActive {
		return nil, nil
	}
	return c, err
}

// jobs turns the plan into queueing steps, each returning the kind of mail
// it queued, or "" when a marker showed another tick had done it.
func (p *tickPlan) jobs() []func(*store.Tx, *outbox) (string, error) {
	var jobs []func(*store.Tx, *outbox) (string, error)
	for _, d := range p.due {
		jobs = append(jobs, func(tx *store.Tx, o *outbox) (string, error) { return p.settle(tx, o, d) })
	}
	for _, pp := range p.people {
		jobs = append(jobs, func(tx *store.Tx, o *outbox) (string, error) { return p.sendSummary(tx, o, pp) })
	}
	return jobs
}

// location is the time zone a person's weekly slot and deadlines are read in.
func (e *Engine) location(p *store.Person) *time.Location {
	if p != nil && p.TimeZone != "" {
		if loc, err := time.LoadLocation(p.TimeZone); err == nil {
			return loc
		}
	}
	return e.cfg.Summary.Location
}

// lastSlot is the latest weekly slot (weekday wd at hour:00 in loc) at or
// before now. Wall-clock arithmetic in loc keeps the slot at 08:00 local
// across daylight saving changes.
func lastSlot(now time.Time, loc *time.Location, wd time.Weekday, hour int) time.Time {
	l := now.In(loc)
	back := (int(l.Weekday()) - int(wd) + 7) % 7
	slot := slotOn(l.Year(), l.Month(), l.Day()-back, hour, loc)
	if slot.After(now) {
		slot = slotOn(l.Year(), l.Month(), l.Day()-back-7, hour, loc)
	}
	return slot
}

// slotOn is hour:00 on the given day in loc. When a daylight-saving gap
// skips that hour, time.Date may land before the gap (02:00 on New York's
// spring-forward Sunday gives 01:00 EST; midnight in Santiago gives 23:00
// the day before): the slot is then the end of the gap, the zone boundary
// next to it, so a summary never goes before its hour or on the wrong day.
func slotOn(year int, month time.Month, day, hour int, loc *time.Location) time.Time {
	t := time.Date(year, month, day, hour, 0, 0, 0, loc)
	if t.Hour() == hour {
		return t
	}
	start, end := t.ZoneBounds()
	if end.IsZero() || t.Sub(start) <= end.Sub(t) {
		return start
	}
	return end
}

// reminders lists the triggers that have passed for c (DESIGN §2.9): its
// turn held longer than HeldFor, its deadline near, its deadline passed.
// Each key names the turn and when it began (a reopened turn begins again)
// or the deadline's instant, so a new turn or a new deadline brings new
// reminders.
func (e *Engine) reminders(c *store.Collab, now time.Time) []reminder {
	var out []reminder
	if held := e.cfg.Reminders.HeldFor; held > 0 && now.Sub(c.TurnSince) >= held {
		out = append(out, reminder{c.ID, remindHeld, fmt.Sprintf("remind\x00held\x00%s\x00%d\x00%d", c.ID, c.Turn, c.TurnSince.Unix())})
	}
	if !c.Deadline.IsZero() {
		switch before := e.cfg.Reminders.BeforeDeadline; {
		case !now.Before(c.Deadline):
			out = append(out, reminder{c.ID, remindOverdue, fmt.Sprintf("remind\x00overdue\x00%s\x00%d", c.ID, c.Deadline.Unix())})
		case before > 0 && !now.Before(c.Deadline.Add(-before)):
			out = append(out, reminder{c.ID, remindDeadline, fmt.Sprintf("remind\x00deadline\x00%s\x00%d", c.ID, c.Deadline.Unix())})
		}
	}
	return out
}

// sendReminder queues a reminder to the turn holders who act on it (leaders
// and contributors of the party holding the turn).
func (p *tickPlan) sendReminder(tx *store.Tx, o *outbox, r reminder) (string, error) {
	s, err := loadState(tx, r.cid)
	if err != nil {
		return "", err
	}
	c := s.c
	// The plan may be seconds old: the turn handed over, the deadline
	// changed, the collaboration wrapped up. Only a trigger that still holds
	// is sent.
	if c.State != store.StateActive || !slices.ContainsFunc(p.e.reminders(c, p.now), func(x reminder) bool { return x.key == r.key }) {
		return "", nil
	}
	first, err := tx.MarkOnce(r.key, p.now)
	if err != nil || !first {
		return "", err
	}
	sent := false
	for _, pt := range s.party(c.TurnParty) {
		if pt.Role != store.RoleLeader && pt.Role != store.RoleContributor {
			continue
		}
		if err := o.post(tx, s, kindReminder, pt, "", reminderLetter(c, pt, r.why), nil); err != nil {
			return "", err
		}
		sent = true
	}
	if !sent {
		return "", nil
	}
	return kindReminder, nil
}

// SetSummary turns a person's weekly summaries on or off: the one-click
// unsubscribe of RFC 8058 lands here.
func (e *Engine) SetSummary(address string, on bool) error {
	err := e.st.Update(func(tx *store.Tx) error {
		p, err := tx.Person(address)
		if errors.Is(err, store.ErrNotFound) {
			p = &store.Person{Address: address}
		} else if err != nil {
			return err
		}
		p.SummaryOff = !on
		return tx.PutPerson(p)
	})
	if err != nil {
		return fmt.Errorf("set summary of %s: %w", address, err)
	}
	e.walk.changed()
	e.log.Info("weekly summary setting", "address", address, "on", on)
	return nil
}
