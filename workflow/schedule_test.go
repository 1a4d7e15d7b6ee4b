package workflow_test

import (
	"context"
	"fmt"
	"html"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// weekly is the schedule most tests use: Mondays at 08:00, UTC unless a
// person set their own zone.
var weekly = workflow.SummaryConfig{Weekday: time.Monday, Hour: 8, Location: time.UTC, SkipEmpty: true}

const erin = "erin@else.test" // a party of her own, in a second collaboration

// monday is 08:00 UTC on the Monday n weeks after 2 November 2026.
func monday(n int) time.Time {
	return time.Date(2026, 11, 2+7*n, 8, 0, 0, 0, time.UTC)
}

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// tick runs the engine's Tick as if the clock said now.
func (r *rig) tick(now time.Time) workflow.TickReport {
	r.t.Helper()
	rep, err := r.eng.Tick(context.Background(), now)
	if err != nil {
		r.t.Fatalf("tick at %s: %v", now, err)
	}
	return rep
}

// restart closes the store and opens it again under a new Engine, as a new
// process would. The SMTP server keeps the old Engine: tests send no mail
// after a restart.
func (r *rig) restart() {
	r.t.Helper()
	if err := r.st.Close(); err != nil {
		r.t.Fatal(err)
	}
	st, err := store.Open(r.path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { st.Close() })
	r.st, r.eng = st, workflow.New(st, r.tag, r.cfg, nil)
}

var msgSeq atomic.Int64

// reply sends body from a participant to their tagged address and returns
// the mail it caused.
func (r *rig) reply(from, tag, body string) []*sent {
	r.t.Helper()
	r.mustSend(&testMail{from: from, to: []string{tag}, subject: "Re: x", body: body, msgid: fmt.Sprintf("sched-%d@test", msgSeq.Add(1))}, tag)
	return r.newMail()
}

// startCollab has Alice start a collaboration about subject with rcpt as
// the other party's leader, and returns it with everyone's tagged address.
func (r *rig) startCollab(subject, rcpt string, cc ...string) (*store.Collab, map[string]string) {
	r.t.Helper()
	n := msgSeq.Add(1)
	r.mustSend(&testMail{
		from: alice, fromName: "Alice Acme", to: []string{rcpt}, cc: append(cc, gw), subject: subject,
		// Not "start-%d": r.start's mail is start-1@acme.test (and state_test's
		// start-2), and msgSeq counts from 1 in a process that runs one test,
		// where the collaboration would be taken for a redelivery of that one.
		msgid: fmt.Sprintf("collab-%d@acme.test", n), body: "Here is our draft.",
		files: []testFile{{"contract.docx", fileData(uint64(n), 1000)}},
	}, gw)
	mails := r.newMail()
	if len(mails) == 0 {
		r.t.Fatalf("starting %q queued no mail", subject)
	}
	var c *store.Collab
	if err := r.st.View(func(tx *store.Tx) (err error) { c, err = tx.Collab(mails[0].out.Collab); return err }); err != nil {
		r.t.Fatal(err)
	}
	return c, tagsOf(r.t, mails)
}

// ofKind keeps the mails of one kind.
func ofKind(mails []*sent, kind string) []*sent {
	var out []*sent
	for _, m := range mails {
		if m.kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// summaries ticks at now and returns the weekly summaries queued, by
// recipient; it fails the test if anyone got two.
func (r *rig) summaries(now time.Time) map[string]*sent {
	r.t.Helper()
	r.tick(now)
	got := map[string]*sent{}
	for _, m := range ofKind(r.newMail(), "summary") {
		a := m.out.Msg.To.Addr
		if got[a] != nil {
			r.t.Fatalf("tick at %s: two summaries to %s", now, a)
		}
		got[a] = m
	}
	return got
}

func addrs[T any](m map[string]T) []string {
	var s []string
	for a := range m {
		s = append(s, a)
	}
	return sorted(s)
}

// tickStep is how far a driven clock moves from now: a quarter of an hour
// while it is the summary's weekday in any of the zones, so that slots at
// half hours (Asia/Kolkata) are hit exactly, an hour otherwise.
func tickStep(now time.Time, wd time.Weekday, zones map[string]*time.Location) time.Duration {
	for _, loc := range zones {
		if now.In(loc).Weekday() == wd {
			return 15 * time.Minute
		}
	}
	return time.Hour
}

// atHour reports whether at reads hour:00 on the clock of loc or, on a day
// when a daylight-saving gap skips that hour, is the end of the gap: the
// first moment that day's clock reads past hour:00.
func atHour(at time.Time, loc *time.Location, hour int) bool {
	l := at.In(loc)
	if l.Hour() == hour && l.Minute() == 0 && l.Second() == 0 {
		return true
	}
	before := at.Add(-time.Second).In(loc)
	start, _ := l.ZoneBounds()
	return start.Equal(at) && before.Day() == l.Day() && before.Hour() < hour && l.Hour() > hour
}

// checkWeekly checks one person's summaries over a driven period: on the
// weekday, at the hour, in their zone; one a week with none missed, from
// the first slot after they joined to the last one before until.
func checkWeekly(t *testing.T, addr string, got []time.Time, loc *time.Location, wd time.Weekday, hour int, joined, until time.Time) {
	t.Helper()
	if len(got) == 0 {
		t.Errorf("%s got no summary", addr)
		return
	}
	slices.SortFunc(got, time.Time.Compare)
	for i, at := range got {
		l := at.In(loc)
		if l.Weekday() != wd || !atHour(at, loc, hour) {
			t.Errorf("%s: summary at %s (%s in %s), want %s %02d:00", addr, at.UTC().Format(time.RFC3339), l.Format("Mon 15:04"), loc, wd, hour)
		}
		if i > 0 {
			p := got[i-1].In(loc)
			if next := time.Date(p.Year(), p.Month(), p.Day()+7, 0, 0, 0, 0, time.UTC); next.Format(time.DateOnly) != l.Format(time.DateOnly) {
				t.Errorf("%s: summaries on %s then %s, want one every week", addr, p.Format(time.DateOnly), l.Format(time.DateOnly))
			}
		}
	}
	first, last := got[0].In(loc), got[len(got)-1].In(loc)
	if prev := time.Date(first.Year(), first.Month(), first.Day()-7, hour, 0, 0, 0, loc); !prev.Before(joined) {
		t.Errorf("%s: first summary %s, but the slot of %s came after they joined at %s", addr, first, prev, joined)
	}
	if next := time.Date(last.Year(), last.Month(), last.Day()+7, hour, 0, 0, 0, loc); next.Before(until) {
		t.Errorf("%s: last summary %s, but the slot of %s came before the end at %s", addr, last, next, until)
	}
}

// TestWeeklySummaryYear drives Tick over more than a year for people in
// three time zones set by /timezone and one on the configured default:
// each gets one summary a week, at the configured weekday and hour on their
// own clock, across every daylight-saving change.
func TestWeeklySummaryYear(t *testing.T) {
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	sydney := zone(t, "Australia/Sydney") // the configured default: dave sets none
	zones := map[string]*time.Location{
		alice: zone(t, "Europe/Paris"), bob: zone(t, "America/New_York"), carol: zone(t, "Asia/Kolkata"), dave: sydney,
	}
	type slot struct {
		addr string
		at   string // UTC, worked out by hand
	}
	for _, tc := range []struct {
		name    string
		weekday time.Weekday
		hour    int
		want    []slot
	}{{
		name: "monday 08:00", weekday: time.Monday, hour: 8,
		want: []slot{
			// Paris: summer time ends on the last Sunday of October, starts on the last of March.
			{alice, "2026-10-19T06:00:00Z"}, {alice, "2026-10-26T07:00:00Z"},
			{alice, "2027-03-22T07:00:00Z"}, {alice, "2027-03-29T06:00:00Z"},
			{alice, "2027-10-25T06:00:00Z"}, {alice, "2027-11-01T07:00:00Z"},
			// New York: the first Sunday of November, the second of March.
			{bob, "2026-10-26T12:00:00Z"}, {bob, "2026-11-02T13:00:00Z"},
			{bob, "2027-03-08T13:00:00Z"}, {bob, "2027-03-15T12:00:00Z"},
			{bob, "2027-11-01T12:00:00Z"}, {bob, "2027-11-08T13:00:00Z"},
			// Kolkata: +05:30 all year, the slot on a half hour of UTC.
			{carol, "2026-10-26T02:30:00Z"}, {carol, "2027-03-29T02:30:00Z"},
			// Sydney: the first Sunday of October and of April, the day before in UTC.
			{dave, "2026-10-04T21:00:00Z"}, {dave, "2027-03-28T21:00:00Z"}, {dave, "2027-04-04T22:00:00Z"},
		},
	}, {
		// Sunday 02:00 is when Paris, New York and Sydney change their
		// clocks: in spring the hour does not exist and the summary goes at
		// the end of the gap, never before; in autumn it exists twice and
		// goes once.
		name: "sunday 02:00", weekday: time.Sunday, hour: 2,
		want: []slot{
			{alice, "2027-03-21T01:00:00Z"}, {alice, "2027-03-28T01:00:00Z"}, {alice, "2027-04-04T00:00:00Z"},
			{alice, "2026-11-01T01:00:00Z"},
			{bob, "2027-03-07T07:00:00Z"}, {bob, "2027-03-14T07:00:00Z"}, {bob, "2027-03-21T06:00:00Z"},
			{bob, "2026-11-01T07:00:00Z"}, {bob, "2026-11-08T07:00:00Z"},
			{carol, "2027-03-13T20:30:00Z"},
			{dave, "2026-10-03T16:00:00Z"}, {dave, "2026-10-10T15:00:00Z"},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			from := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
			until := time.Date(2027, 11, 16, 0, 0, 0, 0, time.UTC)
			r := newRig(t, rigOptions{clock: from, summary: workflow.SummaryConfig{Weekday: tc.weekday, Hour: tc.hour, Location: sydney, SkipEmpty: true}})
			c := r.start(fileData(1, 1000))
			tags := tagsOf(t, r.newMail())
			for _, who := range []string{alice, bob, carol} {
				name := zones[who].String()
				if m := to(t, r.reply(who, tags[who], "/timezone "+name), who); !strings.Contains(m.msg.Text, "Your time zone is now "+name) {
					t.Fatalf("/timezone %s answered %q", name, m.msg.Text)
				}
			}
			ticks := 0
			for now := from.Add(6 * time.Hour); now.Before(until); now = now.Add(tickStep(now, tc.weekday, zones)) {
				r.tick(now)
				ticks++
			}
			got := map[string][]time.Time{}
			for _, m := range r.newMail() {
				if m.kind != "summary" {
					t.Errorf("the ticks queued a %s to %s", m.kind, m.out.Msg.To.Addr)
					continue
				}
				if !strings.HasPrefix(m.msg.Subject, "Weekly summary") || !m.out.Msg.Date.Equal(m.out.Created) {
					t.Errorf("summary %q dated %s, queued %s", m.msg.Subject, m.out.Msg.Date, m.out.Created)
				}
				got[m.out.Msg.To.Addr] = append(got[m.out.Msg.To.Addr], m.out.Created)
			}
			t.Logf("%d ticks; summaries: alice %d, bob %d, carol %d, dave %d", ticks, len(got[alice]), len(got[bob]), len(got[carol]), len(got[dave]))
			for addr, loc := range zones {
				checkWeekly(t, addr, got[addr], loc, tc.weekday, tc.hour, c.Created, until)
			}
			for _, w := range tc.want {
				if at := utc(w.at); !slices.ContainsFunc(got[w.addr], at.Equal) {
					t.Errorf("%s got no summary at %s (%s)", w.addr, w.at, at.In(zones[w.addr]).Format("Mon 2 Jan 15:04 MST"))
				}
			}
		})
	}
}

// TestWeeklySummaryAcrossRestarts ticks with a new store and Engine before
// every tick, and ticks twice at the same instant across a restart: still
// one summary per person and week.
func TestWeeklySummaryAcrossRestarts(t *testing.T) {
	from := time.Date(2026, 10, 15, 9, 0, 0, 0, time.UTC)
	r := newRig(t, rigOptions{clock: from, summary: weekly})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	zones := map[string]*time.Location{alice: zone(t, "Europe/Paris"), bob: zone(t, "America/New_York"), carol: time.UTC, dave: time.UTC}
	r.reply(alice, tags[alice], "/timezone Europe/Paris")
	r.reply(bob, tags[bob], "/timezone America/New_York")

	// Three weeks and a day, over the end of summer time in Paris (25
	// October) and New York (1 November).
	until := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	for now := from.Add(6 * time.Hour); now.Before(until); now = now.Add(tickStep(now, time.Monday, zones)) {
		r.restart()
		r.tick(now)
		if now.Equal(time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)) { // bob's slot
			r.restart()
			if rep := r.tick(now); rep.Summaries != 0 {
				t.Errorf("the same tick after a restart queued %d summaries", rep.Summaries)
			}
		}
	}
	got := map[string][]time.Time{}
	for _, m := range ofKind(r.newMail(), "summary") {
		got[m.out.Msg.To.Addr] = append(got[m.out.Msg.To.Addr], m.out.Created)
	}
	for addr, loc := range zones {
		if len(got[addr]) != 4 {
			t.Errorf("%s got %d summaries over four Mondays: %v", addr, len(got[addr]), got[addr])
		}
		checkWeekly(t, addr, got[addr], loc, time.Monday, 8, c.Created, until)
	}
}

// TestTickRace runs Tick from several goroutines on two Engines over one
// store at the same instant: one summary per person, one reminder per
// trigger.
func TestTickRace(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour}})
	r.start(fileData(1, 1000))                                    // alice, carol | bob, dave: turn 2 with AXE
	r.startCollab("Side letter", erin)                            // alice | erin: turn 2 with ELSE
	r.startCollab("Annex", "Bob Axe <"+bob+">", "frank@axe.test") // alice | bob, frank
	r.newMail()
	engines := []*workflow.Engine{r.eng, workflow.New(r.st, r.tag, r.cfg, nil)}

	race := func(at time.Time) (summaries, reminders int) {
		const n = 8
		reps := make([]workflow.TickReport, n)
		errs := make([]error, n)
		ready := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-ready
				reps[i], errs[i] = engines[i%len(engines)].Tick(context.Background(), at)
			})
		}
		close(ready)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("tick %d: %v", i, errs[i])
			}
			summaries += reps[i].Summaries
			reminders += reps[i].Reminders
		}
		return summaries, reminders
	}

	at := monday(1) // a week after the start: every turn held past 72h
	s, rem := race(at)
	if s != 6 || rem != 3 {
		t.Errorf("racing ticks report %d summaries and %d reminders, want 6 (one per person) and 3 (one per collaboration)", s, rem)
	}
	count := map[string]int{}
	for _, m := range r.newMail() {
		count[m.kind+" "+m.out.Msg.To.Addr]++
	}
	want := map[string]int{
		"summary " + alice: 1, "summary " + bob: 1, "summary " + carol: 1, "summary " + dave: 1, "summary " + erin: 1, "summary frank@axe.test": 1,
		"reminder " + bob: 2, "reminder " + dave: 1, "reminder " + erin: 1, "reminder frank@axe.test": 1,
	}
	if !maps.Equal(count, want) {
		t.Errorf("mail queued by the racing ticks:\n got %v\nwant %v", count, want)
	}
	if s, rem := race(at.Add(time.Hour)); s+rem != 0 {
		t.Errorf("racing again an hour later queued %d summaries and %d reminders", s, rem)
	}
}

