package reply

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText renders an HTML body as readable plain text: blocks and <br> end
// lines, paragraphs, headings and tables are set off by a blank line, list
// items start with "- ", links read "text (url)", table cells of a row are
// joined by " | ", blockquotes are "> "-quoted and <hr> is "---". Script,
// style and head are dropped, entities decoded, white space collapsed and
// at most one blank line kept in a row.
func HTMLToText(s string) string {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		// html.Parse fails only when its reader does; a strings.Reader does not.
		return ""
	}
	return renderText(doc)
}

// ExtractHTML returns the new text of an HTML reply: the quoted part is
// removed by the markers clients put around it (Gmail's div/blockquote
// .gmail_quote, Apple Mail's and Thunderbird's blockquote type="cite" and
// div.moz-cite-prefix, Yahoo's div.yahoo_quoted, Outlook's div#divRplyFwdMsg,
// div#appendonsend, span#OLK_SRC_BODY_SECTION and border-top div holding the
// From:/Sent: block in any of its languages, Zimbra's hr#zwchr), the rest is
// rendered by HTMLToText, and Extract cuts what plain-text markers remain
// ("-----Original Message-----", a From:/Sent: block, signatures, sign-offs).
// A forwarded message (Gmail's "---------- Forwarded message ---------"
// quote, Apple Mail's "Begin forwarded message:" blockquote) is kept.
//
// rest is what was cut, rendered as text: the quoted thread, then what
// Extract cut from the rest (signature, sign-off), so that nothing the
// person sent is lost.
func ExtractHTML(s string) (reply, rest string) {
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return "", ""
	}
	var cut []*html.Node
	if n := htmlFindOutside(doc, isQuoteStart, isForwardQuote); n != nil {
		cut = htmlCutFrom(n)
	}
	var quotes []*html.Node
	htmlCollect(doc, &quotes)
	for _, n := range quotes {
		if htmlHasClass(n, "moz-cite-prefix") {
			// Thunderbird writes the attribution in this div, then the quote.
			if q := htmlNextElement(n); q != nil && q.DataAtom == atom.Blockquote && q.Parent != nil {
				q.Parent.RemoveChild(q)
				cut = append(cut, q)
			}
		}
		if n.Parent != nil {
			// An empty paragraph keeps the new text before and after the
			// quote apart, as the quote did.
			n.Parent.InsertBefore(&html.Node{Type: html.ElementNode, Data: "p", DataAtom: atom.P}, n)
			n.Parent.RemoveChild(n)
			cut = append(cut, n)
		}
	}
	reply, rest = Extract(renderText(doc))
	parts := []string{rest}
	for _, n := range cut {
		parts = append(parts, renderText(n))
	}
	return reply, strings.TrimSpace(strings.Join(slices.DeleteFunc(parts, func(p string) bool { return strings.TrimSpace(p) == "" }), "\n\n"))
}

// htmlCollect appends to quotes the quote blocks below n, in document order,
// without looking inside them, and unwraps the blockquote of a forwarded
// message so that its text reads as the forward it is.
func htmlCollect(n *html.Node, quotes *[]*html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		if isForwardQuote(c) {
			if c.DataAtom == atom.Blockquote {
				c.DataAtom, c.Data = atom.Div, "div"
			}
			continue
		}
		if isQuoteBlock(c) {
			*quotes = append(*quotes, c)
			continue
		}
		htmlCollect(c, quotes)
	}
}

