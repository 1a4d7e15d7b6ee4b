package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"

	"github.com/restic/chunker"
	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

const (
	// chunkPol is the chunker's polynomial. It is fixed, not random per
	// store or run, so that equal content is cut at the same boundaries and
	// stored once. Changing it would stop new blobs sharing chunks with old
	// ones. (An irreducible polynomial of degree 53, from restic's tests.)
	chunkPol = chunker.Pol(0x3DA3358B4DC173)

	// Content is cut into chunks of minChunk to maxChunk bytes, about 64
	// KiB on average, but the members of a zip file: see chunkParams. No
	// chunk is larger than maxChunk, which manifest.decode holds every
	// stored chunk to.
	minChunk    = 16 << 10
	maxChunk    = 256 << 10
	averageBits = 16 // about 64 KiB per chunk

	// flushBytes bounds the new chunk data PutBlob holds in memory and
	// writes in one transaction: bbolt keeps a transaction's dirty pages,
	// about as much again, in memory until commit. Measured with chunks
	// appended, 4 MiB is where throughput stops growing: 1 and 2 MiB write
	// a 100 MB blob about 13% and 5% slower, 8 and 16 MiB no faster, while
	// the heap grows with the size (about 6 times it at the peak).
	flushBytes = 4 << 20

	manifestVersion = 1
)

// chunkParams are the sizes the chunker cuts to: from min to max bytes,
// with a content-defined cut about every 2^averageBits bytes past min.
type chunkParams struct {
	min, max    uint
	averageBits int
}

// The chunk sizes for each kind of content (see cutReader). Each boundary
// costs an index entry and a manifest entry in every blob that has the
// chunk, some 80 bytes in all; smaller chunks dedupe more around an edit.
// (Chunks share packs in chunkdata, so a chunk no longer costs bbolt's
// rounding of a value to whole pages.) The choices were measured with
// BenchmarkDocxVersions.
var (
	// defaultChunks is for content that is not a zip file: the sizes
	// every blob was cut to before zip members had their own, so the same
	// content is still cut the same way and stored once.
	defaultChunks = chunkParams{minChunk, maxChunk, averageBits}
	// deflateChunks is for the deflated XML members of a zip, between the
	// boundaries at their deflate blocks: about 3 KiB. An edit changes its
	// block from the edit on, and all of it when the block's Huffman codes
	// change; a light edit of text seldom changes them, so the block's
	// bytes before the edit are as they were, and small chunks keep them.
	// (BenchmarkDocxVersions: the 20 versions' chunks are 7.41 MB cut so,
	// 7.72 MB cut as defaultChunks; about 2 KiB saves 40 KB more of chunks
	// and costs more than that in index entries and manifests.)
	deflateChunks = chunkParams{1 << 10, 64 << 10, 11}
	// smallChunks is for the XML members of a zip that are not deflated:
	// about 20 KiB, so that an edit costs little more than the chunks it
	// falls in.
	smallChunks = chunkParams{12 << 10, 64 << 10, 13}
	// largeChunks is for the other members of a zip (images, fonts,
	// embedded files): carried unchanged from version to version, they are
	// best stored in few large chunks, about 190 KiB.
	largeChunks = chunkParams{64 << 10, maxChunk, 17}
)

// chunkRef is one entry of a blob's manifest.
type chunkRef struct {
	sum  [sha256.Size]byte
	size int
}

// manifest lists a blob's chunks in order.
type manifest struct {
	size   int64
	chunks []chunkRef
}

// blobWriter is PutBlob's reusable state, kept in Store.writers so that the
// chunker's read buffer and the chunk buffers are allocated once, not per
// blob.
type blobWriter struct {
	chunker *chunker.Chunker
	cut     cutReader
	buf     []byte                     // the chunk being cut
	seen    map[[sha256.Size]byte]bool // digests of pending
	blobWrites
}

