package store

import (
	"encoding/binary"
	"errors"
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
		if v := tx.Bucket(bucketMeta).Get(keySchema); binary.BigEndian.Uint32(v) != schemaVersion {
			t.Errorf("schema %x, want %d", v, schemaVersion)
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
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, schemaVersion+1))
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
