package store

import (
	"bytes"
	"compress/flate"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// scanDeflate scans stream, offered step more bytes at a time, and returns
// the byte offsets of the blocks it found after the first, what it stopped
// at, where, and the inflated size it counted.
func scanDeflate(stream []byte, step int) (blocks []int, end int, pos int64, out int64) {
	var d deflateScanner
	d.reset()
	limit := 0
	for range 10 * (len(stream) + 10) { // a hang guard: each step moves on
		start := int(d.pos >> 3)
		limit = max(limit, start)
		switch r := d.scan(stream[start:limit], limit == len(stream)); r {
		case scanMore:
			if limit == len(stream) {
				panic("scanMore at the end of the stream")
			}
			limit = min(limit+step, len(stream))
		case scanBlock:
			blocks = append(blocks, int(d.pos>>3))
		default:
			return blocks, r, d.pos, d.out
		}
	}
	panic("deflate scan does not end")
}

func deflated(t testing.TB, level int, data []byte, flushEvery int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := len(data)
		if flushEvery > 0 {
			n = min(n, flushEvery)
		}
		w.Write(data[:n])
		data = data[n:]
		if flushEvery > 0 {
			w.Flush()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// textBytes returns n bytes of text-like XML: words, a few often and most
// rarely, as in text, and markup.
func textBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the shall party agreement <w:p> <w:r> </w:t> clause section notice written 2025 of and")
	for range 2000 {
		w := make([]byte, 2+rng.IntN(9))
		for i := range w {
			w[i] = byte('a' + rng.IntN(26))
		}
		words = append(words, string(w))
	}
	zipf := rand.NewZipf(rng, 1.2, 1, uint64(len(words)-1))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[zipf.Uint64()])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func TestDeflateScanner(t *testing.T) {
	inputs := map[string][]byte{
		"empty":  nil,
		"text":   textBytes(1, 96<<10),
		"random": randomBytes(11, 48<<10),
		"mixed":  append(textBytes(2, 40<<10), randomBytes(12, 40<<10)...),
	}
	for name, data := range inputs {
		for _, level := range []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
			for _, flush := range []int{0, 16 << 10} {
				stream := deflated(t, level, data, flush)
				t.Run(fmt.Sprintf("%s/level%d/flush%d", name, level, flush), func(t *testing.T) {
					want, _, _, _ := scanDeflate(stream, len(stream))
					for _, step := range []int{1, 7, 4096, len(stream)} {
						if step < 10 && len(stream) > 32<<10 {
							continue // byte by byte on the small streams only
						}
						blocks, end, pos, out := scanDeflate(stream, step)
						if end != scanEnd || (pos+7)/8 != int64(len(stream)) || out != int64(len(data)) {
							t.Fatalf("step %d: stopped at %d, byte %d of %d, inflated %d of %d", step, end, (pos+7)/8, len(stream), out, len(data))
						}
						if fmt.Sprint(blocks) != fmt.Sprint(want) {
							t.Errorf("step %d: blocks %v; all at once %v", step, blocks, want)
						}
					}
					// A sync flush ends a block: every 16 KiB there is one.
					if flush > 0 && len(want) < len(data)/flush {
						t.Errorf("%d blocks after the first; want at least %d", len(want), len(data)/flush)
					}
				})
			}
		}
	}
}

// TestDeflateScannerBad: no input makes it loop or fail other than by
// stopping, and a stream cut short is never taken as complete.
func TestDeflateScannerBad(t *testing.T) {
	stream := deflated(t, flate.DefaultCompression, textBytes(3, 100<<10), 0)
	for _, n := range []int{0, 1, 2, 5, 100, len(stream) / 2, len(stream) - 1} {
		if _, end, _, _ := scanDeflate(stream[:n], 3); end != scanBad {
			t.Errorf("stream cut to %d of %d bytes: stopped at %d, want scanBad", n, len(stream), end)
		}
	}
	for seed := range uint64(200) {
		scanDeflate(randomBytes(100+seed, 1+int(seed)*37), 1+int(seed%13))
	}
	// Every byte flipped in turn, in a short stream.
	short := deflated(t, flate.BestCompression, textBytes(4, 3000), 0)
	for i := range short {
		b := bytes.Clone(short)
		b[i] ^= 0x5a
		scanDeflate(b, 5)
	}
}

func FuzzDeflateScanner(f *testing.F) {
	f.Add(deflated(f, flate.DefaultCompression, textBytes(5, 2000), 700), 3)
	f.Add(deflated(f, flate.NoCompression, randomBytes(13, 500), 0), 1)
	f.Add(deflated(f, flate.HuffmanOnly, textBytes(6, 900), 0), 64)
	f.Fuzz(func(t *testing.T, stream []byte, step int) {
		if step <= 0 || step > 1<<16 {
			step = 1
		}
		scanDeflate(stream, step)
	})
}

func BenchmarkDeflateScanner(b *testing.B) {
	stream := deflated(b, flate.DefaultCompression, textBytes(7, 4<<20), 0)
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		if _, end, _, _ := scanDeflate(stream, len(stream)); end != scanEnd {
			b.Fatal("stream not scanned to its end")
		}
	}
}
