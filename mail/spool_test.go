package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"testing/iotest"
)

func spoolData(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)}).Read(b)
	return b
}

// checkSpool reads sp twice, from two readers, and compares both and the
// digest with want.
func checkSpool(t *testing.T, sp *Spool, want []byte) {
	t.Helper()
	if sp.Size() != int64(len(want)) {
		t.Fatalf("size %d, want %d", sp.Size(), len(want))
	}
	sum := sha256.Sum256(want)
	if sp.Digest() != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest %s, want %x", sp.Digest(), sum)
	}
	r1, r2 := sp.Reader(), sp.Reader()
	half := make([]byte, len(want)/2)
	if _, err := io.ReadFull(r1, half); err != nil {
		t.Fatal(err)
	}
	// A second reader starts from the beginning whatever the first has read.
	if len(want) <= 4*spoolChunk {
		if err := iotest.TestReader(r2, want); err != nil {
			t.Fatal(err)
		}
	} else if got, err := io.ReadAll(r2); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("second reader: %d bytes, %v", len(got), err)
	}
	rest, err := io.ReadAll(r1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(half, rest...), want) {
		t.Fatal("first reader read other bytes")
	}
}

func TestSpoolSizes(t *testing.T) {
	for _, memory := range []int64{0, 100_000, 2 * spoolChunk} {
		lim := spoolLimits{memory: memory, budget: &spoolBudget{max: 1 << 30}}
		for _, n := range []int64{0, 1, spoolChunk - 1, spoolChunk, spoolChunk + 1, memory - 1, memory, memory + 1, 3*memory + 7, 1<<20 + 1} {
			if n < 0 {
				continue
			}
			data := spoolData(int(n))
			readers := map[string]io.Reader{
				"whole":    bytes.NewReader(data),
				"data-err": iotest.DataErrReader(bytes.NewReader(data)),
				"half":     iotest.HalfReader(bytes.NewReader(data)),
			}
			if n <= 2*spoolChunk+1 {
				readers["one-byte"] = iotest.OneByteReader(bytes.NewReader(data))
			}
			for name, r := range readers {
				sp, err := newSpool(t.TempDir(), r, 0, lim)
				if err != nil {
					t.Fatalf("memory %d, size %d, %s: %v", memory, n, name, err)
				}
				if want := n <= memory; sp.InMemory() != want {
					t.Errorf("memory %d, size %d, %s: in memory %v, want %v", memory, n, name, sp.InMemory(), want)
				}
				checkSpool(t, sp, data)
				if err := sp.Close(); err != nil {
					t.Fatal(err)
				}
				if err := sp.Close(); err != nil {
					t.Fatalf("second Close: %v", err)
				}
				if u := lim.budget.used.Load(); u != 0 {
					t.Fatalf("memory %d, size %d, %s: %d bytes of the budget still taken after Close", memory, n, name, u)
				}
			}
		}
	}
}

