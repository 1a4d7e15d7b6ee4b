package store

import (
	"bytes"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

// chunkDataBytes returns the bytes of every chunkdata value: the live
// chunks' and what dead ones still take in packs.
func chunkDataBytes(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketChunkData).ForEach(func(_, v []byte) error {
			n += int64(len(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSweepRepacks checks that deleting some chunks of packs frees their
// bytes: a pack left more than a quarter dead is rewritten with its live
// chunks, one with none left goes, and what stays reads as before.
func TestSweepRepacks(t *testing.T) {
	s, _ := openTest(t, nil)
	put := func(data []byte) mail.Blob {
		t.Helper()
		b, err := s.PutBlob(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Every other 128 KiB of old is shared with kept: when old goes, its
	// packs are left about half dead.
	var old, keep []byte
	for i := range uint64(24) {
		part := randomBytes(40+i, 128<<10)
		old = append(old, part...)
		if i%2 == 0 {
			keep = append(keep, part...)
		}
	}
	put(old)
	kept := put(keep)
	draft := &Draft{Party: 1, Doc: "d1", Blob: kept}
	update(t, s, func(tx *Tx) error {
		return tx.PutDraft("abc", draft)
	})
	if _, chunks, err := s.Sweep(); err != nil || chunks == 0 {
		t.Fatalf("sweep: %d chunks, %v; want some deleted", chunks, err)
	}
	_, live := chunkStats(t, s)
	if stored := chunkDataBytes(t, s); stored > live*4/3 {
		t.Errorf("%d bytes of chunkdata hold %d of live chunks: more than a quarter dead", stored, live)
	}
	if got, err := readBlob(s, kept.Digest); err != nil || !bytes.Equal(got, keep) {
		t.Fatalf("read kept blob after the sweep: %d bytes, %v", len(got), err)
	}

	update(t, s, func(tx *Tx) error {
		return tx.DeleteDraft("abc", draft)
	})
	if _, _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n, stored := countChunks(t, s), chunkDataBytes(t, s); n != 0 || stored != 0 {
		t.Errorf("after sweeping everything: %d chunks, %d bytes of chunkdata", n, stored)
	}
}

// TestUnpackedChunks checks that chunks stored one a value, as schema 2
// and the schema 1 upgrade store them, are read, and deleted with their
// values, beside packed ones.
func TestUnpackedChunks(t *testing.T) {
	s, _ := openTest(t, nil)
	content := randomBytes(50, 1<<20)
	blob, err := s.PutBlob(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	// Store every other chunk again on its own, as schema 2 did.
	err = s.db.Update(func(tx *bbolt.Tx) error {
		index, data := chunkBuckets(tx)
		var sums, chunks [][]byte
		i := 0
		err := index.ForEach(func(k, _ []byte) error {
			if i++; i%2 == 0 {
				sums = append(sums, bytes.Clone(k))
				chunks = append(chunks, bytes.Clone(getChunk(tx, k)))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range sums {
			if err := putChunk(index, data, sums[i], chunks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readBlob(s, blob.Digest); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if _, _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n, stored := countChunks(t, s), chunkDataBytes(t, s); n != 0 || stored != 0 {
		t.Errorf("after sweeping everything: %d chunks, %d bytes of chunkdata", n, stored)
	}
}