// isQuoteStart reports whether everything from n down to the end of the
// document is the quoted thread.
func isQuoteStart(n *html.Node) bool {
	// A forwarded message (its block's subject says "FW:", "WG:", "TR:"…)
	// is not the quote: it stays, and Extract keeps it as a forward.
	id := htmlAttr(n, "id")
	switch {
	case id == "appendonsend": // Outlook on the web: the block follows
		for s, k := htmlNextElement(n), 0; s != nil && k < 3; s, k = htmlNextElement(s), k+1 {
			if strings.HasSuffix(htmlAttr(s, "id"), "divRplyFwdMsg") {
				return !htmlBlockForwarded(s)
			}
		}
		return true
	case strings.HasSuffix(id, "divRplyFwdMsg"), // Outlook 2016+, Outlook on the web
		id == "OLK_SRC_BODY_SECTION",                    // Outlook for Mac
		id == "mail-editor-reference-message-container": // new Outlook for Mac
		return !htmlBlockForwarded(n)
	}
	switch n.DataAtom {
	case atom.Div:
		// Outlook desktop: a div with a top border holding the From:/Sent: block.
		if !strings.Contains(strings.ToLower(htmlAttr(n, "style")), "border-top") {
			return false
		}
		kind, ok := outlookFieldOf(strings.TrimSpace(collapseSpace(htmlTextPrefix(n, 256))))
		return ok && kind == fieldSender && !htmlBlockForwarded(n)
	case atom.Hr:
		return id == "zwchr" // Zimbra
	}
	return false
}

// htmlBlockForwarded reports whether the header block in n is that of a
// forwarded message (isForwardSubject).
func htmlBlockForwarded(n *html.Node) bool {
	for l := range strings.SplitSeq(htmlTextPrefix(n, 1024), "\n") {
		if isForwardSubject(strings.TrimSpace(collapseSpace(l))) {
			return true
		}
	}
	return false
}

// isQuoteBlock reports whether n is a quote that can be taken out on its own,
// leaving the text around it (an inline reply).
func isQuoteBlock(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Div:
		// Gmail's div.gmail_quote also holds what the writer typed between
		// the quotes of an inline reply: its attribution (div.gmail_attr)
		// and blockquotes go, the rest stays.
		return htmlHasClass(n, "gmail_attr") || htmlHasClass(n, "moz-cite-prefix") ||
			htmlHasClass(n, "yahoo_quoted") || strings.HasSuffix(htmlAttr(n, "id"), "yahoo_quoted") ||
			htmlHasClass(n, "protonmail_quote")
	case atom.Blockquote:
		return htmlHasClass(n, "gmail_quote") || strings.EqualFold(htmlAttr(n, "type"), "cite") ||
			htmlHasClass(n, "protonmail_quote")
	}
	return false
}

// isForwardQuote reports whether quote block n holds a forwarded message,
// which is part of the new text: its first line, or the line right before it,
// is a forward banner ("---------- Forwarded message ---------", "Begin
// forwarded message:").
func isForwardQuote(n *html.Node) bool {
	if !isQuoteBlock(n) && !htmlHasClass(n, "gmail_quote") {
		return false
	}
	if isForwardLine(firstLine(htmlTextPrefix(n, 512))) {
		return true
	}
	for p := n.PrevSibling; p != nil; p = p.PrevSibling {
		t := strings.TrimSpace(htmlTextPrefix(p, 512))
		if t == "" {
			continue
		}
		lines := strings.Split(t, "\n")
		return isForwardLine(lines[len(lines)-1])
	}
	return false
}

