package workflow_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

const day = 24 * time.Hour

var ninetyDays = workflow.RetentionConfig{PurgeAfter: 90 * day}

// retained is a wrapped-up collaboration beside an active one that shares
// its first version's file.
type retained struct {
	c, other *store.Collab
	tags     map[string]string
	v1, v2   []byte
	wrapped  time.Time
}

func newRetained(t *testing.T, r *rig) *retained {
	t.Helper()
	x := &retained{v1: fileData(41, 40_000), v2: fileData(42, 40_000)}
	x.c = r.start(x.v1)
	x.tags = tagsOf(t, r.newMail())
	r.mustSend(&testMail{from: bob, to: []string{x.tags[bob]}, subject: "Re: x", msgid: "ret-bob@axe.test",
		body: "Our edit.", files: []testFile{{"contract.docx", x.v2}}}, x.tags[bob])
	// Erin gets the same template in a collaboration of her own.
	r.mustSend(&testMail{from: alice, to: []string{erin}, cc: []string{gw}, subject: "Side letter", msgid: "ret-side@acme.test",
		body: "The same template.", files: []testFile{{"template.docx", x.v1}}}, gw)
	r.mustSend(&testMail{from: alice, to: []string{x.tags[alice]}, subject: "Re: x", msgid: "ret-wrap@acme.test", body: "/wrapup\nDone, thanks."}, x.tags[alice])
	r.newMail()
	var cs []*store.Collab
	if err := r.st.View(func(tx *store.Tx) (err error) { cs, err = tx.Collabs(); return err }); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == x.c.ID {
			x.c, x.wrapped = c, c.Wrapped
		} else {
			x.other = c
		}
	}
	if x.wrapped.IsZero() || x.other == nil {
		t.Fatalf("collaborations %+v", cs)
	}
	return x
}

// tickAt moves the engine's clock to now and ticks there.
func (r *rig) tickAt(now time.Time) workflow.TickReport {
	r.t.Helper()
	r.setClock(now)
	return r.tick(now)
}

func (r *rig) hasBlob(b []byte) bool {
	r.t.Helper()
	ok, err := r.st.HasBlob(sha(b))
	if err != nil {
		r.t.Fatal(err)
	}
	return ok
}