// blobWrites are what a blob still has to write: new chunks, and, with its
// last chunks, its manifest.
type blobWrites struct {
	data    []byte         // new chunks not yet written
	pending []pendingChunk // where in data each new chunk is
	// manifest, when set, is the blob's, written under digest with the
	// last chunks: one transaction for a blob of a few MB.
	manifest []byte
	digest   [sha256.Size]byte
}

type pendingChunk struct {
	sum    [sha256.Size]byte
	off, n int
}

// PutBlob stores the content of r and returns its Blob. Content is cut into
// chunks while it streams in, at the members of a zip file (docx, xlsx,
// pptx, odt) and content-defined between them; chunks already stored are not
// written again, and new ones are written a few MB per transaction, so memory
// stays bounded whatever the size. The manifest goes with the last of them.
// Those transactions are group-committed with other writers' (Batch). The
// blob is not referenced by anything yet: reference it before Sweep next
// runs (or stage it in a BlobBatch, which writes it with what references it).
func (s *Store) PutBlob(r io.Reader) (mail.Blob, error) {
	return s.putBlob(r, s.flushChunks)
}

// putBlob cuts r into chunks, writing them as PutBlob says, and leaves the
// last ones and the manifest to finish.
func (s *Store) putBlob(r io.Reader, finish func(*blobWriter) error) (mail.Blob, error) {
	w := s.blobWriter()
	defer s.writers.Put(w)
	w.resetPending()

	h := sha256.New()
	var m manifest
	err := w.cutChunks(r, func(chunk []byte) error {
		h.Write(chunk)
		ref := chunkRef{sum: sha256.Sum256(chunk), size: len(chunk)}
		m.chunks = append(m.chunks, ref)
		m.size += int64(ref.size)
		return s.stageChunk(w, ref.sum, chunk)
	})
	if err != nil {
		return mail.Blob{}, fmt.Errorf("store blob: %w", err)
	}
	sum := h.Sum(nil)
	blob := mail.Blob{Digest: hex.EncodeToString(sum), Size: m.size}
	var stored bool
	err = s.guard.lookup([sha256.Size]byte(sum), func() (err error) {
		stored, err = s.hasBlob(sum)
		return err
	})
	if err != nil {
		return mail.Blob{}, fmt.Errorf("store blob %s: %w", blob.Digest, err)
	}
	if !stored {
		w.manifest, w.digest = m.encode(), [sha256.Size]byte(sum)
	}
	if err := finish(w); err != nil {
		return mail.Blob{}, fmt.Errorf("store blob %s: %w", blob.Digest, err)
	}
	return blob, nil
}

// blobWriter returns a blobWriter from the pool, or a new one.
func (s *Store) blobWriter() *blobWriter {
	if w, _ := s.writers.Get().(*blobWriter); w != nil {
		return w
	}
	return &blobWriter{
		chunker: chunker.NewWithBoundaries(nil, chunkPol, minChunk, maxChunk),
		buf:     make([]byte, 0, maxChunk),
		seen:    make(map[[sha256.Size]byte]bool),
	}
}

// cutChunks reads r to its end and calls fn with each of its chunks in
// order: the chunker cuts one segment of a cutReader after the other. A
// chunk is only valid until fn returns; an error of fn's ends the reading
// and is returned as it is.
func (w *blobWriter) cutChunks(r io.Reader, fn func(chunk []byte) error) error {
	w.cut.reset(&stickyReader{r: r})
	for more := true; more; more = w.cut.next() {
		p := w.cut.params()
		w.chunker.ResetWithBoundaries(&w.cut, chunkPol, p.min, p.max)
		w.chunker.SetAverageBits(p.averageBits) // after Reset, which restores the default
		for {
			c, err := w.chunker.Next(w.buf)
			if err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("read content: %w", err)
			}
			w.buf = c.Data[:0]
			if err := fn(c.Data); err != nil {
				return err
			}
		}
	}
	return nil
}

