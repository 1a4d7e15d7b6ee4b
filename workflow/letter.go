package workflow

import (
	"bytes"
	"fmt"
	"html/template"
	"regexp"
	"strings"
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
	b.WriteString(l.Preheader + "\n")
	for _, p := range l.Paras {
		b.WriteString("\n" + p + "\n")
	}
	if l.Note != "" {
		fmt.Fprintf(&b, "\n%s wrote:\n\n", l.NoteBy)
		for _, line := range strings.Split(l.Note, "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	if len(l.Changes) > 0 {
		b.WriteString("\nDocuments:\n")
		for _, c := range l.Changes {
			b.WriteString("  - " + c.describe() + "\n")
			for _, w := range c.What {
				b.WriteString("      " + w + "\n")
			}
		}
	}
	for _, s := range l.Sections {
		b.WriteString("\n" + s.Title + ":\n")
		for _, line := range s.Lines {
			b.WriteString("  " + line + "\n")
		}
	}
	if len(l.Digest) > 0 {
		b.WriteString("\nHistory:\n")
		for _, r := range l.Digest {
			b.WriteString("  " + r.describe() + "\n")
		}
	}
	if l.Footer != "" {
		b.WriteString("\n-- \n" + l.Footer + "\n")
	}
	return b.String()
}

// HTML renders the HTML part: tables and inline styles only, as mail clients
// ignore style sheets.
func (l *letter) HTML() (string, error) {
	var b bytes.Buffer
	if err := letterHTML.Execute(&b, l); err != nil {
		return "", fmt.Errorf("render html: %w", err)
	}
	return b.String(), nil
}

var letterHTML = template.Must(template.New("letter").Funcs(template.FuncMap{
	"lines": func(s string) []string { return strings.Split(s, "\n") },
	"size":  humanSize,
	"link":  linkify,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0;padding:12px;font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4;color:#222;word-wrap:break-word;overflow-wrap:anywhere">
<div style="display:none;max-height:0;overflow:hidden">{{.Preheader}}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;border-collapse:collapse"><tr><td>
<p style="font-size:16px;font-weight:bold;margin:0 0 12px">{{link .Preheader}}</p>
{{range .Paras}}<p style="margin:0 0 10px">{{link .}}</p>
{{end}}{{if .Note}}<p style="margin:12px 0 4px;color:#555">{{.NoteBy}} wrote:</p>
<blockquote style="margin:0 0 12px;padding:4px 12px;border-left:3px solid #4a7;color:#222">{{range lines .Note}}{{link .}}<br>
{{end}}</blockquote>
{{end}}{{if .Changes}}<p style="margin:12px 0 4px;font-weight:bold">Documents</p>
<table role="presentation" width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;margin:0 0 8px">
{{range .Changes}}<tr><td style="border-top:1px solid #ddd"><b>{{.Document}}</b>: {{if eq .From 0}}new, v{{.To}}{{else if eq .From .To}}v{{.To}}{{else}}v{{.From}} → v{{.To}}{{end}} ({{size .ToSize}}){{if .Remark}}, {{.Remark}}{{end}}{{if .Attached}}<br><span style="color:#555">attached as {{.Attached}}</span>{{end}}{{if .What}}
<div style="margin:4px 0 0 8px;color:#444;font-size:13px">{{range .What}}{{.}}<br>
{{end}}</div>{{end}}</td></tr>
{{end}}</table>
{{end}}{{range .Sections}}<p style="margin:12px 0 4px;font-weight:bold">{{link .Title}}</p>
<ul style="margin:0 0 10px;padding-left:20px">{{range .Lines}}<li>{{link .}}</li>{{end}}</ul>
{{end}}{{if .Digest}}<p style="margin:12px 0 4px;font-weight:bold">History</p>
<table role="presentation" width="100%" cellpadding="6" cellspacing="0" style="border-collapse:collapse;font-size:13px">
{{range .Digest}}<tr><td style="border-top:1px solid #ddd"><b>Turn {{.Turn}}</b> · {{.Party}} · {{.Who}} · {{.When}}{{if .Files}}<br>{{.Files}}{{end}}{{if .Note}}<br><span style="color:#555">{{range $i, $l := lines .Note}}{{if $i}}<br>{{end}}{{link $l}}{{end}}</span>{{end}}</td></tr>
{{end}}</table>
{{end}}{{if .Footer}}<p style="margin:16px 0 0;color:#888;font-size:12px">{{link .Footer}}</p>{{end}}
</td></tr></table>
</body></html>
`))

// linkRe finds what the HTML part makes a link of: web and mailto URLs,
// and mail addresses.
var linkRe = regexp.MustCompile(`(?:https?://|mailto:)[^\s<>"“”()]+|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)

// linkify escapes s for HTML and makes every address and URL in it a link,
// so that a reader can write to an address or follow a link with a tap.
func linkify(s string) template.HTML {
	// Every match of linkRe holds one of these. Most lines hold none, and
	// the regexp costs some 30 µs a line even then: in a weekly summary's
	// hundred lines, more than the rest of the mail.
	if !strings.Contains(s, "@") && !strings.Contains(s, "://") && !strings.Contains(s, "mailto:") {
		return template.HTML(template.HTMLEscapeString(s))
	}
	var b strings.Builder
	last := 0
	for _, m := range linkRe.FindAllStringIndex(s, -1) {
		b.WriteString(template.HTMLEscapeString(s[last:m[0]]))
		text := strings.TrimRight(s[m[0]:m[1]], ".,;:!?")
		href := text
		if !strings.Contains(text, ":") {
			href = "mailto:" + text
		}
		fmt.Fprintf(&b, `<a href="%s" style="color:#1a5fb4">%s</a>`, template.HTMLEscapeString(href), template.HTMLEscapeString(text))
		last = m[0] + len(text)
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return template.HTML(b.String())
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