// TestSummaryAfterDowntime: three weeks without a tick, then one: one
// summary each, for the latest slot, not one per missed week.
func TestSummaryAfterDowntime(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly})
	r.start(fileData(1, 1000)) // Monday 2 November, after the slot
	r.newMail()
	if got := r.summaries(monday(1)); len(got) != 4 {
		t.Fatalf("first slot: summaries to %v", addrs(got))
	}
	back := monday(4).Add(3*time.Hour + 20*time.Minute)
	got := r.summaries(back)
	if len(got) != 4 {
		t.Fatalf("after three weeks down: summaries to %v, want one to each of the four", addrs(got))
	}
	for _, m := range got {
		if !m.out.Created.Equal(back) {
			t.Errorf("summary to %s queued at %s, want %s", m.out.Msg.To.Addr, m.out.Created, back)
		}
	}
	for _, at := range []time.Time{back.Add(time.Minute), back.Add(2 * time.Hour), monday(5).Add(-time.Minute)} {
		if got := r.summaries(at); len(got) != 0 {
			t.Errorf("tick at %s, after the caught-up week: summaries to %v", at, addrs(got))
		}
	}
	if got := r.summaries(monday(5)); len(got) != 4 {
		t.Errorf("the next slot: summaries to %v", addrs(got))
	}
}

