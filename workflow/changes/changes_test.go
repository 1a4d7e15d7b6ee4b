package changes

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var clauses = []string{
	"1. Services. The Supplier shall provide the Services described in Annex A.",
	"2. Term. This Agreement starts on the Effective Date and lasts two years.",
	"3. Fees. The Customer shall pay the fees within 30 days of invoice.",
	"4. Liability. Neither party is liable for indirect loss.",
	"5. Law. This Agreement is governed by the laws of England.",
}

// edit returns clauses with f applied to a copy.
func edit(f func([]string) []string) []string {
	return f(append([]string(nil), clauses...))
}

// TestCounts runs the same edits through every paragraph or line format:
// what counts as added, removed and changed does not depend on it.
func TestCounts(t *testing.T) {
	cases := []struct {
		name     string
		newer    []string
		counts   Counts
		passages []Passage
	}{
		{"identical", clauses, Counts{}, nil},
		{"one changed", edit(func(c []string) []string {
			c[2] = "3. Fees. The Customer shall pay the fees within 60 days of invoice."
			return c
		}), Counts{Changed: 1}, []Passage{{Kind: Changed, At: 3, Old: clauses[2], New: "3. Fees. The Customer shall pay the fees within 60 days of invoice."}}},
		{"one added", edit(func(c []string) []string {
			return append(c[:4], append([]string{"4a. Insurance. The Supplier keeps insurance."}, c[4:]...)...)
		}), Counts{Added: 1}, []Passage{{Kind: Added, At: 5, New: "4a. Insurance. The Supplier keeps insurance."}}},
		{"one removed", edit(func(c []string) []string {
			return append(c[:1], c[2:]...)
		}), Counts{Removed: 1}, []Passage{{Kind: Removed, At: 2, Old: clauses[1]}}},
		{"two replaced by three", edit(func(c []string) []string {
			return []string{c[0], "2. Term: three years.", "3. Fees: on invoice.", "3a. Interest: 8 %.", c[3], c[4]}
		}), Counts{Changed: 2, Added: 1}, []Passage{
			{Kind: Changed, At: 2, Old: clauses[1], New: "2. Term: three years."},
			{Kind: Changed, At: 3, Old: clauses[2], New: "3. Fees: on invoice."},
			{Kind: Added, At: 4, New: "3a. Interest: 8 %."},
		}},
		{"first and last changed", edit(func(c []string) []string {
			c[0], c[4] = "1. Services. See Annex B.", "5. Law. Scotland."
			return c
		}), Counts{Changed: 2}, []Passage{
			{Kind: Changed, At: 1, Old: clauses[0], New: "1. Services. See Annex B."},
			{Kind: Changed, At: 5, Old: clauses[4], New: "5. Law. Scotland."},
		}},
		{"all removed", nil, Counts{Removed: 5}, []Passage{
			{Kind: Removed, At: 1, Old: clauses[0]}, {Kind: Removed, At: 2, Old: clauses[1]},
			{Kind: Removed, At: 3, Old: clauses[2]}, {Kind: Removed, At: 4, Old: clauses[3]},
			{Kind: Removed, At: 5, Old: clauses[4]},
		}},
	}
	formats := []struct {
		name  string
		build func(t testing.TB, texts []string) []byte
		unit  Unit
	}{
		{"contract.txt", func(_ testing.TB, texts []string) []byte { return []byte(strings.Join(texts, "\n")) }, Lines},
		{"contract.docx", func(t testing.TB, texts []string) []byte { return docxParas(t, texts...) }, Paragraphs},
		{"contract.odt", func(t testing.TB, texts []string) []byte { return odtOf(t, odfParas(texts...)) }, Paragraphs},
	}
	for _, f := range formats {
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				s := compare(t, f.name, f.build(t, clauses), f.build(t, c.newer))
				if s.Unit != f.unit || s.TooLarge || s.Unsupported {
					t.Fatalf("summary %+v", s)
				}
				if s.Counts != c.counts {
					t.Errorf("counts %+v, want %+v", s.Counts, c.counts)
				}
				if !reflect.DeepEqual(s.Passages, c.passages) {
					t.Errorf("passages\n%+v\nwant\n%+v", s.Passages, c.passages)
				}
				if s.Same() != (c.counts == Counts{}) {
					t.Errorf("Same() = %v", s.Same())
				}
			})
		}
	}
}

