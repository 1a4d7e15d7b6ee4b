package workflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

var (
	viewT0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	viewT1 = viewT0.Add(50 * time.Hour)
)

// viewStore opens a store in a temporary directory holding the lease (see
// openViewStore) until the test ends.
func viewStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := openViewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openViewStore opens a store in dir holding the lease: two parties, three
// people, someone not yet in a party, someone removed (who wrote a version),
// two documents (one with two versions), a draft of an existing and of a new
// document, two ended turns. A second, wrapped collaboration was
// started later and names a party it does not have.
func openViewStore(dir string) (*store.Store, error) {
	st, err := store.Open(filepath.Join(dir, "turnmail.db"), nil)
	if err != nil {
		return nil, err
	}
	var blobs []mail.Blob
	for _, s := range []string{"lease, first draft", "lease, with Bob's changes", "annex", "Carol's try"} {
		b, err := st.PutBlob(strings.NewReader(s))
		if err != nil {
			st.Close()
			return nil, err
		}
		blobs = append(blobs, b)
	}
	lease1, lease2, annex, try := blobs[0], blobs[1], blobs[2], blobs[3]
	err = st.Update(func(tx *store.Tx) error {
		const id = "lease1"
		for _, c := range []*store.Collab{{
			ID: id, Subject: "Lease", State: store.StateActive, Owner: "p1", Created: viewT0,
			Turn: 3, TurnParty: 0, TurnSince: viewT1, Parties: []store.Party{{Name: "Globex"}, {Name: "Initech"}},
			NextPID: 5, NextDoc: 2,
		}, {
			ID: "aaaaaa", Subject: "Old news", State: store.StateWrapped, Owner: "p1", Created: viewT1,
			Wrapped: viewT1, Turn: 2, TurnParty: 7, Parties: []store.Party{{Name: "Solo"}},
		}} {
			if err := tx.PutCollab(c); err != nil {
				return err
			}
		}
		for _, p := range []*store.Participant{
			{ID: "p1", Address: "alice@globex.example", Name: "Alice", Party: 0, Role: store.RoleLeader, Added: viewT0},
			{ID: "p2", Address: "carol@globex.example", Party: 0, Role: store.RoleContributor, Added: viewT0},
			{ID: "p3", Address: "bob@initech.example", Name: "Bob", Party: 1, Role: store.RoleLeader, Added: viewT0},
			{ID: "p4", Address: "eve@lawfirm.example", Name: "Eve", Party: 1, Role: store.RoleContributor, Added: viewT0, Pending: true},
			{ID: "p5", Address: "rita@initech.example", Party: 1, Role: store.RoleContributor, Added: viewT0, Removed: viewT1},
		} {
			if err := tx.PutParticipant(id, p); err != nil {
				return err
			}
		}
		for _, d := range []*store.Document{{ID: "d1", Name: "lease.docx", Created: viewT0}, {ID: "d2", Name: "annex.pdf", Created: viewT1}} {
			if err := tx.PutDocument(id, d); err != nil {
				return err
			}
		}
		for _, v := range []*store.Version{
			{Doc: "d1", Number: 1, Blob: lease1, Filename: "lease.docx", Turn: 1, Author: "p1", Time: viewT0},
			{Doc: "d1", Number: 2, Blob: lease2, Filename: "lease bob.docx", Turn: 2, Author: "p3", Time: viewT1},
			{Doc: "d2", Number: 1, Blob: annex, Filename: "annex.pdf", Turn: 2, Author: "p5", Time: viewT1},
		} {
			if err := tx.PutVersion(id, v); err != nil {
				return err
			}
		}
		for _, d := range []*store.Draft{
			{Party: 0, Name: "schedule.xlsx", Blob: try, Filename: "Schedule.xlsx", Author: "p2", Time: viewT1},
			{Party: 0, Doc: "d1", Blob: try, Filename: "lease carol.docx", Author: "p2", Time: viewT1},
		} {
			if err := tx.PutDraft(id, d); err != nil {
				return err
			}
		}
		for _, t := range []*store.Turn{
			{Number: 1, Party: 0, Started: viewT0, Ended: viewT0, EndedBy: "p1", How: "start", Note: "Here it is.",
				Versions: []store.VersionRef{{Doc: "d1", Number: 1}}},
			{Number: 2, Party: 1, Started: viewT0, Ended: viewT1, EndedBy: "p3", How: "files", Note: "Changes.\nSee §4.",
				Versions: []store.VersionRef{{Doc: "d1", Number: 2}, {Doc: "d2", Number: 1}}},
		} {
			if err := tx.PutTurn(id, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// viewGolden is show --json of the lease: its field names and their order
// are the contract.
const viewGolden = `{
  "id": "lease1",
  "subject": "Lease",
  "state": "active",
  "created": "2026-04-01T09:00:00Z",
  "owner": "alice@globex.example",
  "turn": {
    "number": 3,
    "party": "Globex",
    "since": "2026-04-03T11:00:00Z"
  },
  "parties": [
    {
      "name": "Globex",
      "participants": [
        {
          "address": "alice@globex.example",
          "name": "Alice",
          "role": "leader",
          "party": "Globex"
        },
        {
          "address": "carol@globex.example",
          "name": "",
          "role": "contributor",
          "party": "Globex"
        }
      ]
    },
    {
      "name": "Initech",
      "participants": [
        {
          "address": "bob@initech.example",
          "name": "Bob",
          "role": "leader",
          "party": "Initech"
        }
      ]
    }
  ],
  "pending": [
    {
      "address": "eve@lawfirm.example",
      "name": "Eve",
      "role": "contributor"
    }
  ],
  "documents": [
    {
      "name": "lease.docx",
      "versions": [
        {
          "number": 1,
          "sha256": "801691c86b0e0ba70202df85d47dfd00351d96eacd65e3e359f307290fad2c56",
          "size": 18,
          "filename": "lease.docx",
          "turn": 1,
          "author": "alice@globex.example",
          "time": "2026-04-01T09:00:00Z"
        },
        {
          "number": 2,
          "sha256": "9904db53b81b874ffac5b2433007c0723feb3f4a0d7d85963f51e8f65073e389",
          "size": 25,
          "filename": "lease bob.docx",
          "turn": 2,
          "author": "bob@initech.example",
          "time": "2026-04-03T11:00:00Z"
        }
      ]
    },
    {
      "name": "annex.pdf",
      "versions": [
        {
          "number": 1,
          "sha256": "b119bda4207bd15e9e1f63063b558917301ec18c4ff21d91964f66bf90a7d522",
          "size": 5,
          "filename": "annex.pdf",
          "turn": 2,
          "author": "rita@initech.example",
          "time": "2026-04-03T11:00:00Z"
        }
      ]
    }
  ],
  "drafts": [
    {
      "party": "Globex",
      "name": "lease.docx",
      "filename": "lease carol.docx",
      "author": "carol@globex.example",
      "size": 11
    },
    {
      "party": "Globex",
      "name": "schedule.xlsx",
      "filename": "Schedule.xlsx",
      "author": "carol@globex.example",
      "size": 11
    }
  ],
  "turns": [
    {
      "number": 1,
      "party": "Globex",
      "ended_by": "alice@globex.example",
      "ended": "2026-04-01T09:00:00Z",
      "how": "start",
      "note": "Here it is.",
      "versions": [
        {
          "document": "lease.docx",
          "number": 1
        }
      ]
    },
    {
      "number": 2,
      "party": "Initech",
      "ended_by": "bob@initech.example",
      "ended": "2026-04-03T11:00:00Z",
      "how": "files",
      "note": "Changes.\nSee §4.",
      "versions": [
        {
          "document": "lease.docx",
          "number": 2
        },
        {
          "document": "annex.pdf",
          "number": 1
        }
      ]
    }
  ]
}`

func TestLoadView(t *testing.T) {
	st := viewStore(t)
	var v *workflow.CollabView
	err := st.View(func(tx *store.Tx) (err error) {
		v, err = workflow.LoadView(tx, "lease1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != viewGolden {
		t.Errorf("LoadView as JSON:\n%s\nwant\n%s", got, viewGolden)
	}
	var back workflow.CollabView
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, v) {
		t.Errorf("JSON does not round-trip:\n got %+v\nwant %+v", back, *v)
	}
}

// A collaboration with nothing in it yet shows [] everywhere, not null, and
// an index that names no party reads "party N".
func TestLoadViewEmpty(t *testing.T) {
	st := viewStore(t)
	var v *workflow.CollabView
	err := st.View(func(tx *store.Tx) (err error) {
		v, err = workflow.LoadView(tx, "aaaaaa")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &workflow.CollabView{
		ID: "aaaaaa", Subject: "Old news", State: store.StateWrapped, Created: viewT1, Wrapped: viewT1,
		Owner:     "p1", // no participant record: the id itself
		Turn:      workflow.TurnHeld{Number: 2, Party: "party 7"},
		Parties:   []workflow.PartyView{{Name: "Solo", Participants: []workflow.ParticipantView{}}},
		Pending:   []workflow.ParticipantView{},
		Documents: []workflow.DocumentView{}, Drafts: []workflow.DraftView{}, Turns: []workflow.TurnView{},
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("LoadView:\n got %+v\nwant %+v", v, want)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"documents":[]`, `"drafts":[]`, `"turns":[]`, `"participants":[]`, `"pending":[]`, `"turn":{"number":2,"party":"party 7"}`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("JSON has no %s: %s", s, b)
		}
	}
}

func TestLoadViewNotFound(t *testing.T) {
	st := viewStore(t)
	err := st.View(func(tx *store.Tx) error {
		_, err := workflow.LoadView(tx, "nosuch")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) || err.Error() != `no collaboration "nosuch"` {
		t.Errorf("LoadView(nosuch) = %v, want a store.ErrNotFound saying only the id", err)
	}
}

func TestListCollabs(t *testing.T) {
	st := viewStore(t)
	var list []workflow.CollabSummary
	err := st.View(func(tx *store.Tx) (err error) {
		list, err = workflow.ListCollabs(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first; a summary leaves out since.
	want := `[{"id":"lease1","subject":"Lease","state":"active","turn":{"number":3,"party":"Globex"}},` +
		`{"id":"aaaaaa","subject":"Old news","state":"wrapped","turn":{"number":2,"party":"party 7"}}]`
	if string(got) != want {
		t.Errorf("ListCollabs:\n got %s\nwant %s", got, want)
	}
}

func TestTurnViewFiles(t *testing.T) {
	for _, tc := range []struct {
		refs []workflow.VersionRef
		want string
	}{
		{nil, ""},
		{[]workflow.VersionRef{{Document: "lease.docx", Number: 2}}, "lease.docx v2"},
		{[]workflow.VersionRef{{Document: "lease.docx", Number: 2}, {Document: "annex.pdf", Number: 1}}, "lease.docx v2, annex.pdf v1"},
	} {
		if got := (workflow.TurnView{Versions: tc.refs}).Files(); got != tc.want {
			t.Errorf("Files(%v) = %q, want %q", tc.refs, got, tc.want)
		}
	}
}

// ExampleLoadView reads one collaboration as `turnmail show` prints it:
// people by address, parties and documents by name.
func ExampleLoadView() {
	dir, err := os.MkdirTemp("", "view")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	st, err := openViewStore(dir)
	if err != nil {
		panic(err)
	}
	defer st.Close()

	err = st.View(func(tx *store.Tx) error {
		v, err := workflow.LoadView(tx, "lease1")
		if err != nil {
			return err
		}
		fmt.Printf("%s: turn %d is with %s\n", v.Subject, v.Turn.Number, v.Turn.Party)
		for _, t := range v.Turns {
			fmt.Printf("turn %d, %s, ended by %s: %s\n", t.Number, t.Party, t.EndedBy, t.Files())
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// Lease: turn 3 is with Globex
	// turn 1, Globex, ended by alice@globex.example: lease.docx v1
	// turn 2, Initech, ended by bob@initech.example: lease.docx v2, annex.pdf v1
}
