package changes

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"
)

// member is one file of a zip built by zipOf.
type member struct {
	name, body string
	store      bool // uncompressed, as mimetype must be in an odt
}

// zipOf builds a zip of the members, in order.
func zipOf(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		method := zip.Deflate
		if m.store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`

// docxOf builds a minimal valid docx whose w:body holds body. Comments,
// when not "", is the inside of word/comments.xml's w:comments.
func docxOf(t testing.TB, body, comments string) []byte {
	t.Helper()
	types := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>`
	rels := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`
	if comments != "" {
		types += `<Override PartName="/word/comments.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"/>`
		rels += `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments" Target="comments.xml"/>`
	}
	types += `</Types>`
	rels += `</Relationships>`
	ms := []member{
		{name: "[Content_Types].xml", body: types},
		{name: "_rels/.rels", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{name: "word/_rels/document.xml.rels", body: rels},
		{name: "word/document.xml", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document ` + wordNS + `><w:body>` + body + `<w:sectPr/></w:body></w:document>`},
	}
	if comments != "" {
		ms = append(ms, member{name: "word/comments.xml", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:comments ` + wordNS + `>` + comments + `</w:comments>`})
	}
	return zipOf(t, ms...)
}

// wordParas is a w:body of one plain paragraph per text.
func wordParas(texts ...string) string {
	var sb strings.Builder
	for _, s := range texts {
		fmt.Fprintf(&sb, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, html.EscapeString(s))
	}
	return sb.String()
}

// docxParas builds a docx of one plain paragraph per text.
func docxParas(t testing.TB, texts ...string) []byte {
	t.Helper()
	return docxOf(t, wordParas(texts...), "")
}

// wordComment is one w:comment for docxOf.
func wordComment(id int, author, text string) string {
	return fmt.Sprintf(`<w:comment w:id="%d" w:author="%s" w:date="2024-03-12T10:14:00Z" w:initials="%s"><w:p><w:r><w:t>%s</w:t></w:r></w:p></w:comment>`,
		id, html.EscapeString(author), author[:1], html.EscapeString(text))
}

const odfNS = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.3"`

// odtOf builds a minimal valid odt whose office:text holds body.
func odtOf(t testing.TB, body string) []byte {
	t.Helper()
	return zipOf(t,
		member{name: "mimetype", body: "application/vnd.oasis.opendocument.text", store: true},
		member{name: "META-INF/manifest.xml", body: `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`},
		member{name: "content.xml", body: `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content ` + odfNS + `><office:body><office:text>` + body + `</office:text></office:body></office:document-content>`},
	)
}

// odfParas is an office:text of one plain paragraph per text.
func odfParas(texts ...string) string {
	var sb strings.Builder
	for _, s := range texts {
		fmt.Fprintf(&sb, `<text:p text:style-name="P1">%s</text:p>`, html.EscapeString(s))
	}
	return sb.String()
}

// sheet is one worksheet for xlsxOf: its name and its rows' cell values
// from column A ("" leaves a cell out).
type sheet struct {
	name string
	rows [][]string
}

// xlsxOf builds an xlsx as Excel writes it: every string in
// xl/sharedStrings.xml, numbers inline. Sheet ids follow the order unless
// ids gives them.
func xlsxOf(t testing.TB, sheets []sheet, ids ...int) []byte {
	t.Helper()
	var (
		wb, rels, types strings.Builder
		sst             []string
		index           = map[string]int{}
		ms              []member
	)
	for i, sh := range sheets {
		id := i + 1
		if i < len(ids) {
			id = ids[i]
		}
		part := fmt.Sprintf("worksheets/sheet%d.xml", i+1)
		fmt.Fprintf(&wb, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, html.EscapeString(sh.name), id, i+1)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="%s"/>`, i+1, part)
		fmt.Fprintf(&types, `<Override PartName="/xl/%s" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, part)
		var data strings.Builder
		for r, row := range sh.rows {
			fmt.Fprintf(&data, `<row r="%d" spans="1:%d">`, r+1, len(row))
			for c, v := range row {
				ref := cellKey(uint64(r+1)*maxCols + uint64(c)).String()
				switch {
				case v == "":
				case isNumber(v):
					fmt.Fprintf(&data, `<c r="%s"><v>%s</v></c>`, ref, v)
				default:
					n, ok := index[v]
					if !ok {
						n = len(sst)
						index[v] = n
						sst = append(sst, v)
					}
					fmt.Fprintf(&data, `<c r="%s" s="1" t="s"><v>%d</v></c>`, ref, n)
				}
			}
			data.WriteString(`</row>`)
		}
		ms = append(ms, member{name: "xl/" + part, body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetData>` + data.String() + `</sheetData></worksheet>`})
	}
	n := len(sheets) + 1
	fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>`, n)
	var ss strings.Builder
	for _, s := range sst {
		fmt.Fprintf(&ss, `<si><t xml:space="preserve">%s</t></si>`, html.EscapeString(s))
	}
	head := []member{
		{name: "[Content_Types].xml", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` + types.String() + `<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`},
		{name: "_rels/.rels", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{name: "xl/workbook.xml", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><bookViews><workbookView/></bookViews><sheets>` + wb.String() + `</sheets></workbook>`},
		{name: "xl/_rels/workbook.xml.rels", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + rels.String() + `</Relationships>`},
		{name: "xl/sharedStrings.xml", body: fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s</sst>`, len(sst), len(sst), ss.String())},
	}
	return zipOf(t, append(head, ms...)...)
}

func isNumber(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' && r != '-' {
			return false
		}
	}
	return s != ""
}

// compare runs Compare on two in-memory versions with default limits, but
// for time.
func compare(t testing.TB, name string, older, newer []byte) *Summary {
	t.Helper()
	// Default limits but time: the race detector on a busy machine makes a
	// large comparison take many times its usual second, and a test that
	// checks counts must not turn TooLarge then. The time limit has tests
	// of its own.
	s, err := Compare(context.Background(), name, bytes.NewReader(older), int64(len(older)), bytes.NewReader(newer), int64(len(newer)), Limits{MaxTime: 10 * time.Minute})
	if err != nil {
		t.Fatalf("Compare %s: %v", name, err)
	}
	return s
}

// inspect runs Inspect on an in-memory version with default limits.
func inspect(t testing.TB, name string, data []byte) *Markup {
	t.Helper()
	m, err := Inspect(context.Background(), name, bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil {
		t.Fatalf("Inspect %s: %v", name, err)
	}
	return m
}

func readerOf(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// rawXLSX builds an xlsx of one sheet whose sheetData holds rows and whose
// shared strings table holds sst, both as XML.
func rawXLSX(t testing.TB, rows, sst string) []byte {
	t.Helper()
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	return zipOf(t,
		member{name: "xl/workbook.xml", body: `<workbook ` + ns + `><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		member{name: "xl/_rels/workbook.xml.rels", body: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`},
		member{name: "xl/sharedStrings.xml", body: `<sst ` + ns + `>` + sst + `</sst>`},
		member{name: "xl/worksheets/sheet1.xml", body: `<worksheet ` + ns + `><sheetData>` + rows + `</sheetData></worksheet>`},
	)
}