// TestTickWritesOnlyWhenDue: a tick with nothing due needs no write
// transaction (the store refuses every write here), and a tick whose write
// fails queues and marks nothing: the next one sends.
func TestTickWritesOnlyWhenDue(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour}})
	r.start(fileData(1, 1000))
	r.newMail()
	if got := r.summaries(monday(1)); len(got) != 4 {
		t.Fatalf("summaries to %v", addrs(got))
	}
	r.fault.set(true)
	for _, at := range []time.Time{monday(1), monday(1).Add(time.Hour), monday(2).Add(-time.Minute)} {
		if _, err := r.eng.Tick(context.Background(), at); err != nil {
			t.Errorf("tick at %s, with nothing due: %v", at, err)
		}
	}
	if _, err := r.eng.Tick(context.Background(), monday(2)); err == nil {
		t.Error("a tick with summaries due succeeded while the store refused every write")
	}
	r.fault.set(false)
	if got := r.summaries(monday(2).Add(time.Minute)); len(got) != 4 {
		t.Errorf("after the failed tick: summaries to %v, want the four", addrs(got))
	}
}

// TestSummaryAfterJoining: a fresh collaboration's people hear nothing at a
// tick after this week's slot; someone who joins after the slot first hears
// at the next one.
func TestSummaryAfterJoining(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly})
	c := r.start(fileData(1, 1000)) // Monday 2 November 10:00, after the slot
	r.newMail()
	if got := r.summaries(c.Created.Add(time.Hour)); len(got) != 0 {
		t.Errorf("first tick after a start past the slot: summaries to %v", addrs(got))
	}
	if got := r.summaries(monday(1)); !slices.Equal(addrs(got), []string{alice, bob, carol, dave}) {
		t.Fatalf("next slot: summaries to %v", addrs(got))
	}
	r.setClock(monday(1).Add(time.Hour))
	side, _ := r.startCollab("Side letter", erin)
	if got := r.summaries(monday(1).Add(2 * time.Hour)); len(got) != 0 {
		t.Errorf("after erin joined past the slot: summaries to %v", addrs(got))
	}
	got := r.summaries(monday(2))
	if !slices.Equal(addrs(got), []string{alice, bob, carol, dave, erin}) {
		t.Fatalf("the slot after erin joined: summaries to %v", addrs(got))
	}
	if !strings.Contains(got[erin].msg.Text, "[tm:"+side.ID+"]") || !strings.Contains(got[alice].msg.Text, "[tm:"+side.ID+"]") || !strings.Contains(got[alice].msg.Text, "[tm:"+c.ID+"]") {
		t.Errorf("the summaries do not list the new collaboration:\n%s\n%s", got[erin].msg.Text, got[alice].msg.Text)
	}
}

