package changes

import (
	"encoding/xml"
	"io"
	"regexp"
	"slices"
	"strings"
)

// WordprocessingML namespaces: transitional (what Word, LibreOffice and
// Google Docs write) and ISO strict.
const (
	nsW       = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsWStrict = "http://purl.oclc.org/ooxml/wordprocessingml/main"
	nsMC      = "http://schemas.openxmlformats.org/markup-compatibility/2006"
)

func isW(space string) bool { return space == nsW || space == nsWStrict }

// wordStories are the parts besides the body that may hold tracked
// changes: their text is not compared, their markup is counted.
var wordStories = regexp.MustCompile(`^word/(header\d*|footer\d*|footnotes|endnotes)\.xml$`)

func readDocx(b *budget, r io.ReaderAt, size int64) (*doc, error) {
	a, err := openArchive(b, r, size)
	if err != nil {
		return nil, err
	}
	d := &doc{}
	t := tally{}
	err = a.parse("word/document.xml", func(dec *xml.Decoder) error { return readWordStory(b, dec, d, t) })
	if err != nil {
		return nil, err
	}
	stories := a.names(wordStories.MatchString)
	slices.Sort(stories)
	for _, name := range stories {
		err := a.parse(name, func(dec *xml.Decoder) error { return readWordStory(b, dec, nil, t) })
		if err != nil {
			return nil, err
		}
	}
	if a.has("word/comments.xml") {
		if err := a.parse("word/comments.xml", func(dec *xml.Decoder) error { return readWordComments(b, dec, t) }); err != nil {
			return nil, err
		}
	}
	d.markup = t.markup()
	return d, nil
}

// wordPara is a w:p being read. Paragraphs nest: a text box's w:p sits in
// a run of its anchor's.
type wordPara struct {
	text strings.Builder
	// revs are the kinds of revision seen on the paragraph's content;
	// marks the revisions of its paragraph mark (w:pPr/w:rPr/w:ins|w:del),
	// which count only when no content revision of that kind stands for
	// them (typing a new paragraph marks both its runs and its mark).
	revs  revision
	marks []mark
}

type mark struct {
	author string
	rev    revision
}

// readWordStory reads a WordprocessingML story (w:document, w:hdr, w:ftr,
// w:footnotes, w:endnotes). Into d, when not nil, go its paragraphs in the
// accepted view: inserted text in, deleted text (w:del, w:moveFrom) out.
// Into t go its tracked changes.
func readWordStory(b *budget, dec *xml.Decoder, d *doc, t tally) error {
	var (
		paras []*wordPara
		run   int  // depth of w:r
		rPr   int  // depth of w:rPr
		inT   bool // in a w:t
		n     int  // non-blank paragraphs so far
	)
	top := func() *wordPara {
		if len(paras) == 0 {
			return nil
		}
		return paras[len(paras)-1]
	}
	write := func(s string) {
		if p := top(); p != nil && run > 0 {
			p.text.WriteString(s)
		}
	}
	revise := func(se xml.StartElement, r revision) {
		author := attr(se, isW, "author")
		p := top()
		if rPr > 0 && p != nil && r != formatting {
			p.marks = append(p.marks, mark{author, r})
			return
		}
		t.add(author, r)
		if p != nil {
			p.revs |= r
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
			if e.Name.Space == nsMC && e.Name.Local == "Fallback" {
				// mc:AlternateContent says the same thing twice (a text
				// box as DrawingML, then as VML): read the mc:Choice.
				if err := dec.Skip(); err != nil {
					return err
				}
				continue
			}
			if !isW(e.Name.Space) {
				continue
			}
			switch e.Name.Local {
			case "p":
				paras = append(paras, &wordPara{})
			case "r":
				run++
			case "rPr":
				rPr++
			case "t":
				inT = true
			case "tab", "ptab":
				write("\t") // in a run; w:pPr/w:tabs holds tab stops
			case "br", "cr":
				write("\n")
			case "noBreakHyphen":
				write("-")
			case "ins", "moveTo", "cellIns":
				revise(e, insertion)
			case "del", "moveFrom", "cellDel":
				revise(e, deletion)
				if err := dec.Skip(); err != nil { // deleted text is out of the accepted view
					return err
				}
			case "rPrChange", "pPrChange", "sectPrChange", "tblPrChange", "tblGridChange",
				"trPrChange", "tcPrChange", "numberingChange":
				revise(e, formatting)
				if err := dec.Skip(); err != nil { // the old properties
					return err
				}
			}
		case xml.EndElement:
			if !isW(e.Name.Space) {
				continue
			}
			switch e.Name.Local {
			case "p":
				p := top()
				if p == nil {
					continue
				}
				paras = paras[:len(paras)-1]
				for _, m := range p.marks {
					if p.revs&m.rev == 0 {
						t.add(m.author, m.rev)
					}
				}
				if text := strings.TrimSpace(p.text.String()); text != "" && d != nil {
					n++
					if err := d.addUnit(b, text, n); err != nil {
						return err
					}
				}
			case "r":
				run--
			case "rPr":
				rPr--
			case "t":
				inT = false
			}
		case xml.CharData:
			if inT {
				write(string(e))
			}
		}
	}
}

// readWordComments counts word/comments.xml's w:comment by w:author.
func readWordComments(b *budget, dec *xml.Decoder, t tally) error {
	for {
		tok, err := next(b, dec)
		if eof(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok && isW(se.Name.Space) && se.Name.Local == "comment" {
			t.add(attr(se, isW, "author"), comment)
			if err := dec.Skip(); err != nil {
				return err
			}
		}
	}
}
