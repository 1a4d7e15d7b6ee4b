package changes

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fixture zips testdata/dir, a document unpacked as its producer wrote
// it, so that its XML can be read and reviewed here. A mimetype member
// goes first and uncompressed, as ODF asks.
func fixture(t testing.TB, dir string) []byte {
	t.Helper()
	root := filepath.Join("testdata", dir)
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == "mimetype":
			return -1
		case b == "mimetype":
			return 1
		}
		return strings.Compare(a, b)
	})
	var ms []member
	for _, n := range names {
		body, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(n)))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, member{name: n, body: string(body), store: n == "mimetype"})
	}
	return zipOf(t, ms...)
}

// TestWord365 reads a docx as Word 365 writes it: rsid attributes, runs
// split mid-word ("Con" "tract"), proofing marks, a text box written twice
// (mc:Choice and mc:Fallback), tab stops in w:pPr, a table; then the same
// document with tracked changes by two people and their comments.
func TestWord365(t *testing.T) {
	v1, v2 := fixture(t, "word365-v1"), fixture(t, "word365-v2")
	s := compare(t, "Services Agreement.docx", v1, v2)
	want := []Passage{
		{Kind: Changed, At: 3,
			Old: `This Agreement is made between ACME Ltd (the "Customer") and AXE GmbH (the "Supplier").`,
			New: `This Agreement is made between ACME Limited (the "Customer") and AXE GmbH (the "Supplier").`},
		{Kind: Changed, At: 5, Old: "2.\tFees: EUR 10,000 per month.", New: "2.\tFees: EUR 12,000 per month."},
		{Kind: Added, At: 6, New: "3.\tTerm: two years."},
	}
	if s.Format != Docx || s.Counts != (Counts{Changed: 2, Added: 1}) || !reflect.DeepEqual(s.Passages, want) {
		t.Errorf("summary %+v\npassages %+v", s, s.Passages)
	}
	wantMarkup := &Markup{Insertions: 4, Deletions: 2, Formatting: 1, Comments: 2, Authors: []Author{
		{Name: "Bob Axe", Insertions: 2, Deletions: 1, Comments: 1},
		{Name: "Carol Acme", Insertions: 2, Deletions: 1, Formatting: 1, Comments: 1},
	}}
	if !reflect.DeepEqual(s.Markup, wantMarkup) {
		t.Errorf("markup %+v", s.Markup)
	}
	if m := inspect(t, "Services Agreement.docx", v2); !reflect.DeepEqual(m, wantMarkup) {
		t.Errorf("Inspect: %+v", m)
	}
	if m := inspect(t, "Services Agreement.docx", v1); m.Any() {
		t.Errorf("Inspect v1: %+v", m)
	}
	// The body's paragraphs, text box and table cells included, once each.
	d, err := readDocx(newBudget(t.Context(), Limits{}), readerOf(v1), int64(len(v1)))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, u := range d.units {
		texts = append(texts, u.text)
	}
	wantTexts := []string{"Services Agreement", "1.\tContract Parties",
		`This Agreement is made between ACME Ltd (the "Customer") and AXE GmbH (the "Supplier").`,
		"Draft for discussion", "2.\tFees: EUR 10,000 per month.", "For ACME", "For AXE"}
	if !reflect.DeepEqual(texts, wantTexts) {
		t.Errorf("paragraphs %q", texts)
	}
}

// TestLibreOffice reads an odt as LibreOffice writes it: text:s with c,
// spans, a tab, a line break, a frame's svg:title (no text of the
// paragraph), a soft page break, a list; then with tracked changes and
// an annotation.
func TestLibreOffice(t *testing.T) {
	v1, v2 := fixture(t, "libreoffice-v1"), fixture(t, "libreoffice-v2")
	d, err := readODT(newBudget(t.Context(), Limits{}), readerOf(v1), int64(len(v1)))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, u := range d.units {
		texts = append(texts, u.text)
	}
	wantTexts := []string{"Services Agreement", "Customer:   ACME\tLtd",
		"The Supplier shall provide the Services\ndescribed in Annex A.",
		"Fees are due within 30 days.", "Either party may terminate on notice."}
	if !reflect.DeepEqual(texts, wantTexts) {
		t.Errorf("paragraphs %q", texts)
	}
	s := compare(t, "agreement.odt", v1, v2)
	want := []Passage{{Kind: Changed, At: 2, Old: "Customer:   ACME\tLtd", New: "Customer:   ACME\tLimited"}}
	if s.Format != ODT || s.Counts != (Counts{Changed: 1}) || !reflect.DeepEqual(s.Passages, want) {
		t.Errorf("summary %+v\npassages %+v", s, s.Passages)
	}
	wantMarkup := &Markup{Insertions: 1, Deletions: 1, Formatting: 1, Comments: 1, Authors: []Author{
		{Name: "Bob Axe", Formatting: 1, Comments: 1},
		{Name: "Carol Acme", Insertions: 1, Deletions: 1},
	}}
	if !reflect.DeepEqual(s.Markup, wantMarkup) {
		t.Errorf("markup %+v", s.Markup)
	}
	if m := inspect(t, "agreement.odt", v1); m.Any() {
		t.Errorf("Inspect v1: %+v", m)
	}
}

// TestExcelAndPowerBI compares a workbook as Excel writes it (shared
// strings, rich text runs, a phonetic guide, a formula) with the same
// values as a Power BI export writes them (inline strings, an x: prefix,
// absolute part names, no r attributes on rows and cells): nothing
// changed.
func TestExcelAndPowerBI(t *testing.T) {
	excel, powerbi := fixture(t, "excel-v1"), fixture(t, "powerbi-v1")
	if s := compare(t, "prices.xlsx", excel, powerbi); !s.Same() {
		t.Errorf("summary %+v", s)
	}
	if s := compare(t, "prices.xlsx", powerbi, excel); !s.Same() {
		t.Errorf("summary %+v", s)
	}
	s := compare(t, "prices.xlsx", excel, xlsxOf(t, []sheet{
		{name: "Prices", rows: [][]string{{"Item", "Unit price"}, {"Licence", "1250", "TRUE"}, {"Support", "300.5"}, {"東京", "1550.5"}}},
		{name: "Notes", rows: [][]string{{"Prices exclude VAT."}}},
	}))
	want := []Sheet{{Name: "Prices", Counts: Counts{Changed: 2}, Cells: []Cell{{Ref: "B2", Old: "1200", New: "1250"}, {Ref: "B4", Old: "1500.5", New: "1550.5"}}}}
	if !reflect.DeepEqual(s.Sheets, want) || s.Counts != (Counts{Changed: 2}) {
		t.Errorf("sheets %+v", s.Sheets)
	}
}
