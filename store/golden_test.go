package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden pins every stored encoding. It writes a fully populated value
// of each kind of record through the store's own API, then compares the raw
// bytes of its bucket entry with testdata/golden/<name>: a JSON tag, a
// field's order or a binary layout is part of the file format, and a change
// to one must show up here, in review, as a changed golden file (regenerate
// them with go test ./store -run Golden -update). The keys are written out
// here as the package comment lays them out.
//
// Every exported field of every record read back must be set, so that a new
// field cannot join a stored type without joining its golden file.
func TestGolden(t *testing.T) {
	s, _ := openTest(t, nil)
	const cid = "k7p2qz"
	at := func(min int) time.Time { return time.Date(2025, 3, 4, 9, min, 15, 123456789, time.UTC) }

	// A blob of more than maxChunk bytes, so its manifest lists two chunks
	// or more.
	content := randomBytes(8, maxChunk+64<<10)
	blob, err := s.PutBlob(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)

	collab := &Collab{
		ID: cid, Subject: "Contract for the Hamburg office", State: StateWrapped, Owner: "p1",
		Created: at(1), Wrapped: at(50), ClosingNote: "Signed by both sides.\nThank you all.", Turn: 3, TurnParty: 1, TurnSince: at(20),
		Parties: []Party{{Name: "Acme"}, {Name: "Globex"}}, NextPID: 8, NextDoc: 3,
		RootMsgID: "root.1@mail.acme.example", Deadline: at(59), DeadlineDate: "2025-03-04",
	}
	participant := &Participant{
		ID: "p7", Address: "bea@globex.example", Name: "Bea Lind", Party: 1, Role: RoleLeader,
		Added: at(2), Thread: []string{"h1.k7p2qz@gw.example", "h2.k7p2qz@gw.example"},
	}
	// unplaced has every field set, those that came later included: outside
	// counsel Cc'd at the start, never placed, then removed. participant
	// above keeps the encoding records had before them, which must still
	// read as placed.
	unplaced := &Participant{
		ID: "p8", Address: "eve@lawfirm.example", Name: "Eve Counsel", Party: 1, Role: RoleContributor,
		Added: at(2), Thread: []string{"h4.k7p2qz@gw.example"}, Pending: true, Removed: at(25),
	}
	turn := &Turn{
		Number: 3, Party: 1, Started: at(10), Ended: at(20), EndedBy: "p7", How: "files",
		Note: "Clause 4 reworded.", Stripped: "> On Monday Ann wrote:\n> see attached",
		MsgID: "turn3@mail.globex.example", Versions: []VersionRef{{Doc: "d2", Number: 4}},
	}
	document := &Document{ID: "d2", Name: "contract.docx", Created: at(3)}
	version := &Version{
		Doc: "d2", Number: 4, Blob: blob, Filename: "Contract v4.docx",
		ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		Turn:        3, Author: "p7", MsgID: "turn3@mail.globex.example", Time: at(20),
	}
	draftOf := &Draft{
		Party: 1, Doc: "d2", Name: "contract.docx", Blob: blob, Filename: "contract-bea.docx",
		ContentType: "application/octet-stream", Author: "p8", MsgID: "draft@mail.globex.example", Time: at(15),
		Base: 3,
	}
	draftNew := *draftOf
	draftNew.Doc, draftNew.Name, draftNew.Filename, draftNew.Base = "", "budget.xlsx", "Budget 2025.xlsx", 0
	person := &Person{Address: "Bea@Globex.example", TimeZone: "Europe/Berlin", SummaryOff: true}
	inbound := &Inbound{
		Time: at(20), Source: "lmtp", EnvFrom: "bounce+bea@globex.example",
		Recipients: []string{"k7p2qz@gw.example"}, MsgID: "turn3@mail.globex.example",
		Digest: blob.Digest, Size: blob.Size, From: "bea@globex.example", Subject: "Re: Contract",
		Collab: cid, Outcome: OutcomeHeld, Detail: "dmarc=fail", Raw: blob.Digest,
		Confirmer: "p1", Confirm: "confirm.1@gw.example",
	}
	outbound := &Outbound{
		Collab: cid, Kind: "handoff", Created: at(21), NextTry: at(21),
		Msg: mail.Outgoing{
			MessageID: "h3.k7p2qz@gw.example", Date: at(21),
			From:    mail.Address{Name: "Contract (turnmail)", Addr: "k7p2qz@gw.example"},
			To:      mail.Address{Name: "Ann Berg", Addr: "ann@acme.example"},
			ReplyTo: &mail.Address{Name: "Contract", Addr: "k7p2qz+p1.ab12@gw.example"},
			Subject: "Your turn: Contract for the Hamburg office", InReplyTo: "h2.k7p2qz@gw.example",
			References: []string{"root.1@mail.acme.example", "h2.k7p2qz@gw.example"},
			ListID:     "Contract <k7p2qz.collab.gw.example>", ListPost: "k7p2qz@gw.example",
			ListUnsubscribe: "<mailto:k7p2qz+leave@gw.example>",
			Header:          [][2]string{{"X-Turnmail-Collab", cid}},
			Text:            "Globex handed the turn to you.\n", HTML: "<p>Globex handed the turn to you.</p>",
			Attachments: []mail.OutgoingAttachment{{
				Filename: "contract.docx", ContentType: "application/octet-stream", Blob: blob,
			}},
		},
	}
	const markKey = "remind\x00k7p2qz\x003"

	update(t, s, func(tx *Tx) error {
		for _, err := range []error{
			tx.PutCollab(collab),
			tx.PutParticipant(cid, participant),
			tx.PutParticipant(cid, unplaced),
			tx.PutTurn(cid, turn),
			tx.PutDocument(cid, document),
			tx.PutVersion(cid, version),
			tx.PutDraft(cid, draftOf),
			tx.PutDraft(cid, &draftNew),
			tx.PutPerson(person),
			tx.AddInbound(inbound),
			tx.Enqueue(outbound),
			tx.PutMsgID("<h3.k7p2qz@gw.example>", cid, DirOut),
			tx.PutReceived("Bea@Globex.example", "turn3@mail.globex.example", cid),
		} {
			if err != nil {
				return err
			}
		}
		_, err := tx.MarkOnce(markKey, at(22))
		return err
	})
	// A retry, then a last failure, so that every field of the Outbound is
	// set; the due index is checked in between, while it is queued.
	if err := s.MarkRetry(outbound.ID, at(30), "451 4.3.0 try again later"); err != nil {
		t.Fatal(err)
	}
	dueKey := binary.BigEndian.AppendUint64(nil, uint64(at(30).Unix())^1<<63)
	dueKey = binary.BigEndian.AppendUint32(dueKey, 123456789)
	dueKey = binary.BigEndian.AppendUint64(dueKey, 1)
	checkRaw(t, s, bucketOutboxDue, dueKey, []byte{})
	// The due index: the wrapped-up collaboration under its wrap-up, then,
	// its owner warned, its purge under the warning, with the pointer to it.
	keyTime := func(tm time.Time) []byte {
		k := binary.BigEndian.AppendUint64(nil, uint64(tm.Unix())^1<<63)
		return binary.BigEndian.AppendUint32(k, uint32(tm.Nanosecond()))
	}
	checkRaw(t, s, bucketDue, bytes.Join([][]byte{[]byte("w"), keyTime(at(50)), []byte(cid)}, nil), []byte{})
	update(t, s, func(tx *Tx) error { return tx.PutPurgeDue(cid, at(55)) })
	checkRaw(t, s, bucketDue, bytes.Join([][]byte{[]byte("p"), keyTime(at(55)), []byte(cid)}, nil), []byte{})
	checkRaw(t, s, bucketDue, []byte("P"+cid), keyTime(at(55)))
	if err := s.MarkFailed(outbound.ID, at(40), "550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIMAPCursor("u@imap.example:993", "INBOX", 7, 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIMAPCursor("u@imap.example:993", "Archive", 9, 11); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIMAPTries("u@imap.example:993", "Archive", 9, 12, 3); err != nil {
		t.Fatal(err)
	}

	// Every record, read back through the API, is fully populated.
	view(t, s, func(tx *Tx) error {
		c, err := tx.Collab(cid)
		requireFull(t, c, err)
		ps, err := tx.Participants(cid)
		if err == nil && len(ps) != 2 {
			t.Fatalf("%d participants; want 2", len(ps))
		}
		requireFull(t, ps[1], err)
		if !reflect.DeepEqual(ps[0], participant) || !ps[0].Placed() {
			t.Errorf("a participant without the later fields reads back as %+v; want %+v, placed", ps[0], participant)
		}
		ms, err := tx.Memberships("bea@globex.example")
		requireFull(t, ms, err)
		ts, err := tx.Turns(cid)
		requireFull(t, ts, err)
		ds, err := tx.Documents(cid)
		requireFull(t, ds, err)
		vs, err := tx.Versions(cid, "d2")
		requireFull(t, vs, err)
		drafts, err := tx.Drafts(cid, 1)
		if err == nil && len(drafts) != 2 {
			t.Fatalf("%d drafts; want 2", len(drafts))
		}
		requireFull(t, drafts[0], err) // the draft of a new document has no Doc
		p, err := tx.Person("bea@globex.example")
		requireFull(t, p, err)
		in, err := tx.Inbound(1)
		requireFull(t, in, err)
		gotCID, dir, err := tx.MsgID("h3.k7p2qz@gw.example")
		requireFull(t, &msgIDRecord{Collab: gotCID, Dir: dir}, err)
		var marks []*markRecord
		err = scanKeys(tx.bucket(bucketMarks), []byte(markKey), func(_ []byte, m *markRecord) { marks = append(marks, m) })
		requireFull(t, marks, err)
		return nil
	})
	o, err := s.Outbound(outbound.ID)
	requireFull(t, o, err)

	u32 := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	key := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cidK := []byte(cid + "\x00")
	for _, c := range []struct {
		name   string // of the golden file
		bucket []byte
		key    []byte
	}{
		{"meta-schema", bucketMeta, []byte("schema")},
		{"collab", bucketCollabs, []byte(cid)},
		{"participant", bucketParticipants, key(cidK, u32(7))},
		{"participant-unplaced", bucketParticipants, key(cidK, u32(8))},
		{"turn", bucketTurns, key(cidK, u32(3))},
		{"document", bucketDocuments, key(cidK, u32(2))},
		{"version", bucketVersions, key(cidK, u32(2), u32(4))},
		{"draft-document", bucketDrafts, key(cidK, u32(1), []byte("d"), u32(2))},
		{"draft-new", bucketDrafts, key(cidK, u32(1), []byte("nbudget.xlsx"))},
		{"msgid", bucketMsgIDs, []byte("h3.k7p2qz@gw.example")},
		{"msgid-received", bucketMsgIDs, []byte("\x00bea@globex.example\x00turn3@mail.globex.example")},
		{"inbound", bucketInbound, binary.BigEndian.AppendUint64(nil, 1)},
		{"outbound", bucketOutbox, binary.BigEndian.AppendUint64(nil, 1)},
		{"mark", bucketMarks, []byte(markKey)},
		{"person", bucketPeople, []byte("bea@globex.example")},
		{"member", bucketMembers, key([]byte("bea@globex.example\x00"), cidK, u32(7))},
		{"blob-manifest", bucketBlobs, sum[:]},
		{"imap-cursor", bucketIMAP, []byte("u@imap.example:993\x00INBOX")},
		{"imap-tries", bucketIMAP, []byte("u@imap.example:993\x00Archive")},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, s, c.name, c.bucket, c.key)
		})
	}

	// The chunk index: the chunks of the manifest, in order, back to back
	// in packs of up to packBytes (or of one larger chunk) appended to
	// chunkdata under sequence numbers 1, 2, …; the first entry pinned.
	var m manifest
	if err := m.decode(rawValue(t, s, bucketBlobs, sum[:])); err != nil {
		t.Fatal(err)
	}
	if len(m.chunks) < 2 {
		t.Fatalf("manifest lists %d chunks; want 2 or more", len(m.chunks))
	}
	t.Run("chunk-index", func(t *testing.T) {
		checkGolden(t, s, "chunk-index", bucketChunks, m.chunks[0].sum[:])
	})
	packs := map[uint64][]byte{}
	var seq uint64 = 1
	off, packOff := 0, 0
	for i, c := range m.chunks {
		if packOff > 0 && packOff+c.size > packBytes {
			seq, packOff = seq+1, 0
		}
		key := binary.BigEndian.AppendUint64(nil, seq)
		want := append(append(bytes.Clone(key), u32(uint32(packOff))...), u32(uint32(c.size))...)
		if got := rawValue(t, s, bucketChunks, c.sum[:]); !bytes.Equal(got, want) {
			t.Errorf("chunk %d: index entry %x; want chunkdata key %x, offset %d, length %d", i, got, key, packOff, c.size)
		}
		packs[seq] = append(packs[seq], content[off:off+c.size]...)
		off += c.size
		packOff += c.size
	}
	for seq, want := range packs {
		if !bytes.Equal(rawValue(t, s, bucketChunkData, u64Key(seq)), want) {
			t.Errorf("chunkdata %d holds other bytes than its chunks'", seq)
		}
	}
}