// isForwardLine reports whether one line of rendered text is a forward
// banner.
func isForwardLine(l string) bool {
	l = strings.TrimSpace(collapseSpace(l))
	if l == "" || len(l) > maxMarkerLen || !forwardWords.match(l) {
		return false
	}
	return bannerRe.MatchString(l) || endsWithColon(l) && utf8.RuneCountInString(l) <= 60
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// htmlFindOutside returns the first element in document order that match
// accepts, not looking inside the elements skip accepts.
func htmlFindOutside(n *html.Node, match, skip func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode {
		if skip(n) {
			return nil
		}
		if match(n) {
			return n
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := htmlFindOutside(c, match, skip); f != nil {
			return f
		}
	}
	return nil
}

// htmlCutFrom removes n and everything after it in document order, and the rules
// and white space right before it (Outlook puts an <hr> above its block). It
// returns what it removed of the quote, in document order.
func htmlCutFrom(n *html.Node) (cut []*html.Node) {
	cut = []*html.Node{n}
	for p := n; p != nil && p.Parent != nil; p = p.Parent {
		for s := p.NextSibling; s != nil; s = p.NextSibling {
			p.Parent.RemoveChild(s)
			cut = append(cut, s)
		}
	}
	for s := n.PrevSibling; s != nil; s = n.PrevSibling {
		if s.DataAtom != atom.Hr && !(s.Type == html.TextNode && strings.TrimSpace(s.Data) == "") {
			break
		}
		s.Parent.RemoveChild(s)
	}
	n.Parent.RemoveChild(n)
	return cut
}

func htmlNextElement(n *html.Node) *html.Node {
	for s := n.NextSibling; s != nil; s = s.NextSibling {
		if s.Type == html.ElementNode {
			return s
		}
		if s.Type == html.TextNode && strings.TrimSpace(s.Data) != "" {
			return nil
		}
	}
	return nil
}

func htmlAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func htmlHasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(htmlAttr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// htmlText is the text below n, as the DOM's textContent, skipping what
// renderText skips.
func htmlText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if htmlSkipped[n.DataAtom] {
				return
			}
			if n.DataAtom == atom.Br {
				b.WriteByte('\n')
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// htmlTextPrefix is the start of htmlText(n), about max bytes: enough to
// see a marker without reading a whole document for each element.
func htmlTextPrefix(n *html.Node, max int) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if b.Len() >= max {
			return
		}
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if htmlSkipped[n.DataAtom] {
				return
			}
			if n.DataAtom == atom.Br || htmlBlocks[n.DataAtom] || htmlParagraphs[n.DataAtom] {
				b.WriteByte('\n')
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// collapseSpace turns each run of white space (no-break spaces too) into one
// space, as a browser does outside <pre>.
func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// htmlSkipped hold no text a reader sees.
var htmlSkipped = map[atom.Atom]bool{
	atom.Head: true, atom.Title: true, atom.Script: true, atom.Style: true, atom.Template: true,
	atom.Noscript: true, atom.Iframe: true, atom.Object: true, atom.Svg: true, atom.Math: true,
	atom.Img: true,
}

// htmlBlocks end the line before and after them.
var htmlBlocks = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Center: true, atom.Dd: true,
	atom.Details: true, atom.Dialog: true, atom.Div: true, atom.Dt: true, atom.Fieldset: true,
	atom.Figcaption: true, atom.Figure: true, atom.Footer: true, atom.Form: true, atom.Header: true,
	atom.Li: true, atom.Main: true, atom.Nav: true, atom.Section: true, atom.Summary: true,
	atom.Tbody: true, atom.Thead: true, atom.Tfoot: true, atom.Tr: true, atom.Caption: true,
}

// htmlParagraphs are blocks set off by a blank line.
var htmlParagraphs = map[atom.Atom]bool{
	atom.P: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true,
	atom.H6: true, atom.Blockquote: true, atom.Pre: true, atom.Table: true, atom.Ul: true,
	atom.Ol: true, atom.Dl: true,
}

// textLine is one rendered line and the blockquote depth it sits at.
type textLine struct {
	text  string
	depth int
}

// textRenderer turns a parsed document into lines.
type textRenderer struct {
	lines []textLine
	cur   strings.Builder
	depth int  // blockquote nesting
	lists int  // list nesting
	pre   int  // <pre> nesting
	space bool // white space seen since the last word of the line
}

func renderText(doc *html.Node) string {
	var r textRenderer
	r.walk(doc)
	r.endLine()
	var out []string
	for i, l := range r.lines {
		if l.text == "" && (i == 0 || r.lines[i-1].text == "" && r.lines[i-1].depth == l.depth) {
			continue
		}
		prefix := strings.Repeat(">", l.depth)
		switch {
		case prefix != "" && l.text != "":
			out = append(out, prefix+" "+l.text)
		default:
			out = append(out, prefix+l.text)
		}
	}
	return joinTrimmed(out)
}

func (r *textRenderer) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		r.text(n.Data)
		return
	case html.ElementNode:
	case html.DocumentNode:
		r.children(n)
		return
	default:
		return
	}
	if htmlSkipped[n.DataAtom] {
		return
	}
	switch n.DataAtom {
	case atom.Br:
		r.flush()
	case atom.Hr:
		r.endLine()
		r.cur.WriteString("---")
		r.endLine()
	case atom.Li:
		r.endLine()
		r.cur.WriteString(strings.Repeat("  ", max(r.lists-1, 0)) + "- ")
		r.children(n)
		r.endLine()
	case atom.Td, atom.Th:
		if strings.TrimSpace(r.cur.String()) != "" {
			r.cur.WriteString(" | ")
			r.space = false
		}
		r.children(n)
	case atom.A:
		r.children(n)
		if link := linkTarget(n); link != "" {
			r.word(" (" + link + ")")
		}
	case atom.Blockquote:
		r.paragraph()
		r.depth++
		r.children(n)
		r.endLine()
		r.depth--
		if last := len(r.lines) - 1; last >= 0 && r.lines[last].text == "" {
			r.lines[last].depth = r.depth // the blank line after a quote is outside it
		}
		r.paragraph()
	case atom.Ul, atom.Ol:
		r.paragraph()
		r.lists++
		r.children(n)
		r.lists--
		r.paragraph()
	case atom.P:
		if !strings.HasPrefix(htmlAttr(n, "class"), "Mso") {
			r.paragraph()
			r.children(n)
			r.paragraph()
			break
		}
		// Word's paragraphs (Outlook) have no margins: each is one line,
		// and an empty one (&nbsp;) is a blank line.
		r.endLine()
		start := len(r.lines)
		r.children(n)
		if len(r.lines) == start && strings.TrimSpace(r.cur.String()) == "" {
			r.flush()
		} else {
			r.endLine()
		}
	case atom.Pre:
		r.paragraph()
		r.pre++
		r.children(n)
		r.pre--
		r.paragraph()
	default:
		switch {
		case htmlParagraphs[n.DataAtom]:
			r.paragraph()
			r.children(n)
			r.paragraph()
		case htmlBlocks[n.DataAtom]:
			r.endLine()
			r.children(n)
			r.endLine()
		default:
			r.children(n)
		}
	}
}

func (r *textRenderer) children(n *html.Node) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.walk(c)
	}
}

