package changes

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var budgetSheets = []sheet{
	{name: "Budget", rows: [][]string{
		{"Item", "Q1", "Q2"},
		{"Rent", "1000", "1000"},
		{"Staff", "5000", "5200"},
		{"Travel", "300", ""},
	}},
	{name: "Assumptions", rows: [][]string{
		{"Inflation", "0.02"},
		{"Currency", "EUR"},
	}},
}

func TestWorkbookChanges(t *testing.T) {
	older := xlsxOf(t, budgetSheets)
	cases := []struct {
		name   string
		newer  []byte
		sheets []Sheet
	}{
		{"identical", xlsxOf(t, budgetSheets), nil},
		{"cells across two sheets", xlsxOf(t, []sheet{
			{name: "Budget", rows: [][]string{
				{"Item", "Q1", "Q2"},
				{"Rent", "1100", "1000"},
				{"Staff", "5000", "5200"},
				{"", "300", "450"},
			}},
			{name: "Assumptions", rows: [][]string{
				{"Inflation", "0.03"},
				{"Currency", "Euro"},
			}},
		}), []Sheet{
			{Name: "Budget", Counts: Counts{Changed: 1, Added: 1, Removed: 1}, Cells: []Cell{
				{Ref: "B2", Old: "1000", New: "1100"}, {Ref: "A4", Old: "Travel"}, {Ref: "C4", New: "450"},
			}},
			{Name: "Assumptions", Counts: Counts{Changed: 2}, Cells: []Cell{
				{Ref: "B1", Old: "0.02", New: "0.03"}, {Ref: "B2", Old: "EUR", New: "Euro"},
			}},
		}},
		{"sheet renamed, one added", xlsxOf(t, []sheet{
			budgetSheets[0],
			{name: "Inputs", rows: budgetSheets[1].rows},
			{name: "Contacts", rows: [][]string{{"Alice", "alice@acme.example"}}},
		}), []Sheet{
			{Name: "Inputs", OldName: "Assumptions"},
			{Name: "Contacts", Added: true, Counts: Counts{Added: 2}, Cells: []Cell{
				{Ref: "A1", New: "Alice"}, {Ref: "B1", New: "alice@acme.example"},
			}},
		}},
		{"sheet removed, sheets reordered", xlsxOf(t, []sheet{budgetSheets[1]}, 2), []Sheet{
			{Name: "Budget", Removed: true, Counts: Counts{Removed: 11}, Cells: []Cell{
				{Ref: "A1", Old: "Item"}, {Ref: "B1", Old: "Q1"}, {Ref: "C1", Old: "Q2"}, {Ref: "A2", Old: "Rent"}, {Ref: "B2", Old: "1000"},
			}},
		}},
		{"a sheet replaced under another name", xlsxOf(t, []sheet{
			budgetSheets[0],
			{name: "Scratch", rows: [][]string{{"x"}}},
		}, 1, 3), []Sheet{
			{Name: "Scratch", Added: true, Counts: Counts{Added: 1}, Cells: []Cell{{Ref: "A1", New: "x"}}},
			{Name: "Assumptions", Removed: true, Counts: Counts{Removed: 4}, Cells: []Cell{
				{Ref: "A1", Old: "Inflation"}, {Ref: "B1", Old: "0.02"}, {Ref: "A2", Old: "Currency"}, {Ref: "B2", Old: "EUR"},
			}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := compare(t, "budget.xlsx", older, c.newer)
			if s.Format != XLSX || s.Unit != Cells || s.Passages != nil || s.Markup != nil {
				t.Fatalf("summary %+v", s)
			}
			if !reflect.DeepEqual(s.Sheets, c.sheets) {
				t.Errorf("sheets\n%+v\nwant\n%+v", s.Sheets, c.sheets)
			}
			var total Counts
			for _, sh := range c.sheets {
				total.add(sh.Counts)
			}
			if s.Counts != total || s.Same() != (c.sheets == nil) {
				t.Errorf("counts %+v, want %+v", s.Counts, total)
			}
		})
	}
}

func TestWorkbookExamplesAtMostFive(t *testing.T) {
	var a, b [][]string
	for i := range 20 {
		a = append(a, []string{"v" + strings.Repeat("1", i+1)})
		b = append(b, []string{"w" + strings.Repeat("1", i+1)})
	}
	s := compare(t, "big.xlsx", xlsxOf(t, []sheet{{name: "S", rows: a}}), xlsxOf(t, []sheet{{name: "S", rows: b}}))
	if len(s.Sheets) != 1 || s.Sheets[0].Counts.Changed != 20 || len(s.Sheets[0].Cells) != MaxExamples || s.Sheets[0].Cells[0].Ref != "A1" {
		t.Fatalf("sheets %+v", s.Sheets)
	}
}

func TestCellRefs(t *testing.T) {
	for _, ref := range []string{"A1", "Z9", "AA10", "XFD1048576", "BC23"} {
		k, ok := cellKeyOf(ref)
		if !ok || k.String() != ref {
			t.Errorf("%s: %v %s", ref, ok, k)
		}
	}
	for _, ref := range []string{"", "A", "1", "A0", "a1", "XFE1", "A1048577", "A-1", "$A$1"} {
		if _, _, ok := parseRef(ref); ok {
			t.Errorf("%q parsed", ref)
		}
	}
}

func TestWorkbookDamaged(t *testing.T) {
	good := xlsxOf(t, budgetSheets)
	bad := map[string][]byte{
		"no workbook rels": zipOf(t, member{name: "xl/workbook.xml", body: `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>`}),
		"shared string out of range": zipOf(t,
			member{name: "xl/workbook.xml", body: `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`},
			member{name: "xl/_rels/workbook.xml.rels", body: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
			member{name: "xl/worksheets/sheet1.xml", body: `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>7</v></c></row></sheetData></worksheet>`}),
		"not a zip": []byte("PK\x03\x04 this is no zip"),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Compare(t.Context(), "budget.xlsx", readerOf(good), int64(len(good)), readerOf(b), int64(len(b)), Limits{})
			if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), "new version: ") {
				t.Errorf("err %v", err)
			}
		})
	}
	t.Run("MaxCells", func(t *testing.T) {
		s, err := Compare(t.Context(), "budget.xlsx", readerOf(good), int64(len(good)), readerOf(good), int64(len(good)), Limits{MaxCells: 10})
		if err != nil || !s.TooLarge {
			t.Errorf("%+v %v", s, err)
		}
	})
}
