package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"go.etcd.io/bbolt"
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

// TestSweepFreesPacks checks that Sweep frees what a blob that goes leaves
// dead in packs, but a quarter of them at most (see TestDropChunks), and
// that what stays reads as before.
func TestSweepFreesPacks(t *testing.T) {
	s, _ := openTest(t, nil)
	// Every other 128 KiB of old is shared with kept.
	var old, keep []byte
	for i := range uint64(24) {
		part := randomBytes(40+i, 128<<10)
		old = append(old, part...)
		if i%2 == 0 {
			keep = append(keep, part...)
		}
	}
	putBlob(t, s, old)
	kept := putBlob(t, s, keep)
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

// unpack stores every chunk of s again one a value, as schemas 2 to 4
// stored them, and drops their packs.
func unpack(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return unpackTx(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// unpackTx is unpack in tx.
func unpackTx(tx *bbolt.Tx) error {
	index, data := chunkBuckets(tx)
	var sums, chunks [][]byte
	packs := map[string]bool{}
	err := index.ForEach(func(k, v []byte) error {
		sums, chunks = append(sums, bytes.Clone(k)), append(chunks, bytes.Clone(getChunk(tx, k)))
		packs[string(v[:8])] = true
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
	for k := range packs {
		if err := data.Delete([]byte(k)); err != nil {
			return err
		}
	}
	return nil
}

// TestUnpackedChunks checks that chunks stored one a value, as schema 2
// and the schema 1 upgrade store them, are read, and deleted with their
// values, beside packed ones.
func TestUnpackedChunks(t *testing.T) {
	s, _ := openTest(t, nil)
	unpacked := randomBytes(50, 1<<20)
	old, err := s.PutBlob(bytes.NewReader(unpacked))
	if err != nil {
		t.Fatal(err)
	}
	unpack(t, s)
	packed := randomBytes(51, 1<<20)
	blob, err := s.PutBlob(bytes.NewReader(packed))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		digest  string
		content []byte
	}{{old.Digest, unpacked}, {blob.Digest, packed}} {
		if got, err := readBlob(s, b.digest); err != nil || !bytes.Equal(got, b.content) {
			t.Fatalf("read: %d bytes, %v", len(got), err)
		}
	}
	chunkStats(t, s)
	if _, _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n, stored := countChunks(t, s), chunkDataBytes(t, s); n != 0 || stored != 0 {
		t.Errorf("after sweeping everything: %d chunks, %d bytes of chunkdata", n, stored)
	}
}

// TestDropChunks checks how deleting chunks frees a pack: it stays while
// no more than a quarter of it is dead, is rewritten with its live chunks
// once more is, and goes with its last chunk.
func TestDropChunks(t *testing.T) {
	s, _ := openTest(t, nil)
	// One pack of 16 chunks of 1 KiB.
	var w blobWrites
	for i := range 16 {
		chunk := randomBytes(70+uint64(i), 1<<10)
		w.pending = append(w.pending, pendingChunk{sum: sha256.Sum256(chunk), off: len(w.data), n: len(chunk)})
		w.data = append(w.data, chunk...)
	}
	if err := s.update(w.write); err != nil {
		t.Fatal(err)
	}
	drop := func(from, to int) {
		t.Helper()
		var keys [][]byte
		for _, p := range w.pending[from:to] {
			keys = append(keys, bytes.Clone(p.sum[:]))
		}
		err := s.update(func(tx *bbolt.Tx) error {
			index, data := chunkBuckets(tx)
			n, err := dropChunks(index, data, keys)
			if err == nil && n != to-from {
				err = fmt.Errorf("dropped %d chunks of %d", n, to-from)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// packs returns the chunkdata keys, and checks the chunks from live on.
	packs := func(live int) []uint64 {
		t.Helper()
		var keys []uint64
		err := s.db.View(func(tx *bbolt.Tx) error {
			for _, p := range w.pending[live:] {
				if got := getChunk(tx, p.sum[:]); !bytes.Equal(got, w.data[p.off:p.off+p.n]) {
					t.Errorf("chunk at %d: %d bytes, not its own", p.off, len(got))
				}
			}
			return tx.Bucket(bucketChunkData).ForEach(func(k, _ []byte) error {
				keys = append(keys, binary.BigEndian.Uint64(k))
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	drop(0, 4) // a quarter dead: it stays
	if got := packs(4); !slices.Equal(got, []uint64{1}) || chunkDataBytes(t, s) != 16<<10 {
		t.Errorf("a quarter dead: packs %v, %d bytes; want pack 1 as it was", got, chunkDataBytes(t, s))
	}
	drop(4, 5) // more: rewritten with the 11 left
	if got := packs(5); !slices.Equal(got, []uint64{2}) || chunkDataBytes(t, s) != 11<<10 {
		t.Errorf("more than a quarter dead: packs %v, %d bytes; want pack 2 of 11 KiB", got, chunkDataBytes(t, s))
	}
	chunkStats(t, s)
	drop(5, 16)
	if got := packs(16); len(got) != 0 {
		t.Errorf("all dead: packs %v left", got)
	}
}
