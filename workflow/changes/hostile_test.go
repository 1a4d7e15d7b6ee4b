package changes

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// bomb is deflate data that inflates past bombSize bytes: a w:t of one
// letter repeated, with its CRC, built once. The letters are compressed
// once, on a writer of their own, so their blocks refer to nothing before
// them and can be repeated as they are.
var bomb = sync.OnceValues(func() ([]byte, uint32) {
	head := []byte(`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>`)
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	var buf, one bytes.Buffer
	for _, c := range []struct {
		w    *bytes.Buffer
		data []byte
	}{{&buf, head}, {&one, chunk}} {
		fw, _ := flate.NewWriter(c.w, flate.BestCompression)
		fw.Write(c.data)
		fw.Flush() // ends on a byte boundary, the stream left open
	}
	crc := crc32.Update(0, crc32.IEEETable, head)
	for range bombSize >> 20 {
		buf.Write(one.Bytes())
		crc = crc32.Update(crc, crc32.IEEETable, chunk)
	}
	buf.Write([]byte{0x03, 0x00}) // an empty final block
	return buf.Bytes(), crc
})

const bombSize = 256 << 20

// bombDocx is a docx whose word/document.xml inflates to bombSize bytes
// and declares it inflates to declared.
func bombDocx(t testing.TB, declared uint64) []byte {
	t.Helper()
	data, crc := bomb()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "word/document.xml", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(data)), UncompressedSize64: declared,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	zw.Close()
	return buf.Bytes()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestZipBomb(t *testing.T) {
	good := docxParas(t, "Hello")
	cases := []struct {
		name     string
		declared uint64
		tooLarge bool // else damaged
	}{
		{"declares its size", bombSize, true},
		{"declares a small size", 1000, false},
		{"declares the cap", DefaultMaxMemberBytes, true}, // the text runs past maxXMLRun
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bombDocx(t, c.declared)
			var (
				s   *Summary
				err error
			)
			n := allocated(func() {
				s, err = Compare(t.Context(), "bomb.docx", readerOf(good), int64(len(good)), readerOf(b), int64(len(b)), Limits{})
			})
			if c.tooLarge {
				if err != nil || !s.TooLarge || !strings.HasPrefix(s.Reason, "new version: word/document.xml") {
					t.Errorf("%+v %v", s, err)
				}
			} else if !errors.Is(err, ErrDamaged) {
				t.Errorf("%+v %v", s, err)
			}
			// The filler is one w:t of 256 MB; reading stops at
			// maxXMLRun, far short of the 64 MiB member cap.
			if n > 32<<20 {
				t.Errorf("allocated %d MiB", n>>20)
			}
		})
	}
	t.Run("small limits", func(t *testing.T) {
		b := bombDocx(t, bombSize)
		lim := Limits{MaxMemberBytes: 1 << 20}
		n := allocated(func() {
			s, err := Compare(t.Context(), "bomb.docx", readerOf(good), int64(len(good)), readerOf(b), int64(len(b)), lim)
			if err != nil || !s.TooLarge {
				t.Errorf("%+v %v", s, err)
			}
		})
		if n > 8<<20 {
			t.Errorf("allocated %d MiB", n>>20)
		}
	})
}

// TestUnpackedTotal: members each under MaxMemberBytes, together past
// MaxUnpackedBytes.
func TestUnpackedTotal(t *testing.T) {
	filler := `<w:hdr ` + wordNS + `><w:p><w:r><w:t>` + strings.Repeat("x", 90_000) + `</w:t></w:r></w:p></w:hdr>`
	ms := []member{{name: "word/document.xml", body: `<w:document ` + wordNS + `><w:body/></w:document>`}}
	for i := range 3 {
		ms = append(ms, member{name: fmt.Sprintf("word/header%d.xml", i+1), body: filler})
	}
	b := zipOf(t, ms...)
	m, err := Inspect(t.Context(), "a.docx", readerOf(b), int64(len(b)), Limits{MaxMemberBytes: 100_000, MaxUnpackedBytes: 200_000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("%+v %v", m, err)
	}
	if _, err := Inspect(t.Context(), "a.docx", readerOf(b), int64(len(b)), Limits{}); err != nil {
		t.Error(err)
	}
}

// TestManyMembers: a zip of 50,000 empty members is refused before
// archive/zip holds them all.
func TestManyMembers(t *testing.T) {
	ms := []member{{name: "word/document.xml", body: `<w:document ` + wordNS + `><w:body/></w:document>`}}
	for i := range 50_000 {
		ms = append(ms, member{name: fmt.Sprintf("x/%d", i), store: true})
	}
	b := zipOf(t, ms...)
	var err error
	n := allocated(func() { _, err = Inspect(t.Context(), "many.docx", readerOf(b), int64(len(b)), Limits{}) })
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err %v", err)
	}
	if n > 16<<20 {
		t.Errorf("allocated %d MiB", n>>20)
	}
	// Just past MaxMembers, the directory fits its cap: the count says no.
	_, err = Inspect(t.Context(), "many.docx", readerOf(b), int64(len(b)), Limits{MaxMembers: 49_999})
	if !errors.Is(err, ErrTooLarge) || strings.Contains(err.Error(), "directory") {
		t.Errorf("err %v", err)
	}
}

