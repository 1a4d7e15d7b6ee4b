package workflow_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// dueIndex lists the store's due index as "kind time cid", kind by kind.
func (r *rig) dueIndex() []string {
	r.t.Helper()
	var out []string
	err := r.st.View(func(tx *store.Tx) error {
		for _, kind := range []store.DueKind{store.DueHeld, store.DueBefore, store.DueOverdue, store.DueWrapped, store.DuePurge} {
			ds, err := tx.DueUntil(kind, store.Due{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
			if err != nil {
				return err
			}
			for _, d := range ds {
				out = append(out, dueEntry(d.Kind, d.At, d.Collab))
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func dueEntry(kind store.DueKind, at time.Time, cid string) string {
	return fmt.Sprintf("%c %s %s", kind, at.UTC().Format(time.RFC3339Nano), cid)
}

func (r *rig) checkDue(step string, want ...string) {
	r.t.Helper()
	if got := r.dueIndex(); !slices.Equal(got, want) {
		r.t.Errorf("%s: due index\n got %q\nwant %q", step, got, want)
	}
}

// TestDueIndexFollowsMail: the due index, as mail and ticks change a
// collaboration: its turn's entry moves with each handoff and goes once
// its reminder is sent; the deadline's two come, move and go with
// /deadline; a wrap-up leaves only its own, which becomes the purge's when
// the owner is warned; /reopen brings the turn back and takes the purge's
// away; the purge leaves nothing.
func TestDueIndexFollowsMail(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, retention: ninetyDays,
		reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour, BeforeDeadline: 24 * time.Hour}})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	held := func() string { c = r.collab(); return dueEntry(store.DueHeld, c.TurnSince, c.ID) }
	r.checkDue("started", held())

	r.reply(bob, tags[bob], "/done")
	r.checkDue("handed over", held())

	r.reply(alice, tags[alice], "/deadline 2026-11-20")
	dl := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	r.checkDue("deadline set", held(), dueEntry(store.DueBefore, dl, c.ID), dueEntry(store.DueOverdue, dl, c.ID))
	r.reply(alice, tags[alice], "/deadline 2026-11-25")
	dl = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	r.checkDue("deadline moved", held(), dueEntry(store.DueBefore, dl, c.ID), dueEntry(store.DueOverdue, dl, c.ID))

	if rep := r.tickAt(c.TurnSince.Add(72 * time.Hour)); rep.Reminders != 1 {
		t.Fatalf("tick at 72 hours: %+v, want the held reminder", rep)
	}
	r.newMail()
	r.checkDue("reminded", dueEntry(store.DueBefore, dl, c.ID), dueEntry(store.DueOverdue, dl, c.ID))
	r.reply(alice, tags[alice], "/status") // writes the collaboration, changes nothing the index follows
	r.checkDue("a status later", dueEntry(store.DueBefore, dl, c.ID), dueEntry(store.DueOverdue, dl, c.ID))

	r.reply(alice, tags[alice], "/deadline none")
	r.checkDue("deadline cleared")

	r.reply(alice, tags[alice], "/wrapup\nDone.")
	c = r.collab()
	r.checkDue("wrapped up", dueEntry(store.DueWrapped, c.Wrapped, c.ID))
	warnAt := c.Wrapped.Add(83 * day)
	if rep := r.tickAt(warnAt); rep.Warnings != 1 {
		t.Fatalf("tick a week before the purge: %+v, want the warning", rep)
	}
	r.newMail()
	r.checkDue("warned", dueEntry(store.DuePurge, warnAt, c.ID))

	r.reply(alice, tags[alice], "/reopen")
	r.checkDue("reopened", held())

	r.reply(alice, tags[alice], "/wrapup\nDone again.")
	c = r.collab()
	r.checkDue("wrapped up again", dueEntry(store.DueWrapped, c.Wrapped, c.ID))
	if rep := r.tickAt(c.Wrapped.Add(83 * day)); rep.Warnings != 1 {
		t.Fatalf("tick a week before the second purge date: %+v, want the warning", rep)
	}
	if rep := r.tickAt(c.Wrapped.Add(90 * day)); rep.Purged != 1 {
		t.Fatalf("tick at 90 days: %+v, want the purge", rep)
	}
	r.checkDue("purged")
}

// TestTickAfterUpgrade: a store written before the due index (schema 3)
// gets it at Open, and its first tick sends the reminders due that were
// not sent, and not those that were: their markers drop their entries.
func TestTickAfterUpgrade(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour}})
	c := r.start(fileData(1, 1000)) // alice, carol | bob, dave: turn 2 with AXE
	r.newMail()
	side, tags := r.startCollab("Side letter", erin) // alice | erin: turn 2 with ELSE
	if rep := r.tickAt(monday(1)); rep.Reminders != 2 {
		t.Fatalf("tick at monday(1): %+v, want both held reminders", rep)
	}
	r.reply(erin, tags[erin], "/done") // turn 3 of the side letter, with ACME
	r.newMail()
	side = r.collabByID(side.ID)
	r.checkDue("before the downgrade", dueEntry(store.DueHeld, side.TurnSince, side.ID))

	// What a gateway before the due index left: schema 3, no due bucket.
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(r.path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("due")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 3})
	})
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(r.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st, r.eng = st, workflow.New(st, r.tag, r.cfg, nil)
	r.checkDue("upgraded", dueEntry(store.DueHeld, c.TurnSince, c.ID), dueEntry(store.DueHeld, side.TurnSince, side.ID))

	if rep := r.tickAt(side.TurnSince.Add(72 * time.Hour)); rep.Reminders != 1 {
		t.Errorf("first tick after the upgrade: %+v, want the side letter's turn 3 reminder alone", rep)
	}
	mails := r.newMail()
	if len(mails) != 1 || mails[0].kind != "reminder" || mails[0].out.Msg.To.Addr != alice || mails[0].out.Collab != side.ID {
		t.Errorf("first tick after the upgrade queued %s, want one reminder to %s about %s", describe(mails), alice, side.ID)
	}
	r.checkDue("after the first tick")
}

// collabByID returns collaboration cid.
func (r *rig) collabByID(cid string) *store.Collab {
	r.t.Helper()
	var c *store.Collab
	if err := r.st.View(func(tx *store.Tx) (err error) { c, err = tx.Collab(cid); return err }); err != nil {
		r.t.Fatal(err)
	}
	return c
}
