package changes

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzLimits are small, so that the fuzzer meets them.
var fuzzLimits = Limits{MaxBytes: 1 << 20, MaxMemberBytes: 256 << 10, MaxUnpackedBytes: 512 << 10, MaxMembers: 64, MaxParagraphs: 200, MaxCells: 500, MaxTime: 500 * time.Millisecond}

var fuzzNames = []string{"a.docx", "a.odt", "a.xlsx", "a.txt"}

// checkSummary fails unless Compare kept its promises: an error only for
// damaged input, and a summary within the limits.
func checkSummary(t *testing.T, s *Summary, err error, took time.Duration) {
	if took > fuzzLimits.MaxTime+2*time.Second {
		t.Errorf("took %v", took)
	}
	if err != nil {
		if !errors.Is(err, ErrDamaged) || s != nil {
			t.Fatalf("%+v, %v", s, err)
		}
		return
	}
	if s.TooLarge || s.Unsupported {
		if s.Counts != (Counts{}) || s.Passages != nil || s.Sheets != nil {
			t.Fatalf("TooLarge with results: %+v", s)
		}
		return
	}
	c, max := s.Counts, fuzzLimits.MaxParagraphs
	if s.Unit == Cells {
		max = fuzzLimits.MaxCells
	}
	if c.Added < 0 || c.Removed < 0 || c.Changed < 0 || c.Removed+c.Changed > max || c.Added+c.Changed > max {
		t.Fatalf("counts %+v past %d", c, max)
	}
	if len(s.Passages) > MaxPassages || len(s.Passages) > c.Total() {
		t.Fatalf("%d passages for %+v", len(s.Passages), c)
	}
	short := func(x string) {
		if n := utf8.RuneCountInString(x); n > PassageRunes+2 || !utf8.ValidString(x) {
			t.Fatalf("excerpt of %d runes: %q", n, x)
		}
	}
	for _, p := range s.Passages {
		short(p.Old)
		short(p.New)
	}
	for _, sh := range s.Sheets {
		if len(sh.Cells) > MaxExamples {
			t.Fatalf("%d example cells", len(sh.Cells))
		}
		for _, c := range sh.Cells {
			short(c.Old)
			short(c.New)
		}
	}
}

func fuzzSeeds(f *testing.F) [][]byte {
	return [][]byte{
		docxParas(f, clauses...),
		docxParas(f, clauses[1:]...),
		fixture(f, "word365-v1"),
		fixture(f, "word365-v2"),
		fixture(f, "libreoffice-v2"),
		fixture(f, "excel-v1"),
		fixture(f, "powerbi-v1"),
		xlsxOf(f, budgetSheets),
		[]byte("Line one\r\nLine two\n"),
	}
}

// FuzzCompare feeds Compare whole files, read as docx, odt, xlsx or text
// by kind.
func FuzzCompare(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i, a := range seeds {
		f.Add(a, seeds[(i+1)%len(seeds)], uint8(0))
		f.Add(a, a, uint8(i))
	}
	f.Fuzz(func(t *testing.T, older, newer []byte, kind uint8) {
		start := time.Now()
		s, err := Compare(t.Context(), fuzzNames[int(kind)%len(fuzzNames)], readerOf(older), int64(len(older)), readerOf(newer), int64(len(newer)), fuzzLimits)
		checkSummary(t, s, err, time.Since(start))
		m, err := Inspect(t.Context(), fuzzNames[int(kind)%len(fuzzNames)], readerOf(newer), int64(len(newer)), fuzzLimits)
		if err == nil && m == nil {
			t.Fatal("no markup and no error")
		}
	})
}

// FuzzXML feeds Compare documents built around fuzzed XML, which a
// fuzzer rarely reaches through a zip's checksums: by kind, a docx's
// w:body and word/comments.xml, an odt's office:text, or an xlsx's
// sheetData and shared strings.
func FuzzXML(f *testing.F) {
	f.Add([]byte(wordParas(clauses...)), []byte(wordParas(clauses[2:]...)), []byte(wordComment(1, "Dan", "Why?")), uint8(0))
	f.Add([]byte(`<w:p><w:pPr><w:rPr><w:del w:author="D"/></w:rPr></w:pPr><w:ins w:author="E"><w:r><w:t>x</w:t><w:tab/></w:r></w:ins><w:del><w:r><w:delText>y</w:delText></w:r></w:del></w:p>`),
		[]byte(`<w:p><w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice><w:p><w:r><w:t>box</w:t></w:r></w:p></mc:Choice><mc:Fallback><w:p/></mc:Fallback></mc:AlternateContent></w:r></w:p>`),
		[]byte(""), uint8(0))
	f.Add([]byte(odfParas(clauses...)), []byte(`<text:tracked-changes><text:changed-region><text:deletion><office:change-info><dc:creator>C</dc:creator></office:change-info><text:p>x</text:p></text:deletion></text:changed-region></text:tracked-changes><text:p>A<text:s text:c="3"/>B<office:annotation><dc:creator>B</dc:creator><text:p>c</text:p></office:annotation></text:p>`), []byte(""), uint8(1))
	f.Add([]byte(`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>2</v></c></row>`), []byte(`<row><c t="inlineStr"><is><t>x</t></is></c><c t="b"><v>1</v></c><c r="C1" t="s"><v>1</v></c></row>`), []byte(`<si><t>a</t></si><si><r><t>b</t></r><rPh><t>c</t></rPh></si>`), uint8(2))
	f.Fuzz(func(t *testing.T, older, newer, extra []byte, kind uint8) {
		var name string
		var a, b []byte
		switch kind % 3 {
		case 0:
			name, a, b = "a.docx", docxOf(t, string(older), ""), docxOf(t, string(newer), string(extra))
		case 1:
			name, a, b = "a.odt", odtOf(t, string(older)), odtOf(t, string(newer))
		case 2:
			name, a, b = "a.xlsx", rawXLSX(t, string(older), string(extra)), rawXLSX(t, string(newer), string(extra))
		}
		start := time.Now()
		s, err := Compare(t.Context(), name, readerOf(a), int64(len(a)), readerOf(b), int64(len(b)), fuzzLimits)
		checkSummary(t, s, err, time.Since(start))
	})
}