// TestSummarySkipEmpty: a person whose only collaboration is wrapped up
// gets no summary with skip_empty, and one saying so without.
func TestSummarySkipEmpty(t *testing.T) {
	for _, skip := range []bool{true, false} {
		t.Run(fmt.Sprint("skip_empty=", skip), func(t *testing.T) {
			cfg := weekly
			cfg.SkipEmpty = skip
			r := newRig(t, rigOptions{summary: cfg})
			c := r.start(fileData(1, 1000))
			tags := tagsOf(t, r.newMail())
			r.reply(alice, tags[alice], "/wrapup")
			side, _ := r.startCollab("Side letter", erin)
			got := r.summaries(monday(1))
			if m := got[alice]; m == nil || !strings.Contains(m.msg.Text, "[tm:"+side.ID+"]") || strings.Contains(m.msg.Text, "[tm:"+c.ID+"]") {
				t.Errorf("alice's summary must list the side letter only: %v", m)
			}
			if got[erin] == nil {
				t.Error("erin got no summary")
			}
			for _, who := range []string{bob, carol, dave} {
				m := got[who]
				switch {
				case skip && m != nil:
					t.Errorf("%s, in no active collaboration, got %q", who, m.msg.Subject)
				case !skip && m == nil:
					t.Errorf("%s got no summary with skip_empty false", who)
				case !skip && (m.msg.Subject != "Weekly summary: 0 waiting on you, 0 active" || !strings.Contains(m.msg.Text, "You are in no active collaboration.")):
					t.Errorf("%s got %q:\n%s", who, m.msg.Subject, m.msg.Text)
				}
			}
			if skip {
				return
			}
			// With no active collaboration to name, the summary still
			// carries a way out: a tagged address of one that was.
			m := got[bob]
			unsub := strings.TrimSuffix(strings.TrimPrefix(m.out.Msg.ListUnsubscribe, "<mailto:"), "?subject=unsubscribe>")
			if unsub != tags[bob] || len(m.msg.ReplyTo) != 1 || m.msg.ReplyTo[0].Addr != tags[bob] {
				t.Fatalf("bob's summary: List-Unsubscribe %q, Reply-To %v, want his address in the wrapped collaboration %s", m.out.Msg.ListUnsubscribe, m.msg.ReplyTo, tags[bob])
			}
			r.setClock(monday(1).Add(time.Hour))
			r.mustSend(&testMail{from: bob, to: []string{unsub}, subject: "unsubscribe", msgid: "unsub@axe.test"}, unsub)
			r.newMail()
			if got := r.summaries(monday(2)); got[bob] != nil || got[carol] == nil {
				t.Errorf("after bob unsubscribed: summaries to %v", addrs(got))
			}
		})
	}
}

