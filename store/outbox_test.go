package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

func TestOutbox(t *testing.T) {
	s, _ := openTest(t, nil)
	t0 := day(1)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

	// Enqueued is signalled only by a committed Update that enqueued.
	update(t, s, func(tx *Tx) error { return tx.PutCollab(&Collab{ID: "abc"}) })
	select {
	case <-s.Enqueued():
		t.Error("Update without Enqueue signalled")
	default:
	}

	msg := mail.Outgoing{MessageID: "g1@gw.example", Date: t0, Subject: "Your turn", To: mail.Address{Addr: "bob@axe.com"}}
	first := &Outbound{Collab: "abc", Kind: "handoff", Msg: msg, Created: at(5)}
	update(t, s, func(tx *Tx) error {
		for _, o := range []*Outbound{
			first,                          // id 1, due at 5 (Created)
			{Created: t0, NextTry: at(3)},  // id 2, due at 3
			{Created: t0, NextTry: at(5)},  // id 3, due at 5, after id 1
			{Created: t0, NextTry: at(60)}, // id 4, not due yet
		} {
			if err := tx.Enqueue(o); err != nil {
				return err
			}
		}
		return nil
	})
	select {
	case <-s.Enqueued():
	default:
		t.Error("Enqueue did not signal")
	}
	if first.ID != 1 || first.State != OutboundQueued || !first.NextTry.Equal(at(5)) {
		t.Errorf("Enqueue set id %d, state %q, next try %v", first.ID, first.State, first.NextTry)
	}

	due := func(now time.Time, limit int) []uint64 {
		t.Helper()
		qs, err := s.Due(now, limit)
		if err != nil {
			t.Fatalf("due: %v", err)
		}
		var out []uint64
		for _, q := range qs {
			out = append(out, q.ID)
		}
		return out
	}
	checkDue := func(what string, got []uint64, want ...uint64) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: due %v, want %v", what, got, want)
		}
	}
	nextDue := func(after time.Time, want time.Time) {
		t.Helper()
		next, ok, err := s.NextDue(after)
		if err != nil {
			t.Fatalf("next due: %v", err)
		}
		if ok != !want.IsZero() || !next.Equal(want) {
			t.Errorf("next due after %v: %v %v, want %v", after, next, ok, want)
		}
	}
	nextDue(at(2), at(3))
	nextDue(at(3), at(5)) // strictly after
	nextDue(at(4), at(5))
	nextDue(at(5), at(60))
	nextDue(at(60), time.Time{})
	checkDue("before any", due(at(2), 0))
	checkDue("at 5", due(at(5), 0), 2, 1, 3)
	checkDue("limit 2", due(at(5), 2), 2, 1)
	qs, err := s.Due(at(5), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(qs[1].Msg, msg) {
		t.Errorf("queued message: got %+v, want %+v", qs[1].Msg, msg)
	}

	if err := s.MarkRetry(2, at(30), "451 try later"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(1, at(6)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(3, at(7), "550 no such user"); err != nil {
		t.Fatal(err)
	}
	checkDue("after marks, at 10", due(at(10), 0))
	nextDue(at(10), at(30)) // the retry; sent and failed messages wait for nothing
	nextDue(at(4), at(30))
	checkDue("after marks, at 60", due(at(60), 0), 2, 4)
	qs, _ = s.Due(at(30), 0)
	if len(qs) != 1 || qs[0].Attempts != 1 {
		t.Errorf("retried message: %+v", qs)
	}

	check := func(id uint64, want Outbound) {
		t.Helper()
		o, err := s.Outbound(id)
		if err != nil {
			t.Fatalf("outbound %d: %v", id, err)
		}
		if o.State != want.State || o.Attempts != want.Attempts || !o.NextTry.Equal(want.NextTry) ||
			!o.Done.Equal(want.Done) || o.LastError != want.LastError {
			t.Errorf("outbound %d: got %+v, want %+v", id, o, want)
		}
	}
	check(1, Outbound{State: OutboundSent, NextTry: at(5), Done: at(6)})
	check(2, Outbound{State: OutboundQueued, Attempts: 1, NextTry: at(30), LastError: "451 try later"})
	check(3, Outbound{State: OutboundFailed, Attempts: 1, NextTry: at(5), Done: at(7), LastError: "550 no such user"})

	o, err := s.Outbound(1)
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	want.State, want.Done = OutboundSent, at(6)
	if !reflect.DeepEqual(*o, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", *o, want)
	}

	if err := s.MarkSent(1, at(8)); err == nil {
		t.Error("MarkSent of a sent message succeeded")
	}
	if err := s.MarkRetry(99, at(8), ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkRetry of an unknown id: got %v, want ErrNotFound", err)
	}
	if _, err := s.Outbound(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Outbound(99): got %v, want ErrNotFound", err)
	}

	var states []string
	view(t, s, func(tx *Tx) error {
		return tx.Outbounds(func(o *Outbound) error {
			states = append(states, o.State)
			return nil
		})
	})
	checkIDs(t, "Outbounds", states, []string{OutboundSent, OutboundQueued, OutboundFailed, OutboundQueued})
}

func TestOutboxZeroTime(t *testing.T) {
	// An Outbound without times is due at once, whatever now is.
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error { return tx.Enqueue(&Outbound{}) })
	qs, err := s.Due(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(qs) != 1 {
		t.Errorf("due: %v, %v", qs, err)
	}
}

// TestOutboxOperator: what turnmail queue retry and drop do, on a real file
// that is closed and opened again in between.
func TestOutboxOperator(t *testing.T) {
	s, path := openTest(t, nil)
	t0 := day(1)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	update(t, s, func(tx *Tx) error {
		for _, o := range []*Outbound{
			{Created: t0, NextTry: at(60)}, // 1: waiting for a retry
			{Created: t0, NextTry: at(1)},  // 2: due
			{Created: t0, NextTry: at(1)},  // 3: to fail
			{Created: t0, NextTry: at(1)},  // 4: to be sent
			{Created: t0, NextTry: at(1)},  // 5: to be dropped
		} {
			if err := tx.Enqueue(o); err != nil {
				return err
			}
		}
		return nil
	})
	<-s.Enqueued()
	if err := s.MarkFailed(3, at(2), "550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(4, at(2)); err != nil {
		t.Fatal(err)
	}
	o, err := s.DropOutbound(5, at(3))
	if err != nil || o.State != OutboundDropped || !o.Done.Equal(at(3)) {
		t.Fatalf("drop: %+v, %v", o, err)
	}
	for _, id := range []uint64{4, 5} {
		if _, err := s.DropOutbound(id, at(3)); err == nil {
			t.Errorf("dropping outbound %d (%s) succeeded", id, []string{4: "sent", 5: "dropped"}[id])
		}
		if _, err := s.RetryOutbound(id, at(3)); err == nil {
			t.Errorf("retrying outbound %d succeeded", id)
		}
	}
	if _, err := s.RetryOutbound(99, at(3)); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry of an unknown id: %v", err)
	}

	// Retrying the failed one makes it due now, its attempt and reason kept.
	o, err = s.RetryOutbound(3, at(10))
	if err != nil {
		t.Fatal(err)
	}
	if o.State != OutboundQueued || !o.NextTry.Equal(at(10)) || !o.Done.IsZero() || o.Attempts != 1 || o.LastError == "" {
		t.Errorf("retried failed message: %+v", o)
	}
	select {
	case <-s.Enqueued():
	default:
		t.Error("retry did not wake the worker")
	}
	// Retrying a due one leaves it as due as it was.
	if o, err := s.RetryOutbound(2, at(10)); err != nil || !o.NextTry.Equal(at(1)) {
		t.Errorf("retried due message: %+v, %v", o, err)
	}

	s.Close()
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ids := func(now time.Time) []uint64 {
		t.Helper()
		qs, err := s.Due(now, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, q := range qs {
			out = append(out, q.ID)
		}
		return out
	}
	if got := ids(at(10)); !reflect.DeepEqual(got, []uint64{2, 3}) {
		t.Errorf("due after retry: %v, want [2 3]", got)
	}

	// --all takes the waiting one; dropped and sent ones stay as they are.
	if err := s.MarkFailed(2, at(11), "554 5.7.1 refused"); err != nil {
		t.Fatal(err)
	}
	n, err := s.RetryOutbounds(at(12))
	if err != nil || n != 2 {
		t.Errorf("retry all: %d, %v; want 2 (the waiting and the failed one)", n, err)
	}
	if got := ids(at(12)); !reflect.DeepEqual(got, []uint64{3, 1, 2}) {
		t.Errorf("due after retry all: %v, want [3 1 2]", got)
	}
	if next, ok, _ := s.NextDue(at(12)); ok {
		t.Errorf("something still waits, until %v", next)
	}
	for id, want := range map[uint64]string{4: OutboundSent, 5: OutboundDropped} {
		if o, err := s.Outbound(id); err != nil || o.State != want {
			t.Errorf("outbound %d: %+v, %v; want %s", id, o, err, want)
		}
	}
}

// TestOutboxBounce: a report that comes back after the smarthost took a
// message fails it, once.
func TestOutboxBounce(t *testing.T) {
	s, _ := openTest(t, nil)
	at := func(n int) time.Time { return day(1).Add(time.Duration(n) * time.Minute) }
	update(t, s, func(tx *Tx) error {
		for range 3 {
			if err := tx.Enqueue(&Outbound{Created: at(0)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.MarkSent(1, at(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DropOutbound(3, at(1)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		state   string
		changed bool
	}
	got := map[uint64]result{}
	update(t, s, func(tx *Tx) error {
		for _, id := range []uint64{1, 2, 3, 1} {
			o, changed, err := tx.Bounce(id, at(5), "550 5.1.1 no such user")
			if err != nil {
				return err
			}
			if _, seen := got[id]; !seen {
				got[id] = result{o.State, changed}
			} else if changed {
				t.Errorf("outbound %d bounced twice", id)
			}
		}
		_, _, err := tx.Bounce(99, at(5), "")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("bounce of an unknown id: %v", err)
		}
		return nil
	})
	want := map[uint64]result{1: {OutboundFailed, true}, 2: {OutboundFailed, true}, 3: {OutboundDropped, false}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bounces: %v, want %v", got, want)
	}
	o, err := s.Outbound(1)
	if err != nil || o.State != OutboundFailed || !o.Done.Equal(at(5)) || o.LastError != "550 5.1.1 no such user" {
		t.Errorf("bounced: %+v, %v", o, err)
	}
	if qs, _ := s.Due(at(60), 0); len(qs) != 0 {
		t.Errorf("a bounced queued message is still due: %+v", qs)
	}
}

// TestOutboundDeflated checks how outbound mails are stored: deflated once
// their JSON passes deflateMin, plain below it, and read either way, also
// a large one stored plain, as schema 3 stored every record.
func TestOutboundDeflated(t *testing.T) {
	s, _ := openTest(t, nil)
	text := strings.Repeat("Your turn on the contract: Globex handed it over.\n", 100)
	small := &Outbound{Kind: "notice", Msg: mail.Outgoing{Subject: "Hi", Text: "short"}, Created: day(1)}
	large := &Outbound{Kind: "handoff", Msg: mail.Outgoing{Subject: "Your turn", Text: text, HTML: "<p>" + text + "</p>"}, Created: day(1)}
	update(t, s, func(tx *Tx) error {
		if err := tx.Enqueue(small); err != nil {
			return err
		}
		return tx.Enqueue(large)
	})
	plainLarge, err := encode(large)
	if err != nil {
		t.Fatal(err)
	}
	if v := rawValue(t, s, bucketOutbox, u64Key(small.ID)); v[0] != recordVersion {
		t.Errorf("small outbound stored under version %d, want %d", v[0], recordVersion)
	}
	if v := rawValue(t, s, bucketOutbox, u64Key(large.ID)); v[0] != deflatedVersion || 4*len(v) > len(plainLarge) {
		t.Errorf("large outbound stored in %d bytes under version %d; want deflatedVersion, a quarter of its %d", len(v), v[0], len(plainLarge))
	}
	for _, want := range []*Outbound{small, large} {
		got, err := s.Outbound(want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("outbound %d read back as %+v, %v", want.ID, got, err)
		}
	}

	// Written plain, as before schema 5: read the same.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOutbox).Put(u64Key(large.ID), plainLarge)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Outbound(large.ID); err != nil || !reflect.DeepEqual(got, large) {
		t.Errorf("plain outbound read back as %+v, %v", got, err)
	}
	// Damaged deflate is corrupt data, not a panic.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOutbox).Put(u64Key(large.ID), []byte{deflatedVersion, 0xff, 0xff, 0x01})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Outbound(large.ID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged outbound: got %v, want ErrCorrupt", err)
	}
}
