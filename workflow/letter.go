package workflow

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// letter is the content of one gateway mail, rendered both as text and as
// HTML from the same fields so the two parts always say the same thing.
type letter struct {
	Preheader string   // the one-sentence gist, first in both parts
	Paras     []string // paragraphs of explanation
	NoteBy    string   // who wrote Note, e.g. "Bob Axe (AXE)"
	Note      string   // a person's words, quoted as they wrote them
	Changes   []change // documents this mail is about
	Digest    []digestRow
	Sections  []section // further titled blocks (status, help)
	Footer    string
	// MessageID, when set, is the Message-ID the mail goes out under: one the
	// reply to it is recognised by (a hold's confirmation request). "" for a
	// new one.
	MessageID string
}

// change is one document in a letter: a new version, a draft, or a final
// version in the closing binder.
type change struct {
	Document string
	From     int // previous version number, 0 when new
	To       int
	FromSize int64
	ToSize   int64
	Attached string   // name of the attachment carrying it, "" when not attached
	Remark   string   // e.g. "re-sent unchanged"
	What     []string // what changed in it (changeLines), one line each
}

// digestRow is one ended turn in the history digest.
type digestRow struct {
	Turn  int
	Party string
	Who   string
	When  string
	Files string // the versions it carried, or "skipped"
	Note  string // the gist of the note; the whole note in the binder
}

// section is a titled list of lines.
type section struct {
	Title string
	Lines []string
}

// Text renders the plain-text part.
func (l *letter) Text() string {
	var b strings.Builder
	b.Grow(l.size())
	line := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}
	line(l.Preheader)
	for _, p := range l.Paras {
		line("\n", p)
	}
	if l.Note != "" {
		line("\n", l.NoteBy, " wrote:\n")
		for _, n := range strings.Split(l.Note, "\n") {
			line("  ", n)
		}
	}
	if len(l.Changes) > 0 {
		line("\nDocuments:")
		for _, c := range l.Changes {
			line("  - ", c.describe())
			for _, w := range c.What {
				line("      ", w)
			}
		}
	}
	for _, s := range l.Sections {
		line("\n", s.Title, ":")
		for _, ln := range s.Lines {
			line("  ", ln)
		}
	}
	if len(l.Digest) > 0 {
		line("\nHistory:")
		for _, r := range l.Digest {
			line("  ", r.describe())
		}
	}
	if l.Footer != "" {
		line("\n-- \n", l.Footer)
	}
	return b.String()
}

// size is about the length of the letter's text part, which its HTML part
// is some twice: what Text and HTML grow their buffers to at once, where a
// weekly summary's would otherwise grow four times over.
func (l *letter) size() int {
	n := 64 + len(l.Preheader) + len(l.NoteBy) + len(l.Note) + len(l.Footer)
	for _, p := range l.Paras {
		n += 2 + len(p)
	}
	for _, c := range l.Changes {
		n += 48 + len(c.Document) + len(c.Remark) + len(c.Attached)
		for _, w := range c.What {
			n += 7 + len(w)
		}
	}
	for _, s := range l.Sections {
		n += 3 + len(s.Title)
		for _, line := range s.Lines {
			n += 3 + len(line)
		}
	}
	for _, r := range l.Digest {
		n += 32 + len(r.Party) + len(r.Who) + len(r.When) + len(r.Files) + len(r.Note)
	}
	return n
}

