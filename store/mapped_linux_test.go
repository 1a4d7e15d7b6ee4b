package store

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile is the process's resident file-backed memory (RssFile), which
// holds the pages of the store's mapping that were read.
func rssFile(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseMapped: reading a 32 MB blob leaves its pages in the RSS;
// ReleaseMapped takes them out, and the blob still reads back whole.
func TestReleaseMapped(t *testing.T) {
	s, _ := openTest(t, nil)
	content := randomBytes(7, 32<<20)
	b, err := s.PutBlob(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	base := rssFile(t)
	if got, err := readBlob(s, b.Digest); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	read := rssFile(t)
	if read-base < 24<<20 {
		t.Skipf("reading 32 MB through the mapping added %d bytes of RSS: nothing to release", read-base)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	if released := rssFile(t); released-base > 8<<20 {
		t.Errorf("RssFile %d MB after release, %d MB before reading, %d MB after", released>>20, base>>20, read>>20)
	}
	if got, err := readBlob(s, b.Digest); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("after the release: read %d bytes, %v", len(got), err)
	}
}

// TestTxReleaseMapped: a write transaction that has read 24 MB of
// collaborations releases their pages and goes on: what it read before
// stays valid, it reads and writes after, and it commits.
func TestTxReleaseMapped(t *testing.T) {
	s, _ := openTest(t, nil)
	const n = 12_000
	subject := strings.Repeat("Supply agreement, annex B ", 80) // 2 KB
	err := s.Update(func(tx *Tx) error {
		for i := range n {
			if err := tx.PutCollab(&Collab{ID: "c" + strconv.Itoa(100_000+i), Subject: subject, State: StateActive}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	base := rssFile(t)
	err = s.Update(func(tx *Tx) error {
		var first *Collab
		if err := tx.EachCollab(func(c *Collab) error {
			if first == nil {
				first = c
			}
			return nil
		}); err != nil {
			return err
		}
		read := rssFile(t)
		if read-base < 16<<20 {
			t.Skipf("reading 24 MB through the mapping added %d bytes of RSS: nothing to release", read-base)
		}
		if err := tx.ReleaseMapped(); err != nil {
			return err
		}
		if released := rssFile(t); released-base > 8<<20 {
			t.Errorf("RssFile %d MB after release, %d MB before reading, %d MB after", released>>20, base>>20, read>>20)
		}
		if first.Subject != subject {
			t.Errorf("the first collaboration read before the release: subject %.20q…", first.Subject)
		}
		last, err := tx.Collab("c" + strconv.Itoa(100_000+n-1))
		if err != nil {
			return err
		}
		last.State = StateWrapped
		return tx.PutCollab(last)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		c, err := tx.Collab("c" + strconv.Itoa(100_000+n-1))
		if err == nil && (c.State != StateWrapped || c.Subject != subject) {
			t.Errorf("after the commit: state %q, subject %.20q…", c.State, c.Subject)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestResidentMapped: ResidentMapped grows by the pages a read maps and
// falls by those a release drops, as RssFile does (it counts the shared
// memory too, of which a test has little).
func TestResidentMapped(t *testing.T) {
	s, _ := openTest(t, nil)
	b, err := s.PutBlob(bytes.NewReader(randomBytes(8, 32<<20)))
	if err != nil {
		t.Fatal(err)
	}
	resident := func() int64 {
		t.Helper()
		n, err := ResidentMapped()
		if err != nil {
			t.Fatal(err)
		}
		return int64(n)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	base, file := resident(), rssFile(t)
	if base < file || base > file+8<<20 {
		t.Errorf("ResidentMapped %d MB, RssFile %d MB", base>>20, file>>20)
	}
	if _, err := readBlob(s, b.Digest); err != nil {
		t.Fatal(err)
	}
	read := resident()
	if read-base < 24<<20 {
		t.Skipf("reading 32 MB through the mapping added %d bytes of RSS: nothing to release", read-base)
	}
	if err := s.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	if released := resident(); released-base > 8<<20 {
		t.Errorf("ResidentMapped %d MB after release, %d MB before reading, %d MB after", released>>20, base>>20, read>>20)
	}
}

func TestStatmShared(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1066 412 290 1 0 163 0\n", 290, true},
		{"1 2 0 3 0 4 0\n", 0, true},
		{"1 2 17", 17, true},
		{"1 2", 0, false},
		{"1 2 x 3", 0, false},
		{"", 0, false},
	} {
		got, ok := statmShared([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("statmShared(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func BenchmarkResidentMapped(b *testing.B) {
	for b.Loop() {
		if _, err := ResidentMapped(); err != nil {
			b.Fatal(err)
		}
	}
}
