package changes

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
)

// parse runs fn over a zip member's XML tokens. Errors that are not
// already a limit or ErrDamaged become ErrDamaged, naming the member.
func (a *archive) parse(name string, fn func(*xml.Decoder) error) error {
	rc, err := a.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	err = fn(xml.NewDecoder(&runCapReader{r: rc, name: name}))
	var tl *tooLarge
	if err == nil || errors.As(err, &tl) || errors.Is(err, ErrDamaged) || a.b.ctx.Err() != nil {
		return err
	}
	return damaged("%s: %v", name, err)
}

// maxXMLRun is the most bytes a member's XML may run without a markup
// character ('<' or '>'). encoding/xml holds a text node or a tag whole
// (and again as a token), so without it one 60 MB text node in a zip bomb
// would cost well over 100 MB, however small its paragraphs are meant to
// be.
const maxXMLRun = 4 << 20

type runCapReader struct {
	r    io.Reader
	name string
	run  int // bytes since the last '<' or '>'
}

func (c *runCapReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for q := p[:n]; ; {
		i := bytes.IndexAny(q, "<>")
		if i < 0 {
			c.run += len(q)
			break
		}
		c.run += i
		if c.run > maxXMLRun {
			break
		}
		c.run, q = 0, q[i+1:]
	}
	if c.run > maxXMLRun {
		return 0, errTooLarge("%s runs past %s without markup", c.name, mib(maxXMLRun))
	}
	return n, err
}

// next returns the next token, within the budget; io.EOF at the end.
func next(b *budget, dec *xml.Decoder) (xml.Token, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	return dec.Token()
}

// attr returns the value of the attribute of that local name whose
// namespace passes ns ("" for no namespace).
func attr(se xml.StartElement, ns func(string) bool, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local && ns(a.Name.Space) {
			return a.Value
		}
	}
	return ""
}

func noNamespace(s string) bool { return s == "" }

// text collects the character data of the element just started, up to its
// end, dropping what is inside children accepted by skip.
func text(b *budget, dec *xml.Decoder, skip func(xml.Name) bool) (string, error) {
	var sb strings.Builder
	for depth := 1; depth > 0; {
		tok, err := next(b, dec)
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if skip != nil && skip(t.Name) {
				if err := dec.Skip(); err != nil {
					return "", err
				}
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			sb.Write(t)
		}
	}
	return sb.String(), nil
}

// revision is a kind of review markup.
type revision int

const (
	insertion revision = 1 << iota
	deletion
	formatting
	comment
)

// tally counts markup by author.
type tally map[string]*Author

func (t tally) add(author string, r revision) {
	a := t[author]
	if a == nil {
		a = &Author{Name: author}
		t[author] = a
	}
	switch r {
	case insertion:
		a.Insertions++
	case deletion:
		a.Deletions++
	case formatting:
		a.Formatting++
	case comment:
		a.Comments++
	}
}

func (t tally) markup() *Markup {
	m := &Markup{}
	for _, a := range t {
		m.Insertions += a.Insertions
		m.Deletions += a.Deletions
		m.Formatting += a.Formatting
		m.Comments += a.Comments
		m.Authors = append(m.Authors, *a)
	}
	slices.SortFunc(m.Authors, func(a, b Author) int { return strings.Compare(a.Name, b.Name) })
	return m
}

// eof reports whether err ends a well-formed document.
func eof(err error) bool { return err == io.EOF }