// HTML renders the HTML part: tables and inline styles only, as mail clients
// ignore style sheets. It writes the markup itself: html/template, which it
// replaced (TestLetterHTMLTemplate renders the same template, and wants
// the same bytes), cost more than the rest of a weekly summary's mail in
// reflection. Every string of the letter is escaped, except what linkify
// makes of it, which it escaped.
func (l *letter) HTML() string {
	var b strings.Builder
	b.Grow(1800 + 2*l.size())
	b.WriteString(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0;padding:12px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4;color:#222;word-wrap:break-word;overflow-wrap:anywhere">
<div style="display:none;max-height:0;overflow:hidden">`)
	escape(&b, l.Preheader)
	b.WriteString(`</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;border-collapse:collapse"><tr><td>
<p style="font-size:16px;font-weight:bold;margin:0 0 12px">`)
	linkify(&b, l.Preheader)
	b.WriteString("</p>\n")
	for _, p := range l.Paras {
		b.WriteString(`<p style="margin:0 0 10px">`)
		linkify(&b, p)
		b.WriteString("</p>\n")
	}
	if l.Note != "" {
		b.WriteString(`<p style="margin:12px 0 4px;color:#555">`)
		escape(&b, l.NoteBy)
		b.WriteString(` wrote:</p>
<blockquote style="margin:0 0 12px;padding:4px 12px;border-left:3px solid #4a7;color:#222">`)
		for line := range strings.SplitSeq(l.Note, "\n") {
			linkify(&b, line)
			b.WriteString("<br>\n")
		}
		b.WriteString("</blockquote>\n")
	}
	if len(l.Changes) > 0 {
		b.WriteString(`<p style="margin:12px 0 4px;font-weight:bold">Documents</p>
<table role="presentation" width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;margin:0 0 8px">
`)
		for _, c := range l.Changes {
			b.WriteString(`<tr><td style="border-top:1px solid #ddd"><b>`)
			escape(&b, c.Document)
			b.WriteString("</b>: ")
			switch {
			case c.From == 0:
				b.WriteString("new, v" + strconv.Itoa(c.To))
			case c.From == c.To:
				b.WriteString("v" + strconv.Itoa(c.To))
			default:
				b.WriteString("v" + strconv.Itoa(c.From) + " → v" + strconv.Itoa(c.To))
			}
			b.WriteString(" (")
			escape(&b, humanSize(c.ToSize))
			b.WriteString(")")
			if c.Remark != "" {
				b.WriteString(", ")
				escape(&b, c.Remark)
			}
			if c.Attached != "" {
				b.WriteString(`<br><span style="color:#555">attached as `)
				escape(&b, c.Attached)
				b.WriteString("</span>")
			}
			if len(c.What) > 0 {
				b.WriteString("\n" + `<div style="margin:4px 0 0 8px;color:#444;font-size:13px">`)
				for _, w := range c.What {
					escape(&b, w)
					b.WriteString("<br>\n")
				}
				b.WriteString("</div>")
			}
			b.WriteString("</td></tr>\n")
		}
		b.WriteString("</table>\n")
	}
	for _, s := range l.Sections {
		b.WriteString(`<p style="margin:12px 0 4px;font-weight:bold">`)
		linkify(&b, s.Title)
		b.WriteString("</p>\n" + `<ul style="margin:0 0 10px;padding-left:20px">`)
		for _, line := range s.Lines {
			b.WriteString("<li>")
			linkify(&b, line)
			b.WriteString("</li>")
		}
		b.WriteString("</ul>\n")
	}
	if len(l.Digest) > 0 {
		b.WriteString(`<p style="margin:12px 0 4px;font-weight:bold">History</p>
<table role="presentation" width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;font-size:13px">
`)
		for _, r := range l.Digest {
			b.WriteString(`<tr><td style="border-top:1px solid #ddd"><b>Turn ` + strconv.Itoa(r.Turn) + "</b> · ")
			escape(&b, r.Party)
			b.WriteString(" · ")
			escape(&b, r.Who)
			b.WriteString(" · ")
			escape(&b, r.When)
			if r.Files != "" {
				b.WriteString("<br>")
				escape(&b, r.Files)
			}
			if r.Note != "" {
				b.WriteString(`<br><span style="color:#555">`)
				for i, line := range strings.Split(r.Note, "\n") {
					if i > 0 {
						b.WriteString("<br>")
					}
					linkify(&b, line)
				}
				b.WriteString("</span>")
			}
			b.WriteString("</td></tr>\n")
		}
		b.WriteString("</table>\n")
	}
	if l.Footer != "" {
		b.WriteString(`<p style="margin:16px 0 0;color:#888;font-size:12px">`)
		linkify(&b, l.Footer)
		b.WriteString("</p>")
	}
	b.WriteString("\n</td></tr></table>\n</body></html>\n")
	return b.String()
}

// escape writes s as HTML text, as html/template escapes it: the five
// characters of markup, and '+' (UTF-7), as references, and NUL as U+FFFD.
// Every one is ASCII, so a byte that is one is one in any UTF-8, valid or
// not, and bytes pass through as they are otherwise.
func escape(b *strings.Builder, s string) {
	escapeSet(b, s, `"&'+<>`+"\x00")
}

// escapeSet writes s with each byte of set, all of them of `"&'+<>` and
// NUL, replaced by its reference.
func escapeSet(b *strings.Builder, s, set string) {
	for {
		i := strings.IndexAny(s, set)
		if i < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		switch s[i] {
		case 0:
			b.WriteString("\uFFFD")
		case '"':
			b.WriteString("&#34;")
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&#39;")
		case '+':
			b.WriteString("&#43;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		}
		s = s[i+1:]
	}
}

// escapeLink is the escaping of linkify, text/template's HTMLEscapeString:
// escape's, but for '+', so that a tagged address in a link reads as
// it is written.
func escapeLink(b *strings.Builder, s string) {
	escapeSet(b, s, `"&'<>`+"\x00")
}

// linkify writes s escaped for HTML with every address and URL in it made
// a link, so that a reader can write to an address or follow a link with a
// tap. What it makes a link of is what the regular expression
//
//	(?:https?://|mailto:)[^\s<>"“”()]+|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+
//
// finds (FuzzLinks holds them to it), less the punctuation that ends a
// sentence; links finds them in a pass, where the regular expression cost
// more than the rest of a weekly summary's lines.
func linkify(b *strings.Builder, s string) {
	last := 0
	for start, end := range links(s) {
		escapeLink(b, s[last:start])
		text := strings.TrimRight(s[start:end], ".,;:!?")
		b.WriteString(`<a href="`)
		if !strings.Contains(text, ":") {
			b.WriteString("mailto:")
		}
		escapeLink(b, text)
		b.WriteString(`" style="color:#1a5fb4">`)
		escapeLink(b, text)
		b.WriteString("</a>")
		last = start + len(text)
	}
	escapeLink(b, s[last:])
}

// links yields the start and end of each link in s, left to right, as the
// regular expression of linkify matches them: at each position first a URL
// (a scheme, then what is not space, <>"“”()), then an address (a local
// part, '@', two or more labels).
func links(s string) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		// A URL has "://" or "mailto:", an address an '@'; most lines have
		// none of them.
		if strings.IndexByte(s, '@') < 0 && !strings.Contains(s, "://") && !strings.Contains(s, "mailto:") {
			return
		}
		// An address's local part runs to the first byte that is not one of
		// its characters; if no domain follows it there, none follows it from
		// any position within it either: dead is where that run ends.
		dead := 0
		for p := 0; p < len(s); {
			end := -1
			if c := s[p]; c == 'h' || c == 'm' {
				end = urlAt(s, p)
			}
			if end < 0 && p >= dead {
				if end = addressAt(s, p); end < 0 {
					dead = p
					for dead < len(s) && isLocal(s[dead]) {
						dead++
					}
				}
			}
			if end < 0 {
				p++
				continue
			}
			if !yield(p, end) {
				return
			}
			p, dead = end, end
		}
	}
}

// urlAt returns the end of the URL that starts at s[p:], or -1.
func urlAt(s string, p int) int {
	rest := s[p:]
	i := 0
	for _, scheme := range []string{"https://", "http://", "mailto:"} {
		if strings.HasPrefix(rest, scheme) {
			i = len(scheme)
			break
		}
	}
	if i == 0 {
		return -1
	}
	start := i
	for i < len(rest) {
		c := rest[i]
		if c < utf8.RuneSelf {
			if strings.IndexByte("\t\n\f\r <>\"()", c) >= 0 {
				break
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(rest[i:])
		if r == '“' || r == '”' {
			break
		}
		i += w
	}
	if i == start {
		return -1
	}
	return p + i
}

// addressAt returns the end of the mail address that starts at s[p:], or -1.
func addressAt(s string, p int) int {
	i := p
	for i < len(s) && isLocal(s[i]) {
		i++
	}
	if i == p || i == len(s) || s[i] != '@' {
		return -1
	}
	labels := 0
	for i++; ; i++ {
		j := i
		for j < len(s) && isLabel(s[j]) {
			j++
		}
		if j == i {
			// The '.' before it, or the '@', ends the address.
			i--
			break
		}
		labels++
		if i = j; i == len(s) || s[i] != '.' {
			break
		}
	}
	if labels < 2 {
		return -1
	}
	return i
}

func isLabel(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

func isLocal(c byte) bool {
	return isLabel(c) || c == '.' || c == '_' || c == '%' || c == '+'
}

// humanSize writes a byte count the way people read file sizes.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTPE"[exp])
}
