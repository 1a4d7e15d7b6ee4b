package store

import (
	"bytes"
	"errors"
	"testing"

	"go.etcd.io/bbolt"
)

func TestStats(t *testing.T) {
	s, _ := openTest(t, nil)
	stats := func() *Stats {
		t.Helper()
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.FileBytes <= 0 || st.FileBytes > st.FileSize {
			t.Errorf("file bytes %d of a file of %d", st.FileBytes, st.FileSize)
		}
		return st
	}
	empty := stats()
	if *empty != (Stats{FileBytes: empty.FileBytes, FileSize: empty.FileSize}) {
		t.Errorf("empty store: %+v", empty)
	}

	const size = 3 << 20
	doc := randomBytes(40, size)
	blob, err := s.PutBlob(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	// Shares all chunks but the last with doc.
	longer, err := s.PutBlob(bytes.NewReader(append(bytes.Clone(doc), "and one more line\n"...)))
	if err != nil {
		t.Fatal(err)
	}
	unused, err := s.PutBlob(newGen(41, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		// Two versions of the same content count twice in LogicalBytes.
		for _, v := range []*Version{
			{Doc: "d1", Number: 1, Blob: blob},
			{Doc: "d1", Number: 2, Blob: longer},
			{Doc: "d2", Number: 1, Blob: blob},
		} {
			if err := tx.PutVersion("abc", v); err != nil {
				return err
			}
		}
		return nil
	})

	st := stats()
	chunks, chunkBytes := chunkStats(t, s)
	want := Stats{
		Versions: 3, LogicalBytes: 2*blob.Size + longer.Size,
		Blobs: 3, BlobBytes: blob.Size + longer.Size + unused.Size,
		Chunks: chunks, ChunkBytes: chunkBytes,
		FileBytes: st.FileBytes, FileSize: st.FileSize,
	}
	if *st != want {
		t.Errorf("stats:\n got %+v\nwant %+v", st, want)
	}
	// Deduplicated: the chunk data is about the two distinct contents.
	if chunkBytes < size+1<<20 || chunkBytes > size+1<<20+maxChunk+100 {
		t.Errorf("%d chunk bytes for %d bytes of distinct content", chunkBytes, size+1<<20)
	}
	// The pages in use hold the chunks, at some cost in page rounding.
	if grew := st.FileBytes - empty.FileBytes; grew < chunkBytes || grew > chunkBytes*11/10 {
		t.Errorf("pages in use grew by %d for %d chunk bytes", grew, chunkBytes)
	}

	// Sweeping frees pages, which stay in the file: FileBytes shrinks,
	// FileSize does not.
	if _, _, err := s.Sweep(); err != nil {
		t.Fatal(err)
	}
	swept := stats()
	if swept.Blobs != 2 || swept.FileSize != st.FileSize || st.FileBytes-swept.FileBytes < 1<<20 {
		t.Errorf("after sweeping a 1 MiB blob: %+v, was %+v", swept, st)
	}
}

func TestStatsCorrupt(t *testing.T) {
	s, _ := openTest(t, nil)
	if _, err := s.PutBlob(bytes.NewReader([]byte("content"))); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBlobs).Put(bytes.Repeat([]byte{1}, 32), []byte{9})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stats(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("stats of a store with a bad manifest: %v, want ErrCorrupt", err)
	}
}
