package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// ErrTooBig is returned by NewSpool when the message exceeds its size limit.
var ErrTooBig = errors.New("mail: message too big")

// Spool sizes. A message of up to SpoolMemoryBytes is held in memory, in
// chunks of spoolChunk bytes, as long as all the spools of the process hold
// no more than SpoolBudgetBytes together; a larger one, or one that arrives
// when the budget is spent, is held in a temporary file. Memory so stays
// bounded whatever the number of connections, and the common mail costs no
// file creation, no unlink and no write and read system calls.
const (
	SpoolMemoryBytes = 1 << 20
	SpoolBudgetBytes = 32 << 20
	spoolChunk       = 64 << 10
)

// chunks recycles the spools' memory chunks and copy buffers, so that a
// message in memory is a list of fixed chunks: it never grows by copying,
// and its chunks serve the next message.
var chunks = sync.Pool{New: func() any { return new([spoolChunk]byte) }}

// spoolBudget bounds the bytes that in-memory spools hold, process-wide.
type spoolBudget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, or reports false when that would exceed the budget.
func (b *spoolBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *spoolBudget) give(n int64) {
	if b.used.Add(-n) < 0 {
		panic("mail: spool budget released more than was taken")
	}
}

// spoolLimits is where a spool may hold a message in memory.
type spoolLimits struct {
	memory int64 // the most a message may hold in memory
	budget *spoolBudget
}

var defaultSpoolLimits = spoolLimits{memory: SpoolMemoryBytes, budget: &spoolBudget{max: SpoolBudgetBytes}}

// Spool is a received message held in memory or in a temporary file (see
// SpoolMemoryBytes), so that parsing and storing never need a large message
// in memory and a failed delivery can read it again.
//
// A Spool may be read by several goroutines at once and closed while they
// read: their readers then fail with os.ErrClosed, as those of a closed file
// do.
type Spool struct {
	size   int64
	digest string

	mu     sync.RWMutex // guards closed and the memory of mem against Close
	closed bool
	mem    []*[spoolChunk]byte // the message when in memory, all chunks full but the last
	f      *os.File            // the message when in a file
	budget *spoolBudget        // what mem was taken from
}

// NewSpool copies r into a new spool, hashing it on the way; a message
// that does not fit in memory goes to a temporary file in dir ("" for the
// system's). A max above zero bounds the size: beyond it the spool is
// discarded and ErrTooBig returned.
func NewSpool(dir string, r io.Reader, max int64) (*Spool, error) {
	return newSpool(dir, r, max, defaultSpoolLimits)
}

func newSpool(dir string, r io.Reader, max int64, lim spoolLimits) (*Spool, error) {
	if max > 0 {
		r = io.LimitReader(r, max+1)
	}
	s := &Spool{budget: lim.budget}
	h := sha256.New()
	err := s.fill(dir, r, h, lim.memory)
	if err == nil && max > 0 && s.size > max {
		err = ErrTooBig
	}
	if err != nil {
		s.Close()
		if errors.Is(err, ErrTooBig) {
			return nil, err
		}
		return nil, fmt.Errorf("write spool: %w", err)
	}
	s.digest = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// fill reads r into memory chunks while the message stays within memory
// bytes and the budget lasts, and spills to a file beyond.
func (s *Spool) fill(dir string, r io.Reader, h hash.Hash, memory int64) error {
	for {
		var c *[spoolChunk]byte
		if len(s.mem) > 0 && s.size%spoolChunk != 0 {
			c = s.mem[len(s.mem)-1]
		}
		off := int(s.size % spoolChunk)
		room := min(int64(spoolChunk-off), memory-s.size)
		if c == nil && room > 0 {
			if !s.budget.take(spoolChunk) {
				room = 0
			} else {
				c = chunks.Get().(*[spoolChunk]byte)
				s.mem = append(s.mem, c)
			}
		}
		if room <= 0 {
			return s.spill(dir, r, h)
		}
		n, err := r.Read(c[off : off+int(room)])
		h.Write(c[off : off+n])
		s.size += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// spill moves what is in memory to a new temporary file and copies the
// rest of r after it, reading whole buffers so that the file is written in
// large blocks whatever the size of r's reads. An empty rest of r leaves the
// message in memory: a message of exactly the memory bytes stays there.
func (s *Spool) spill(dir string, r io.Reader, h hash.Hash) error {
	buf := chunks.Get().(*[spoolChunk]byte)
	defer chunks.Put(buf)
	n, err := io.ReadFull(r, buf[:])
	if err == io.EOF {
		return nil
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return err
	}
	f, ferr := os.CreateTemp(dir, "turnmail-spool-*.eml")
	if ferr != nil {
		return fmt.Errorf("create spool: %w", ferr)
	}
	// Unlink at once: the open descriptor keeps the data, and a crash leaves
	// nothing behind to clean up.
	os.Remove(f.Name())
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
	for i, c := range s.mem {
		b := c[:]
		if i == len(s.mem)-1 && s.size%spoolChunk != 0 {
			b = c[:s.size%spoolChunk]
		}
		if _, werr := f.Write(b); werr != nil {
			return werr
		}
	}
	s.freeMem()
	for {
		h.Write(buf[:n])
		if _, werr := f.Write(buf[:n]); werr != nil {
			return werr
		}
		s.size += int64(n)
		if err != nil { // io.ErrUnexpectedEOF: r ended
			return nil
		}
		n, err = io.ReadFull(r, buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return err
		}
	}
}

// freeMem returns the memory chunks to the pool and to the budget.
func (s *Spool) freeMem() {
	s.mu.Lock()
	mem := s.mem
	s.mem = nil
	s.mu.Unlock()
	for _, c := range mem {
		chunks.Put(c)
	}
	if len(mem) > 0 {
		s.budget.give(int64(len(mem)) * spoolChunk)
	}
}

// Size is the message's length in bytes.
func (s *Spool) Size() int64 { return s.size }

// Digest is the lower-case hex SHA-256 of the whole message.
func (s *Spool) Digest() string { return s.digest }

// InMemory reports whether the message is held in memory, not in a file.
func (s *Spool) InMemory() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f == nil && !s.closed
}

// Reader returns a reader over the whole message, independent of any other
// reader returned before.
func (s *Spool) Reader() io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.size)
	}
	return &memReader{s: s}
}

// Close discards the spool. Closing it again does nothing.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	f := s.f
	s.mu.Unlock()
	s.freeMem()
	if f != nil {
		return f.Close()
	}
	return nil
}

// memReader reads a spool held in memory. It copies under the spool's read
// lock, so that Close cannot hand a chunk to another message meanwhile.
type memReader struct {
	s   *Spool
	off int64
}

func (r *memReader) Read(p []byte) (int, error) {
	s := r.s
	if r.off >= s.size {
		return 0, io.EOF
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, os.ErrClosed
	}
	n := 0
	for n < len(p) && r.off < s.size {
		c := s.mem[r.off/spoolChunk]
		off := int(r.off % spoolChunk)
		end := int(min(spoolChunk, s.size-r.off+int64(off)))
		k := copy(p[n:], c[off:end])
		n += k
		r.off += int64(k)
	}
	return n, nil
}
