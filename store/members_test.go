package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// memberships renders what Memberships or EachMember gave, one string each.
func memberships(ms []Membership) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s/%s %s %d %s %s", m.Collab, m.ID, m.Name, m.Party, m.Role, m.Added.Format("2")))
	}
	return out
}

// walk returns every address after after with its memberships, one string
// per membership, and the addresses fn was given.
func walk(t *testing.T, tx *Tx, after string) (all, addrs []string) {
	t.Helper()
	err := tx.EachMember(after, func(a string, ms []Membership) (bool, error) {
		addrs = append(addrs, a)
		for _, m := range memberships(ms) {
			all = append(all, a+" "+m)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all, addrs
}

// TestMembers: PutParticipant keeps one members entry per participant,
// under its lower-cased address, in step with the participant's address,
// name, party, role and Added; the walk groups them by address, resumes
// after one and stops when told.
func TestMembers(t *testing.T) {
	s, _ := openTest(t, nil)
	seedPrefixes(t, s) // p1, p2, p10 @<cid>.test in ab, abc, abcd, zz
	update(t, s, func(tx *Tx) error {
		for _, pt := range []struct {
			cid string
			p   *Participant
		}{
			// "ann@x.test" is a prefix of the next address, and sorts
			// before it only by the zero byte after it.
			{"zz", &Participant{ID: "p3", Address: "Ann@X.test", Name: "Ann", Party: 1, Role: RoleGhost, Added: day(3)}},
			{"ab", &Participant{ID: "p3", Address: "ann@x.test", Party: 0, Role: RoleFollower, Added: day(2)}},
			{"abc", &Participant{ID: "p3", Address: "ann@x.test.org", Name: "Ann Org", Party: 1, Role: RoleContributor, Added: day(4)}},
		} {
			if err := tx.PutParticipant(pt.cid, pt.p); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx *Tx) error {
		ms, err := tx.Memberships("ANN@x.test")
		checkIDs(t, "Memberships(ANN@x.test)", memberships(ms), []string{"ab/p3  0 follower 2", "zz/p3 Ann 1 ghost 3"})
		if err != nil {
			return err
		}
		if ms, err := tx.Memberships("nobody@x.test"); err != nil || len(ms) != 0 {
			t.Errorf("Memberships of nobody: %v, %v", ms, err)
		}
		all, addrs := walk(t, tx, "")
		if len(all) != 3*len(prefixIDs)+3 {
			t.Errorf("EachMember gave %d memberships, want %d", len(all), 3*len(prefixIDs)+3)
		}
		checkIDs(t, "EachMember addresses", addrs[:6], []string{
			"ann@x.test", "ann@x.test.org", "p10@ab.test", "p10@abc.test", "p10@abcd.test", "p10@zz.test",
		})
		// Resuming after an address starts at the next one, however
		// long a prefix the two share.
		_, rest := walk(t, tx, "ann@x.test")
		checkIDs(t, "EachMember after ann@x.test", rest, addrs[1:])
		_, rest = walk(t, tx, "ANN@X.TEST.ORG")
		checkIDs(t, "EachMember after ann@x.test.org", rest, addrs[2:])
		_, rest = walk(t, tx, "p2@zz.test")
		checkIDs(t, "EachMember after the last", rest, nil)

		// fn's false or error ends the walk.
		n := 0
		if err := tx.EachMember("", func(string, []Membership) (bool, error) { n++; return n < 2, nil }); err != nil || n != 2 {
			t.Errorf("EachMember stopping at the second address: %v after %d calls", err, n)
		}
		stop := errors.New("stop")
		n = 0
		if err := tx.EachMember("", func(string, []Membership) (bool, error) { n++; return true, stop }); err != stop || n != 1 {
			t.Errorf("EachMember with a failing fn: %v after %d calls", err, n)
		}
		return nil
	})

	// A new thread alone writes nothing; a new name, role and address
	// rewrite the entry, and the old address loses it.
	before := countEntries(t, s, bucketMembers)
	update(t, s, func(tx *Tx) error {
		p := &Participant{ID: "p3", Address: "ann@x.test", Party: 0, Role: RoleFollower, Added: day(2), Thread: []string{"m1@gw.test"}}
		if err := tx.PutParticipant("ab", p); err != nil {
			return err
		}
		p.Address, p.Name, p.Role = "Ann@Y.test", "Ann Y", RoleLeader
		return tx.PutParticipant("ab", p)
	})
	view(t, s, func(tx *Tx) error {
		for addr, want := range map[string][]string{
			"ann@x.test": {"zz/p3 Ann 1 ghost 3"},
			"ann@y.test": {"ab/p3 Ann Y 0 leader 2"},
		} {
			ms, err := tx.Memberships(addr)
			if err != nil {
				return err
			}
			checkIDs(t, "Memberships("+addr+")", memberships(ms), want)
		}
		return nil
	})
	if n := countEntries(t, s, bucketMembers); n != before {
		t.Errorf("%d members entries after moving one, want %d", n, before)
	}

	// Someone removed, or pending, is in no party: no entry. Placed
	// again, they have it back.
	update(t, s, func(tx *Tx) error {
		if err := tx.PutParticipant("abc", &Participant{ID: "p3", Address: "ann@x.test.org", Role: RoleContributor, Added: day(4), Removed: day(5)}); err != nil {
			return err
		}
		return tx.PutParticipant("zz", &Participant{ID: "p4", Address: "eve@law.test", Role: RoleContributor, Added: day(4), Pending: true})
	})
	view(t, s, func(tx *Tx) error {
		for _, addr := range []string{"ann@x.test.org", "eve@law.test"} {
			if ms, err := tx.Memberships(addr); err != nil || len(ms) != 0 {
				t.Errorf("%s, removed or pending: memberships %v, %v", addr, memberships(ms), err)
			}
		}
		return nil
	})
	update(t, s, func(tx *Tx) error {
		return tx.PutParticipant("zz", &Participant{ID: "p4", Address: "Eve@law.test", Party: 1, Role: RoleContributor, Added: day(4)})
	})
	view(t, s, func(tx *Tx) error {
		ms, err := tx.Memberships("eve@law.test")
		checkIDs(t, "Memberships(eve@law.test), placed", memberships(ms), []string{"zz/p4  1 contributor 4"})
		return err
	})
	if n := countEntries(t, s, bucketMembers); n != before {
		t.Errorf("%d members entries after removing one and placing another, want %d", n, before)
	}

	// unindexMember, for whatever deletes a participant.
	err := s.db.Update(func(tx *bbolt.Tx) error {
		pk, err := seqKey("ab", 'p', "p3")
		if err != nil {
			return err
		}
		return unindexMember(tx, "ANN@y.test", pk)
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx *Tx) error {
		if ms, err := tx.Memberships("ann@y.test"); err != nil || len(ms) != 0 {
			t.Errorf("after unindexMember: %v, %v", memberships(ms), err)
		}
		return nil
	})

	err = s.Update(func(tx *Tx) error {
		return tx.PutParticipant("ab", &Participant{ID: "p9", Address: "bad\x00@x.test", Role: RoleLeader})
	})
	if err == nil || !strings.Contains(err.Error(), "invalid address") {
		t.Errorf("PutParticipant of an address with a zero byte: %v", err)
	}
}

// TestMemberCorrupt: a members entry that does not parse fails the walk
// with ErrCorrupt, naming its key.
func TestMemberCorrupt(t *testing.T) {
	for name, kv := range map[string][2]string{
		"short key":      {"a@x\x00", "\x01"},
		"no separator":   {"a@x\x00ab\x01\x00\x00\x00\x01", ""},
		"version":        {"a@x\x00ab\x00\x00\x00\x00\x01", "\x02" + strings.Repeat("\x00", 15)},
		"short value":    {"a@x\x00ab\x00\x00\x00\x00\x01", "\x01\x00"},
		"long role":      {"a@x\x00ab\x00\x00\x00\x00\x01", "\x01" + strings.Repeat("\x00", 12) + "\x00\x09ab\x00"},
		"trailing bytes": {"a@x\x00ab\x00\x00\x00\x00\x01", "\x01" + strings.Repeat("\x00", 12) + "\x00\x00\x00!"},
	} {
		t.Run(name, func(t *testing.T) {
			s, _ := openTest(t, nil)
			err := s.db.Update(func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketMembers).Put([]byte(kv[0]), []byte(kv[1]))
			})
			if err != nil {
				t.Fatal(err)
			}
			err = s.View(func(tx *Tx) error {
				return tx.EachMember("", func(string, []Membership) (bool, error) { return true, nil })
			})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("%q", kv[0])) {
				t.Errorf("EachMember: %v, want ErrCorrupt naming the key", err)
			}
		})
	}
}

// TestMemberRoundTrip: every field comes back as written.
func TestMemberRoundTrip(t *testing.T) {
	s, _ := openTest(t, nil)
	p := &Participant{ID: "p4000000000", Address: "zoë@x.test", Name: strings.Repeat("Zoë ", 100), Party: 1, Role: RoleContributor, Added: day(9).Add(123456789)}
	update(t, s, func(tx *Tx) error { return tx.PutParticipant("k7p2qz", p) })
	view(t, s, func(tx *Tx) error {
		ms, err := tx.Memberships(p.Address)
		want := []Membership{{Collab: "k7p2qz", ID: p.ID, Name: p.Name, Party: p.Party, Role: p.Role, Added: p.Added}}
		if err != nil || !reflect.DeepEqual(ms, want) {
			t.Errorf("Memberships: %+v, %v; want %+v", ms, err, want)
		}
		return nil
	})
}

// countEntries counts the keys of a top-level bucket.
func countEntries(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeSchema2 writes a schema 2 file at path with bbolt alone: the version
// in meta, every bucket of that schema, and participants of several
// collaborations, some of them under addresses in mixed case, some pending
// or removed, enough that indexing them takes three transactions. It
// returns the participants by their key.
func writeSchema2(t *testing.T, path string) map[string]*Participant {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ps := map[string]*Participant{}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "collabs", "participants", "turns", "documents", "versions", "drafts",
			"blobs", "chunks", "chunkdata", "msgids", "inbound", "outbox", "outboxdue", "marks", "imap", "people"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 2}); err != nil {
			return err
		}
		for i := range 2*membersPerTx + 7 {
			cid := fmt.Sprintf("c%04d", i/3)
			pid := i%3 + 1
			p := &Participant{
				ID: fmt.Sprintf("p%d", pid), Address: fmt.Sprintf("person%d@x.test", i%20), Name: fmt.Sprintf("Person %d", i%20),
				Party: pid % 2, Role: RoleLeader, Added: day(1 + i%20), Thread: []string{cid + ".1@gw.test"},
			}
			if i%7 == 0 {
				p.Address = strings.ToUpper(p.Address)
			}
			switch i % 11 {
			case 5:
				p.Removed = day(25)
			case 6:
				p.Pending = true
			}
			k := fmt.Appendf(nil, "%s\x00\x00\x00\x00%c", cid, byte(pid))
			// As schema 2's PutParticipant wrote it.
			v, err := encode(p)
			if err == nil {
				err = tx.Bucket([]byte("participants")).Put(k, v)
			}
			if err != nil {
				return err
			}
			ps[string(k)] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestOpenSchema2 upgrades a schema 2 file, in one go and after upgrades
// that failed at each of their transactions: every participant gets its
// members entry, as PutParticipant would have written it, and nothing else
// does.
func TestOpenSchema2(t *testing.T) {
	defer func(n int) { membersPerTx = n }(membersPerTx)
	membersPerTx = 100
	// In one go, three transactions index the members (the one of
	// initSchema, which creates the bucket, knows no Fault), a fourth the
	// due times of schema 4 and a fifth records schema 5.
	for _, failAt := range []int{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprintf("fail at %d", failAt), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "turnmail.db")
			ps := writeSchema2(t, path)
			s, writes := upgrade(t, path, failAt, func() {
				if failAt == 2 {
					// One batch done: the next Open goes on after it.
					checkMigrating(t, path, ps, membersPerTx)
				}
			})
			if failAt == 0 && writes != 5 {
				t.Errorf("upgrade took %d write transactions, want 5", writes)
			}
			checkMembers(t, s, ps)
		})
	}
}