// stickyReader ends a read at its first error. The chunker reads with
// io.ReadFull and takes io.ErrUnexpectedEOF for a short final read, so a
// source that returns that error itself, and keeps returning it (go-message's
// decoders do on a truncated base64 or quoted-printable body), would have it
// read for ever. Here that error is the source's own and means the content is
// cut short.
type stickyReader struct {
	r   io.Reader
	err error
}

// errTruncated is what a source's own io.ErrUnexpectedEOF becomes.
var errTruncated = errors.New("content ends unexpectedly")

func (sr *stickyReader) Read(b []byte) (int, error) {
	if sr.err != nil {
		return 0, sr.err
	}
	n, err := sr.r.Read(b)
	switch {
	case err == nil:
	case errors.Is(err, io.ErrUnexpectedEOF):
		sr.err = fmt.Errorf("%w: %w", errTruncated, err)
	default:
		sr.err = err
	}
	if err != nil {
		return n, sr.err
	}
	return n, nil
}

// stageChunk queues a chunk for writing unless it is stored or queued
// already, and writes the queue once it holds flushBytes.
func (s *Store) stageChunk(w *blobWriter, sum [sha256.Size]byte, data []byte) error {
	if w.seen[sum] {
		return nil
	}
	var stored bool
	err := s.guard.lookup(sum, func() error {
		return s.db.View(func(tx *bbolt.Tx) error {
			stored = tx.Bucket(bucketChunks).Get(sum[:]) != nil
			return nil
		})
	})
	if err != nil || stored {
		return err
	}
	w.seen[sum] = true
	w.pending = append(w.pending, pendingChunk{sum: sum, off: len(w.data), n: len(data)})
	w.data = append(w.data, data...)
	if len(w.data) < flushBytes {
		return nil
	}
	return s.flushChunks(w)
}

// flushChunks writes the queued chunks, and the manifest when set, in one
// group commit (see Batch).
func (s *Store) flushChunks(w *blobWriter) error {
	if len(w.pending) == 0 && w.manifest == nil {
		return nil
	}
	err := s.batch(w.size(), w.write)
	if err != nil {
		return fmt.Errorf("write chunks: %w", err)
	}
	w.resetPending()
	return nil
}

// size is about how many bytes w writes.
func (w *blobWrites) size() int { return len(w.data) + len(w.manifest) }

