package store

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
)

// TestBlobBatch: a mail's blobs wait for the transaction that references
// them and commit in it, one transaction in all; a blob past the bound is
// written as PutBlob writes it, and the rest of it waits too.
func TestBlobBatch(t *testing.T) {
	var txs atomic.Int32
	s, _ := openTest(t, &Options{Fault: func() error { txs.Add(1); return nil }})
	small := [][]byte{randomBytes(1, 200_000), randomBytes(2, 30_000), randomBytes(1, 200_000)} // the third repeats the first
	large := randomBytes(3, flushBytes+1<<20)

	b := s.NewBlobBatch()
	var digests []string
	for _, data := range append(small, large) {
		blob, err := b.PutBlob(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if blob.Size != int64(len(data)) {
			t.Fatalf("blob of %d bytes has size %d", len(data), blob.Size)
		}
		digests = append(digests, blob.Digest)
	}
	beforeCommit := txs.Load()
	if ok, _ := s.HasBlob(digests[0]); ok {
		t.Error("a staged blob is stored before its transaction")
	}
	if beforeCommit == 0 || beforeCommit > 3 {
		t.Errorf("%d transactions for the large blob's first chunks, want 1 to 3 flushes", beforeCommit)
	}
	ran := false
	if err := s.BatchWith(b, func(tx *Tx) error {
		// The blobs can be read where they are referenced.
		r, err := tx.BlobAt(digests[1])
		if err != nil {
			return err
		}
		got := make([]byte, len(small[1]))
		if _, err := r.ReadAt(got, 0); err != nil || !bytes.Equal(got, small[1]) {
			t.Errorf("staged blob read in its transaction: %v", err)
		}
		ran = true
		return nil
	}); err != nil || !ran {
		t.Fatalf("BatchWith: %v (ran %v)", err, ran)
	}
	if n := txs.Load() - beforeCommit; n != 1 {
		t.Errorf("%d transactions for the mail's staged blobs and records, want 1", n)
	}
	for i, data := range append(small, large) {
		got, err := readBlob(s, digests[i])
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("blob %d after the commit: %d bytes, %v", i, len(got), err)
		}
	}
}

// TestBlobBatchRolledBack: when the transaction that references them
// fails, the staged blobs are not stored either.
func TestBlobBatchRolledBack(t *testing.T) {
	s, _ := openTest(t, nil)
	b := s.NewBlobBatch()
	blob, err := b.PutBlob(bytes.NewReader(randomBytes(4, 100_000)))
	if err != nil {
		t.Fatal(err)
	}
	errRefused := errors.New("refused")
	if err := s.BatchWith(b, func(*Tx) error { return errRefused }); !errors.Is(err, errRefused) {
		t.Fatalf("BatchWith: %v", err)
	}
	if ok, err := s.HasBlob(blob.Digest); ok || err != nil {
		t.Errorf("blob of a failed transaction stored: %v, %v", ok, err)
	}
	var chunks int
	s.View(func(tx *Tx) error {
		chunks = tx.tx.Bucket(bucketChunks).Stats().KeyN
		return nil
	})
	if chunks != 0 {
		t.Errorf("%d chunks left by a failed transaction", chunks)
	}
}

// TestBlobBatchBlobAt: a staged blob reads whole through its batch in a read
// transaction before the write one, the chunks that were flushed from the
// store and the last ones from the batch, while the store alone knows
// nothing of it yet.
func TestBlobBatchBlobAt(t *testing.T) {
	s, _ := openTest(t, nil)
	stored := randomBytes(1, 200_000)
	if _, err := s.PutBlob(bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	b := s.NewBlobBatch()
	files := [][]byte{randomBytes(2, 30_000), randomBytes(3, flushBytes+1<<20), append(stored[:150_000:150_000], randomBytes(4, 50_000)...)}
	var digests []string
	for _, data := range files {
		blob, err := b.PutBlob(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, blob.Digest)
	}
	err := s.View(func(tx *Tx) error {
		if _, err := tx.BlobAt(digests[0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Tx.BlobAt of a staged blob: %v, want ErrNotFound", err)
		}
		for i, data := range files {
			r, err := b.BlobAt(tx, digests[i])
			if err != nil {
				return err
			}
			if r.Size() != int64(len(data)) {
				t.Errorf("blob %d: size %d, want %d", i, r.Size(), len(data))
			}
			got := make([]byte, len(data))
			if n, err := r.ReadAt(got, 0); n != len(data) || !bytes.Equal(got, data) {
				t.Errorf("blob %d read through its batch: %d of %d bytes, %v", i, n, len(data), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
