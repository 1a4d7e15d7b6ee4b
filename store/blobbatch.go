package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"

	"github.com/turnmail/turnmail/mail"
	"go.etcd.io/bbolt"
)

// BlobBatch is one mail's blobs on their way in. Its PutBlob keeps what
// Store.PutBlob would write last (the last chunks and the manifest of each
// blob, up to flushBytes in all, in memory) for BatchWith to write in the
// transaction that references them: a mail's blobs and its records commit
// together, in one transaction rather than one for each blob and one for
// the records. What is past the bound is written as Store.PutBlob writes
// it. A BlobBatch is for one goroutine.
type BlobBatch struct {
	s      *Store
	staged []blobWrites
	size   int
	// chunks finds a staged chunk by its digest, for reads of a staged
	// blob (chunk): built at the first, dropped when a blob is staged.
	chunks map[[sha256.Size]byte][]byte
}

var _ mail.BlobWriter = (*BlobBatch)(nil)

// NewBlobBatch returns an empty BlobBatch.
func (s *Store) NewBlobBatch() *BlobBatch {
	return &BlobBatch{s: s}
}

// PutBlob is Store.PutBlob, but what it would write last waits, within the
// batch's bound, for BatchWith. Until then the blob cannot be read.
func (b *BlobBatch) PutBlob(r io.Reader) (mail.Blob, error) {
	return b.s.putBlob(r, func(w *blobWriter) error {
		n := w.size()
		switch {
		case n == 0:
			return nil
		case b.size+n > flushBytes:
			return b.s.flushChunks(w)
		}
		b.staged = append(b.staged, blobWrites{
			data:     slices.Clone(w.data),
			pending:  slices.Clone(w.pending),
			manifest: w.manifest,
			digest:   w.digest,
		})
		b.size += n
		b.chunks = nil
		w.resetPending()
		return nil
	})
}

// manifest returns the manifest of the staged blob with digest sum, or nil.
// A nil b has none.
func (b *BlobBatch) manifest(sum []byte) []byte {
	if b == nil {
		return nil
	}
	for i := range b.staged {
		if w := &b.staged[i]; w.manifest != nil && bytes.Equal(w.digest[:], sum) {
			return w.manifest
		}
	}
	return nil
}

// chunk returns the staged chunk with digest sum, or nil. A nil b has none.
func (b *BlobBatch) chunk(sum [sha256.Size]byte) []byte {
	if b == nil {
		return nil
	}
	if b.chunks == nil {
		b.chunks = map[[sha256.Size]byte][]byte{}
		for i := range b.staged {
			w := &b.staged[i]
			for _, p := range w.pending {
				b.chunks[p.sum] = w.data[p.off : p.off+p.n]
			}
		}
	}
	return b.chunks[sum]
}

// write writes the staged blobs in tx.
func (b *BlobBatch) write(tx *bbolt.Tx) error {
	for i := range b.staged {
		if err := b.staged[i].write(tx); err != nil {
			return fmt.Errorf("write blob %x: %w", b.staged[i].digest, err)
		}
	}
	return nil
}
