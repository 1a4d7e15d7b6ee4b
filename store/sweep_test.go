package store

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

// putBlob stores data in s as a blob.
func putBlob(t *testing.T, s *Store, data []byte) mail.Blob {
	t.Helper()
	b, err := s.PutBlob(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSweep(t *testing.T) {
	s, _ := openTest(t, nil)
	base := randomBytes(7, 1<<20)
	version := putBlob(t, s, base)
	// Shares every chunk of version but its last: those must survive.
	extended := putBlob(t, s, append(bytes.Clone(base), randomBytes(8, 300<<10)...))
	unused := putBlob(t, s, randomBytes(9, 200<<10))
	draft := putBlob(t, s, []byte("draft"))
	raw := putBlob(t, s, []byte("raw message"))
	queued := putBlob(t, s, []byte("queued attachment"))
	sent := putBlob(t, s, []byte("sent attachment"))

	attach := func(b mail.Blob) mail.Outgoing {
		return mail.Outgoing{Attachments: []mail.OutgoingAttachment{{Filename: "f", Blob: b}}}
	}
	var sentID uint64
	update(t, s, func(tx *Tx) error {
		if err := tx.PutVersion("abc", &Version{Doc: "d1", Number: 1, Blob: version}); err != nil {
			return err
		}
		if err := tx.PutDraft("abc", &Draft{Party: 1, Doc: "d1", Blob: draft}); err != nil {
			return err
		}
		if err := tx.AddInbound(&Inbound{Raw: raw.Digest}); err != nil {
			return err
		}
		if err := tx.Enqueue(&Outbound{Msg: attach(queued)}); err != nil {
			return err
		}
		o := &Outbound{Msg: attach(sent)}
		err := tx.Enqueue(o)
		sentID = o.ID
		return err
	})
	if err := s.MarkSent(sentID, day(1)); err != nil {
		t.Fatal(err)
	}

	blobs, chunks, err := s.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if blobs != 3 || chunks < 3 {
		t.Errorf("swept %d blobs and %d chunks, want 3 and at least 3", blobs, chunks)
	}
	for _, tc := range []struct {
		name string
		blob mail.Blob
		kept bool
	}{
		{"version", version, true},
		{"draft", draft, true},
		{"inbound raw", raw, true},
		{"queued attachment", queued, true},
		{"extended", extended, false},
		{"unused", unused, false},
		{"sent attachment", sent, false},
	} {
		ok, err := s.HasBlob(tc.blob.Digest)
		if err != nil || ok != tc.kept {
			t.Errorf("%s: kept %v, want %v (%v)", tc.name, ok, tc.kept, err)
		}
		if tc.kept {
			if _, err := readBlob(s, tc.blob.Digest); err != nil {
				t.Errorf("%s: read: %v", tc.name, err)
			}
		}
	}

	// Exactly the chunks of the remaining manifests remain, index entries
	// and data (countChunks checks they agree).
	want := map[[sha256.Size]byte]bool{}
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBlobs).ForEach(func(_, v []byte) error {
			var m manifest
			err := m.decode(v)
			for _, c := range m.chunks {
				want[c.sum] = true
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := countChunks(t, s); n != len(want) {
		t.Errorf("%d chunks left, the remaining blobs use %d", n, len(want))
	}

	if blobs, chunks, err := s.Sweep(); err != nil || blobs != 0 || chunks != 0 {
		t.Errorf("second sweep: %d blobs, %d chunks, %v", blobs, chunks, err)
	}
}