// rawValue returns a copy of the value at key of bucket, failing the test
// when there is none.
func rawValue(t *testing.T, s *Store, bucket, key []byte) []byte {
	t.Helper()
	var v []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucket).Get(key))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v == nil {
		t.Fatalf("%s: no entry at %q", bucket, key)
	}
	return v
}

// checkRaw fails the test unless the entry at key of bucket holds want.
func checkRaw(t *testing.T, s *Store, bucket, key, want []byte) {
	t.Helper()
	if got := rawValue(t, s, bucket, key); !bytes.Equal(got, want) {
		t.Errorf("%s %q = %q; want %q", bucket, key, got, want)
	}
}

// checkGolden compares the entry at key of bucket with testdata/golden/name,
// or, with -update, rewrites that file. A deflated record is compared
// inflated, its version byte and its JSON: any deflate stream of the JSON
// reads the same, and compress/flate's output may change from one Go
// release to the next.
func checkGolden(t *testing.T, s *Store, name string, bucket, key []byte) {
	t.Helper()
	got := rawValue(t, s, bucket, key)
	if len(got) > 0 && got[0] == deflatedVersion {
		js, err := inflateRecord(got[1:])
		if err != nil {
			t.Fatalf("%s %q: %v", bucket, key, err)
		}
		got = append([]byte{deflatedVersion}, js...)
	}
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./store -run Golden -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s %q changed the stored encoding:\n got %q\nwant %q\n(a changed JSON tag, field order or layout breaks existing files; if this change is meant, it needs a record or schema version and -update)", bucket, key, got, want)
	}
}

