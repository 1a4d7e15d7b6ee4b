package message

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// genReader produces a message on the fly, so that a test of tens of MB
// holds none of it: head, then body repeated n times, then tail.
type genReader struct {
	head, body, tail string
	n                int
	cur              string
	stage            int
}

func (g *genReader) Read(b []byte) (int, error) {
	for g.cur == "" {
		switch {
		case g.stage == 0:
			g.cur, g.stage = g.head, 1
		case g.stage == 1 && g.n > 0:
			g.cur = g.body
			g.n--
		case g.stage == 1:
			g.cur, g.stage = g.tail, 2
		default:
			return 0, io.EOF
		}
	}
	n := copy(b, g.cur)
	g.cur = g.cur[n:]
	return n, nil
}

func (g *genReader) size() int64 {
	return int64(len(g.head) + g.n*len(g.body) + len(g.tail))
}

const bombHead = "From: a@example.com\r\nSubject: bomb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"

// partHeaderBomb is issue 7's memory bomb: one MIME part whose header has
// lines header lines (2.4 million made a 50 MB mail).
func partHeaderBomb(lines int) *genReader {
	return &genReader{
		head: bombHead + "Content-Type: text/plain\r\n",
		body: "X-Bomb: 0123456789abcdef\r\n",
		n:    lines,
		tail: "\r\nbody\r\n--b--\r\n",
	}
}

// fieldBomb is parts parts, each with a header of fields fields.
func fieldBomb(parts, fields int) *genReader {
	part := "Content-Type: text/plain\r\n" + strings.Repeat("X-F: v\r\n", fields-1) + "\r\nx\r\n--b\r\n"
	return &genReader{head: bombHead, body: part, n: parts, tail: "\r\n--b--\r\n"}
}

func TestParseLimits(t *testing.T) {
	longField := "X-Long: " + strings.Repeat("a", 1000) + "\r\n"
	for _, tc := range []struct {
		name string
		msg  io.Reader
		want string // the LimitError's text; "" for none
	}{
		{"part header bomb", partHeaderBomb(2_400_000), "a MIME part header has more than 256 fields"},
		{"part header of 66 long fields", &genReader{head: bombHead, body: longField, n: 66, tail: "\r\nx\r\n--b--\r\n"}, "a MIME part header is longer than 64 KiB"},
		{"part header of 64 long fields", &genReader{head: bombHead, body: longField, n: 64, tail: "\r\nx\r\n--b--\r\n"}, ""},
		{"part header of 257 fields", fieldBomb(1, 257), "a MIME part header has more than 256 fields"},
		{"part header of 256 fields", fieldBomb(1, 256), ""},
		{"10,000 fields in all", fieldBomb(45, 250), "the message has more than 10000 header fields"},
		{"1,001 parts", fieldBomb(1000, 1), "the message has more than 1000 MIME parts"},
		{"999 parts", fieldBomb(998, 1), ""},
		{"top header over 1 MiB", &genReader{head: "From: a@example.com\r\n", body: longField, n: 1100, tail: "\r\nbody\r\n"}, "the message header is longer than 1 MiB"},
		{"top header of 5,001 fields", &genReader{head: "From: a@example.com\r\n", body: "X-F: v\r\n", n: 5000, tail: "\r\nbody\r\n"}, "the message header has more than 5000 fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.msg, &parseBlobs{}, nil)
			var le *LimitError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Parse: %v, want no error", err)
			case tc.want == "":
			case !errors.Is(err, ErrLimit) || !errors.As(err, &le) || err.Error() != tc.want:
				t.Errorf("Parse: %v, want a LimitError %q", err, tc.want)
			case errors.Is(err, ErrMalformed):
				t.Errorf("Parse: %v is also ErrMalformed", err)
			}
		})
	}
}

// peakHeap samples the heap while fn runs and returns the highest HeapInuse
// above the level before it.
func peakHeap(fn func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var s runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&s)
				peak = max(peak, s.HeapInuse)
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	peak = max(peak, ms.HeapInuse)
	return peak - base
}

// BenchmarkParseBombs parses hostile messages of tens of MB and reports the
// peak heap above the level before Parse (peak-heap-MiB) beside the size of
// the input (input-MiB): issue 7 measured 1.07 GB for the part-header bomb.
func BenchmarkParseBombs(b *testing.B) {
	for _, bc := range []struct {
		name string
		gen  func() *genReader
	}{
		{"part-header-bomb", func() *genReader { return partHeaderBomb(2_400_000) }},
		{"fields-in-all", func() *genReader { return fieldBomb(20_000, 250) }},
		{"many-parts", func() *genReader { return fieldBomb(2_000_000, 1) }},
		{"long-part-header-lines", func() *genReader {
			return &genReader{head: bombHead + "X-Long: ", body: strings.Repeat("a", 1<<10), n: 40 << 10, tail: "\r\n\r\nx\r\n--b--\r\n"}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var peak uint64
			var size int64
			for b.Loop() {
				g := bc.gen()
				size = g.size()
				peak = max(peak, peakHeap(func() {
					if _, err := Parse(g, &parseBlobs{}, nil); !errors.Is(err, ErrLimit) {
						b.Fatalf("Parse: %v, want ErrLimit", err)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(size)/(1<<20), "input-MiB")
		})
	}
}

func TestMultipartReader(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string // bodies of the parts
		cut        bool     // the message ends inside the last part
	}{
		{"plain", "pre\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n", []string{"one", "two"}, false},
		{"lf only", "--b\n\none\n--b\n\ntwo\n--b--\n", []string{"one", "two"}, false},
		{"padding after delimiter", "--b  \r\n\r\none\r\n--b--  \r\n", []string{"one"}, false},
		{"longer boundary is content", "--b\r\n\r\n--bb\r\n--b--\r\n", []string{"--bb"}, false},
		{"close delimiter without line break", "--b\r\n\r\none\r\n--b--", []string{"one"}, false},
		{"blank lines kept", "--b\r\n\r\n\r\none\r\n\r\n--b--\r\n", []string{"\r\none\r\n"}, false},
		{"no close delimiter", "--b\r\n\r\none\r\n", []string{"one\r\n"}, true},
		{"cut in a line", "--b\r\n\r\none\r\ntw", []string{"one\r\ntw"}, true},
		{"header cut by the next delimiter", "--b\r\nContent-Type: text/plain\r\n--b\r\n\r\ntwo\r\n--b--\r\n", []string{"", "two"}, false},
		{"long line", "--b\r\n\r\n" + strings.Repeat("x", 100<<10) + "\r\n--b--\r\n", []string{strings.Repeat("x", 100<<10)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			total := 0
			mr := newMultipartReader(strings.NewReader(tc.body), "b", headerBounds{maxBytes: 1 << 10, maxFields: 10, total: &total, maxTotal: 100, what: "a MIME part header"})
			var got []string
			var last *partReader
			for {
				_, part, _, err := mr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(part)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
				last = part
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("parts %q, want %q", got, tc.want)
			}
			if last != nil && last.cut != tc.cut {
				t.Errorf("cut %v, want %v", last.cut, tc.cut)
			}
		})
	}
}