// TestSummaryOffAndUnsubscribe: /summary off stops a person's summaries and
// /summary on resumes them; a reply to the List-Unsubscribe mailto stops
// them too.
func TestSummaryOffAndUnsubscribe(t *testing.T) {
	oneClick := func(a string) string { return "https://gw.test/unsubscribe?a=" + url.QueryEscape(a) }
	r := newRig(t, rigOptions{summary: weekly, unsubscribeURL: oneClick})
	r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	got := r.summaries(monday(1))
	if len(got) != 4 {
		t.Fatalf("summaries to %v", addrs(got))
	}
	m := got[carol]
	mailto, web, ok := strings.Cut(m.out.Msg.ListUnsubscribe, ", ")
	if !ok || web != "<"+oneClick(carol)+">" || !strings.Contains(m.raw, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Errorf("List-Unsubscribe %q, want a mailto and the one-click URL with List-Unsubscribe-Post (RFC 8058)", m.out.Msg.ListUnsubscribe)
	}
	u, err := url.Parse(strings.Trim(mailto, "<>"))
	if err != nil || u.Scheme != "mailto" || u.Opaque != tags[carol] || u.Query().Get("subject") != "unsubscribe" {
		t.Fatalf("List-Unsubscribe mailto %q, want carol's tagged address %s with subject unsubscribe", mailto, tags[carol])
	}

	r.setClock(monday(1).Add(time.Hour))
	if m := to(t, r.reply(bob, tags[bob], "/summary off"), bob); !strings.Contains(m.msg.Text, "Weekly summaries are off") {
		t.Errorf("/summary off answered %q", m.msg.Text)
	}
	r.mustSend(&testMail{from: carol, to: []string{u.Opaque}, subject: u.Query().Get("subject"), msgid: "unsub@acme.test"}, u.Opaque)
	mails := r.newMail()
	if len(mails) != 1 || !strings.Contains(to(t, mails, carol).msg.Text, "Weekly summaries are off") {
		t.Errorf("the unsubscribe mail caused %s, want one answer to carol", describe(mails))
	}
	if got := r.summaries(monday(2)); !slices.Equal(addrs(got), []string{alice, dave}) {
		t.Errorf("after bob's /summary off and carol's unsubscribe: summaries to %v", addrs(got))
	}
	r.setClock(monday(2).Add(time.Hour))
	r.reply(bob, tags[bob], "/summary on")
	if got := r.summaries(monday(3)); !slices.Equal(addrs(got), []string{alice, bob, dave}) {
		t.Errorf("after bob's /summary on: summaries to %v", addrs(got))
	}
}

// TestSummaryContent: what waits on the person first, then overdue, then by
// nearest deadline; the week's turns with who and versions; a ghost sees
// the other party's turns without names or notes; every collaboration
// carries the person's own tagged address for it.
func TestSummaryContent(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, clock: time.Date(2026, 10, 27, 9, 0, 0, 0, time.UTC)})
	bobName := "Bob Axe <" + bob + ">"
	type collab struct {
		c    *store.Collab
		tags map[string]string
	}
	var alpha, bravo, charlie, delta, echo collab
	alpha.c, alpha.tags = r.startCollab("Alpha", bobName) // a week before the summary's week
	r.setClock(time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC))
	bravo.c, bravo.tags = r.startCollab("Bravo", bobName)
	r.mustSend(&testMail{from: bob, fromName: "Bob Axe", to: []string{bravo.tags[bob]}, subject: "Re: Bravo", msgid: "bravo-2@axe.test",
		body: "Clause 4 reworded.\nSee the redline.", files: []testFile{{"contract AXE.docx", fileData(99, 1200)}}}, bravo.tags[bob])
	r.newMail()
	for _, x := range []struct {
		c        *collab
		subject  string
		deadline string
	}{{&charlie, "Charlie", "2026-11-05"}, {&delta, "Delta", "2026-12-01"}, {&echo, "Echo", "2027-01-15"}} {
		x.c.c, x.c.tags = r.startCollab(x.subject, bobName)
		if m := to(t, r.reply(alice, x.c.tags[alice], "/deadline "+x.deadline), alice); !strings.Contains(m.msg.Text, "set the deadline to "+x.deadline) {
			t.Fatalf("/deadline %s answered %q", x.deadline, m.msg.Text)
		}
	}
	// A ghost of ACME in Bravo, written as /add would.
	const gina = "gina@acme.test"
	var ginaTag string
	err := r.st.Update(func(tx *store.Tx) error {
		c, err := tx.Collab(bravo.c.ID)
		if err != nil {
			return err
		}
		c.NextPID++
		pid := fmt.Sprintf("p%d", c.NextPID)
		ginaTag = r.tag.Address(c.ID, pid)
		if err := tx.PutParticipant(c.ID, &store.Participant{ID: pid, Address: gina, Name: "Gina Ghost", Party: 0, Role: store.RoleGhost, Added: c.Created}); err != nil {
			return err
		}
		return tx.PutCollab(c)
	})
	if err != nil {
		t.Fatal(err)
	}

	// Bob hands Alpha back after the slot: next week's news, not this one's.
	r.setClock(monday(1).Add(time.Hour))
	r.reply(bob, alpha.tags[bob], "/done\nLate note.")

	got := r.summaries(monday(1).Add(2 * time.Hour))
	order := func(who string, want ...collab) string {
		t.Helper()
		m := got[who]
		if m == nil {
			t.Fatalf("%s got no summary", who)
		}
		text := m.msg.Text
		var at []int
		for _, c := range want {
			title := fmt.Sprintf("%s [tm:%s]: turn", c.c.Subject, c.c.ID)
			i := strings.Index(text, title)
			if i < 0 {
				t.Fatalf("%s's summary lacks %q:\n%s", who, title, text)
			}
			at = append(at, i)
			if !strings.Contains(html.UnescapeString(m.msg.HTML), title) {
				t.Errorf("%s's summary has %q in its text but not its HTML", who, title)
			}
		}
		if !slices.IsSorted(at) {
			t.Errorf("%s's summary is not in the order %v:\n%s", who, want, text)
		}
		at = append(at, len(text))
		for i, c := range want {
			part := text[at[i]:at[i+1]]
			if !strings.Contains(part, "reply to "+c.tags[who]+" with /status") {
				t.Errorf("%s's lines about %s do not carry their tagged address %s:\n%s", who, c.c.Subject, c.tags[who], part)
			}
		}
		return text
	}

	// Alice: Bravo and Alpha wait on her, the one held longer first;
	// Charlie is overdue; then Delta and Echo by deadline.
	text := order(alice, bravo, alpha, charlie, delta, echo)
	if got[alice].msg.Subject != "Weekly summary: 2 waiting on you, 5 active" {
		t.Errorf("alice's subject %q", got[alice].msg.Subject)
	}
	if rt := got[alice].msg.ReplyTo; len(rt) != 1 || rt[0].Addr != bravo.tags[alice] {
		t.Errorf("alice's summary Reply-To %v, want her address in Bravo, which waits on her", rt)
	}
	for _, want := range []string{
		"Bravo [tm:" + bravo.c.ID + "]: turn 3, waiting on you (ACME) since 2026-11-03",
		"Bob Axe (AXE) ended turn 2: contract.docx v2 (“Clause 4 reworded.”)",
		"Alice Acme (ACME) ended turn 1: contract.docx v1 (“Here is our draft.”)",
		"Charlie [tm:" + charlie.c.ID + "]: turn 2, AXE since 2026-11-03, OVERDUE since 2026-11-05",
		"Delta [tm:" + delta.c.ID + "]: turn 2, AXE since 2026-11-03, due 2026-12-01",
		"Alpha [tm:" + alpha.c.ID + "]: turn 3, waiting on you (ACME) since 2026-11-09",
		"No turns ended this week.", // Alpha: turn 1 ended the week before, turn 2 after the slot
	} {
		if !strings.Contains(text, want) {
			t.Errorf("alice's summary lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "No turns ended this week.") != 1 || strings.Contains(text, "Late note") {
		t.Errorf("only Alpha had a quiet week:\n%s", text)
	}
	// Bob: the three with AXE wait on him, overdue first.
	order(bob, charlie, delta, echo, bravo, alpha)

	// Gina, a ghost of ACME: AXE's turn without who or what they wrote.
	text = order(gina, collab{bravo.c, map[string]string{gina: ginaTag}})
	if !strings.Contains(text, "AXE ended turn 2") || !strings.Contains(text, "Alice Acme (ACME) ended turn 1: contract.docx v1") {
		t.Errorf("gina's summary:\n%s", text)
	}
	for _, secret := range []string{"Bob", "Clause 4", "contract.docx v2"} {
		if strings.Contains(text, secret) || strings.Contains(got[gina].msg.HTML, secret) {
			t.Errorf("the ghost's summary shows the other party's %q:\n%s", secret, text)
		}
	}
}

// TestDeadlineCommand: a leader sets the deadline, the end of that day in
// their own zone; a contributor may not, nor a past day.
func TestDeadlineCommand(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly})
	r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	for _, x := range []struct{ who, body, want string }{
		{dave, "/deadline 2026-11-10", "only a leader can set the deadline"},
		{bob, "/deadline 2026-11-01", "that day is past"},
		{bob, "/deadline 10/11/2026", "YYYY-MM-DD"},
	} {
		if m := to(t, r.reply(x.who, tags[x.who], x.body), x.who); !strings.Contains(m.msg.Text, x.want) {
			t.Errorf("%s's %q answered %q", x.who, x.body, m.msg.Text)
		}
	}
	if c := r.collab(); !c.Deadline.IsZero() || c.DeadlineDate != "" {
		t.Fatalf("refused commands set the deadline %s %q", c.Deadline, c.DeadlineDate)
	}
	r.reply(bob, tags[bob], "/timezone America/New_York")
	mails := r.reply(bob, tags[bob], "/deadline 2026-11-10")
	if got := recipients(mails); len(got) != 4 {
		t.Errorf("the deadline was told to %v, want everyone", got)
	}
	c := r.collab()
	if want := time.Date(2026, 11, 11, 5, 0, 0, 0, time.UTC); !c.Deadline.Equal(want) || c.DeadlineDate != "2026-11-10" {
		t.Errorf("deadline %s %q, want the end of 10 November in New York, %s", c.Deadline, c.DeadlineDate, want)
	}
}