func TestPassagesAtMostFive(t *testing.T) {
	var older, newer []string
	for i := range 12 {
		older = append(older, strings.Repeat("x", i+1))
		newer = append(newer, strings.Repeat("y", i+1))
	}
	s := compare(t, "notes.md", []byte(strings.Join(older, "\n")), []byte(strings.Join(newer, "\n")))
	if s.Counts != (Counts{Changed: 12}) || len(s.Passages) != MaxPassages {
		t.Fatalf("counts %+v, %d passages", s.Counts, len(s.Passages))
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("The Supplier shall perform the Services with due care and skill. ", 20)
	older := long + "Payment is due within 30 days." + long
	newer := long + "Payment is due within 60 days." + long
	s := compare(t, "a.txt", []byte(older), []byte(newer))
	p := s.Passages[0]
	for _, x := range []string{p.Old, p.New} {
		if n := len([]rune(x)); n > PassageRunes+2 {
			t.Errorf("excerpt of %d runes", n)
		}
		if !strings.HasPrefix(x, "…") || !strings.HasSuffix(x, "…") {
			t.Errorf("excerpt %q not marked as cut", x)
		}
	}
	if !strings.Contains(p.Old, "within 30 days") || !strings.Contains(p.New, "within 60 days") {
		t.Errorf("excerpts miss the change:\n%s\n%s", p.Old, p.New)
	}
	// Unicode is cut at runes, never inside one.
	o, n := excerpt(strings.Repeat("é", 400), strings.Repeat("é", 399)+"è")
	if !strings.HasSuffix(o, "é") || !strings.HasSuffix(n, "è") || strings.ContainsRune(o+n, '\uFFFD') {
		t.Errorf("excerpt of accented text: %q / %q", o, n)
	}
}

func TestPlainText(t *testing.T) {
	// CRLF, CR and LF line ends, trailing blanks, blank lines and invalid
	// bytes: only the second line changed.
	older := "Line one\r\nLine two\r\n\r\nLine three  \r\n"
	newer := "Line one\nLine 2\n\n\n\rLine three\n\xff"
	s := compare(t, "notes.txt", []byte(older), []byte(newer))
	if s.Counts != (Counts{Changed: 1, Added: 1}) {
		t.Fatalf("counts %+v, passages %+v", s.Counts, s.Passages)
	}
	if p := s.Passages[0]; p.Old != "Line two" || p.New != "Line 2" || p.At != 2 {
		t.Errorf("passage %+v", p)
	}
	if p := s.Passages[1]; p.New != "\uFFFD" {
		t.Errorf("invalid byte read as %q", p.New)
	}
	// UTF-16 with a byte order mark, as Windows Notepad writes it.
	utf16le := []byte{0xFF, 0xFE, 'L', 0, 'i', 0, 'n', 0, 'e', 0, ' ', 0, 'o', 0, 'n', 0, 'e', 0, '\r', 0, '\n', 0, 'L', 0, 'i', 0, 'n', 0, 'e', 0, ' ', 0, '2', 0}
	s = compare(t, "notes.txt", []byte(newer), utf16le)
	if s.Counts != (Counts{Removed: 2}) {
		t.Errorf("utf-16: counts %+v, passages %+v", s.Counts, s.Passages)
	}
	utf16be := []byte{0xFE, 0xFF, 0, 'L', 0, 'i', 0, 'n', 0, 'e', 0, ' ', 0, 'o', 0, 'n', 0, 'e', 0, '\r', 0, '\n', 0, 'L', 0, 'i', 0, 'n', 0, 'e', 0, ' ', 0, '2'}
	if s = compare(t, "notes.txt", utf16le, utf16be); !s.Same() {
		t.Errorf("utf-16: %+v", s)
	}
	// A CRLF split across the reader's buffers is one line end: the line
	// after it is line 2.
	for _, at := range []int{4095, 4096, 65535} {
		long := strings.Repeat("x", at)
		s = compare(t, "notes.txt", []byte(long+"\nnext\n"), []byte(long+"\r\nnow\r\n"))
		if s.Counts != (Counts{Changed: 1}) || s.Passages[0].At != 2 {
			t.Errorf("CRLF at %d: %+v", at, s)
		}
	}
}

func TestCSV(t *testing.T) {
	older := "name,amount\r\nAcme,100\r\nAxe,200\r\n"
	newer := "name,amount\r\nAcme,150\r\nAxe,200\r\nBolt,50\r\n"
	s := compare(t, "ledger.csv", []byte(older), []byte(newer))
	want := []Passage{{Kind: Changed, At: 2, Old: "Acme,100", New: "Acme,150"}, {Kind: Added, At: 4, New: "Bolt,50"}}
	if s.Format != CSV || s.Unit != Lines || s.Counts != (Counts{Changed: 1, Added: 1}) || !reflect.DeepEqual(s.Passages, want) {
		t.Errorf("summary %+v", s)
	}
}

func TestUnsupported(t *testing.T) {
	for _, name := range []string{"scan.pdf", "logo.png", "deck.pptx", "README"} {
		s := compare(t, name, []byte("%PDF-1.7"), []byte("%PDF-1.7 x"))
		if !s.Unsupported || s.Same() {
			t.Errorf("%s: %+v", name, s)
		}
		_, err := Inspect(context.Background(), name, bytes.NewReader(nil), 0, Limits{})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Inspect %s: %v", name, err)
		}
	}
	if f, ok := FormatOf("Contract (v2).DOCX"); f != Docx || !ok {
		t.Errorf("FormatOf: %s %v", f, ok)
	}
}

