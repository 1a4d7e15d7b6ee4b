package store

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"testing"

	"github.com/turnmail/turnmail/mail"
)

// update runs fn in a write transaction and fails the test on error.
func update(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// view runs fn in a read transaction and fails the test on error.
func view(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// ids returns the ids of records, via id.
func ids[T any](records []*T, id func(*T) string) []string {
	var out []string
	for _, r := range records {
		out = append(out, id(r))
	}
	return out
}

func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

func TestCollabs(t *testing.T) {
	s, _ := openTest(t, nil)
	c := &Collab{
		ID: "k7p2qz", Subject: "Services Agreement", State: StateActive, Owner: "p1",
		Created: day(3), Turn: 2, TurnParty: 1, TurnSince: day(3),
		Parties: []Party{{Name: "ACME"}, {Name: "AXE"}}, NextPID: 3, NextDoc: 2,
		RootMsgID: "root@acme.com",
	}
	update(t, s, func(tx *Tx) error {
		for _, c := range []*Collab{c, {ID: "bbbbbb", Created: day(1)}, {ID: "aaaaaa", Created: day(3)}} {
			if err := tx.PutCollab(c); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx *Tx) error {
		got, err := tx.Collab(c.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
		if _, err := tx.Collab("nosuch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing collab: got %v, want ErrNotFound", err)
		}
		all, err := tx.Collabs()
		checkIDs(t, "Collabs", ids(all, func(c *Collab) string { return c.ID }), []string{"bbbbbb", "aaaaaa", "k7p2qz"})
		return err
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutCollab(&Collab{}) }); err == nil {
		t.Error("PutCollab without id succeeded")
	}
}

func TestNewCollabID(t *testing.T) {
	s, _ := openTest(t, nil)
	valid := regexp.MustCompile(`^[a-z2-7]{6}$`)
	seen := map[string]bool{}
	update(t, s, func(tx *Tx) error {
		for range 50 {
			id, err := tx.NewCollabID()
			if err != nil {
				return err
			}
			if !valid.MatchString(id) || seen[id] {
				t.Errorf("id %q invalid or repeated", id)
			}
			seen[id] = true
			if err := tx.PutCollab(&Collab{ID: id}); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestParticipants(t *testing.T) {
	s, _ := openTest(t, nil)
	p2 := &Participant{ID: "p2", Address: "bob@axe.com", Name: "Bob", Party: 1, Role: RoleLeader, Added: day(1), Thread: []string{"a@gw", "b@gw"}}
	update(t, s, func(tx *Tx) error {
		for _, p := range []*Participant{{ID: "p10"}, p2, {ID: "p1"}} {
			if err := tx.PutParticipant("abc", p); err != nil {
				return err
			}
		}
		// A collaboration whose id extends the other's does not mix in.
		return tx.PutParticipant("abcdef", &Participant{ID: "p3"})
	})
	view(t, s, func(tx *Tx) error {
		ps, err := tx.Participants("abc")
		checkIDs(t, "Participants", ids(ps, func(p *Participant) string { return p.ID }), []string{"p1", "p2", "p10"})
		if err == nil && !reflect.DeepEqual(ps[1], p2) {
			t.Errorf("round trip: got %+v, want %+v", ps[1], p2)
		}
		return err
	})

	for _, id := range []string{"", "p", "x1", "p01", "p-1", "p1x", "p99999999999"} {
		if err := s.Update(func(tx *Tx) error { return tx.PutParticipant("abc", &Participant{ID: id}) }); err == nil {
			t.Errorf("PutParticipant %q succeeded", id)
		}
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutParticipant("a\x00b", &Participant{ID: "p1"}) }); err == nil {
		t.Error("PutParticipant with a NUL in the collaboration id succeeded")
	}
}

func TestTurnsAndDocuments(t *testing.T) {
	s, _ := openTest(t, nil)
	turn := &Turn{
		Number: 2, Party: 1, Started: day(1), Ended: day(2), EndedBy: "p2", How: "files",
		Note: "see my edits", Stripped: "> quoted", MsgID: "m2@axe.com",
		Versions: []VersionRef{{Doc: "d1", Number: 2}},
	}
	doc := &Document{ID: "d2", Name: "contract.docx", Created: day(1)}
	update(t, s, func(tx *Tx) error {
		for _, n := range []int{10, 1, 3} {
			if err := tx.PutTurn("abc", &Turn{Number: n}); err != nil {
				return err
			}
		}
		if err := tx.PutTurn("abc", turn); err != nil {
			return err
		}
		for _, d := range []*Document{{ID: "d10"}, doc, {ID: "d1"}} {
			if err := tx.PutDocument("abc", d); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx *Tx) error {
		ts, err := tx.Turns("abc")
		if err != nil {
			return err
		}
		var numbers []int
		for _, t := range ts {
			numbers = append(numbers, t.Number)
		}
		if !reflect.DeepEqual(numbers, []int{1, 2, 3, 10}) {
			t.Errorf("turn order %v", numbers)
		} else if !reflect.DeepEqual(ts[1], turn) {
			t.Errorf("turn round trip: got %+v, want %+v", ts[1], turn)
		}
		ds, err := tx.Documents("abc")
		checkIDs(t, "Documents", ids(ds, func(d *Document) string { return d.ID }), []string{"d1", "d2", "d10"})
		if err == nil && !reflect.DeepEqual(ds[1], doc) {
			t.Errorf("document round trip: got %+v, want %+v", ds[1], doc)
		}
		return err
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutTurn("abc", &Turn{Number: -1}) }); err == nil {
		t.Error("PutTurn with a negative number succeeded")
	}
}

func TestVersions(t *testing.T) {
	s, _ := openTest(t, nil)
	v := &Version{
		Doc: "d1", Number: 2, Blob: mail.Blob{Digest: "ab", Size: 3}, Filename: "contract v2.docx",
		ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		Turn:        2, Author: "p2", MsgID: "m2@axe.com", Time: day(2),
	}
	update(t, s, func(tx *Tx) error {
		for _, x := range []*Version{{Doc: "d1", Number: 10}, v, {Doc: "d1", Number: 1}, {Doc: "d10", Number: 1}, {Doc: "d2", Number: 1}} {
			if err := tx.PutVersion("abc", x); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx *Tx) error {
		vs, err := tx.Versions("abc", "d1")
		checkIDs(t, "Versions", ids(vs, func(v *Version) string { return fmt.Sprintf("%s/%d", v.Doc, v.Number) }),
			[]string{"d1/1", "d1/2", "d1/10"})
		if err == nil && !reflect.DeepEqual(vs[1], v) {
			t.Errorf("round trip: got %+v, want %+v", vs[1], v)
		}
		return err
	})
	// The latest version, of a document followed by others (d1, before d2
	// and d10), of the last document of the last collaboration (d10 here
	// sorts after d2: ids are numbers), and of one with none.
	update(t, s, func(tx *Tx) error { return tx.PutVersion("abd", &Version{Doc: "d1", Number: 1}) })
	view(t, s, func(tx *Tx) error {
		for _, c := range []struct {
			cid, doc string
			want     int
		}{{"abc", "d1", 10}, {"abc", "d2", 1}, {"abc", "d10", 1}, {"abc", "d3", 0}, {"abd", "d1", 1}, {"abd", "d2", 0}, {"abb", "d1", 0}} {
			v, err := tx.LatestVersion(c.cid, c.doc)
			if err != nil {
				return err
			}
			got := 0 // none
			if v != nil {
				got = v.Number
				if v.Doc != c.doc {
					t.Errorf("LatestVersion(%s, %s) is of %s", c.cid, c.doc, v.Doc)
				}
			}
			if got != c.want {
				t.Errorf("LatestVersion(%s, %s) = version %d, want %d", c.cid, c.doc, got, c.want)
			}
		}
		return nil
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutVersion("abc", &Version{Doc: "contract", Number: 1}) }); err == nil {
		t.Error("PutVersion with an invalid document id succeeded")
	}
}

func TestDrafts(t *testing.T) {
	s, _ := openTest(t, nil)
	put := func(ds ...*Draft) {
		t.Helper()
		update(t, s, func(tx *Tx) error {
			for _, d := range ds {
				if err := tx.PutDraft("abc", d); err != nil {
					return err
				}
			}
			return nil
		})
	}
	drafts := func(party int) []string {
		t.Helper()
		var out []string
		view(t, s, func(tx *Tx) error {
			ds, err := tx.Drafts("abc", party)
			out = ids(ds, func(d *Draft) string { return d.Doc + "/" + d.Name + "/" + d.Filename })
			return err
		})
		return out
	}

	put(
		&Draft{Party: 1, Doc: "d2", Name: "contract.docx", Filename: "a"},
		&Draft{Party: 1, Doc: "d10", Name: "annex.docx", Filename: "b"},
		&Draft{Party: 1, Name: "new.xlsx", Filename: "c"},
		&Draft{Party: 0, Doc: "d2", Name: "contract.docx", Filename: "mine"},
	)
	checkIDs(t, "party 1", drafts(1), []string{"d2/contract.docx/a", "d10/annex.docx/b", "/new.xlsx/c"})

	// The same document, or for a new one the same name, replaces the draft.
	put(
		&Draft{Party: 1, Doc: "d2", Name: "contract.docx", Filename: "a2"},
		&Draft{Party: 1, Name: "new.xlsx", Filename: "c2"},
		&Draft{Party: 1, Name: "other.pdf", Filename: "d"},
	)
	checkIDs(t, "party 1 after replacing", drafts(1), []string{"d2/contract.docx/a2", "d10/annex.docx/b", "/new.xlsx/c2", "/other.pdf/d"})

	full := &Draft{
		Party: 0, Doc: "d2", Name: "contract.docx", Blob: mail.Blob{Digest: "cd", Size: 9}, Filename: "mine",
		ContentType: "application/pdf", Author: "p1", MsgID: "m@acme.com", Time: day(4),
	}
	put(full)
	view(t, s, func(tx *Tx) error {
		ds, err := tx.Drafts("abc", 0)
		if err == nil && (len(ds) != 1 || !reflect.DeepEqual(ds[0], full)) {
			t.Errorf("round trip: got %+v, want %+v", ds, full)
		}
		return err
	})

	update(t, s, func(tx *Tx) error { return tx.DeleteDrafts("abc", 1) })
	checkIDs(t, "party 1 after delete", drafts(1), nil)
	checkIDs(t, "party 0 after deleting party 1's", drafts(0), []string{"d2/contract.docx/mine"})
}