// reminders ticks every hour in [from, until) and returns the reminders
// queued, by recipient.
func (r *rig) reminders(from, until time.Time) map[string][]*sent {
	r.t.Helper()
	got := map[string][]*sent{}
	for now := from; now.Before(until); now = now.Add(time.Hour) {
		r.tick(now)
		for _, m := range ofKind(r.newMail(), "reminder") {
			got[m.out.Msg.To.Addr] = append(got[m.out.Msg.To.Addr], m)
		}
	}
	return got
}

// TestReminderHeldFor: the holders (leaders and contributors of the party
// with the turn) get one reminder per turn held past held_for, however often
// the clock ticks.
func TestReminderHeldFor(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour}})
	c := r.start(fileData(1, 1000)) // turn 2 with AXE
	tags := tagsOf(t, r.newMail())
	got := r.reminders(c.TurnSince, c.TurnSince.Add(5*24*time.Hour))
	if !slices.Equal(addrs(got), []string{bob, dave}) {
		t.Fatalf("reminders of turn 2 to %v, want AXE's leader and contributor", addrs(got))
	}
	for _, who := range []string{bob, dave} {
		if len(got[who]) != 1 {
			t.Fatalf("%s got %d reminders of turn 2", who, len(got[who]))
		}
		m := got[who][0]
		if !m.out.Created.Equal(c.TurnSince.Add(72*time.Hour)) || !strings.Contains(m.msg.Text, "Turn 2 of “Services contract” has been with AXE since") ||
			m.msg.ReplyTo[0].Addr != tags[who] {
			t.Errorf("reminder to %s at %s: %q", who, m.out.Created, m.msg.Text)
		}
	}

	r.setClock(c.TurnSince.Add(5 * 24 * time.Hour))
	r.reply(bob, tags[bob], "/done")
	c = r.collab()
	got = r.reminders(c.TurnSince, c.TurnSince.Add(6*24*time.Hour))
	if !slices.Equal(addrs(got), []string{alice, carol}) || len(got[alice]) != 1 || len(got[carol]) != 1 {
		t.Fatalf("reminders of turn 3 to %v, want one each to ACME's alice and carol", addrs(got))
	}
	if m := got[alice][0]; !m.out.Created.Equal(c.TurnSince.Add(72*time.Hour)) || !strings.Contains(m.msg.Text, "Turn 3 of") {
		t.Errorf("reminder of turn 3 at %s: %q", m.out.Created, m.msg.Text)
	}
}

