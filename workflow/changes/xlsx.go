package changes

import (
	"cmp"
	"encoding/xml"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// SpreadsheetML and OPC namespaces, transitional and strict.
const (
	nsSS        = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsSSStrict  = "http://purl.oclc.org/ooxml/spreadsheetml/main"
	nsRels      = "http://schemas.openxmlformats.org/package/2006/relationships"
	nsRel       = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsRelStrict = "http://purl.oclc.org/ooxml/officeDocument/relationships"
)

func isSS(space string) bool  { return space == nsSS || space == nsSSStrict }
func isRel(space string) bool { return space == nsRel || space == nsRelStrict }

// workbook is one xlsx version opened: its worksheets and shared strings.
type workbook struct {
	a       *archive
	sheets  []worksheet // in the workbook's order
	strings []string    // xl/sharedStrings.xml
	cells   int         // cells read so far, for MaxCells
}

type worksheet struct {
	name, id string // the sheet's name and sheetId
	part     string // its zip member, "xl/worksheets/sheet1.xml"
}

// openWorkbook reads xl/workbook.xml's sheets, finds their parts through
// xl/_rels/workbook.xml.rels, and reads the shared strings.
func openWorkbook(b *budget, r io.ReaderAt, size int64) (*workbook, error) {
	if err := b.checkSize(size); err != nil {
		return nil, err
	}
	a, err := openArchive(b, r, size)
	if err != nil {
		return nil, err
	}
	w := &workbook{a: a}
	type rel struct{ typ, part string }
	rels := map[string]rel{}
	err = a.parse("xl/_rels/workbook.xml.rels", func(dec *xml.Decoder) error {
		return each(b, dec, func(se xml.StartElement) error {
			if se.Name.Space == nsRels && se.Name.Local == "Relationship" && attr(se, noNamespace, "TargetMode") != "External" {
				typ := attr(se, noNamespace, "Type")
				rels[attr(se, noNamespace, "Id")] = rel{typ[strings.LastIndexByte(typ, '/')+1:], partName(attr(se, noNamespace, "Target"))}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	err = a.parse("xl/workbook.xml", func(dec *xml.Decoder) error {
		return each(b, dec, func(se xml.StartElement) error {
			if !isSS(se.Name.Space) || se.Name.Local != "sheet" {
				return nil
			}
			// Chart sheets and dialog sheets hold no cells.
			if r := rels[attr(se, isRel, "id")]; r.typ == "worksheet" {
				w.sheets = append(w.sheets, worksheet{name: attr(se, noNamespace, "name"), id: attr(se, noNamespace, "sheetId"), part: r.part})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sst := "xl/sharedstrings.xml"
	for _, r := range rels {
		if r.typ == "sharedStrings" {
			sst = r.part
		}
	}
	if a.has(sst) {
		err := a.parse(sst, func(dec *xml.Decoder) error {
			return each(b, dec, func(se xml.StartElement) error {
				if !isSS(se.Name.Space) || se.Name.Local != "si" {
					return nil
				}
				if b.lim.MaxCells > 0 && len(w.strings) >= b.lim.MaxCells {
					return errTooLarge("more than %d shared strings", b.lim.MaxCells)
				}
				s, err := ssText(b, dec)
				w.strings = append(w.strings, s)
				return err
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// partName resolves a relationship's target, relative to xl/ or absolute.
func partName(target string) string {
	if strings.HasPrefix(target, "/") {
		return path.Clean(target[1:])
	}
	return path.Join("xl", target)
}

// each calls fn for every start element of a document.
func each(b *budget, dec *xml.Decoder, fn func(xml.StartElement) error) error {
	for {
		tok, err := next(b, dec)
		if eof(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if err := fn(se); err != nil {
				return err
			}
		}
	}
}

// ssText reads the text of a shared string (si) or an inline one (is)
// just started: its t, or the t of each rich text run r, but not the
// phonetic guides (rPh) that Japanese text carries.
func ssText(b *budget, dec *xml.Decoder) (string, error) {
	var sb strings.Builder
	inT := false
	for depth := 1; depth > 0; {
		tok, err := next(b, dec)
		if err != nil {
			return "", err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "rPh" {
				if err := dec.Skip(); err != nil {
					return "", err
				}
				continue
			}
			depth++
			inT = isSS(e.Name.Space) && e.Name.Local == "t"
		case xml.EndElement:
			depth--
			inT = false
		case xml.CharData:
			if inT {
				sb.Write(e)
			}
		}
	}
	return sb.String(), nil
}

// cell keys order cells by row, then column: row<<14 | column (a sheet has
// at most 16,384 columns and 1,048,576 rows).
type cellKey uint64

const maxCols, maxRows = 1 << 14, 1 << 20

func (k cellKey) String() string {
	col, row := int(k%maxCols), int(k/maxCols)
	var name []byte
	for col++; col > 0; col = (col - 1) / 26 {
		name = append([]byte{byte('A' + (col-1)%26)}, name...)
	}
	return string(name) + strconv.Itoa(row)
}

// parseRef parses a cell reference ("B7") into a column (0-based) and a
// row (1-based).
func parseRef(ref string) (col, row int, ok bool) {
	i := 0
	for i < len(ref) && ref[i] >= 'A' && ref[i] <= 'Z' {
		col = col*26 + int(ref[i]-'A'+1)
		if col > maxCols {
			return 0, 0, false
		}
		i++
	}
	row, err := strconv.Atoi(ref[i:])
	if i == 0 || err != nil || row < 1 || row > maxRows {
		return 0, 0, false
	}
	return col - 1, row, true
}

// eachCell calls fn with every non-empty cell of a worksheet, in the
// file's order (rows, then columns): its value as shown, with shared
// strings resolved. A cell or row without its r attribute follows the
// one before it, as the format allows.
func (w *workbook) eachCell(b *budget, sh worksheet, fn func(cellKey, string) error) error {
	return w.a.parse(sh.part, func(dec *xml.Decoder) error {
		row, col := 0, -1
		return each(b, dec, func(se xml.StartElement) error {
			if !isSS(se.Name.Space) {
				return nil
			}
			switch se.Name.Local {
			case "row":
				r, err := strconv.Atoi(attr(se, noNamespace, "r"))
				if err != nil || r < 1 || r > maxRows {
					r = row + 1
				}
				row, col = r, -1
				return nil
			case "c":
			default:
				return nil
			}
			if c, r, ok := parseRef(attr(se, noNamespace, "r")); ok {
				col, row = c, r
			} else {
				col++
			}
			if row < 1 || row > maxRows || col >= maxCols {
				return damaged("%s: cell past the sheet's end", sh.part)
			}
			v, err := w.cellValue(b, dec, attr(se, noNamespace, "t"))
			if err != nil || v == "" {
				return err
			}
			if w.cells++; b.lim.MaxCells > 0 && w.cells > b.lim.MaxCells {
				return errTooLarge("more than %d cells", b.lim.MaxCells)
			}
			return fn(cellKey(row)*maxCols+cellKey(col), v)
		})
	})
}

// cellValue reads the c just started, of type t, and returns its value.
func (w *workbook) cellValue(b *budget, dec *xml.Decoder, t string) (string, error) {
	var v string
	for depth := 1; depth > 0; {
		tok, err := next(b, dec)
		if err != nil {
			return "", err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch {
			case isSS(e.Name.Space) && e.Name.Local == "v":
				if v, err = text(b, dec, nil); err != nil {
					return "", err
				}
			case isSS(e.Name.Space) && e.Name.Local == "is":
				if v, err = ssText(b, dec); err != nil {
					return "", err
				}
			default:
				depth++ // f: the formula; its value is what changed or not
			}
		case xml.EndElement:
			depth--
		}
	}
	switch t {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if v == "" {
			return "", nil
		}
		if err != nil || i < 0 || i >= len(w.strings) {
			return "", damaged("shared string %q out of range", v)
		}
		return w.strings[i], nil
	case "b":
		switch strings.TrimSpace(v) {
		case "1":
			return "TRUE", nil
		case "0":
			return "FALSE", nil
		}
	}
	return v, nil
}

// compareWorkbooks compares two xlsx versions into s: Sheets and Counts.
// One old sheet's cells are held at a time, the new one's streamed past.
func compareWorkbooks(b *budget, s *Summary, older io.ReaderAt, olderSize int64, newer io.ReaderAt, newerSize int64) error {
	ow, err := openWorkbook(b, older, olderSize)
	if err != nil {
		return inVersion("old", err)
	}
	nw, err := openWorkbook(b, newer, newerSize)
	if err != nil {
		return inVersion("new", err)
	}
	// Match sheets by name, then what is left by sheetId: Excel keeps a
	// sheet's id when it is renamed.
	match := make([]int, len(nw.sheets)) // index in ow.sheets, or -1
	used := make([]bool, len(ow.sheets))
	for i, ns := range nw.sheets {
		match[i] = slices.IndexFunc(ow.sheets, func(os worksheet) bool { return os.name == ns.name })
		if match[i] >= 0 {
			used[match[i]] = true
		}
	}
	for i, ns := range nw.sheets {
		if match[i] >= 0 || ns.id == "" {
			continue
		}
		for j, os := range ow.sheets {
			if !used[j] && os.id == ns.id {
				match[i], used[j] = j, true
				break
			}
		}
	}
	for i, ns := range nw.sheets {
		sh := Sheet{Name: ns.name}
		old := map[cellKey]string{}
		if match[i] < 0 {
			sh.Added = true
		} else {
			os := ow.sheets[match[i]]
			if os.name != ns.name {
				sh.OldName = os.name
			}
			err := ow.eachCell(b, os, func(k cellKey, v string) error {
				old[k] = v
				return nil
			})
			if err != nil {
				return inVersion("old", err)
			}
		}
		err := nw.eachCell(b, ns, func(k cellKey, v string) error {
			ov, ok := old[k]
			delete(old, k)
			switch {
			case !ok:
				sh.Counts.Added++
			case ov != v:
				sh.Counts.Changed++
			default:
				return nil
			}
			sh.example(k, ov, v)
			return nil
		})
		if err != nil {
			return inVersion("new", err)
		}
		sh.removed(old)
		if sh.Added || sh.OldName != "" || sh.Counts != (Counts{}) {
			s.Sheets = append(s.Sheets, sh)
		}
	}
	for j, os := range ow.sheets {
		if used[j] {
			continue
		}
		sh := Sheet{Name: os.name, Removed: true}
		old := map[cellKey]string{}
		err := ow.eachCell(b, os, func(k cellKey, v string) error {
			old[k] = v
			return nil
		})
		if err != nil {
			return inVersion("old", err)
		}
		sh.removed(old)
		s.Sheets = append(s.Sheets, sh)
	}
	for _, sh := range s.Sheets {
		s.Counts.add(sh.Counts)
	}
	return nil
}

func (sh *Sheet) example(k cellKey, older, newer string) {
	if len(sh.Cells) < MaxExamples {
		o, n := excerpt(older, newer)
		sh.Cells = append(sh.Cells, Cell{Ref: k.String(), Old: o, New: n})
	}
}

// removed counts the cells left of the old version, none of which the
// new one has, and puts them among the examples in row order.
func (sh *Sheet) removed(old map[cellKey]string) {
	if len(old) == 0 {
		return
	}
	sh.Counts.Removed += len(old)
	keys := make([]cellKey, 0, len(old))
	for k := range old {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys[:min(len(keys), MaxExamples)] {
		sh.example(k, old[k], "")
	}
	slices.SortStableFunc(sh.Cells, func(a, b Cell) int {
		ka, _ := cellKeyOf(a.Ref)
		kb, _ := cellKeyOf(b.Ref)
		return cmp.Compare(ka, kb)
	})
}

func cellKeyOf(ref string) (cellKey, bool) {
	col, row, ok := parseRef(ref)
	return cellKey(row)*maxCols + cellKey(col), ok
}