// write writes the chunks and the manifest, skipping what is stored
// already. bbolt keeps keys and values until the transaction commits: w
// must not change before.
func (w *blobWrites) write(tx *bbolt.Tx) error {
	index, data := chunkBuckets(tx)
	// New chunks cut one after the other lie back to back in w.data: each
	// run of them, up to packBytes, goes in as one pack, without a copy.
	start := -1 // the first chunk of the pack being gathered
	for i := 0; i <= len(w.pending); i++ {
		end := i == len(w.pending)
		// Stored meanwhile by another PutBlob: it ends the run.
		skip := !end && index.Get(w.pending[i].sum[:]) != nil
		if start >= 0 && (end || skip || w.pending[i].off+w.pending[i].n-w.pending[start].off > packBytes) {
			if err := putPack(index, data, w.data, w.pending[start:i]); err != nil {
				return err
			}
			start = -1
		}
		if !end && !skip && start < 0 {
			start = i
		}
	}
	if w.manifest == nil {
		return nil
	}
	blobs := tx.Bucket(bucketBlobs)
	if blobs.Get(w.digest[:]) != nil {
		return nil // stored meanwhile by another PutBlob
	}
	if err := blobs.Put(w.digest[:], w.manifest); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

// putChunk appends a chunk's bytes to data under the next sequence number and
// indexes them by its digest, as schema 2 did: the schema 1 upgrade moves
// chunks one by one. bbolt keeps sum and chunk until the transaction
// commits: the caller must not change them before.
func putChunk(index, data *bbolt.Bucket, sum, chunk []byte) error {
	seq, err := data.NextSequence()
	if err != nil {
		return err
	}
	loc := binary.BigEndian.AppendUint64(make([]byte, 0, chunkLocSize), seq)
	loc = binary.BigEndian.AppendUint32(loc, uint32(len(chunk)))
	if err := data.Put(loc[:8], chunk); err != nil {
		return err
	}
	return index.Put(sum, loc)
}

// getChunk returns the bytes of the chunk with the given digest, or nil when
// it is missing or its index entry does not match its data. The slice is only
// valid inside the transaction.
func getChunk(tx *bbolt.Tx, sum []byte) []byte {
	loc, ok := parseLoc(tx.Bucket(bucketChunks).Get(sum))
	if !ok {
		return nil
	}
	data := tx.Bucket(bucketChunkData).Get(loc.key)
	switch {
	case !loc.packed && uint64(len(data)) == uint64(loc.n):
		return data
	case loc.packed && data != nil && uint64(loc.off)+uint64(loc.n) <= uint64(len(data)):
		return data[loc.off : loc.off+loc.n]
	}
	return nil
}

// migrateChunks finishes the upgrade of a schema 1 file that initSchema
// started: it moves the chunks left under migrating into the index and
// chunkdata, flushBytes per transaction so that memory stays bounded however
// large the store, then records schema 2. Each transaction deletes what it
// moved, so an upgrade that stops half way goes on at the next Open.
func (s *Store) migrateChunks() error {
	// Keys and values go to bbolt from buf, which holds them until commit;
	// one chunk past flushBytes at most.
	buf := make([]byte, 0, flushBytes+sha256.Size+maxChunk)
	for done := false; !done; {
		err := s.update(func(tx *bbolt.Tx) error {
			old := tx.Bucket(bucketMigrating).Bucket(bucketChunks)
			if old == nil {
				return fmt.Errorf("bucket %s/%s missing", bucketMigrating, bucketChunks)
			}
			index, data := chunkBuckets(tx)
			buf = buf[:0]
			c := old.Cursor()
			k, v := c.First()
			for ; k != nil && len(buf) < flushBytes; k, v = c.First() {
				// Schema 1 had no other keys, but its Sweep dropped any
				// that were not a digest: so does this.
				if len(k) == sha256.Size {
					off := len(buf)
					buf = append(append(buf, k...), v...)
					sum, chunk := buf[off:off+len(k)], buf[off+len(k):]
					if err := putChunk(index, data, sum, chunk); err != nil {
						return fmt.Errorf("chunk %x: %w", sum, err)
					}
				}
				if err := c.Delete(); err != nil {
					return fmt.Errorf("delete schema 1 chunk %x: %w", k, err)
				}
			}
			if k != nil {
				return nil
			}
			done = true
			if err := tx.DeleteBucket(bucketMigrating); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, 2))
		})
		if err != nil {
			return fmt.Errorf("move chunks: %w", err)
		}
	}
	return nil
}

func (w *blobWriter) resetPending() {
	w.data = w.data[:0]
	w.pending = w.pending[:0]
	clear(w.seen)
	w.manifest = nil
}

// HasBlob reports whether the blob with the given digest is stored.
func (s *Store) HasBlob(digest string) (bool, error) {
	sum, err := parseDigest(digest)
	if err != nil {
		return false, err
	}
	return s.hasBlob(sum)
}

func (s *Store) hasBlob(sum []byte) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		ok = tx.Bucket(bucketBlobs).Get(sum) != nil
		return nil
	})
	return ok, err
}

