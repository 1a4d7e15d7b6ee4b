package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

// openTest opens a new store in a fresh directory below t.TempDir(), closed
// when the test ends.
func openTest(t testing.TB, opts *Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "turnmail.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// day returns a fixed UTC time, so records compare equal after JSON.
func day(d int) time.Time {
	return time.Date(2025, 3, d, 9, 30, 0, 0, time.UTC)
}

func TestOpen(t *testing.T) {
	s, path := openTest(t, nil)
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %o, want 700", perm)
	}
	fi, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %o, want 600", perm)
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint32(v) != layoutVersion {
			t.Errorf("schema %x, want %d", v, layoutVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Reopening an existing store keeps its content.
	put := func(tx *Tx) error { return tx.PutCollab(&Collab{ID: "abcdef", Created: day(1)}) }
	if err := s.Update(put); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if err := s.View(func(tx *Tx) error { _, err := tx.Collab("abcdef"); return err }); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	s, path := openTest(t, nil)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, layoutVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, ro := range []bool{false, true} {
		_, err = Open(path, &Options{ReadOnly: ro})
		if !errors.Is(err, ErrNewerSchema) {
			t.Errorf("open read-only=%v: got %v, want ErrNewerSchema", ro, err)
		}
	}
}

// TestOpenSchema4 upgrades a schema 4 file, whose chunks are one a value:
// schema 5 reads them as they are, so the upgrade only records it, and a
// blob stored before reads the same after.
func TestOpenSchema4(t *testing.T) {
	s, path := openTest(t, nil)
	content := randomBytes(60, 300<<10)
	blob, err := s.PutBlob(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		// Each chunk as schema 4 stored it, the packs gone.
		if err := unpackTx(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, 4))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, writes := upgrade(t, path, 0, nil)
	if writes != 1 {
		t.Errorf("upgrade took %d write transactions, want 1", writes)
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint32(v) != layoutVersion {
			t.Errorf("schema %x, want %d", v, layoutVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readBlob(s, blob.Digest); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read after the upgrade: %d bytes, %v", len(got), err)
	}
	chunkStats(t, s)
}

func TestOpenNotAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, &Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "not a turnmail store") {
		t.Errorf("read-only open of an empty bbolt file: got %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	_, path := openTest(t, nil)
	for _, ro := range []bool{false, true} {
		s, err := Open(path, &Options{Timeout: 100 * time.Millisecond, ReadOnly: ro})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, ErrLocked) {
			t.Errorf("second open read-only=%v: got %v, want ErrLocked", ro, err)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
	}
}

func TestOpenReadOnly(t *testing.T) {
	s, path := openTest(t, nil)
	if err := s.Update(func(tx *Tx) error { return tx.PutCollab(&Collab{ID: "abcdef", Subject: "Contract"}) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Two readers may share the file.
	var readers []*Store
	for range 2 {
		r, err := Open(path, &Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("read-only open: %v", err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	r := readers[0]
	err := r.View(func(tx *Tx) error {
		c, err := tx.Collab("abcdef")
		if err == nil && c.Subject != "Contract" {
			t.Errorf("subject %q", c.Subject)
		}
		return err
	})
	if err != nil {
		t.Fatalf("view: %v", err)
	}
	if err := r.Update(func(tx *Tx) error { return tx.PutCollab(&Collab{ID: "ghijkl"}) }); err == nil {
		t.Error("update of a read-only store succeeded")
	}
	if _, err := r.PutBlob(strings.NewReader("x")); err == nil {
		t.Error("PutBlob to a read-only store succeeded")
	}
}

func TestFault(t *testing.T) {
	errBoom := errors.New("boom")
	var failing atomic.Bool
	s, _ := openTest(t, &Options{Fault: func() error {
		if failing.Load() {
			return errBoom
		}
		return nil
	}})

	blob, err := s.PutBlob(strings.NewReader("attachment"))
	if err != nil {
		t.Fatal(err)
	}
	var id uint64
	err = s.Update(func(tx *Tx) error {
		o := &Outbound{Created: day(1), Msg: mail.Outgoing{Attachments: []mail.OutgoingAttachment{{Blob: blob}}}}
		err := tx.Enqueue(o)
		id = o.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	<-s.Enqueued()

	failing.Store(true)
	err = s.Update(func(tx *Tx) error {
		if err := tx.PutCollab(&Collab{ID: "abcdef"}); err != nil {
			return err
		}
		return tx.Enqueue(&Outbound{Created: day(1)})
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("Update: got %v, want the fault", err)
	}
	select {
	case <-s.Enqueued():
		t.Error("failed Update signalled Enqueued")
	default:
	}
	if _, err := s.PutBlob(strings.NewReader("other content")); !errors.Is(err, errBoom) {
		t.Errorf("PutBlob: got %v, want the fault", err)
	}
	if err := s.MarkSent(id, day(2)); !errors.Is(err, errBoom) {
		t.Errorf("MarkSent: got %v, want the fault", err)
	}
	if _, _, err := s.Sweep(); !errors.Is(err, errBoom) {
		t.Errorf("Sweep: got %v, want the fault", err)
	}

	// Nothing changed.
	err = s.View(func(tx *Tx) error {
		if _, err := tx.Collab("abcdef"); !errors.Is(err, ErrNotFound) {
			t.Errorf("collab after failed Update: %v", err)
		}
		n := 0
		tx.Outbounds(func(*Outbound) error { n++; return nil })
		if n != 1 {
			t.Errorf("%d outbound messages, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := s.Outbound(id); err != nil || o.State != OutboundQueued {
		t.Errorf("outbound after failed MarkSent: %+v, %v", o, err)
	}
	if n := countChunks(t, s); n != 1 {
		t.Errorf("%d chunks, want 1", n)
	}
}

// schema1 is a store file as turnmail wrote it at schema version 1, before
// chunk bytes moved out of the chunks bucket.
type schema1 struct {
	blobs  [][]byte // content of each blob
	chunks int      // distinct chunks
	size   int64    // their total size
}

// writeSchema1 writes a schema 1 file at path with bbolt alone: the version in
// meta, every bucket of that schema, chunks keyed by digest holding their
// bytes (and a stray key schema 1's Sweep would have dropped), a manifest per
// blob, and one collaboration record. Its chunks fill a few flushBytes, so
// that the upgrade takes several transactions.
func writeSchema1(t *testing.T, path string) schema1 {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var chunks [][]byte
	for i := range 80 {
		chunks = append(chunks, randomBytes(uint64(100+i), minChunk+rng.IntN(maxChunk-minChunk+1)))
	}
	small := randomBytes(99, 1000)
	chunks = append(chunks, small)
	blobChunks := [][][]byte{
		chunks[:80],
		{small},
		{chunks[3], small, chunks[3]},
	}
	var f schema1
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "collabs", "participants", "turns", "documents", "versions",
			"drafts", "blobs", "chunks", "msgids", "inbound", "outbox", "outboxdue", "marks", "imap"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte{0, 0, 0, 1}); err != nil {
			return err
		}
		record := append([]byte{1}, `{"id":"abcdef","subject":"Contract","state":"active"}`...)
		if err := tx.Bucket([]byte("collabs")).Put([]byte("abcdef"), record); err != nil {
			return err
		}
		b := tx.Bucket([]byte("chunks"))
		for _, c := range chunks {
			sum := sha256.Sum256(c)
			if err := b.Put(sum[:], c); err != nil {
				return err
			}
			f.chunks++
			f.size += int64(len(c))
		}
		if err := b.Put([]byte("stray"), []byte("not a chunk")); err != nil {
			return err
		}
		for _, cs := range blobChunks {
			var m manifest
			for _, c := range cs {
				m.chunks = append(m.chunks, chunkRef{sum: sha256.Sum256(c), size: len(c)})
				m.size += int64(len(c))
			}
			content := bytes.Join(cs, nil)
			sum := sha256.Sum256(content)
			if err := tx.Bucket([]byte("blobs")).Put(sum[:], m.encode()); err != nil {
				return err
			}
			f.blobs = append(f.blobs, content)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOpenSchema1 upgrades a schema 1 file, in one go and after upgrades that
// failed at each of their transactions.
func TestOpenSchema1(t *testing.T) {
	// The upgrade in one go takes six transactions, three for the chunks,
	// one for the members index of schema 3, one for the due index of
	// schema 4 and one to record schema 5: an Open failing past them would
	// not fail, and the test with it.
	for _, failAt := range []int{0, 1, 2, 3, 4, 5, 6} {
		t.Run(fmt.Sprintf("fail at %d", failAt), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "turnmail.db")
			f := writeSchema1(t, path)
			s, writes := upgrade(t, path, failAt, nil)
			// Moved a few MB per transaction, not in one.
			if min := int(f.size/flushBytes) + 1; failAt == 0 && writes < min {
				t.Errorf("upgrade took %d write transactions, want at least %d", writes, min)
			}
			checkUpgraded(t, s, f)
		})
	}
}

// upgrade opens the file at path, which needs an upgrade, and returns the
// store and how many write transactions the upgrade took. First a
// read-only Open must refuse the file; with failAt above zero, an Open whose
// failAt'th write transaction fails must fail with it, and between, if set,
// looks at the file it left before the Open that goes on from there.
func upgrade(t *testing.T, path string, failAt int, between func()) (*Store, int) {
	t.Helper()
	if _, err := Open(path, &Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "upgrading") {
		t.Errorf("read-only open of a file to upgrade: got %v", err)
	}
	errBoom := errors.New("boom")
	writes := 0
	opts := &Options{Fault: func() error {
		if writes++; writes == failAt {
			return errBoom
		}
		return nil
	}}
	if failAt > 0 {
		if _, err := Open(path, opts); !errors.Is(err, errBoom) {
			t.Fatalf("open failing at write %d: got %v", failAt, err)
		}
		if between != nil {
			between()
		}
		opts = nil
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, writes
}

// checkUpgraded checks that the schema 1 file f was upgraded whole.
func checkUpgraded(t *testing.T, s *Store, f schema1) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint32(v) != layoutVersion {
			t.Errorf("schema %x, want %d", v, layoutVersion)
		}
		if tx.Bucket(bucketMigrating) != nil {
			t.Errorf("bucket %s left", bucketMigrating)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, size := chunkStats(t, s); n != f.chunks || size != f.size {
		t.Errorf("%d chunks of %d bytes, want %d of %d", n, size, f.chunks, f.size)
	}
	var digests []mail.Blob
	for i, content := range f.blobs {
		sum := sha256.Sum256(content)
		digest := hex.EncodeToString(sum[:])
		got, err := readBlob(s, digest)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("blob %d: read %d bytes, %v; want %d", i, len(got), err, len(content))
		}
		digests = append(digests, mail.Blob{Digest: digest, Size: int64(len(content))})
	}
	err = s.View(func(tx *Tx) error {
		c, err := tx.Collab("abcdef")
		if err == nil && c.Subject != "Contract" {
			t.Errorf("collaboration subject %q", c.Subject)
		}
		return err
	})
	if err != nil {
		t.Errorf("collaboration of schema 1: %v", err)
	}

	// The index finds the moved chunks: the small blob again stores nothing.
	if b, err := s.PutBlob(bytes.NewReader(f.blobs[1])); err != nil || b != digests[1] {
		t.Errorf("put the small blob again: %+v, %v", b, err)
	}
	if n := countChunks(t, s); n != f.chunks {
		t.Errorf("put the small blob again: %d chunks, want %d", n, f.chunks)
	}
	// And Sweep deletes moved chunks whole.
	update(t, s, func(tx *Tx) error {
		return tx.PutVersion("abcdef", &Version{Doc: "d1", Number: 1, Blob: digests[1]})
	})
	if blobs, chunks, err := s.Sweep(); err != nil || blobs != 2 || chunks != f.chunks-1 {
		t.Errorf("sweep: %d blobs, %d chunks, %v; want 2, %d", blobs, chunks, err, f.chunks-1)
	}
	if n := countChunks(t, s); n != 1 {
		t.Errorf("%d chunks after sweep, want 1", n)
	}
}
