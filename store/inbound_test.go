package store

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestMsgIDs(t *testing.T) {
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error {
		if err := tx.PutMsgID("a1@acme.com", "k7p2qz", DirIn); err != nil {
			return err
		}
		return tx.PutMsgID("<g1@gw.example>", "k7p2qz", DirOut)
	})
	view(t, s, func(tx *Tx) error {
		for _, tc := range []struct{ id, cid, dir string }{
			{"a1@acme.com", "k7p2qz", DirIn},
			{"<a1@acme.com>", "k7p2qz", DirIn},
			{"g1@gw.example", "k7p2qz", DirOut},
		} {
			cid, dir, err := tx.MsgID(tc.id)
			if err != nil || cid != tc.cid || dir != tc.dir {
				t.Errorf("MsgID(%q) = %q, %q, %v; want %q, %q", tc.id, cid, dir, err, tc.cid, tc.dir)
			}
		}
		// Message-IDs are case-sensitive.
		if _, _, err := tx.MsgID("A1@acme.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("MsgID of an unknown id: got %v, want ErrNotFound", err)
		}
		return nil
	})
	for _, tc := range []struct{ id, dir string }{{"", DirIn}, {"<>", DirIn}, {"x@y", "sideways"}} {
		if err := s.Update(func(tx *Tx) error { return tx.PutMsgID(tc.id, "abc", tc.dir) }); err == nil {
			t.Errorf("PutMsgID(%q, %q) succeeded", tc.id, tc.dir)
		}
	}
}

func TestInbound(t *testing.T) {
	s, _ := openTest(t, nil)
	in := &Inbound{
		Time: day(1), Source: "smtp", EnvFrom: "alice@acme.com", Recipients: []string{"collab@gw.example"},
		MsgID: "a1@acme.com", Digest: "ff", Size: 1234, From: "alice@acme.com", Subject: "Contract",
		Collab: "k7p2qz", Outcome: OutcomeStarted, Raw: "ff",
	}
	update(t, s, func(tx *Tx) error {
		for _, x := range []*Inbound{in, {Outcome: OutcomeIgnored}, {Outcome: OutcomeUnprocessable}} {
			if err := tx.AddInbound(x); err != nil {
				return err
			}
		}
		return nil
	})
	if in.ID != 1 {
		t.Errorf("first id %d, want 1", in.ID)
	}
	update(t, s, func(tx *Tx) error {
		return tx.PutInbound(&Inbound{ID: 3, Outcome: OutcomeTurn, Detail: "reprocessed"})
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutInbound(&Inbound{ID: 9}) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutInbound of an unknown id: got %v, want ErrNotFound", err)
	}
	view(t, s, func(tx *Tx) error {
		got, err := tx.Inbound(1)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, in) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, in)
		}
		if _, err := tx.Inbound(9); !errors.Is(err, ErrNotFound) {
			t.Errorf("Inbound(9): got %v, want ErrNotFound", err)
		}
		var outcomes []string
		err = tx.Inbounds(func(in *Inbound) error {
			outcomes = append(outcomes, in.Outcome)
			return nil
		})
		checkIDs(t, "Inbounds", outcomes, []string{OutcomeStarted, OutcomeIgnored, OutcomeTurn})
		return err
	})

	errStop := errors.New("stop")
	n := 0
	err := s.View(func(tx *Tx) error {
		return tx.Inbounds(func(*Inbound) error { n++; return errStop })
	})
	if !errors.Is(err, errStop) || n != 1 {
		t.Errorf("Inbounds after an error from fn: %d calls, %v", n, err)
	}
}

func TestMarkOnce(t *testing.T) {
	s, _ := openTest(t, nil)
	mark := func(key string) bool {
		t.Helper()
		var first bool
		update(t, s, func(tx *Tx) error {
			var err error
			first, err = tx.MarkOnce(key, day(1))
			return err
		})
		return first
	}
	if !mark("summary/alice@acme.com/2025-W10") {
		t.Error("first mark: not first")
	}
	if mark("summary/alice@acme.com/2025-W10") {
		t.Error("second mark: first again")
	}
	if !mark("summary/alice@acme.com/2025-W11") {
		t.Error("other key: not first")
	}
	// A mark set in a failed transaction is not set.
	errAbort := errors.New("abort")
	err := s.Update(func(tx *Tx) error {
		if _, err := tx.MarkOnce("reminder/k7p2qz/3", day(1)); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
	if !mark("reminder/k7p2qz/3") {
		t.Error("mark after a rolled back one: not first")
	}
	// Marked reads the same markers without setting one.
	err = s.View(func(tx *Tx) error {
		if !tx.Marked("summary/alice@acme.com/2025-W10") || tx.Marked("summary/alice@acme.com/2025-W12") || tx.Marked("") {
			t.Error("Marked disagrees with MarkOnce")
		}
		// MarkedAt says when the marker was set, too.
		if at, ok, err := tx.MarkedAt("summary/alice@acme.com/2025-W10"); !ok || err != nil || !at.Equal(day(1)) {
			t.Errorf("MarkedAt: %s %v %v", at, ok, err)
		}
		if _, ok, err := tx.MarkedAt("summary/alice@acme.com/2025-W12"); ok || err != nil {
			t.Errorf("MarkedAt of no marker: %v %v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPruneMarks(t *testing.T) {
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error {
		for _, m := range []struct {
			key string
			at  time.Time
		}{{"summary\x00a\x001", day(1)}, {"summary\x00a\x002", day(5)}, {"remind\x00x", day(1)}, {"summaryx", day(1)}} {
			if _, err := tx.MarkOnce(m.key, m.at); err != nil {
				return err
			}
		}
		n, err := tx.PruneMarks("summary\x00", day(3))
		if n != 1 {
			t.Errorf("pruned %d, want 1", n)
		}
		return err
	})
	s.View(func(tx *Tx) error {
		for key, want := range map[string]bool{"summary\x00a\x001": false, "summary\x00a\x002": true, "remind\x00x": true, "summaryx": true} {
			if tx.Marked(key) != want {
				t.Errorf("marker %q present: %v, want %v", key, !want, want)
			}
		}
		return nil
	})
}

// TestMarkKeys: the markers under a prefix, in key order, until told to
// stop; none of another prefix, even one that starts the same.
func TestMarkKeys(t *testing.T) {
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error {
		for _, key := range []string{"summary\x00a@x\x002", "summary\x00a@x\x001", "summary\x00a@x.y\x001", "summary\x00b\x001", "remind\x00a@x"} {
			if _, err := tx.MarkOnce(key, day(1)); err != nil {
				return err
			}
		}
		return nil
	})
	s.View(func(tx *Tx) error {
		var got []string
		tx.MarkKeys("summary\x00a@x\x00", func(key string) bool { got = append(got, key); return true })
		if want := []string{"summary\x00a@x\x001", "summary\x00a@x\x002"}; !slices.Equal(got, want) {
			t.Errorf("keys %q, want %q", got, want)
		}
		got = nil
		tx.MarkKeys("summary\x00", func(key string) bool { got = append(got, key); return len(got) < 2 })
		if len(got) != 2 {
			t.Errorf("went on after false: %q", got)
		}
		return nil
	})
}
