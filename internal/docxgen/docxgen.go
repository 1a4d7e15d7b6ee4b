// Package docxgen writes series of lightly edited Word documents, for
// measuring what versions cost: store's BenchmarkDocxVersions and
// `turnmail-load docx-series`, which .ci/bench stores in turnmail and in
// git, use the same series, so that they measure the same.
package docxgen

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Shape is how big a generated document is.
type Shape struct {
	Body  int   // bytes of paragraph XML, at least
	Media []int // the bytes of each incompressible member
}

// Word is the series' document: 1 MiB of paragraphs (about 0.3 MB
// deflated), images of 2.1 and 1.3 MiB and a font of 0.7 MiB, about 4.5 MB
// in all.
var Word = Shape{Body: 1 << 20, Media: []int{2100 << 10, 1300 << 10, 700 << 10}}

// Scaled is s with every part a scale-th of its size.
func (s Shape) Scaled(scale int) Shape {
	t := Shape{Body: s.Body / scale}
	for _, n := range s.Media {
		t.Media = append(t.Media, n/scale)
	}
	return t
}

// docxGen builds a Word document the way Word lays one out, and edits it
// lightly between versions: a body of paragraph XML with Word's revision
// ids, styles, settings whose revision id list grows with each editing
// session, document properties that change with every save, and
// incompressible media (two images, an embedded font), sized by a docxShape.
// What a store pays for a version is then what it pays for a real one: a
// changed deflated document.xml between unchanged members.

type docxGen struct {
	rng      *rand.Rand
	words    []string
	zipf     *rand.Zipf // picks words: a few often, most rarely, as in text
	paras    []string
	rsids    []string // one per editing session so far
	media    [][]byte
	styles   string
	revision int
}

func newDocxGen(seed uint64, shape Shape) *docxGen {
	g := &docxGen{rng: rand.New(rand.NewPCG(seed, 7))}
	common := strings.Fields("the of and to in a is that for it as with be by on not this are or at from " +
		"shall party parties agreement contract clause section hereby herein provided notwithstanding " +
		"obligation liability payment term termination notice written consent services supplier customer " +
		"confidential information days date effective period breach remedy law court jurisdiction")
	g.words = append(g.words, common...)
	for range 6000 {
		b := make([]byte, 3+g.rng.IntN(9))
		for i := range b {
			b[i] = byte('a' + g.rng.IntN(26))
		}
		g.words = append(g.words, string(b))
	}
	g.zipf = rand.NewZipf(g.rng, 1.1, 2, uint64(len(g.words)-1))
	for range 12 {
		g.rsids = append(g.rsids, g.rsid())
	}
	for size := 0; size < shape.Body; {
		p := g.paragraph(len(g.paras))
		g.paras = append(g.paras, p)
		size += len(p)
	}
	var st strings.Builder
	for i := range 160 {
		fmt.Fprintf(&st, `<w:style w:type="paragraph" w:customStyle="1" w:styleId="Style%d"><w:name w:val="Style %d"/>`+
			`<w:basedOn w:val="Normal"/><w:qFormat/><w:rsid w:val="%s"/><w:pPr><w:spacing w:before="%d" w:after="%d"/>`+
			`<w:ind w:left="%d"/></w:pPr><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/><w:sz w:val="%d"/></w:rPr></w:style>`,
			i, i, g.rsids[i%len(g.rsids)], g.rng.IntN(480), g.rng.IntN(480), g.rng.IntN(1440), 16+2*g.rng.IntN(12))
	}
	g.styles = st.String()
	for _, n := range shape.Media {
		m := make([]byte, n)
		for i := range m {
			m[i] = byte(g.rng.Uint32())
		}
		g.media = append(g.media, m)
	}
	return g
}

func (g *docxGen) rsid() string { return fmt.Sprintf("00%06X", g.rng.Uint32()&0xFFFFFF) }

func (g *docxGen) text(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.words[g.zipf.Uint64()])
	}
	return b.String()
}

// paragraph returns one paragraph of the body, some runs bold, stamped with
// the revision ids of the sessions so far.
func (g *docxGen) paragraph(i int) string {
	var b strings.Builder
	r := func() string { return g.rsids[g.rng.IntN(len(g.rsids))] }
	style := "BodyText"
	if i%12 == 0 {
		style = fmt.Sprintf("Heading%d", 1+g.rng.IntN(3))
	}
	fmt.Fprintf(&b, `<w:p w:rsidR="%s" w:rsidRDefault="%s" w:rsidP="%s"><w:pPr><w:pStyle w:val="%s"/>`+
		`<w:spacing w:after="120"/><w:jc w:val="both"/></w:pPr>`, r(), r(), r(), style)
	for range 1 + g.rng.IntN(4) {
		b.WriteString(`<w:r w:rsidRPr="` + r() + `"><w:rPr>`)
		if g.rng.IntN(5) == 0 {
			b.WriteString(`<w:b/><w:bCs/>`)
		}
		fmt.Fprintf(&b, `<w:lang w:val="en-GB"/></w:rPr><w:t xml:space="preserve">%s </w:t></w:r>`, g.text(5+g.rng.IntN(30)))
	}
	b.WriteString(`</w:p>`)
	return b.String()
}