// requireFull fails the test when err is not nil or when v, followed
// through pointers, slices and structs, has an exported field, element or
// itself left at its zero value.
func requireFull(t *testing.T, v any, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		t.Helper()
		if tm, ok := v.Interface().(time.Time); ok {
			if tm.IsZero() {
				t.Errorf("%s is not set", path)
			}
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				t.Errorf("%s is nil", path)
				return
			}
			walk(path, v.Elem())
		case reflect.Slice:
			if v.Len() == 0 {
				t.Errorf("%s is empty", path)
			}
			fallthrough
		case reflect.Array:
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() {
					walk(path+"."+f.Name, v.Field(i))
				}
			}
		default:
			if v.IsZero() {
				t.Errorf("%s is not set", path)
			}
		}
	}
	walk(reflect.TypeOf(v).String(), reflect.ValueOf(v))
}

// TestDraftBeforeBase: a draft stored before drafts recorded the version
// they were made on reads as made on the current one (Base 0), the rest of
// it intact.
func TestDraftBeforeBase(t *testing.T) {
	s, _ := openTest(t, nil)
	old := []byte(`{"party":1,"doc":"d2","name":"contract.docx","blob":{"digest":"97a5d6828f1d16f572cf725b5932cc8b9c8539907b756783ab0f8bf288256558","size":327680},"filename":"contract-bea.docx","content_type":"application/octet-stream","author":"p8","msgid":"draft@mail.globex.example","time":"2025-03-04T09:15:15.123456789Z"}`)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDrafts).Put([]byte("k7p2qz\x00\x00\x00\x00\x01d\x00\x00\x00\x02"), append([]byte{recordVersion}, old...))
	})
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		ds, err := tx.Drafts("k7p2qz", 1)
		if err != nil {
			return err
		}
		if len(ds) != 1 || ds[0].Base != 0 || ds[0].Doc != "d2" || ds[0].Author != "p8" {
			t.Fatalf("drafts %+v", ds)
		}
		return tx.DeleteDraft("k7p2qz", ds[0])
	})
	view(t, s, func(tx *Tx) error {
		if ds, err := tx.Drafts("k7p2qz", 1); err != nil || len(ds) != 0 {
			t.Errorf("after DeleteDraft: %d drafts, %v", len(ds), err)
		}
		return nil
	})
}
