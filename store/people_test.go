package store

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestPerson(t *testing.T) {
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error {
		for _, p := range []*Person{
			{Address: "Alice@Example.COM", TimeZone: "Europe/Paris"},
			{Address: "carol@example.com", SummaryOff: true},
			{Address: "bob@example.com"},
		} {
			if err := tx.PutPerson(p); err != nil {
				return err
			}
		}
		return nil
	})
	want := &Person{Address: "alice@example.com", TimeZone: "Europe/Paris"}
	view(t, s, func(tx *Tx) error {
		for _, addr := range []string{"alice@example.com", "ALICE@example.com", "Alice@Example.COM"} {
			got, err := tx.Person(addr)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Person(%q) = %+v, want %+v", addr, got, want)
			}
		}
		if _, err := tx.Person("dave@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing person: got %v, want ErrNotFound", err)
		}
		var all []string
		err := tx.People(func(p *Person) error {
			all = append(all, fmt.Sprintf("%s %s %v", p.Address, p.TimeZone, p.SummaryOff))
			return nil
		})
		checkIDs(t, "People", all, []string{"alice@example.com Europe/Paris false", "bob@example.com  false", "carol@example.com  true"})
		return err
	})

	// Settings change in place, whatever the case of the address.
	update(t, s, func(tx *Tx) error { return tx.PutPerson(&Person{Address: "ALICE@EXAMPLE.COM", SummaryOff: true}) })
	view(t, s, func(tx *Tx) error {
		got, err := tx.Person("alice@example.com")
		if err == nil && (got.TimeZone != "" || !got.SummaryOff) {
			t.Errorf("after the update: %+v", got)
		}
		n := 0
		tx.People(func(*Person) error { n++; return nil })
		if n != 3 {
			t.Errorf("%d people after updating one, want 3", n)
		}
		return err
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutPerson(&Person{}) }); err == nil {
		t.Error("PutPerson without an address succeeded")
	}
}

// prefixIDs are collaboration ids that are prefixes of each other, and one
// that sorts after them: the last in the bucket.
var prefixIDs = []string{"ab", "abc", "abcd", "zz"}

// turnEnded is when turn n of the ci-th of prefixIDs ended: hour n of a day
// of its own.
func turnEnded(ci, n int) time.Time {
	return time.Date(2026, 11, 1+ci, n, 0, 0, 0, time.UTC)
}

// seedPrefixes writes the collaborations of prefixIDs, each with
// participants p1, p2 and p10 and turns 1–12, in reverse order.
func seedPrefixes(t *testing.T, s *Store) {
	t.Helper()
	update(t, s, func(tx *Tx) error {
		for ci, cid := range prefixIDs {
			if err := tx.PutCollab(&Collab{ID: cid, Subject: "subject " + cid, State: StateActive, Created: day(1)}); err != nil {
				return err
			}
			for _, pid := range []string{"p10", "p2", "p1"} {
				if err := tx.PutParticipant(cid, &Participant{ID: pid, Address: pid + "@" + cid + ".test", Role: RoleLeader}); err != nil {
					return err
				}
			}
			for n := 12; n >= 1; n-- {
				tm := &Turn{Number: n, Party: n % 2, Started: turnEnded(ci, n-1), Ended: turnEnded(ci, n), EndedBy: "p1", How: "done",
					Note: fmt.Sprintf("%s turn %d", cid, n), Versions: []VersionRef{{Doc: "d1", Number: n}}}
				if err := tx.PutTurn(cid, tm); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func TestEachCollabAndParticipant(t *testing.T) {
	s, _ := openTest(t, nil)
	seedPrefixes(t, s)
	view(t, s, func(tx *Tx) error {
		var cids []string
		err := tx.EachCollab(func(c *Collab) error {
			if c.Subject != "subject "+c.ID {
				t.Errorf("collab %s has subject %q", c.ID, c.Subject)
			}
			cids = append(cids, c.ID)
			return nil
		})
		if err != nil {
			return err
		}
		checkIDs(t, "EachCollab", cids, prefixIDs)

		var got []string
		err = tx.EachParticipant(func(cid string, p *Participant) error {
			if p.Address != p.ID+"@"+cid+".test" {
				t.Errorf("participant %s given as %s's: %+v", p.Address, cid, p)
			}
			got = append(got, cid+"/"+p.ID)
			return nil
		})
		if err != nil {
			return err
		}
		var want []string
		for _, cid := range prefixIDs {
			want = append(want, cid+"/p1", cid+"/p2", cid+"/p10")
		}
		checkIDs(t, "EachParticipant", got, want)

		// fn's error ends the walk and comes back as it was.
		stop := errors.New("stop")
		n := 0
		if err := tx.EachCollab(func(*Collab) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("EachCollab with a failing fn: %v after %d calls", err, n)
		}
		n = 0
		if err := tx.EachParticipant(func(string, *Participant) error { n++; return stop }); err != stop || n != 1 {
			t.Errorf("EachParticipant with a failing fn: %v after %d calls", err, n)
		}
		return nil
	})
}

func TestTurnsEndedSince(t *testing.T) {
	s, _ := openTest(t, nil)
	seedPrefixes(t, s)
	for ci, cid := range prefixIDs {
		for _, tc := range []struct {
			name  string
			since time.Time
			first int // first turn returned; 13 for none
		}{
			{"before every turn", turnEnded(ci, 0), 1},
			{"at turn 7's end", turnEnded(ci, 7), 7},
			{"between turns 6 and 7", turnEnded(ci, 6).Add(time.Minute), 7},
			{"at the last", turnEnded(ci, 12), 12},
			{"after the last", turnEnded(ci, 12).Add(time.Second), 13},
		} {
			t.Run(cid+"/"+tc.name, func(t *testing.T) {
				view(t, s, func(tx *Tx) error {
					turns, err := tx.TurnsEndedSince(cid, tc.since)
					if err != nil {
						return err
					}
					var got, want []string
					for _, tm := range turns {
						got = append(got, tm.Note)
					}
					for n := tc.first; n <= 12; n++ {
						want = append(want, fmt.Sprintf("%s turn %d", cid, n))
					}
					checkIDs(t, "TurnsEndedSince", got, want)
					if len(turns) > 0 && !reflect.DeepEqual(turns[0].Versions, []VersionRef{{Doc: "d1", Number: tc.first}}) {
						t.Errorf("turn %d decoded as %+v", tc.first, turns[0])
					}
					return nil
				})
			})
		}
	}
	view(t, s, func(tx *Tx) error {
		for _, cid := range []string{"a", "abcde", "b"} {
			if turns, err := tx.TurnsEndedSince(cid, time.Time{}); err != nil || len(turns) != 0 {
				t.Errorf("collaboration %q without turns: %d turns, %v", cid, len(turns), err)
			}
		}
		if _, err := tx.TurnsEndedSince("", time.Time{}); err == nil {
			t.Error("TurnsEndedSince of an empty id succeeded")
		}
		return nil
	})
}
