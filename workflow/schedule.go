package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // people's time zones, on hosts without a zoneinfo database

	"github.com/turnmail/turnmail/store"
)

// tickBatch is how many people's mail one write transaction queues: small
// enough to keep a transaction's dirty pages in a few MB, large enough that
// fsyncs do not dominate a tick over many thousand people.
const tickBatch = 250

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
func (e *Engine) Tick(ctx context.Context, now time.Time) (TickReport, error) {
	now = now.UTC()
	var rep TickReport
	var plan *tickPlan
	err := e.st.View(func(tx *store.Tx) error {
		var err error
		plan, err = e.plan(tx, now)
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("plan tick: %w", err)
	}
	jobs := plan.jobs()
	for len(jobs) > 0 {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		batch := jobs[:min(tickBatch, len(jobs))]
		jobs = jobs[len(batch):]
		var r TickReport
		err := e.st.Update(func(tx *store.Tx) error {
			r = TickReport{}
			o := &outbox{e: e, now: now}
			for _, job := range batch {
				sent, err := job(tx, o)
				if err != nil {
					return err
				}
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
			return rep, fmt.Errorf("queue scheduled mail: %w", err)
		}
		rep.Summaries += r.Summaries
		rep.Reminders += r.Reminders
		rep.Warnings += r.Warnings
	}
	// Each purge is a transaction of its own: a collaboration is deleted
	// whole or not at all, and a tick never holds the store for many. One
	// that fails does not keep the others from theirs; the next tick tries
	// it again.
	var failed []error
	for _, cid := range plan.purge {
		if err := ctx.Err(); err != nil {
			return rep, err
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
	if rep.Summaries+rep.Reminders+rep.Warnings > 0 {
		e.log.Info("scheduled mail queued", "now", now, "summaries", rep.Summaries, "reminders", rep.Reminders, "purge_warnings", rep.Warnings)
	}
	e.pruneMarks(now)
	return rep, errors.Join(failed...)
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
	key := "prune\x00" + now.Format("2006-01-02")
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

// tickPlan is what a tick found to do, read in one view of the store.
type tickPlan struct {
	e       *Engine
	now     time.Time
	collabs map[string]*store.Collab // active ones
	people  []*personPlan            // due for a summary
	remind  []reminder
	warn    []string // wrapped-up collaborations whose owner is to be told of the purge
	purge   []string // wrapped-up collaborations to purge
}

// personPlan is one person whose weekly summary slot has come.
type personPlan struct {
	address string
	name    string
	slot    time.Time // the slot, in the person's time zone
	members []*store.Participant
	cids    []string // parallel to members
	// One membership of any state, for a way to answer a summary that
	// names no active collaboration (skip_empty false).
	anyCID, anyPID string
}

// reminder is one trigger that has passed for a collaboration.
type reminder struct {
	cid, why, key string
}

// plan reads what is due and not yet marked done, so that a tick with
// nothing to do needs no write transaction. Markers are checked again when
// the mail is queued: another tick may have come first.
func (e *Engine) plan(tx *store.Tx, now time.Time) (*tickPlan, error) {
	p := &tickPlan{e: e, now: now, collabs: map[string]*store.Collab{}}
	err := tx.EachCollab(func(c *store.Collab) error {
		switch warn, purge, err := e.retention(tx, c, now); {
		case err != nil:
			return err
		case warn:
			p.warn = append(p.warn, c.ID)
		case purge:
			p.purge = append(p.purge, c.ID)
		}
		if c.State == store.StateActive {
			p.collabs[c.ID] = c
			for _, r := range e.reminders(c, now) {
				if !tx.Marked(r.key) {
					p.remind = append(p.remind, r)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Everyone's memberships, by address.
	byAddr := map[string]*personPlan{}
	var order []string
	since := map[string]time.Time{} // when each person first joined anything
	err = tx.EachParticipant(func(cid string, pt *store.Participant) error {
		if !pt.Placed() {
			// Someone removed, or not yet in a party, hears nothing of it.
			return nil
		}
		pp := byAddr[pt.Address]
		if pp == nil {
			pp = &personPlan{address: pt.Address}
			byAddr[pt.Address] = pp
			order = append(order, pt.Address)
		}
		if t, ok := since[pt.Address]; !ok || pt.Added.Before(t) {
			since[pt.Address] = pt.Added
		}
		if pp.name == "" {
			pp.name = pt.Name
		}
		if pp.anyCID == "" {
			pp.anyCID, pp.anyPID = cid, pt.ID
		}
		if p.collabs[cid] != nil {
			// Only what a summary line reads: the plan holds everyone's
			// memberships, and a Thread alone is ten Message-IDs.
			pp.members = append(pp.members, &store.Participant{ID: pt.ID, Party: pt.Party, Role: pt.Role})
			pp.cids = append(pp.cids, cid)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(order)
	zones := map[string]*time.Location{} // LoadLocation reads the zoneinfo file at every call
	for _, addr := range order {
		pp := byAddr[addr]
		person, err := tx.Person(addr)
		if errors.Is(err, store.ErrNotFound) {
			person = &store.Person{Address: addr}
		} else if err != nil {
			return nil, err
		}
		if person.SummaryOff || (len(pp.members) == 0 && e.cfg.Summary.SkipEmpty) {
			continue
		}
		loc, ok := zones[person.TimeZone]
		if !ok {
			loc = e.location(person)
			zones[person.TimeZone] = loc
		}
		pp.slot = lastSlot(now, loc, e.cfg.Summary.Weekday, e.cfg.Summary.Hour)
		// Someone who joined after this week's slot first hears at the next
		// one: a fresh install does not greet everyone with a summary.
		if !since[addr].Before(pp.slot) || summarySent(tx, addr, pp.slot) {
			continue
		}
		p.people = append(p.people, pp)
	}
	return p, nil
}

// jobs turns the plan into queueing steps, each returning the kind of mail
// it queued, or "" when a marker showed another tick had done it.
func (p *tickPlan) jobs() []func(*store.Tx, *outbox) (string, error) {
	var jobs []func(*store.Tx, *outbox) (string, error)
	for _, r := range p.remind {
		jobs = append(jobs, func(tx *store.Tx, o *outbox) (string, error) { return p.sendReminder(tx, o, r) })
	}
	for _, pp := range p.people {
		jobs = append(jobs, func(tx *store.Tx, o *outbox) (string, error) { return p.sendSummary(tx, o, pp) })
	}
	for _, cid := range p.warn {
		jobs = append(jobs, func(tx *store.Tx, o *outbox) (string, error) { return p.sendPurgeWarning(tx, o, cid) })
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
	e.log.Info("weekly summary setting", "address", address, "on", on)
	return nil
}
