package changes

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
)

// OpenDocument namespaces (ODF 1.2 and 1.3 share them).
const (
	nsText   = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
	nsOffice = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
	nsDC     = "http://purl.org/dc/elements/1.1/"
)

func isText(space string) bool { return space == nsText }

// maxSpaces bounds one text:s: its c is the producer's word, not a size.
const maxSpaces = 1000

func readODT(b *budget, r io.ReaderAt, size int64) (*doc, error) {
	a, err := openArchive(b, r, size)
	if err != nil {
		return nil, err
	}
	d := &doc{}
	t := tally{}
	if err := a.parse("content.xml", func(dec *xml.Decoder) error { return readODFText(b, dec, d, t) }); err != nil {
		return nil, err
	}
	d.markup = t.markup()
	return d, nil
}

// odfPara is a text:p or text:h being read. They nest: a footnote's
// text:note-body and a frame's draw:text-box hold paragraphs of their own.
type odfPara struct {
	text strings.Builder
	// space: the last character written came from white space in the XML,
	// which ODF collapses to one space (ODF 1.2 part 1 §6.1.2).
	space bool
}

// readODFText reads content.xml: the paragraphs of office:text in the
// accepted view (the body holds inserted text; deleted text lives in
// text:tracked-changes, which is read for its markup only), and the
// office:annotation comments, whose text is no part of the document's.
func readODFText(b *budget, dec *xml.Decoder, d *doc, t tally) error {
	var (
		paras  []*odfPara
		inText []bool // for each open element: is it in the text namespace
		n      int    // non-blank paragraphs so far
	)
	top := func() *odfPara {
		if len(paras) == 0 {
			return nil
		}
		return paras[len(paras)-1]
	}
	write := func(s string) {
		if p := top(); p != nil {
			p.text.WriteString(s)
			p.space = false
		}
	}
	for {
		tok, err := next(b, dec)
		if eof(err) {
			return nil
		}
		if err != nil {
			return err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			switch {
			case e.Name.Space == nsOffice && e.Name.Local == "annotation":
				author, err := odfAnnotation(b, dec)
				if err != nil {
					return err
				}
				t.add(author, comment)
				continue
			case isText(e.Name.Space) && e.Name.Local == "tracked-changes":
				if err := odfTrackedChanges(b, dec, t); err != nil {
					return err
				}
				continue
			case isText(e.Name.Space):
				switch e.Name.Local {
				case "p", "h":
					paras = append(paras, &odfPara{})
				case "s":
					c, err := strconv.Atoi(attr(e, isText, "c"))
					if err != nil || c < 1 {
						c = 1
					}
					write(strings.Repeat(" ", min(c, maxSpaces)))
				case "tab":
					write("\t")
				case "line-break":
					write("\n")
				}
			}
			inText = append(inText, isText(e.Name.Space))
		case xml.EndElement:
			if len(inText) > 0 {
				inText = inText[:len(inText)-1]
			}
			if !isText(e.Name.Space) || (e.Name.Local != "p" && e.Name.Local != "h") {
				continue
			}
			p := top()
			if p == nil {
				continue
			}
			paras = paras[:len(paras)-1]
			if text := strings.TrimSpace(p.text.String()); text != "" {
				n++
				if err := d.addUnit(b, text, n); err != nil {
					return err
				}
			}
		case xml.CharData:
			// Only text elements' own character data is text: not a
			// frame's svg:title, nor the white space between elements.
			p := top()
			if p == nil || len(inText) == 0 || !inText[len(inText)-1] {
				continue
			}
			for _, r := range string(e) {
				switch r {
				case ' ', '\t', '\n', '\r':
					if !p.space {
						p.text.WriteByte(' ')
						p.space = true
					}
				default:
					p.text.WriteRune(r)
					p.space = false
				}
			}
		}
	}
}

// odfAnnotation reads an office:annotation just started and returns its
// author (dc:creator).
func odfAnnotation(b *budget, dec *xml.Decoder) (string, error) {
	var author string
	for depth := 1; depth > 0; {
		tok, err := next(b, dec)
		if err != nil {
			return "", err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Space == nsDC && e.Name.Local == "creator" {
				if author, err = text(b, dec, nil); err != nil {
					return "", err
				}
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return strings.TrimSpace(author), nil
}

// odfTrackedChanges reads a text:tracked-changes just started: each
// text:changed-region holds one text:insertion, text:deletion or
// text:format-change, whose office:change-info names its dc:creator.
func odfTrackedChanges(b *budget, dec *xml.Decoder, t tally) error {
	kinds := map[string]revision{"insertion": insertion, "deletion": deletion, "format-change": formatting}
	var (
		kind   revision
		author string
	)
	for depth := 1; depth > 0; {
		tok, err := next(b, dec)
		if err != nil {
			return err
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Space == nsDC && e.Name.Local == "creator" {
				s, err := text(b, dec, nil)
				if err != nil {
					return err
				}
				if kind != 0 && author == "" {
					author = strings.TrimSpace(s)
				}
				continue
			}
			if isText(e.Name.Space) && kinds[e.Name.Local] != 0 && kind == 0 {
				kind, author = kinds[e.Name.Local], ""
			}
			depth++
		case xml.EndElement:
			depth--
			if isText(e.Name.Space) && kinds[e.Name.Local] == kind && kind != 0 {
				t.add(author, kind)
				kind = 0
			}
		}
	}
	return nil
}