func TestTooLarge(t *testing.T) {
	var many []string
	for i := range 10_000 {
		many = append(many, strings.Repeat("Clause ", i%7+1)+string(rune('a'+i%26))+" of paragraph "+strings.Repeat("x", i%13))
	}
	big := docxParas(t, many...)
	edited := append([]string(nil), many...)
	edited[5000] = "changed"
	bigger := docxParas(t, edited...)

	t.Run("deadline passed", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		start := time.Now()
		s, err := Compare(ctx, "big.docx", bytes.NewReader(big), int64(len(big)), bytes.NewReader(bigger), int64(len(bigger)), Limits{})
		if err != nil || !s.TooLarge || s.Reason == "" || s.Same() {
			t.Fatalf("%+v, %v", s, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("took %v to say so", d)
		}
	})
	t.Run("deadline passes while reading", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		s, err := Compare(ctx, "big.docx", bytes.NewReader(big), int64(len(big)), bytes.NewReader(bigger), int64(len(bigger)), Limits{MaxTime: time.Hour})
		if err != nil || !s.TooLarge {
			t.Fatalf("%+v, %v", s, err)
		}
	})
	t.Run("in time", func(t *testing.T) {
		s := compare(t, "big.docx", big, bigger)
		if s.TooLarge || s.Counts != (Counts{Changed: 1}) || s.Passages[0].At != 5001 {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Compare(ctx, "big.docx", bytes.NewReader(big), int64(len(big)), bytes.NewReader(bigger), int64(len(bigger)), Limits{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
	limits := []struct {
		name string
		lim  Limits
	}{
		{"MaxParagraphs", Limits{MaxParagraphs: 9_999}},
		{"MaxBytes", Limits{MaxBytes: int64(len(big) - 1)}},
		{"MaxMemberBytes", Limits{MaxMemberBytes: 100_000}},
		{"MaxUnpackedBytes", Limits{MaxUnpackedBytes: 100_000}},
		{"MaxMembers", Limits{MaxMembers: 3}},
	}
	for _, c := range limits {
		t.Run(c.name, func(t *testing.T) {
			s, err := Compare(context.Background(), "big.docx", bytes.NewReader(big), int64(len(big)), bytes.NewReader(bigger), int64(len(bigger)), c.lim)
			if err != nil || !s.TooLarge || !strings.HasPrefix(s.Reason, "old version: ") {
				t.Fatalf("%+v, %v", s, err)
			}
			_, err = Inspect(context.Background(), "big.docx", bytes.NewReader(big), int64(len(big)), c.lim)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("Inspect: %v", err)
			}
		})
	}
	t.Run("lines", func(t *testing.T) {
		text := []byte(strings.Join(many, "\n"))
		s, err := Compare(context.Background(), "big.txt", bytes.NewReader(text), int64(len(text)), bytes.NewReader(text), int64(len(text)), Limits{MaxParagraphs: 100})
		if err != nil || !s.TooLarge {
			t.Fatalf("%+v, %v", s, err)
		}
	})
}