// TestRetentionPurges: DESIGN §2.7. With purge_after 90 days the owner is
// told once, a week before, with the date and that /reopen keeps it; at 90
// days the collaboration is gone, with the files nobody else has, while a
// file another collaboration shares stays.
func TestRetentionPurges(t *testing.T) {
	r := newRig(t, rigOptions{retention: ninetyDays})
	x := newRetained(t, r)
	purgeAt := x.wrapped.Add(90 * day)

	if rep := r.tickAt(purgeAt.Add(-7*day - time.Hour)); rep.Warnings+rep.Purged != 0 || len(ofKind(r.newMail(), "purge")) != 0 {
		t.Fatalf("eight days before: %+v", rep)
	}
	rep := r.tickAt(purgeAt.Add(-7 * day))
	mails := ofKind(r.newMail(), "purge")
	if rep.Warnings != 1 || len(mails) != 1 {
		t.Fatalf("a week before: %+v, mails %s; want one warning to the owner", rep, describe(mails))
	}
	m := to(t, mails, alice)
	for _, want := range []string{"will be deleted from the gateway on " + purgeAt.UTC().Format("2006-01-02 15:04 UTC"), "/reopen"} {
		if !strings.Contains(m.msg.Text, want) || !strings.Contains(m.msg.HTML, want) {
			t.Errorf("the warning lacks %q:\n%s", want, m.msg.Text)
		}
	}
	if m.kind != "purge" || !strings.Contains(m.msg.Subject, "[tm:"+x.c.ID+"]") {
		t.Errorf("the warning is a %s, %q", m.kind, m.msg.Subject)
	}
	for _, at := range []time.Time{purgeAt.Add(-7*day + time.Hour), purgeAt.Add(-time.Minute)} {
		if rep := r.tickAt(at); rep.Warnings+rep.Purged != 0 || len(ofKind(r.newMail(), "purge")) != 0 {
			t.Errorf("tick at %s: %+v, want nothing more", at, rep)
		}
	}
	if !r.hasBlob(x.v2) {
		t.Fatal("v2 went before its time")
	}

	if rep := r.tickAt(purgeAt); rep.Purged != 1 {
		t.Fatalf("at 90 days: %+v, want the purge", rep)
	}
	err := r.st.View(func(tx *store.Tx) error { _, err := workflow.LoadView(tx, x.c.ID); return err })
	if !errors.Is(err, store.ErrNotFound) || err.Error() != `no collaboration "`+x.c.ID+`"` {
		t.Errorf("show after the purge: %v", err)
	}
	if r.hasBlob(x.v2) {
		t.Error("v2, which only the purged collaboration had, survived")
	}
	if !r.hasBlob(x.v1) || !bytes.Equal(r.blob(sha(x.v1)), x.v1) {
		t.Error("the template the side letter shares was purged with it")
	}
	if vs := r.versions(x.other.ID, "template.docx"); len(vs) != 1 {
		t.Errorf("the side letter has %d versions", len(vs))
	}
	for _, in := range r.inbound() {
		if in.Collab == x.c.ID {
			t.Errorf("inbound %d still leads to the purged collaboration", in.ID)
		}
	}
	err = r.st.View(func(tx *store.Tx) error {
		if _, _, err := tx.MsgID("ret-bob@axe.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Bob's Message-ID still leads somewhere: %v", err)
		}
		if ts, _ := tx.Turns(x.c.ID); len(ts) != 0 {
			t.Errorf("%d turns left", len(ts))
		}
		return tx.Outbounds(func(o *store.Outbound) error {
			if o.Collab == x.c.ID {
				t.Errorf("outbound %d (%s) of the purged collaboration is left", o.ID, o.Kind)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep := r.tickAt(purgeAt.Add(time.Hour)); rep.Warnings+rep.Purged != 0 {
		t.Errorf("the tick after: %+v", rep)
	}
}

// TestRetentionReopened: a collaboration reopened after the warning is not
// purged; wrapped up again, its time starts again, and its owner is warned
// again.
func TestRetentionReopened(t *testing.T) {
	r := newRig(t, rigOptions{retention: ninetyDays})
	x := newRetained(t, r)
	purgeAt := x.wrapped.Add(90 * day)
	if rep := r.tickAt(purgeAt.Add(-7 * day)); rep.Warnings != 1 {
		t.Fatalf("no warning: %+v", rep)
	}
	r.newMail()
	r.setClock(purgeAt.Add(-day))
	r.mustSend(&testMail{from: alice, to: []string{x.tags[alice]}, subject: "Re: x", msgid: "ret-reopen@acme.test", body: "/reopen"}, x.tags[alice])
	r.newMail()
	if rep := r.tickAt(purgeAt.Add(day)); rep.Purged != 0 || rep.Warnings != 0 {
		t.Fatalf("a reopened collaboration: %+v", rep)
	}
	if c := r.collab2(x.c.ID); c == nil || c.State != store.StateActive || !r.hasBlob(x.v2) {
		t.Fatalf("the reopened collaboration after its old date: %+v", c)
	}

	r.setClock(purgeAt.Add(2 * day))
	r.mustSend(&testMail{from: alice, to: []string{x.tags[alice]}, subject: "Re: x", msgid: "ret-wrap2@acme.test", body: "/wrapup"}, x.tags[alice])
	r.newMail()
	again := r.collab2(x.c.ID).Wrapped
	if rep := r.tickAt(again.Add(83 * day)); rep.Warnings != 1 || rep.Purged != 0 {
		t.Errorf("wrapped up again, a week before its new date: %+v", rep)
	}
	if rep := r.tickAt(again.Add(90 * day)); rep.Purged != 1 {
		t.Errorf("wrapped up again, at its new date: %+v", rep)
	}
}

// TestRetentionWeekOfNotice: retention turned on long after a wrap-up still
// gives the owner a week between the warning and the purge.
func TestRetentionWeekOfNotice(t *testing.T) {
	r := newRig(t, rigOptions{retention: ninetyDays})
	x := newRetained(t, r)
	late := x.wrapped.Add(200 * day)
	rep := r.tickAt(late)
	mails := ofKind(r.newMail(), "purge")
	if rep.Warnings != 1 || rep.Purged != 0 || len(mails) != 1 {
		t.Fatalf("first tick, 200 days on: %+v", rep)
	}
	if want := late.Add(7 * day).Format("2006-01-02 15:04 UTC"); !strings.Contains(mails[0].msg.Text, want) {
		t.Errorf("the warning does not say %s:\n%s", want, mails[0].msg.Text)
	}
	if rep := r.tickAt(late.Add(7*day - time.Minute)); rep.Purged != 0 {
		t.Errorf("purged before the week was out: %+v", rep)
	}
	if rep := r.tickAt(late.Add(7 * day)); rep.Purged != 1 {
		t.Errorf("not purged after the week: %+v", rep)
	}
}

// TestRetentionOff: without purge_after nothing is ever purged.
func TestRetentionOff(t *testing.T) {
	r := newRig(t, rigOptions{})
	x := newRetained(t, r)
	if rep := r.tickAt(x.wrapped.Add(10 * 365 * day)); rep.Warnings+rep.Purged != 0 {
		t.Errorf("retention off: %+v", rep)
	}
	if c := r.collab2(x.c.ID); c == nil {
		t.Error("purged with retention off")
	}
}

// collab2 returns collaboration id, or nil when there is none.
func (r *rig) collab2(id string) *store.Collab {
	r.t.Helper()
	var c *store.Collab
	err := r.st.View(func(tx *store.Tx) (err error) { c, err = tx.Collab(id); return err })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		r.t.Fatal(err)
	}
	return c
}
