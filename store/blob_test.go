package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
	"testing/iotest"
	"time"

	"go.etcd.io/bbolt"
)

// genReader yields n pseudo-random bytes from a seed without holding them,
// calling tick (when set) about every MiB.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
	read int64
	tick func()
}

func newGen(seed uint64, n int64) *genReader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	s[2] = byte(seed >> 16)
	return &genReader{rng: rand.NewChaCha8(s), left: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	g.rng.Read(p)
	if g.tick != nil && (g.read+int64(len(p)))>>20 != g.read>>20 {
		g.tick()
	}
	g.left -= int64(len(p))
	g.read += int64(len(p))
	return len(p), nil
}

func randomBytes(seed uint64, n int) []byte {
	b, err := io.ReadAll(newGen(seed, int64(n)))
	if err != nil {
		panic(err)
	}
	return b
}

// chunkStats returns how many chunks are stored and their total size. It
// fails the test unless index and data agree: each index entry finds data of
// its length, and no chunkdata value is left that no entry points to.
func chunkStats(t testing.TB, s *Store) (n int, size int64) {
	t.Helper()
	err := s.db.View(func(tx *bbolt.Tx) error {
		used := map[string]bool{}
		err := tx.Bucket(bucketChunks).ForEach(func(k, v []byte) error {
			data := getChunk(tx, k)
			if data == nil {
				return fmt.Errorf("chunk %x: index entry without its data", k)
			}
			loc, _ := parseLoc(v)
			used[string(loc.key)] = true
			n++
			size += int64(len(data))
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketChunkData).ForEach(func(k, _ []byte) error {
			if !used[string(k)] {
				return fmt.Errorf("chunkdata %x: no index entry points to it", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, size
}

func countChunks(t testing.TB, s *Store) int {
	n, _ := chunkStats(t, s)
	return n
}

func readBlob(s *Store, digest string) ([]byte, error) {
	r, err := s.OpenBlob(digest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestChunkPolynomial(t *testing.T) {
	if !chunkPol.Irreducible() {
		t.Errorf("chunk polynomial %v is not irreducible", chunkPol)
	}
}

func TestBlobRoundTrip(t *testing.T) {
	s, _ := openTest(t, nil)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"tiny", []byte("hello, world\n")},
		{"3MB", randomBytes(1, 3<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum := sha256.Sum256(tc.data)
			digest := hex.EncodeToString(sum[:])
			if ok, err := s.HasBlob(digest); err != nil || ok {
				t.Fatalf("HasBlob before PutBlob: %v, %v", ok, err)
			}
			blob, err := s.PutBlob(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			if blob.Digest != digest || blob.Size != int64(len(tc.data)) {
				t.Errorf("blob %+v, want digest %s size %d", blob, digest, len(tc.data))
			}
			if ok, err := s.HasBlob(digest); err != nil || !ok {
				t.Errorf("HasBlob: %v, %v", ok, err)
			}
			got, err := readBlob(s, digest)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("read %d bytes, want the %d put", len(got), len(tc.data))
			}

			// The same content again stores nothing new.
			before, _ := chunkStats(t, s)
			again, err := s.PutBlob(bytes.NewReader(tc.data))
			if err != nil || again != blob {
				t.Errorf("second put: %+v, %v", again, err)
			}
			if after, _ := chunkStats(t, s); after != before {
				t.Errorf("second put: %d chunks, was %d", after, before)
			}
		})
	}
}

func TestBlobChunkSizes(t *testing.T) {
	s, _ := openTest(t, nil)
	// The fingerprint of zeros is zero, a cut, so zeros are cut at the
	// minimum size: equal chunks, stored once even within one blob.
	if _, err := s.PutBlob(bytes.NewReader(make([]byte, 40*minChunk+100))); err != nil {
		t.Fatal(err)
	}
	if n, size := chunkStats(t, s); n != 2 || size != minChunk+100 {
		t.Errorf("zeros: %d chunks of %d bytes, want 2 of %d", n, size, minChunk+100)
	}

	blob, err := s.PutBlob(newGen(2, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := parseDigest(blob.Digest)
	var m manifest
	err = s.db.View(func(tx *bbolt.Tx) error { return m.decode(tx.Bucket(bucketBlobs).Get(sum)) })
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range m.chunks {
		if c.size > maxChunk || c.size < minChunk && i != len(m.chunks)-1 {
			t.Errorf("chunk %d of %d bytes", i, c.size)
		}
	}
	// About 64 KiB on average: 4 MiB should make tens of chunks.
	if n := len(m.chunks); n < 24 || n > 160 {
		t.Errorf("4 MiB cut into %d chunks", n)
	}
}

func TestBlobDedupe(t *testing.T) {
	s, _ := openTest(t, nil)
	const size = 5 << 20
	a := randomBytes(3, size)
	b := append(append(append([]byte(nil), a[:size/2]...), randomBytes(4, 100)...), a[size/2:]...)
	for _, data := range [][]byte{a, b} {
		if _, err := s.PutBlob(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	n, stored := chunkStats(t, s)
	// The insertion changes one or two chunks around it (at most 2 × 256 KiB).
	if stored < size || stored > size+2*maxChunk+100 {
		t.Errorf("two blobs of %d bytes sharing all but 100 stored as %d chunk bytes in %d chunks", size, stored, n)
	}
	for _, data := range [][]byte{a, b} {
		sum := sha256.Sum256(data)
		got, err := readBlob(s, hex.EncodeToString(sum[:]))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("read back: %d bytes, %v", len(got), err)
		}
	}
}

func TestBlobCorrupt(t *testing.T) {
	data := randomBytes(5, 1<<20)
	// Each damages the first chunk stored, given its index entry's key and
	// value and its data's key and value.
	for _, tc := range []struct {
		name   string
		damage func(index, data *bbolt.Bucket, ik, iv, dk, dv []byte) error
	}{
		{"flipped byte", func(_, data *bbolt.Bucket, _, _, dk, dv []byte) error {
			dv = bytes.Clone(dv)
			dv[len(dv)/2] ^= 1
			return data.Put(dk, dv)
		}},
		{"truncated", func(_, data *bbolt.Bucket, _, _, dk, dv []byte) error {
			return data.Put(dk, bytes.Clone(dv[:len(dv)-1]))
		}},
		{"data missing", func(_, data *bbolt.Bucket, _, _, dk, _ []byte) error { return data.Delete(dk) }},
		{"index missing", func(index, _ *bbolt.Bucket, ik, _, _, _ []byte) error { return index.Delete(ik) }},
		{"index entry short", func(index, _ *bbolt.Bucket, ik, iv, _, _ []byte) error {
			return index.Put(ik, bytes.Clone(iv[:8]))
		}},
		{"index points elsewhere", func(index, _ *bbolt.Bucket, ik, iv, _, _ []byte) error {
			iv = bytes.Clone(iv)
			iv[7]++ // the next chunk's data
			return index.Put(ik, iv)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t, nil)
			blob, err := s.PutBlob(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			err = s.db.Update(func(tx *bbolt.Tx) error {
				index, data := tx.Bucket(bucketChunks), tx.Bucket(bucketChunkData)
				dk, dv := data.Cursor().First()
				c := index.Cursor()
				for ik, iv := c.First(); ik != nil; ik, iv = c.Next() {
					if bytes.Equal(iv[:8], dk) {
						return tc.damage(index, data, bytes.Clone(ik), iv, bytes.Clone(dk), dv)
					}
				}
				return errors.New("no index entry for the first chunk")
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := readBlob(s, blob.Digest); !errors.Is(err, ErrCorrupt) {
				t.Errorf("read: got %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestChunksAppended checks the layout's point: chunks are appended to
// chunkdata in the order they are cut, blob after blob, back to back in
// packs of at most packBytes (or of one larger chunk), never between stored
// ones.
func TestChunksAppended(t *testing.T) {
	s, _ := openTest(t, nil)
	var seq uint64
	var end uint32 // where the last chunk ended in pack seq
	for blob := range uint64(3) {
		b, err := s.PutBlob(newGen(20+blob, 6<<20)) // more than one flush
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := parseDigest(b.Digest)
		err = s.db.View(func(tx *bbolt.Tx) error {
			var m manifest
			if err := m.decode(tx.Bucket(bucketBlobs).Get(sum)); err != nil {
				return err
			}
			for i, ref := range m.chunks {
				loc, ok := parseLoc(tx.Bucket(bucketChunks).Get(ref.sum[:]))
				at := binary.BigEndian.Uint64(loc.key)
				switch {
				case !ok || !loc.packed:
					t.Errorf("blob %d chunk %d: not a packed entry", blob, i)
				case at == seq && loc.off != end:
					t.Errorf("blob %d chunk %d: at %d in pack %d, want %d", blob, i, loc.off, at, end)
				case at != seq && (at != seq+1 || loc.off != 0):
					t.Errorf("blob %d chunk %d: at %d in pack %d, want 0 in pack %d", blob, i, loc.off, at, seq+1)
				case loc.off > 0 && loc.off+loc.n > packBytes:
					t.Errorf("blob %d chunk %d: ends at %d of its pack, past %d", blob, i, loc.off+loc.n, packBytes)
				}
				seq, end = at, loc.off+loc.n
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestPutBlobPageAllocation checks what appending chunks saves: bbolt
// allocates about a new chunk's size in pages for it, however many chunks are
// stored already. Inserted among them by digest, it cost nearly four times.
func TestPutBlobPageAllocation(t *testing.T) {
	s, _ := openTest(t, nil)
	pageAlloc := func() int64 {
		st := s.db.Stats()
		return st.TxStats.GetPageAlloc()
	}
	const size = 16 << 20
	if _, err := s.PutBlob(newGen(30, size)); err != nil {
		t.Fatal(err)
	}
	before := pageAlloc()
	if _, err := s.PutBlob(newGen(31, size)); err != nil {
		t.Fatal(err)
	}
	ratio := float64(pageAlloc()-before) / size
	t.Logf("PutBlob of %d MiB beside as much stored: %.2f times its size in pages", size>>20, ratio)
	if ratio > 1.3 {
		t.Errorf("PutBlob allocated %.2f times the content's size in pages", ratio)
	}
}

func TestOpenBlobErrors(t *testing.T) {
	s, _ := openTest(t, nil)
	missing := hex.EncodeToString(make([]byte, sha256.Size))
	if _, err := s.OpenBlob(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing blob: got %v, want ErrNotFound", err)
	}
	for _, d := range []string{"", "xyz", "abcd"} {
		if _, err := s.OpenBlob(d); err == nil {
			t.Errorf("OpenBlob(%q) succeeded", d)
		}
		if _, err := s.HasBlob(d); err == nil {
			t.Errorf("HasBlob(%q) succeeded", d)
		}
	}
	blob, err := s.PutBlob(bytes.NewReader([]byte("content")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.OpenBlob(blob.Digest)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 10)); err == nil {
		t.Error("read after close succeeded")
	}
	errRead := errors.New("read failed")
	if _, err := s.PutBlob(io.MultiReader(bytes.NewReader([]byte("x")), iotest.ErrReader(errRead))); !errors.Is(err, errRead) {
		t.Errorf("PutBlob of a failing reader: got %v", err)
	}
}

// peakHeap runs fn and returns by how much HeapInuse grew above the level
// before it, at its highest among the samples sample takes.
func peakHeap(fn func(sample func())) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	fn(sample)
	sample()
	return peak - base
}

func TestPutBlobMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MB")
	}
	s, _ := openTest(t, nil)
	const size = 64 << 20
	// Collect garbage early, so that the heap measures what PutBlob holds
	// rather than how far the collector lets garbage pile up.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	var err error
	grew := peakHeap(func(sample func()) {
		g := newGen(6, size)
		g.tick = sample
		_, err = s.PutBlob(g)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PutBlob of %d MiB: heap in use grew by at most %.1f MiB", size>>20, float64(grew)/(1<<20))
	// Holding the blob would take 64 MiB. What it does take is the chunks of
	// one write transaction and about as much again for the pages bbolt
	// allocates at commit: appended, chunks dirty no pages beside their own.
	if grew > 24<<20 {
		t.Errorf("heap in use grew by %d MiB putting a %d MiB blob", grew>>20, size>>20)
	}
}

func BenchmarkPutBlob(b *testing.B) {
	for _, size := range []int64{200 << 10, 10 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s, _ := openTest(b, nil)
			b.SetBytes(size)
			b.ReportAllocs()
			seed := uint64(0)
			for b.Loop() {
				// Fresh content each time: stored content would only be hashed.
				seed++
				if _, err := s.PutBlob(newGen(seed, size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPutBlob100MB(b *testing.B) {
	const size = 100 << 20
	s, _ := openTest(b, nil)
	b.SetBytes(size)
	b.ReportAllocs()
	var peak uint64
	seed := uint64(0)
	for b.Loop() {
		seed++
		var err error
		grew := peakHeap(func(sample func()) {
			g := newGen(seed, size)
			g.tick = sample
			_, err = s.PutBlob(g)
		})
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, grew)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// repeatErr returns n bytes of data, then err on every call, as go-message's
// decoders do on a truncated base64 body.
type repeatErr struct {
	data []byte
	err  error
	rest int // reads after the data, to catch a caller that keeps reading
}

func (r *repeatErr) Read(b []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(b, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.rest++
	return 0, r.err
}

// TestPutBlobSourceErrorEnds: a source that fails, with io.ErrUnexpectedEOF
// above all, ends PutBlob with an error instead of being read for ever.
func TestPutBlobSourceErrorEnds(t *testing.T) {
	s, _ := openTest(t, nil)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"unexpected EOF", io.ErrUnexpectedEOF},
		{"wrapped unexpected EOF", fmt.Errorf("base64: %w", io.ErrUnexpectedEOF)},
		{"other", errors.New("illegal base64 data at input byte 7")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{0, 10, minChunk + 1, 3 * maxChunk} {
				src := &repeatErr{data: bytes.Repeat([]byte("x"), size), err: tc.err}
				done := make(chan error, 1)
				go func() {
					_, err := s.PutBlob(src)
					done <- err
				}()
				var err error
				select {
				case err = <-done:
				case <-time.After(time.Minute): // a hang guard, not a speed test
					t.Fatalf("size %d: PutBlob still reading after a minute", size)
				}
				if err == nil {
					t.Fatalf("size %d: PutBlob returned no error", size)
				}
				if src.rest > 1 {
					t.Errorf("size %d: source read %d times after its error", size, src.rest)
				}
			}
		})
	}
}
