package store

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// dueEntries lists the due index of s as "kind time cid" strings, and the
// purge back-pointers as "P cid time", in key order.
func dueEntries(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDue).ForEach(func(k, v []byte) error {
			if k[0] == duePurgeOf {
				out = append(out, fmt.Sprintf("P %s %s", k[1:], keyTime(v).Format(time.RFC3339)))
				return nil
			}
			d, err := parseDue(k)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%c %s %s", d.Kind, d.At.Format(time.RFC3339), d.Collab))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkDue(t *testing.T, s *Store, step string, want ...string) {
	t.Helper()
	if got := dueEntries(t, s); !slices.Equal(got, want) {
		t.Errorf("%s: due index\n got %q\nwant %q", step, got, want)
	}
}

// TestDueFollowsCollab: PutCollab keeps a collaboration's entries in the
// due index in line with its turn, deadline and wrap-up, through a whole
// life: start, handoffs, a deadline set, moved and cleared, wrap-up, the
// scheduler's purge entry, reopening, and the purge; an entry the
// scheduler dropped stays dropped while what it follows is unchanged.
func TestDueFollowsCollab(t *testing.T) {
	s, _ := openTest(t, nil)
	c := &Collab{ID: "abcdef", Subject: "Contract", State: StateActive, Owner: "p1", Created: day(1), Turn: 2, TurnParty: 1, TurnSince: day(1),
		Parties: []Party{{Name: "A"}, {Name: "B"}}, NextPID: 1}
	other := &Collab{ID: "zzzzzz", Subject: "Other", State: StateActive, Owner: "p1", Created: day(1), Turn: 2, TurnSince: day(3)}
	put := func(c *Collab) {
		t.Helper()
		update(t, s, func(tx *Tx) error { return tx.PutCollab(c) })
	}
	d := func(n int) string { return day(n).Format(time.RFC3339) }

	put(c)
	put(other)
	checkDue(t, s, "start", "h "+d(1)+" abcdef", "h "+d(3)+" zzzzzz")

	c.Subject = "Contract, v2" // a write that changes nothing the index follows
	put(c)
	checkDue(t, s, "rename", "h "+d(1)+" abcdef", "h "+d(3)+" zzzzzz")

	c.Turn, c.TurnParty, c.TurnSince = 3, 0, day(4) // handed over
	put(c)
	checkDue(t, s, "handoff", "h "+d(3)+" zzzzzz", "h "+d(4)+" abcdef")

	c.Deadline, c.DeadlineDate = day(20), "2025-01-19"
	put(c)
	checkDue(t, s, "deadline set", "b "+d(20)+" abcdef", "h "+d(3)+" zzzzzz", "h "+d(4)+" abcdef", "o "+d(20)+" abcdef")
	c.Deadline = day(25)
	put(c)
	checkDue(t, s, "deadline moved", "b "+d(25)+" abcdef", "h "+d(3)+" zzzzzz", "h "+d(4)+" abcdef", "o "+d(25)+" abcdef")

	// The scheduler sent the held reminder and the one before the
	// deadline: a write of the collaboration that leaves them brings
	// neither back, a new turn brings the held one back.
	update(t, s, func(tx *Tx) error {
		for _, e := range []Due{{DueHeld, day(4), c.ID}, {DueBefore, day(25), c.ID}} {
			if !tx.HasDue(e) {
				t.Errorf("HasDue(%v) = false before the drop", e)
			}
			if err := tx.DropDue(e); err != nil {
				return err
			}
		}
		return nil
	})
	c.Subject = "Contract, v3"
	put(c)
	checkDue(t, s, "dropped, then written", "h "+d(3)+" zzzzzz", "o "+d(25)+" abcdef")
	c.Turn = 4 // the same instant, another turn
	put(c)
	checkDue(t, s, "next turn", "h "+d(3)+" zzzzzz", "h "+d(4)+" abcdef", "o "+d(25)+" abcdef")

	c.Deadline, c.DeadlineDate = time.Time{}, ""
	put(c)
	checkDue(t, s, "deadline cleared", "h "+d(3)+" zzzzzz", "h "+d(4)+" abcdef")

	c.Deadline = day(30)
	c.State, c.Wrapped = StateWrapped, day(10)
	put(c)
	checkDue(t, s, "wrapped", "h "+d(3)+" zzzzzz", "w "+d(10)+" abcdef")

	// The scheduler warned the owner: the wrap-up's entry becomes the
	// purge's.
	update(t, s, func(tx *Tx) error {
		if err := tx.PutPurgeDue(c.ID, day(11)); err != nil {
			return err
		}
		return tx.DropDue(Due{DueWrapped, day(10), c.ID})
	})
	checkDue(t, s, "warned", "P abcdef "+d(11), "h "+d(3)+" zzzzzz", "p "+d(11)+" abcdef")
	// Warned again (marker gone, say): the one entry moves.
	update(t, s, func(tx *Tx) error { return tx.PutPurgeDue(c.ID, day(12)) })
	checkDue(t, s, "warned again", "P abcdef "+d(12), "h "+d(3)+" zzzzzz", "p "+d(12)+" abcdef")

	c.State, c.Wrapped, c.TurnSince = StateActive, time.Time{}, day(13) // reopened
	put(c)
	checkDue(t, s, "reopened", "b "+d(30)+" abcdef", "h "+d(3)+" zzzzzz", "h "+d(13)+" abcdef", "o "+d(30)+" abcdef")

	c.State, c.Wrapped = StateWrapped, day(14)
	put(c)
	update(t, s, func(tx *Tx) error { return tx.PutPurgeDue(c.ID, day(15)) })
	checkDue(t, s, "wrapped and warned again", "P abcdef "+d(15), "h "+d(3)+" zzzzzz", "p "+d(15)+" abcdef", "w "+d(14)+" abcdef")

	rep, err := s.PurgeCollab(c.ID, func(*Tx, *Collab) (bool, error) { return true, nil })
	if err != nil || !rep.Purged {
		t.Fatalf("purge: %+v, %v", rep, err)
	}
	checkDue(t, s, "purged", "h "+d(3)+" zzzzzz")

	// A purge entry dropped by the scheduler takes its back-pointer along.
	other.State, other.Wrapped = StateWrapped, day(16)
	put(other)
	update(t, s, func(tx *Tx) error {
		if err := tx.PutPurgeDue(other.ID, day(17)); err != nil {
			return err
		}
		return tx.DropDue(Due{DuePurge, day(17), other.ID})
	})
	checkDue(t, s, "purge entry dropped", "w "+d(16)+" zzzzzz")
}

// TestDueUntil: the walk over one kind of entry, in time order, up to and
// including until, in batches that go on after the last entry of the one
// before, even when that one was dropped in between.
func TestDueUntil(t *testing.T) {
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error {
		for i, at := range []int{5, 3, 3, 9, 1, 7} {
			c := &Collab{ID: fmt.Sprintf("c%05d", i), State: StateActive, TurnSince: day(at), Deadline: day(at + 1)}
			if err := tx.PutCollab(c); err != nil {
				return err
			}
		}
		return nil
	})
	walk := func(kind DueKind, until time.Time, limit int) []string {
		var got []string
		for after := (Due{}); ; {
			var ds []Due
			view(t, s, func(tx *Tx) (err error) { ds, err = tx.DueUntil(kind, after, until, limit); return err })
			if len(ds) == 0 {
				return got
			}
			for _, d := range ds {
				if d.Kind != kind {
					t.Errorf("DueUntil(%c) gave %v", kind, d)
				}
				got = append(got, fmt.Sprintf("%d %s", d.At.Day(), d.Collab))
			}
			after = ds[len(ds)-1]
			update(t, s, func(tx *Tx) error { return tx.DropDue(after) })
		}
	}
	if got, want := walk(DueHeld, day(7), 2), []string{"1 c00004", "3 c00001", "3 c00002", "5 c00000", "7 c00005"}; !slices.Equal(got, want) {
		t.Errorf("held until day 7, by twos: %q, want %q", got, want)
	}
	// That walk dropped the last entry of each batch.
	if got, want := walk(DueHeld, day(20), 10), []string{"1 c00004", "3 c00002", "9 c00003"}; !slices.Equal(got, want) {
		t.Errorf("held until day 20, after the walk before: %q, want %q", got, want)
	}
	if got, want := walk(DueOverdue, day(4).Add(-time.Nanosecond), 10), []string{"2 c00004"}; !slices.Equal(got, want) {
		t.Errorf("overdue until just before day 4: %q, want %q", got, want)
	}
}