// TestDamaged: what cannot be read is an error wrapping ErrDamaged, named
// for its version, never a panic nor a summary.
func TestDamaged(t *testing.T) {
	good := docxParas(t, "One", "Two")
	flipped := bytes.Clone(good)
	i := bytes.Index(flipped, []byte("word/document.xml")) + len("word/document.xml") + 4
	for k := i; k < i+8; k++ {
		flipped[k] ^= 0xFF
	}
	cases := map[string]struct {
		name string
		data []byte
	}{
		"empty":                {"a.docx", nil},
		"text named docx":      {"a.docx", []byte("Dear Bob, here is the contract.")},
		"pdf named docx":       {"a.docx", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj")},
		"truncated":            {"a.docx", good[:len(good)/2]},
		"no directory":         {"a.docx", good[:len(good)-22]},
		"flipped bytes":        {"a.docx", flipped},
		"no word/document.xml": {"a.docx", zipOf(t, member{name: "word/other.xml", body: "<x/>"})},
		"not XML":              {"a.docx", zipOf(t, member{name: "word/document.xml", body: "<w:document><w:body><w:p>"})},
		"UTF-16 declared":      {"a.docx", zipOf(t, member{name: "word/document.xml", body: `<?xml version="1.0" encoding="UTF-16"?><w:document/>`})},
		"odt without content":  {"a.odt", zipOf(t, member{name: "mimetype", body: "application/vnd.oasis.opendocument.text"})},
		"odt not XML":          {"a.odt", zipOf(t, member{name: "content.xml", body: "<office:document-content"})},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ok := docxParas(t, "One")
			if strings.HasSuffix(c.name, ".odt") {
				ok = odtOf(t, odfParas("One"))
			}
			s, err := Compare(t.Context(), c.name, readerOf(ok), int64(len(ok)), readerOf(c.data), int64(len(c.data)), Limits{})
			if !errors.Is(err, ErrDamaged) || s != nil || !strings.HasPrefix(err.Error(), "new version: changes: damaged document: ") {
				t.Errorf("%+v, %v", s, err)
			}
			_, err = Inspect(t.Context(), c.name, readerOf(c.data), int64(len(c.data)), Limits{})
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("Inspect: %v", err)
			}
		})
	}
}

// TestWordMarkup covers what the Word 365 fixture does not: a paragraph
// mark deleted alone (two paragraphs joined), a move, a table row
// inserted, markup with no author, and deleted text in a paragraph of its
// own, which leaves no paragraph behind.
func TestWordMarkup(t *testing.T) {
	body := `<w:p><w:pPr><w:rPr><w:del w:id="1" w:author="Dan"/></w:rPr></w:pPr><w:r><w:t>First half,</w:t></w:r></w:p>` +
		`<w:p><w:r><w:t>second half.</w:t></w:r></w:p>` +
		`<w:p><w:del w:id="2" w:author="Eve"><w:r><w:delText>Gone entirely.</w:delText></w:r></w:del></w:p>` +
		`<w:p><w:moveFrom w:id="3" w:author="Eve"><w:r><w:t>Moved clause.</w:t></w:r></w:moveFrom></w:p>` +
		`<w:p><w:moveTo w:id="4" w:author="Eve"><w:r><w:t>Moved clause.</w:t></w:r></w:moveTo></w:p>` +
		`<w:tbl><w:tr><w:trPr><w:ins w:id="5" w:author="Dan"/></w:trPr><w:tc><w:p><w:ins w:id="6"><w:r><w:t>Row</w:t></w:r></w:ins></w:p></w:tc></w:tr></w:tbl>`
	b := docxOf(t, body, wordComment(0, "Dan", "Why?"))
	m := inspect(t, "a.docx", b)
	want := &Markup{Insertions: 3, Deletions: 3, Comments: 1, Authors: []Author{
		{Name: "", Insertions: 1},
		{Name: "Dan", Insertions: 1, Deletions: 1, Comments: 1},
		{Name: "Eve", Insertions: 1, Deletions: 2},
	}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("markup %+v", m)
	}
	s := compare(t, "a.docx", docxParas(t, "First half,", "second half.", "Moved clause.", "Row"), b)
	if !s.Same() {
		t.Errorf("accepted view differs: %+v", s)
	}
}