// TestReminderDeadline: one reminder before the deadline, one when it has
// passed; from then on every mail about the collaboration says it is
// overdue.
func TestReminderDeadline(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{BeforeDeadline: 24 * time.Hour}})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	r.reply(bob, tags[bob], "/deadline 2026-11-10")
	if m := to(t, r.reply(alice, tags[alice], "/status"), alice); strings.Contains(m.msg.Text, "Overdue") {
		t.Fatalf("/status before the deadline says overdue:\n%s", m.msg.Text)
	}
	due := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	got := r.reminders(c.TurnSince, due.Add(3*24*time.Hour))
	if !slices.Equal(addrs(got), []string{bob, dave}) {
		t.Fatalf("deadline reminders to %v, want AXE's bob and dave", addrs(got))
	}
	for _, who := range []string{bob, dave} {
		if len(got[who]) != 2 {
			t.Fatalf("%s got %d deadline reminders, want one before and one after", who, len(got[who]))
		}
		before, after := got[who][0], got[who][1]
		if !before.out.Created.Equal(due.Add(-24*time.Hour)) || !strings.Contains(before.msg.Text, "Due 2026-11-10 23:59 UTC, in 1 day.") || strings.Contains(before.msg.Text, "Overdue") {
			t.Errorf("reminder to %s at %s before the deadline:\n%s", who, before.out.Created, before.msg.Text)
		}
		if !after.out.Created.Equal(due) || !strings.Contains(after.msg.Text, "Overdue: “Services contract” was due 2026-11-10 23:59 UTC, less than a day ago.") || strings.Count(after.msg.Text, "overdue")+strings.Count(after.msg.Text, "Overdue") != 1 {
			t.Errorf("reminder to %s at %s after the deadline:\n%s", who, after.out.Created, after.msg.Text)
		}
	}

	// Every mail about it now says so: answers, summaries, handoffs.
	r.setClock(due.Add(4 * 24 * time.Hour))
	overdue := "Overdue: “Services contract” was due 2026-11-10 23:59 UTC, "
	if m := to(t, r.reply(alice, tags[alice], "/status"), alice); !strings.Contains(m.msg.Text, overdue) || !strings.Contains(m.msg.HTML, "Overdue") {
		t.Errorf("/status after the deadline:\n%s", m.msg.Text)
	}
	for who, m := range r.summaries(monday(2)) {
		if !strings.Contains(m.msg.Text, "OVERDUE since 2026-11-10") || !strings.Contains(m.msg.Subject, "Weekly summary") {
			t.Errorf("%s's summary after the deadline:\n%s", who, m.msg.Text)
		}
	}
	r.setClock(monday(2).Add(time.Hour))
	for _, m := range r.reply(bob, tags[bob], "/done\nDone at last.") {
		if !strings.Contains(m.msg.Text, overdue) {
			t.Errorf("%s to %s after the deadline lacks %q:\n%s", m.kind, m.out.Msg.To.Addr, overdue, m.msg.Text)
		}
	}
}

// TestSummaryWeekdayChanged: the operator moves the summary from Monday to
// Friday midweek. Nobody gets a second summary that week; Friday's slot of
// the next week sends as usual.
func TestSummaryWeekdayChanged(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly})
	r.start(fileData(1, 1000))
	r.newMail()
	if got := r.summaries(monday(1)); len(got) != 4 {
		t.Fatalf("monday: summaries to %v", addrs(got))
	}
	friday := weekly
	friday.Weekday = time.Friday
	r.cfg.Summary = friday
	r.restart()
	for _, at := range []time.Time{monday(1).AddDate(0, 0, 2), monday(1).AddDate(0, 0, 4), monday(1).AddDate(0, 0, 6)} {
		if got := r.summaries(at); len(got) != 0 {
			t.Errorf("tick at %s, the week of the change: summaries to %v", at.Format("Mon 2 Jan 15:04"), addrs(got))
		}
	}
	if got := r.summaries(monday(2).AddDate(0, 0, 4)); len(got) != 4 {
		t.Errorf("the next friday: summaries to %v", addrs(got))
	}
}

// TestTickPrunesMarkers: markers that only matter for a while go after 30
// days, once a day; a reminder's marker stays, so a turn still held is not
// reminded again.
func TestTickPrunesMarkers(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour}})
	r.start(fileData(1, 1000))
	r.newMail()
	if rep := r.tick(monday(1)); rep.Summaries != 4 || rep.Reminders != 1 {
		t.Fatalf("first slot: %+v", rep)
	}
	r.newMail()
	key := "summary\x00" + alice + "\x00" + monday(1).Format("2006-01-02")
	marked := func() bool {
		var m bool
		r.st.View(func(tx *store.Tx) error { m = tx.Marked(key); return nil })
		return m
	}
	if !marked() {
		t.Fatal("no summary marker after the summary")
	}
	r.tick(monday(4))
	if !marked() {
		t.Error("a 21-day-old summary marker was pruned")
	}
	if rep := r.tick(monday(6)); rep.Reminders != 0 {
		t.Errorf("the held turn was reminded again after pruning: %+v", rep)
	}
	if marked() {
		t.Error("a 35-day-old summary marker is still there")
	}
}

