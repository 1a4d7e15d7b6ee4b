package docxgen_test

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"

	"github.com/turnmail/turnmail/internal/docxgen"
)

// The series is a valid docx each time, the same for the same seed, and
// each version changes document.xml while the media stay as they were. (A
// document of the series' own size takes too long under -race.)
func TestDocxVersions(t *testing.T) {
	small := docxgen.Shape{Body: 20 << 10, Media: []int{30 << 10, 20 << 10, 10 << 10}}
	vs := docxgen.Versions(1, 2, small)
	if again := docxgen.Versions(1, 2, small); !bytes.Equal(vs[1], again[1]) {
		t.Error("the same seed wrote a different version 2")
	}
	members := func(b []byte) map[string][]byte {
		t.Helper()
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]byte{}
		for _, f := range zr.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			if m[f.Name], err = io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
			r.Close()
		}
		return m
	}
	v1, v2 := members(vs[0]), members(vs[1])
	if len(v1["word/fonts/font1.odttf"]) != 10<<10 {
		t.Errorf("the font is %d bytes; want the shape's 10 KiB", len(v1["word/fonts/font1.odttf"]))
	}
	if bytes.Equal(v1["word/document.xml"], v2["word/document.xml"]) {
		t.Error("version 2 did not change word/document.xml")
	}
	if !bytes.Equal(v1["word/media/image1.png"], v2["word/media/image1.png"]) {
		t.Error("version 2 changed the image")
	}
}