// TestHasDueInPut: an entry put in a transaction is there for HasDue in
// that same transaction (an empty value reads as nil from Get there).
func TestHasDueInPut(t *testing.T) {
	s, _ := openTest(t, nil)
	update(t, s, func(tx *Tx) error {
		if err := tx.PutCollab(&Collab{ID: "abcdef", State: StateActive, TurnSince: day(1)}); err != nil {
			return err
		}
		if !tx.HasDue(Due{DueHeld, day(1), "abcdef"}) {
			t.Error("HasDue is false for the entry PutCollab just put")
		}
		if tx.HasDue(Due{DueHeld, day(2), "abcdef"}) || tx.HasDue(Due{DueHeld, day(1), "abcde"}) {
			t.Error("HasDue is true for an entry that is not there")
		}
		return nil
	})
}

// writeSchema3 writes a schema 3 file at path with bbolt alone, every
// bucket of that schema and collaborations in every state the due index
// knows, enough that indexing them takes three transactions. It returns
// the collaborations.
func writeSchema3(t *testing.T, path string) []*Collab {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cs []*Collab
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "collabs", "participants", "turns", "documents", "versions", "drafts",
			"blobs", "chunks", "chunkdata", "msgids", "inbound", "outbox", "outboxdue", "marks", "imap", "people", "members"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 3}); err != nil {
			return err
		}
		for i := range 2*duePerTx + 7 {
			c := &Collab{ID: fmt.Sprintf("c%05d", i), Subject: "Contract", State: StateActive, Owner: "p1", Created: day(1),
				Turn: 2 + i%5, TurnSince: day(1 + i%20)}
			switch i % 4 {
			case 1:
				c.Deadline = day(10 + i%7)
			case 2:
				c.State, c.Wrapped = StateWrapped, day(2+i%9)
			}
			v, err := encode(c)
			if err == nil {
				err = tx.Bucket([]byte("collabs")).Put([]byte(c.ID), v)
			}
			if err != nil {
				return err
			}
			cs = append(cs, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestOpenSchema3 upgrades a schema 3 file, in one go and after upgrades
// that failed at each of their transactions: every collaboration gets the
// due entries PutCollab would have written, and nothing else is there.
func TestOpenSchema3(t *testing.T) {
	defer func(n int) { duePerTx = n }(duePerTx)
	duePerTx = 100
	for _, failAt := range []int{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprintf("fail at %d", failAt), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "turnmail.db")
			cs := writeSchema3(t, path)
			s, writes := upgrade(t, path, failAt, func() {
				if failAt == 2 {
					checkDueMigrating(t, path, cs[duePerTx].ID)
				}
			})
			// Three for the due index, one to record schema 5.
			if failAt == 0 && writes != 4 {
				t.Errorf("upgrade took %d write transactions, want 4", writes)
			}

			// The same collaborations written by PutCollab into a new store.
			want, _ := openTest(t, nil)
			update(t, want, func(tx *Tx) error {
				for _, c := range cs {
					if err := tx.PutCollab(c); err != nil {
						return err
					}
				}
				return nil
			})
			got, wantDue := dueEntries(t, s), dueEntries(t, want)
			if !slices.Equal(got, wantDue) {
				t.Errorf("due index after the upgrade: %d entries, want %d as PutCollab writes them", len(got), len(wantDue))
			}
			n := 0 // a turn or a wrap-up each, and a deadline two
			for _, c := range cs {
				if n++; !c.Deadline.IsZero() {
					n += 2
				}
			}
			if len(wantDue) != n {
				t.Errorf("%d entries for %d collaborations, want %d", len(wantDue), len(cs), n)
			}
			err := s.db.View(func(tx *bbolt.Tx) error {
				meta := tx.Bucket(bucketMeta)
				if v := meta.Get(keySchema); binary.BigEndian.Uint32(v) != layoutVersion {
					t.Errorf("schema %x, want %d", v, layoutVersion)
				}
				if v := meta.Get(keyDueFrom); v != nil {
					t.Errorf("meta %q left: %q", keyDueFrom, v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkDueMigrating checks, in a file whose upgrade to schema 4 stopped
// after its first batch, that meta still says schema 3 and where to go on.
func checkDueMigrating(t *testing.T, path, from string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); binary.BigEndian.Uint32(v) != 3 {
			t.Errorf("schema %x during the upgrade, want 3", v)
		}
		if v := meta.Get(keyDueFrom); string(v) != from {
			t.Errorf("meta %q = %q, want the collaboration %q", keyDueFrom, v, from)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