// checkMigrating checks, in a file whose upgrade to schema 3 stopped, that
// the placed ones of the first n participants of ps are indexed and meta
// says where to go on: the participant after them.
func checkMigrating(t *testing.T, path string, ps map[string]*Participant, n int) {
	t.Helper()
	keys := slices.Sorted(maps.Keys(ps))
	placed := 0
	for _, k := range keys[:n] {
		if ps[k].Placed() {
			placed++
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint32(v) != 2 {
			t.Errorf("schema %x during the upgrade, want 2", v)
		}
		if got := tx.Bucket(bucketMembers).Stats().KeyN; got != placed {
			t.Errorf("%d members indexed, want %d", got, placed)
		}
		if from := tx.Bucket(bucketMeta).Get(keyMembersFrom); string(from) != keys[n] {
			t.Errorf("meta %q = %q, want the participants key %q", keyMembersFrom, from, keys[n])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkMembers checks that s is at layoutVersion with the members index of
// exactly the placed participants of ps.
func checkMembers(t *testing.T, s *Store, ps map[string]*Participant) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); binary.BigEndian.Uint32(v) != layoutVersion {
			t.Errorf("schema %x, want %d", v, layoutVersion)
		}
		if v := meta.Get(keyMembersFrom); v != nil {
			t.Errorf("meta %q left: %q", keyMembersFrom, v)
		}
		members := tx.Bucket(bucketMembers)
		placed := 0
		for k, p := range ps {
			mk, err := memberKey(p.Address, []byte(k))
			if err != nil {
				return err
			}
			want := encodeMember(p)
			if !p.Placed() {
				want = nil
			} else {
				placed++
			}
			if got := members.Get(mk); !bytes.Equal(got, want) {
				t.Fatalf("members %q = %x, want %x", mk, got, want)
			}
		}
		if n := members.Stats().KeyN; n != placed {
			t.Errorf("%d members entries, want %d", n, placed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx *Tx) error {
		ms, err := tx.Memberships("person7@x.test") // upper case in the file
		// Ten participants, one removed and one pending.
		if err == nil && (len(ms) != 8 || ms[0].Name != "Person 7" || ms[0].Collab != "c0002" || ms[0].ID != "p2") {
			t.Errorf("Memberships(person7@x.test) = %+v", ms)
		}
		return err
	})
}