// text adds a text node: verbatim inside <pre>, else with white space
// collapsed across node boundaries.
func (r *textRenderer) text(s string) {
	if r.pre > 0 {
		for i, l := range strings.Split(s, "\n") {
			if i > 0 {
				r.flush()
			}
			r.cur.WriteString(l)
		}
		return
	}
	if first, _ := utf8.DecodeRuneInString(s); unicode.IsSpace(first) {
		r.space = true
	}
	for i, w := range strings.FieldsFunc(s, unicode.IsSpace) {
		if i > 0 {
			r.space = true
		}
		r.word(w)
	}
	if last, _ := utf8.DecodeLastRuneInString(s); unicode.IsSpace(last) {
		r.space = true
	}
}

// word writes w, after one space if white space came before it on the line.
func (r *textRenderer) word(w string) {
	if r.space && r.cur.Len() > 0 && !strings.HasSuffix(r.cur.String(), " ") {
		r.cur.WriteByte(' ')
	}
	r.space = false
	r.cur.WriteString(w)
}

// flush ends the current line even when it is empty (<br>).
func (r *textRenderer) flush() {
	r.lines = append(r.lines, textLine{strings.TrimRightFunc(r.cur.String(), unicode.IsSpace), r.depth})
	r.cur.Reset()
	r.space = false
}

// endLine ends the current line if it holds anything.
func (r *textRenderer) endLine() {
	if strings.TrimSpace(r.cur.String()) != "" {
		r.flush()
	}
	r.cur.Reset()
	r.space = false
}

// paragraph ends the current line and leaves a blank line after it.
func (r *textRenderer) paragraph() {
	r.endLine()
	if len(r.lines) > 0 && r.lines[len(r.lines)-1].text != "" {
		r.lines = append(r.lines, textLine{"", r.depth})
	}
}

// linkTarget is the URL to show after a link's text, or "" when the text
// already says it or the link goes nowhere a reader can follow.
func linkTarget(n *html.Node) string {
	href := strings.TrimSpace(htmlAttr(n, "href"))
	lower := strings.ToLower(href)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "mailto:") {
		return ""
	}
	text := strings.TrimSpace(collapseSpace(htmlText(n)))
	shown := strings.TrimSuffix(strings.TrimPrefix(href, "mailto:"), "/")
	if text == "" || strings.EqualFold(strings.TrimSuffix(text, "/"), shown) {
		return ""
	}
	return href
}