// OpenBlob returns a reader of the blob with the given digest, or ErrNotFound.
// It reads one chunk at a time, each in a short read transaction, and checks
// the content against the digest at the end: a mismatch, or a missing chunk,
// fails the read with ErrCorrupt instead of io.EOF.
func (s *Store) OpenBlob(digest string) (io.ReadCloser, error) {
	sum, err := parseDigest(digest)
	if err != nil {
		return nil, err
	}
	var m manifest
	err = s.db.View(func(tx *bbolt.Tx) error {
		data := tx.Bucket(bucketBlobs).Get(sum)
		if data == nil {
			return ErrNotFound
		}
		return m.decode(data)
	})
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", digest, err)
	}
	return &blobReader{s: s, digest: digest, sum: sum, m: m, h: sha256.New()}, nil
}

// blobReader streams a blob chunk by chunk.
type blobReader struct {
	s      *Store
	digest string
	sum    []byte
	m      manifest
	next   int    // index of the next chunk to load
	buf    []byte // a copy of the current chunk
	unread []byte // what of buf Read has not returned
	h      hash.Hash
	err    error // sticky: io.EOF at the verified end
}

func (r *blobReader) Read(p []byte) (int, error) {
	for len(r.unread) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.load()
	}
	n := copy(p, r.unread)
	r.unread = r.unread[n:]
	return n, nil
}

// load reads the next chunk, or at the end checks the digest.
func (r *blobReader) load() error {
	if r.next == len(r.m.chunks) {
		if !bytes.Equal(r.h.Sum(nil), r.sum) {
			return fmt.Errorf("read blob %s: content does not match digest: %w", r.digest, ErrCorrupt)
		}
		return io.EOF
	}
	ref := r.m.chunks[r.next]
	err := r.s.db.View(func(tx *bbolt.Tx) error {
		data := getChunk(tx, ref.sum[:])
		if data == nil || len(data) != ref.size {
			return fmt.Errorf("chunk %x: missing or wrong size: %w", ref.sum, ErrCorrupt)
		}
		// bbolt's slice is only valid inside the transaction.
		r.buf = append(r.buf[:0], data...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read blob %s: %w", r.digest, err)
	}
	r.next++
	r.h.Write(r.buf)
	r.unread = r.buf
	return nil
}

// Close releases the reader; reading afterwards fails.
func (r *blobReader) Close() error {
	r.buf, r.unread, r.err = nil, nil, fs.ErrClosed
	return nil
}

// parseDigest returns the raw SHA-256 of a lower-case hex digest.
func parseDigest(digest string) ([]byte, error) {
	sum, err := hex.DecodeString(digest)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("invalid blob digest %q", digest)
	}
	return sum, nil
}

func (m *manifest) encode() []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(m.chunks)*(sha256.Size+3))
	b = append(b, manifestVersion)
	b = binary.AppendUvarint(b, uint64(m.size))
	b = binary.AppendUvarint(b, uint64(len(m.chunks)))
	for _, c := range m.chunks {
		b = append(b, c.sum[:]...)
		b = binary.AppendUvarint(b, uint64(c.size))
	}
	return b
}

// decode parses an encoded manifest, copying what it keeps.
func (m *manifest) decode(b []byte) error {
	errBad := fmt.Errorf("manifest: %w", ErrCorrupt)
	if len(b) == 0 || b[0] != manifestVersion {
		return errBad
	}
	b = b[1:]
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		b = b[n:]
		return v, n > 0
	}
	size, ok1 := uvarint()
	count, ok2 := uvarint()
	// Each entry takes at least 33 bytes: refuse a count the value cannot hold.
	if !ok1 || !ok2 || count > uint64(len(b)/(sha256.Size+1)) {
		return errBad
	}
	m.size = int64(size)
	m.chunks = make([]chunkRef, count)
	var total uint64
	for i := range m.chunks {
		if len(b) < sha256.Size {
			return errBad
		}
		c := &m.chunks[i]
		copy(c.sum[:], b)
		b = b[sha256.Size:]
		n, ok := uvarint()
		if !ok || n > maxChunk {
			return errBad
		}
		c.size = int(n)
		total += n
	}
	if len(b) != 0 || total != size {
		return errBad
	}
	return nil
}