// TestTickInBatches: more collaborations and people than one batch of a
// tick reads, written straight through the store: the walks go on after
// each batch's last collaboration and person, so everyone gets one summary
// naming each of their collaborations and every overdue collaboration one
// reminder; the next tick finds nothing left.
func TestTickInBatches(t *testing.T) {
	const people, collabs = 2100, 2100 // each batch reads 2,000
	r := newRig(t, rigOptions{summary: weekly})
	slot := monday(0)
	err := r.st.Update(func(tx *store.Tx) error {
		for j := range collabs {
			if err := putPairCollab(tx, j, people, slot); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	overdue := 0
	for j := range collabs {
		if j%50 == 7 {
			overdue++
		}
	}
	if rep := r.tick(slot); rep.Summaries != people || rep.Reminders != overdue {
		t.Errorf("tick: %+v, want %d summaries and %d reminders", rep, people, overdue)
	}
	got := map[string]int{}
	err = r.st.View(func(tx *store.Tx) error {
		return tx.Outbounds(func(o *store.Outbound) error {
			if o.Kind == "summary" {
				if !strings.HasSuffix(o.Msg.Subject, ", 2 active") {
					t.Errorf("summary to %s: %q, want two collaborations", o.Msg.To.Addr, o.Msg.Subject)
				}
				got[o.Msg.To.Addr]++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != people {
		t.Errorf("summaries to %d people, want %d", len(got), people)
	}
	for a, n := range got {
		if n != 1 {
			t.Errorf("%d summaries to %s", n, a)
		}
	}
	if rep := r.tick(slot.Add(time.Hour)); rep.Summaries+rep.Reminders != 0 {
		t.Errorf("the next tick: %+v, want nothing", rep)
	}
}

// putPairCollab writes collaboration j: persons 2j and 2j+1 (modulo
// people) as the leaders of its two parties, a document, two turns ended
// weeks ago and, for one in ten, two more in the week before slot.
func putPairCollab(tx *store.Tx, j, people int, slot time.Time) error {
	cid := fmt.Sprintf("c%06d", j)
	created := slot.AddDate(0, 0, -30).Add(time.Duration(j) * time.Second)
	week := j%10 == 0
	c := &store.Collab{
		ID: cid, Subject: fmt.Sprintf("Agreement %d", j), State: store.StateActive, Owner: "p1", Created: created,
		Turn: 3, TurnParty: 0, TurnSince: created.Add(2 * time.Hour),
		Parties: []store.Party{{Name: "ACME"}, {Name: "AXE"}}, NextPID: 2, NextDoc: 1, RootMsgID: cid + "@acme.test",
	}
	switch {
	case j%50 == 7:
		c.Deadline, c.DeadlineDate = slot.AddDate(0, 0, -2), slot.AddDate(0, 0, -3).Format(time.DateOnly)
	case j%10 == 3:
		d := slot.AddDate(0, 0, 1+j%30)
		c.Deadline, c.DeadlineDate = d, d.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	turns := []*store.Turn{
		{Number: 1, Party: 0, Started: created, Ended: created, EndedBy: "p1", How: "start", Note: "Our draft.", Versions: []store.VersionRef{{Doc: "d1", Number: 1}}},
		{Number: 2, Party: 1, Started: created, Ended: created.Add(2 * time.Hour), EndedBy: "p2", How: "files", Note: "Clause 4 reworded.", Versions: []store.VersionRef{{Doc: "d1", Number: 2}}},
	}
	if week {
		c.Turn, c.TurnSince = 5, slot.AddDate(0, 0, -1)
		turns = append(turns,
			&store.Turn{Number: 3, Party: 0, Started: turns[1].Ended, Ended: slot.AddDate(0, 0, -3), EndedBy: "p1", How: "files", Note: "Accepted, with clause 7 changed.", Versions: []store.VersionRef{{Doc: "d1", Number: 3}}},
			&store.Turn{Number: 4, Party: 1, Started: slot.AddDate(0, 0, -3), Ended: slot.AddDate(0, 0, -1), EndedBy: "p2", How: "done", Note: "Fine by us."})
	}
	if err := tx.PutCollab(c); err != nil {
		return err
	}
	for i, pid := range []string{"p1", "p2"} {
		n := (2*j + i) % people
		p := &store.Participant{ID: pid, Address: fmt.Sprintf("person%05d@%s.test", n, []string{"acme", "axe"}[i]), Name: fmt.Sprintf("Person %d", n),
			Party: i, Role: store.RoleLeader, Added: created}
		// As post leaves it once ten mails have gone to them.
		for k := range 10 {
			p.Thread = append(p.Thread, fmt.Sprintf("%s.%s.%d.d4c2f0a9b8e7@gw.test", cid, pid, k))
		}
		if err := tx.PutParticipant(cid, p); err != nil {
			return err
		}
	}
	if err := tx.PutDocument(cid, &store.Document{ID: "d1", Name: "contract.docx", Created: created}); err != nil {
		return err
	}
	for _, t := range turns {
		if err := tx.PutTurn(cid, t); err != nil {
			return err
		}
	}
	return nil
}

// TestSummaryQuarterHour: a tick walks everyone's summaries once a quarter
// hour, and again at once when someone's settings change. Carol turns her
// summaries back on after the slot and has hers at the next tick; frank,
// whose one collaboration is wrapped up, has his once a new one starts, at
// the next quarter hour (skip_empty).
func TestSummaryQuarterHour(t *testing.T) {
	const frank = "frank@axe.test"
	r := newRig(t, rigOptions{summary: weekly})
	r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	_, annex := r.startCollab("Annex", frank)
	r.reply(alice, annex[alice], "/wrapup")
	r.reply(carol, tags[carol], "/summary off")
	if got := r.summaries(monday(1)); !slices.Equal(addrs(got), []string{alice, bob, dave}) {
		t.Fatalf("the slot: summaries to %v", addrs(got))
	}

	r.setClock(monday(1).Add(5 * time.Minute))
	r.reply(carol, tags[carol], "/summary on")
	if got := r.summaries(monday(1).Add(6 * time.Minute)); !slices.Equal(addrs(got), []string{carol}) {
		t.Errorf("after carol's /summary on: summaries to %v", addrs(got))
	}
	r.setClock(monday(1).Add(7 * time.Minute))
	r.startCollab("Side letter", frank)
	if got := r.summaries(monday(1).Add(8 * time.Minute)); len(got) != 0 {
		t.Errorf("the same quarter hour: summaries to %v", addrs(got))
	}
	if got := r.summaries(monday(1).Add(15 * time.Minute)); !slices.Equal(addrs(got), []string{frank}) {
		t.Errorf("the next quarter hour: summaries to %v", addrs(got))
	}
}