func TestSpoolDigestSameInMemoryAndFile(t *testing.T) {
	data := spoolData(300_000)
	mem, err := newSpool(t.TempDir(), bytes.NewReader(data), 0, spoolLimits{memory: 1 << 20, budget: &spoolBudget{max: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	file, err := newSpool(t.TempDir(), bytes.NewReader(data), 0, spoolLimits{memory: 1 << 20, budget: &spoolBudget{}})
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if !mem.InMemory() || file.InMemory() {
		t.Fatalf("in memory: %v and %v, want true and false", mem.InMemory(), file.InMemory())
	}
	if mem.Digest() != file.Digest() {
		t.Fatalf("digest %s in memory, %s in a file", mem.Digest(), file.Digest())
	}
}

// budgetReader checks, on every read, that the spools never hold more than
// their budget.
type budgetReader struct {
	t *testing.T
	b *spoolBudget
	r io.Reader
}

func (r budgetReader) Read(p []byte) (int, error) {
	if u := r.b.used.Load(); u > r.b.max {
		r.t.Errorf("spools hold %d bytes, budget %d", u, r.b.max)
	}
	return r.r.Read(p[:min(len(p), 10_000)])
}

func TestSpoolBudget(t *testing.T) {
	const spools = 40
	b := &spoolBudget{max: 8 * spoolChunk}
	lim := spoolLimits{memory: 3 * spoolChunk, budget: b}
	dir := t.TempDir()
	var mu sync.Mutex
	var held []*Spool
	var wg sync.WaitGroup
	for i := range spools {
		wg.Go(func() {
			data := spoolData(100_000 + i*1000)
			sp, err := newSpool(dir, budgetReader{t, b, bytes.NewReader(data)}, 0, lim)
			if err != nil {
				t.Error(err)
				return
			}
			checkSpool(t, sp, data)
			mu.Lock()
			held = append(held, sp)
			mu.Unlock()
		})
	}
	wg.Wait()
	if u := b.used.Load(); u > b.max {
		t.Fatalf("spools hold %d bytes, budget %d", u, b.max)
	}
	var inMem int
	for _, sp := range held {
		if sp.InMemory() {
			inMem++
		}
	}
	// Each spool needs two chunks: at most four fit, the others spilled.
	if inMem > 4 || inMem == spools {
		t.Errorf("%d of %d spools in memory, want at most 4 (the budget's 8 chunks, 2 each)", inMem, spools)
	}
	for _, sp := range held {
		sp.Close()
		sp.Close()
	}
	if u := b.used.Load(); u != 0 {
		t.Fatalf("%d bytes of the budget still taken after Close", u)
	}
	// With the budget free again, a spool is held in memory.
	sp, err := newSpool(dir, bytes.NewReader(spoolData(1000)), 0, lim)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if !sp.InMemory() {
		t.Fatal("a small spool went to a file with the budget free")
	}
}

// A message that the budget runs out for midway spills, and gives back what
// it had taken.
func TestSpoolBudgetRunsOutMidway(t *testing.T) {
	b := &spoolBudget{max: 2 * spoolChunk}
	lim := spoolLimits{memory: 1 << 20, budget: b}
	data := spoolData(5 * spoolChunk)
	sp, err := newSpool(t.TempDir(), bytes.NewReader(data), 0, lim)
	if err != nil {
		t.Fatal(err)
	}
	if sp.InMemory() {
		t.Fatal("held in memory beyond the budget")
	}
	if u := b.used.Load(); u != 0 {
		t.Fatalf("a spilled spool holds %d bytes of the budget", u)
	}
	checkSpool(t, sp, data)
	sp.Close()
}

func TestSpoolTooBig(t *testing.T) {
	lim := spoolLimits{memory: 100_000, budget: &spoolBudget{max: 1 << 20}}
	for _, tc := range []struct {
		size, max int64
		err       bool
	}{
		{50_000, 50_000, false}, {50_001, 50_000, true}, // in memory
		{200_000, 200_000, false}, {200_001, 200_000, true}, // in a file
		{3 << 20, 1 << 20, true}, // larger than everything
	} {
		sp, err := newSpool(t.TempDir(), bytes.NewReader(spoolData(int(tc.size))), tc.max, lim)
		if tc.err != errors.Is(err, ErrTooBig) {
			t.Errorf("size %d, max %d: %v", tc.size, tc.max, err)
		}
		if err == nil {
			sp.Close()
		}
		if u := lim.budget.used.Load(); u != 0 {
			t.Fatalf("size %d, max %d: %d bytes of the budget still taken", tc.size, tc.max, u)
		}
	}
}

// A message far larger than the memory threshold, through the process's
// own limits, goes to a file.
func TestSpoolLarge(t *testing.T) {
	data := spoolData(5 << 20)
	sp, err := NewSpool(t.TempDir(), bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if sp.InMemory() {
		t.Fatal("a 5 MiB message held in memory")
	}
	checkSpool(t, sp, data)
}

func TestSpoolReadAfterClose(t *testing.T) {
	for _, size := range []int{1000, 2 << 20} {
		sp, err := NewSpool(t.TempDir(), bytes.NewReader(spoolData(size)), 0)
		if err != nil {
			t.Fatal(err)
		}
		r := sp.Reader()
		sp.Close()
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, os.ErrClosed) {
			t.Errorf("size %d: read after Close: %v, want os.ErrClosed", size, err)
		}
	}
}

func TestSpoolReadError(t *testing.T) {
	boom := errors.New("boom")
	lim := spoolLimits{memory: 100_000, budget: &spoolBudget{max: 1 << 20}}
	for _, size := range []int{1000, 300_000} {
		r := io.MultiReader(bytes.NewReader(spoolData(size)), iotest.ErrReader(boom))
		if _, err := newSpool(t.TempDir(), r, 0, lim); !errors.Is(err, boom) {
			t.Errorf("size %d: %v, want boom", size, err)
		}
		if u := lim.budget.used.Load(); u != 0 {
			t.Fatalf("size %d: %d bytes of the budget still taken", size, u)
		}
	}
}

func FuzzSpool(f *testing.F) {
	f.Add([]byte("From: a@b\r\n\r\nhi\r\n"), uint16(5), uint8(3))
	f.Add(bytes.Repeat([]byte("x"), 70_000), uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, memory uint16, read uint8) {
		lim := spoolLimits{memory: int64(memory), budget: &spoolBudget{max: 2 * spoolChunk}}
		r := io.Reader(bytes.NewReader(data))
		if read > 0 {
			r = &smallReader{r, int(read)}
		}
		sp, err := newSpool(t.TempDir(), r, 0, lim)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(data)) <= int64(memory) && len(data) <= 2*spoolChunk; sp.InMemory() != want {
			t.Errorf("in memory %v, want %v", sp.InMemory(), want)
		}
		checkSpool(t, sp, data)
		sp.Close()
		if u := lim.budget.used.Load(); u != 0 {
			t.Fatalf("%d bytes of the budget still taken", u)
		}
	})
}

type smallReader struct {
	r io.Reader
	n int
}

func (r *smallReader) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), r.n)]) }