// edit is one editing session: a new revision id, and a few paragraphs
// reworded, one sometimes added.
func (g *docxGen) edit() {
	g.revision++
	g.rsids = append(g.rsids, g.rsid())
	for range 2 + g.rng.IntN(3) {
		i := g.rng.IntN(len(g.paras))
		p := g.paras[i]
		at := strings.LastIndex(p, `</w:t>`)
		g.paras[i] = p[:at] + g.text(3+g.rng.IntN(12)) + p[at:]
	}
	if g.rng.IntN(3) == 0 {
		i := g.rng.IntN(len(g.paras))
		g.paras = append(g.paras[:i], append([]string{g.paragraph(i)}, g.paras[i:]...)...)
	}
}

// file returns the document as Word writes it: the parts in Word's order,
// deflated, with Word's fixed timestamps, by archive/zip (which streams, so
// each member's sizes follow it in a data descriptor).
func (g *docxGen) file() []byte {
	const ns = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" ` +
		`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	const hdr = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n"
	var rsids strings.Builder
	for _, r := range g.rsids {
		rsids.WriteString(`<w:rsid w:val="` + r + `"/>`)
	}
	words := 0
	for _, p := range g.paras {
		words += strings.Count(p, " ")
	}
	modified := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(g.revision) * 97 * time.Minute)
	parts := []struct {
		name string
		data string
	}{
		{"[Content_Types].xml", hdr + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="png" ContentType="image/png"/><Default Extension="jpeg" ContentType="image/jpeg"/>` +
			`<Default Extension="odttf" ContentType="application/vnd.openxmlformats-officedocument.obfuscatedFont"/>` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>` +
			`<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>` +
			`<Override PartName="/word/theme/theme1.xml" ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>` +
			`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>` +
			`<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>`},
		{"_rels/.rels", hdr + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"word/document.xml", hdr + `<w:document ` + ns + `><w:body>` + strings.Join(g.paras, "") +
			`<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440"/></w:sectPr></w:body></w:document>`},
		{"word/_rels/document.xml.rels", hdr + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>` +
			`<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image1.png"/>` +
			`<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image2.jpeg"/>` +
			`<Relationship Id="rId6" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme" Target="theme/theme1.xml"/></Relationships>`},
		{"word/media/image1.png", string(g.media[0])},
		{"word/media/image2.jpeg", string(g.media[1])},
		{"word/theme/theme1.xml", hdr + `<a:theme xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" name="Office Theme">` +
			strings.Repeat(`<a:srgbClr val="4472C4"/><a:latin typeface="Calibri Light" panose="020F0302020204030204"/>`, 90) + `</a:theme>`},
		{"word/settings.xml", hdr + `<w:settings ` + ns + `><w:zoom w:percent="100"/><w:defaultTabStop w:val="720"/>` +
			`<w:characterSpacingControl w:val="doNotCompress"/><w:rsids>` + rsids.String() + `</w:rsids></w:settings>`},
		{"word/styles.xml", hdr + `<w:styles ` + ns + `>` + g.styles + `</w:styles>`},
		{"word/fonts/font1.odttf", string(g.media[2])},
		{"word/fontTable.xml", hdr + `<w:fonts ` + ns + `><w:font w:name="Calibri"><w:panose1 w:val="020F0502020204030204"/></w:font>` +
			`<w:font w:name="Times New Roman"><w:panose1 w:val="02020603050405020304"/></w:font></w:fonts>`},
		{"docProps/core.xml", hdr + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" ` +
			`xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">` +
			`<dc:creator>Ann Berg</dc:creator><cp:lastModifiedBy>Bea Lind</cp:lastModifiedBy>` +
			fmt.Sprintf(`<cp:revision>%d</cp:revision><dcterms:created>2025-03-01T09:00:00Z</dcterms:created>`, g.revision+1) +
			`<dcterms:modified>` + modified.Format(time.RFC3339) + `</dcterms:modified></cp:coreProperties>`},
		{"docProps/app.xml", hdr + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">` +
			fmt.Sprintf(`<Template>Normal.dotm</Template><TotalTime>%d</TotalTime><Pages>%d</Pages><Words>%d</Words>`, 37*g.revision, len(g.paras)/9, words) +
			`<Application>Microsoft Office Word</Application><AppVersion>16.0000</AppVersion></Properties>`},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{
			Name: p.name, Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
		})
		if err == nil {
			_, err = io.WriteString(w, p.data)
		}
		if err != nil {
			// Writing to memory fails only on a bug here.
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Versions returns n versions of one document of the given shape, each a
// light edit of the one before. The same seed gives the same bytes.
func Versions(seed uint64, n int, shape Shape) [][]byte {
	g := newDocxGen(seed, shape)
	var out [][]byte
	for i := range n {
		if i > 0 {
			g.edit()
		}
		out = append(out, g.file())
	}
	return out
}
