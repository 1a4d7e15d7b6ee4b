package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recordKinds are the records fastDecode reads, by the golden file of
// each.
var recordKinds = []struct {
	golden string
	check  func(t *testing.T, data []byte) bool
}{
	{"collab", sameAsJSON[Collab]},
	{"participant", sameAsJSON[Participant]},
	{"participant-unplaced", sameAsJSON[Participant]},
	{"turn", sameAsJSON[Turn]},
	{"document", sameAsJSON[Document]},
}

// sameAsJSON reports whether fastDecode took data as a T; if it did, it
// must read it as encoding/json does, and if it did not, leave its T be.
func sameAsJSON[T any](t *testing.T, data []byte) bool {
	t.Helper()
	var zero, fast, slow T
	if !fastDecode(data, &fast) {
		if !reflect.DeepEqual(fast, zero) {
			t.Errorf("fastDecode gave up on %q, but left %+v", data, fast)
		}
		return false
	}
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("fastDecode took %q, which encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\nfastDecode   %+v\nencoding/json %+v", data, fast, slow)
	}
	return true
}

// TestRecordJSONTakesEncode: fastDecode takes what encode writes, the
// golden records and records of every sort of string, and reads them as
// encoding/json does.
func TestRecordJSONTakesEncode(t *testing.T) {
	for _, k := range recordKinds {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", k.golden))
		if err != nil {
			t.Fatal(err)
		}
		if !k.check(t, data[1:]) {
			t.Errorf("fastDecode gave up on golden %s", k.golden)
		}
	}
	at := time.Date(2026, 11, 2, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, s := range []string{"", "plain", "<b>&amp;</b> \"q\" 'a' \\ /", "tab\tnl\ncr\r\x00\x01\x1f\x7f", "ünï©ødé 🙂",
		"\u2028\u2029", "bad \xff\xfe utf-8", strings.Repeat("long ", 1000)} {
		records := []any{
			&Collab{ID: s, Subject: s, Parties: []Party{{Name: s}, {}}, Turn: -3, NextPID: 1 << 40, Created: at, Deadline: at.UTC(), ClosingNote: s},
			&Collab{Parties: []Party{}},
			&Participant{ID: "p1", Address: s, Name: s, Thread: []string{s, ""}, Pending: true, Removed: at},
			&Turn{Number: 7, Note: s, Stripped: s, Versions: []VersionRef{{Doc: s, Number: 2}}, Ended: at},
			&Document{ID: "d1", Name: s, Created: at},
		}
		for _, r := range records {
			data, err := encode(r)
			if err != nil {
				t.Fatal(err)
			}
			var took bool
			switch r.(type) {
			case *Collab:
				took = sameAsJSON[Collab](t, data[1:])
			case *Participant:
				took = sameAsJSON[Participant](t, data[1:])
			case *Turn:
				took = sameAsJSON[Turn](t, data[1:])
			case *Document:
				took = sameAsJSON[Document](t, data[1:])
			}
			if !took {
				t.Errorf("fastDecode gave up on what encode wrote: %q", data[1:])
			}
		}
	}
}

// FuzzRecordJSON: whatever fastDecode takes as a record, it reads as
// encoding/json does.
func FuzzRecordJSON(f *testing.F) {
	for i, k := range recordKinds {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", k.golden))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), data[1:])
	}
	for _, s := range []string{
		`{"id":"a","id":"b"}`, `{"parties":[{"name":"A"}],"parties":[{}]}`, `{"turn":1.0}`, `{"turn":01}`, `{"turn":-0}`,
		`{"turn":1e2}`, `{"subject":null}`, `{"ID":"x"}`, `{"subject":"\ud83d\ude42"}`, `{"subject":"\u00e9\/"}`,
		` { "id" : "x" , "parties" : [ { "name" : "y" } ] } `, `{"created":"2026-11-02T08:00:00+01:00"}`,
		`{"created":"2026-11-02T08:00:00\u005a"}`, `{"thread":[]}`, `{"pending":true}`, `{"versions":[{"doc":"d1","number":2}]}`,
		`{"id":"x"}{}`, `{"id":"x",}`, `{"turn":99999999999999999999}`,
	} {
		for i := range recordKinds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		recordKinds[int(kind)%len(recordKinds)].check(t, data)
	})
}
