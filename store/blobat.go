package store

import (
	"fmt"
	"io"
	"sort"
)

// BlobAt reads a stored blob at any offset, inside one transaction: the
// manifest says which chunk holds an offset. Formats whose index is at the
// end (a zip's directory) need that; OpenBlob streams from the start. A
// BlobAt is valid until its transaction ends. It does not check the
// blob's digest, which only a read of the whole can. ReadAt may be called
// from several goroutines at once (two versions read side by side): the
// reads of one transaction take turns.
type BlobAt struct {
	tx     *Tx
	digest string
	m      manifest
	starts []int64    // offset of each chunk
	batch  *BlobBatch // chunks staged, not yet written; nil for none
}

// BlobAt opens the blob with digest for reading at random within tx.
func (tx *Tx) BlobAt(digest string) (*BlobAt, error) {
	return tx.blobAt(digest, nil)
}

// BlobAt opens the blob with digest for reading at random within tx, as
// Tx.BlobAt does, and also one that b holds staged, not yet written: its
// manifest and its last chunks are read from b, the rest from tx. So a
// mail's attachment can be read in a read transaction before the write
// transaction that stores it (to compare it with the version before it
// while other mails commit). tx must have begun after b's PutBlob
// returned; b must not change while the BlobAt is in use.
func (b *BlobBatch) BlobAt(tx *Tx, digest string) (*BlobAt, error) {
	return tx.blobAt(digest, b)
}

func (tx *Tx) blobAt(digest string, batch *BlobBatch) (*BlobAt, error) {
	sum, err := parseDigest(digest)
	if err != nil {
		return nil, err
	}
	b := &BlobAt{tx: tx, digest: digest, batch: batch}
	data := batch.manifest(sum)
	if data == nil {
		data = tx.tx.Bucket(bucketBlobs).Get(sum)
	}
	if data == nil {
		return nil, fmt.Errorf("open blob %s: %w", digest, ErrNotFound)
	}
	if err := b.m.decode(data); err != nil {
		return nil, fmt.Errorf("open blob %s: %w", digest, err)
	}
	b.starts = make([]int64, len(b.m.chunks))
	var off int64
	for i, c := range b.m.chunks {
		b.starts[i] = off
		off += int64(c.size)
	}
	if off != b.m.size {
		return nil, fmt.Errorf("open blob %s: chunks hold %d bytes, manifest says %d: %w", digest, off, b.m.size, ErrCorrupt)
	}
	return b, nil
}

// Size is the blob's length.
func (b *BlobAt) Size() int64 { return b.m.size }

// ReadAt reads len(p) bytes from off, as io.ReaderAt says.
func (b *BlobAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read blob %s at %d: negative offset", b.digest, off)
	}
	b.tx.readMu.Lock()
	defer b.tx.readMu.Unlock()
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= b.m.size {
			return n, io.EOF
		}
		i := sort.Search(len(b.starts), func(i int) bool { return b.starts[i] > at }) - 1
		ref := b.m.chunks[i]
		data := getChunk(b.tx.tx, ref.sum[:])
		if data == nil {
			data = b.batch.chunk(ref.sum)
		}
		if data == nil || len(data) != ref.size {
			return n, fmt.Errorf("read blob %s: chunk %x: missing or wrong size: %w", b.digest, ref.sum, ErrCorrupt)
		}
		n += copy(p[n:], data[at-b.starts[i]:])
	}
	return n, nil
}
