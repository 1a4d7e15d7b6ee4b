package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// purgeFixture is two collaborations, "aaa" to purge and "bbb" to keep,
// with the blobs each holds.
type purgeFixture struct {
	shared, version, draft, raw, queued, sent mail.Blob // aaa's; shared is bbb's too
	neighbour                                 mail.Blob // bbb's, with chunks in common with aaa's version
	content                                   map[string][]byte
}

func fillPurge(t *testing.T, s *Store) *purgeFixture {
	t.Helper()
	f := &purgeFixture{content: map[string][]byte{}}
	put := func(b []byte) mail.Blob {
		t.Helper()
		blob, err := s.PutBlob(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		f.content[blob.Digest] = b
		return blob
	}
	base := randomBytes(21, 1<<20)
	f.shared = put(randomBytes(20, 300<<10))
	f.version = put(base)
	f.neighbour = put(append(bytes.Clone(base), randomBytes(22, 200<<10)...))
	f.draft = put([]byte("aaa's draft"))
	f.raw = put([]byte("aaa's held mail"))
	f.queued = put([]byte("aaa's queued attachment"))
	f.sent = put([]byte("aaa's sent attachment"))
	attach := func(b mail.Blob) mail.Outgoing {
		return mail.Outgoing{MessageID: "out-" + b.Digest[:6] + "@gw", Attachments: []mail.OutgoingAttachment{{Filename: "f", Blob: b}}}
	}
	var sentID uint64
	update(t, s, func(tx *Tx) error {
		for _, cid := range []string{"aaa", "bbb"} {
			for _, err := range []error{
				tx.PutCollab(&Collab{ID: cid, Subject: cid, State: StateWrapped, Parties: []Party{{Name: "A"}, {Name: "B"}}}),
				tx.PutParticipant(cid, &Participant{ID: "p1", Address: "ann@" + cid + ".example"}),
				tx.PutTurn(cid, &Turn{Number: 1, Note: "a note of " + cid}),
				tx.PutDocument(cid, &Document{ID: "d1", Name: "contract.docx"}),
				tx.PutVersion(cid, &Version{Doc: "d1", Number: 1, Blob: f.shared}),
				tx.PutMsgID("root@"+cid, cid, DirIn),
				tx.PutReceived("ann@"+cid+".example", "root@"+cid, cid),
				tx.AddInbound(&Inbound{Collab: cid, Subject: "about " + cid, Outcome: OutcomeTurn, Detail: "turn 1 ended"}),
			} {
				if err != nil {
					return err
				}
			}
		}
		for _, err := range []error{
			tx.PutVersion("aaa", &Version{Doc: "d1", Number: 2, Blob: f.version}),
			tx.PutDraft("aaa", &Draft{Party: 1, Doc: "d1", Blob: f.draft}),
			tx.PutVersion("bbb", &Version{Doc: "d1", Number: 2, Blob: f.neighbour}),
			tx.AddInbound(&Inbound{Collab: "aaa", Subject: "held", Outcome: OutcomeHeld, Raw: f.raw.Digest, Confirmer: "p1", Confirm: "c@gw"}),
			tx.Enqueue(&Outbound{Collab: "aaa", Kind: "binder", Msg: attach(f.queued)}),
			tx.Enqueue(&Outbound{Collab: "bbb", Kind: "binder", Msg: attach(f.shared)}),
		} {
			if err != nil {
				return err
			}
		}
		o := &Outbound{Collab: "aaa", Kind: "handoff", Msg: attach(f.sent)}
		err := tx.Enqueue(o)
		sentID = o.ID
		return err
	})
	if err := s.MarkSent(sentID, day(1)); err != nil {
		t.Fatal(err)
	}
	return f
}

func always(*Tx, *Collab) (bool, error) { return true, nil }

func TestPurgeCollab(t *testing.T) {
	clock := &testClock{t: day(1)}
	s, _ := openTest(t, &Options{Now: clock.now})
	f := fillPurge(t, s)
	clock.add(2 * freshFor)
	before := countChunks(t, s)

	rep, err := s.PurgeCollab("aaa", func(tx *Tx, c *Collab) (bool, error) {
		if c.ID != "aaa" || c.State != StateWrapped {
			t.Errorf("due got %+v", c)
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// version, draft, raw, queued and sent go; shared stays for bbb.
	if !rep.Purged || rep.Blobs != 5 || rep.Kept != 1 || rep.Chunks == 0 {
		t.Errorf("report %+v, want purged, 5 blobs deleted, 1 kept", rep)
	}

	view(t, s, func(tx *Tx) error {
		if _, err := tx.Collab("aaa"); !errors.Is(err, ErrNotFound) {
			t.Errorf("aaa after the purge: %v", err)
		}
		ps, _ := tx.Participants("aaa")
		ts, _ := tx.Turns("aaa")
		ds, _ := tx.Documents("aaa")
		vs, _ := tx.Versions("aaa", "d1")
		drs, _ := tx.Drafts("aaa", 1)
		if len(ps)+len(ts)+len(ds)+len(vs)+len(drs) != 0 {
			t.Errorf("left of aaa: %d participants, %d turns, %d documents, %d versions, %d drafts", len(ps), len(ts), len(ds), len(vs), len(drs))
		}
		if ms, err := tx.Memberships("ann@aaa.example"); err != nil || len(ms) != 0 {
			t.Errorf("aaa's members entries: %+v, %v", ms, err)
		}
		if ms, err := tx.Memberships("ann@bbb.example"); err != nil || len(ms) != 1 {
			t.Errorf("bbb's members entries: %+v, %v", ms, err)
		}
		if _, _, err := tx.MsgID("root@aaa"); !errors.Is(err, ErrNotFound) {
			t.Errorf("aaa's message-id: %v", err)
		}
		if _, ok, _ := tx.Received("ann@aaa.example", "root@aaa"); ok {
			t.Error("aaa's redelivery entry is left")
		}
		// bbb is whole.
		if _, err := tx.Collab("bbb"); err != nil {
			t.Error(err)
		}
		if vs, _ := tx.Versions("bbb", "d1"); len(vs) != 2 {
			t.Errorf("bbb has %d versions", len(vs))
		}
		if cid, _, err := tx.MsgID("root@bbb"); err != nil || cid != "bbb" {
			t.Errorf("bbb's message-id: %q %v", cid, err)
		}
		if _, ok, _ := tx.Received("ann@bbb.example", "root@bbb"); !ok {
			t.Error("bbb's redelivery entry is gone")
		}
		var ins []*Inbound
		tx.Inbounds(func(in *Inbound) error { ins = append(ins, in); return nil })
		if len(ins) != 3 {
			t.Fatalf("%d audit records, want all 3 kept", len(ins))
		}
		for _, in := range []*Inbound{ins[0], ins[2]} {
			if in.Collab != "" || in.Subject != "" || in.Raw != "" || in.Detail != purgedDetail || in.Confirm != "" || in.Confirmer != "" {
				t.Errorf("aaa's audit record after the purge: %+v", in)
			}
		}
		if ins[0].Outcome != OutcomeTurn || ins[2].Outcome != OutcomeDropped {
			t.Errorf("outcomes %s, %s; want turn, and dropped for the held mail", ins[0].Outcome, ins[2].Outcome)
		}
		if ins[1].Collab != "bbb" || ins[1].Subject != "about bbb" {
			t.Errorf("bbb's audit record: %+v", ins[1])
		}
		var outs []*Outbound
		tx.Outbounds(func(o *Outbound) error { outs = append(outs, o); return nil })
		if len(outs) != 1 || outs[0].Collab != "bbb" {
			t.Errorf("outbound left: %v", outs)
		}
		return nil
	})
	due, err := s.Due(day(400), 0)
	if err != nil || len(due) != 1 || due[0].Collab != "bbb" {
		t.Errorf("due after the purge: %v %v", due, err)
	}

	for _, b := range []mail.Blob{f.version, f.draft, f.raw, f.queued, f.sent} {
		if ok, err := s.HasBlob(b.Digest); ok || err != nil {
			t.Errorf("blob %s of aaa alone survived (%v)", b.Digest[:8], err)
		}
	}
	for _, b := range []mail.Blob{f.shared, f.neighbour} {
		got, err := readBlob(s, b.Digest)
		if err != nil || !bytes.Equal(got, f.content[b.Digest]) {
			t.Errorf("bbb's blob %s after the purge: %v", b.Digest[:8], err)
		}
	}
	// The chunks that only aaa's version had are gone, and index and data
	// still agree (chunkStats checks).
	if after := countChunks(t, s); after != before-rep.Chunks {
		t.Errorf("%d chunks before, %d after, report says %d deleted", before, after, rep.Chunks)
	}
	if blobs, chunks, err := s.Sweep(); err != nil || blobs+chunks != 0 {
		t.Errorf("sweep after the purge found %d blobs and %d chunks to delete (%v)", blobs, chunks, err)
	}
}

func TestPurgeNotDue(t *testing.T) {
	s, _ := openTest(t, nil)
	f := fillPurge(t, s)
	rep, err := s.PurgeCollab("aaa", func(*Tx, *Collab) (bool, error) { return false, nil })
	if err != nil || rep.Purged {
		t.Fatalf("not due: %+v %v", rep, err)
	}
	view(t, s, func(tx *Tx) error {
		if _, err := tx.Collab("aaa"); err != nil {
			t.Errorf("aaa after a purge that was not due: %v", err)
		}
		return nil
	})
	if rep, err := s.PurgeCollab("zzz", always); err != nil || rep.Purged {
		t.Errorf("unknown collaboration: %+v %v", rep, err)
	}
	if ok, _ := s.HasBlob(f.version.Digest); !ok {
		t.Error("a blob went without a purge")
	}
}

// TestPurgeAllOrNothing: a purge that fails leaves everything as it was.
func TestPurgeAllOrNothing(t *testing.T) {
	var fail bool
	clock := &testClock{t: day(1)}
	s, _ := openTest(t, &Options{Now: clock.now, Fault: func() error {
		if fail {
			return errors.New("disk full")
		}
		return nil
	}})
	f := fillPurge(t, s)
	clock.add(2 * freshFor)
	fail = true
	if _, err := s.PurgeCollab("aaa", always); err == nil {
		t.Fatal("the purge did not fail")
	}
	fail = false
	_, err := s.PurgeCollab("aaa", func(tx *Tx, c *Collab) (bool, error) { return false, errors.New("changed my mind") })
	if err == nil {
		t.Fatal("an error from due did not fail the purge")
	}
	view(t, s, func(tx *Tx) error {
		if vs, err := tx.Versions("aaa", "d1"); err != nil || len(vs) != 2 {
			t.Errorf("aaa's versions after failed purges: %d %v", len(vs), err)
		}
		return nil
	})
	if got, err := readBlob(s, f.version.Digest); err != nil || !bytes.Equal(got, f.content[f.version.Digest]) {
		t.Errorf("aaa's version after failed purges: %v", err)
	}
}

// TestPurgeKeepsWhatPutBlobMet: a purge runs while mail comes in. A blob
// that a PutBlob just returned is not referenced until the mail's Update,
// and the chunks a PutBlob found stored it did not write: none of them may
// go.
func TestPurgeKeepsWhatPutBlobMet(t *testing.T) {
	clock := &testClock{t: day(1)}
	s, _ := openTest(t, &Options{Now: clock.now})
	f := fillPurge(t, s)
	clock.add(2 * freshFor)
	// A new mail carries aaa's draft again: PutBlob meets it.
	again, err := s.PutBlob(bytes.NewReader([]byte("aaa's draft")))
	if err != nil || again != f.draft {
		t.Fatalf("put again: %v %v", again, err)
	}
	// A PutBlob in flight has met the chunks of aaa's version and not
	// written its manifest yet.
	var met []chunkRef
	view(t, s, func(tx *Tx) error {
		var m manifest
		if err := m.decode(tx.tx.Bucket(bucketBlobs).Get(mustDigest(t, f.version.Digest))); err != nil {
			return err
		}
		met = m.chunks
		for _, ref := range m.chunks {
			s.guard.lookup(ref.sum, func() error { return nil })
		}
		return nil
	})
	rep, err := s.PurgeCollab("aaa", always)
	if err != nil || !rep.Purged {
		t.Fatalf("purge: %+v %v", rep, err)
	}
	if ok, _ := s.HasBlob(f.draft.Digest); !ok {
		t.Error("the blob a PutBlob just returned was purged")
	}
	if ok, _ := s.HasBlob(f.version.Digest); ok {
		t.Error("aaa's version, which no PutBlob met, survived")
	}
	view(t, s, func(tx *Tx) error {
		for _, ref := range met {
			if getChunk(tx.tx, ref.sum[:]) == nil {
				t.Errorf("chunk %x, which a PutBlob in flight counts on, was purged", ref.sum[:6])
			}
		}
		return nil
	})
	if rep.Chunks != 3 {
		t.Errorf("%d chunks purged, want the 3 of the raw mail and the two attachments", rep.Chunks)
	}
	// What nothing references after all is Sweep's.
	if blobs, chunks, err := s.Sweep(); err != nil || blobs != 1 || chunks != len(met)+1-countShared(t, s, met) {
		t.Errorf("sweep: %d blobs, %d chunks (%v), want the draft nobody referenced and the chunks only aaa's version had", blobs, chunks, err)
	}
}

func mustDigest(t *testing.T, digest string) []byte {
	t.Helper()
	sum, err := parseDigest(digest)
	if err != nil || len(sum) != sha256.Size {
		t.Fatalf("digest %q: %v", digest, err)
	}
	return sum
}

// countShared counts the chunks of refs that a stored blob uses.
func countShared(t *testing.T, s *Store, refs []chunkRef) int {
	t.Helper()
	used := map[[sha256.Size]byte]bool{}
	view(t, s, func(tx *Tx) error {
		return tx.tx.Bucket(bucketBlobs).ForEach(func(_, v []byte) error {
			var m manifest
			if err := m.decode(v); err != nil {
				return err
			}
			for _, ref := range m.chunks {
				used[ref.sum] = true
			}
			return nil
		})
	})
	n := 0
	for _, ref := range refs {
		if used[ref.sum] {
			n++
		}
	}
	return n
}
