package store

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// TestBlobAt reads a blob of several chunks at random offsets and lengths,
// across chunk boundaries, and checks every read against the content.
func TestBlobAt(t *testing.T) {
	s, _ := openTest(t, nil)
	content := make([]byte, 900<<10) // several chunks
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	blob, err := s.PutBlob(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx *Tx) error {
		b, err := tx.BlobAt(blob.Digest)
		if err != nil {
			return err
		}
		if b.Size() != int64(len(content)) {
			t.Fatalf("size %d, want %d", b.Size(), len(content))
		}
		if len(b.m.chunks) < 2 {
			t.Fatalf("%d chunks: the test needs several", len(b.m.chunks))
		}
		for range 200 {
			off := rng.Int64N(int64(len(content)))
			p := make([]byte, rng.IntN(300<<10))
			n, err := b.ReadAt(p, off)
			want := content[off:min(int(off)+len(p), len(content))]
			if n != len(want) || !bytes.Equal(p[:n], want) {
				t.Fatalf("ReadAt(%d bytes, %d) = %d bytes, want %d", len(p), off, n, len(want))
			}
			if n < len(p) && err != io.EOF {
				t.Fatalf("short read at %d without io.EOF: %v", off, err)
			}
		}
		if n, err := b.ReadAt(make([]byte, 10), int64(len(content))); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at the end = %d, %v", n, err)
		}
		return nil
	})
	view(t, s, func(tx *Tx) error {
		if _, err := tx.BlobAt("00" + blob.Digest[2:]); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown digest: %v", err)
		}
		return nil
	})
}
