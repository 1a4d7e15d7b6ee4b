package workflow

import (
	"bytes"
	"fmt"
	"html/template"
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
	Note  string // the gist of the note
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
}).Parse(`<!DOCTYPE html>
<html><body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">
<div style="display:none;max-height:0;overflow:hidden">{{.Preheader}}</div>
<p style="font-size:16px;font-weight:bold;margin:0 0 12px">{{.Preheader}}</p>
{{range .Paras}}<p style="margin:0 0 10px">{{.}}</p>
{{end}}{{if .Note}}<p style="margin:12px 0 4px;color:#555">{{.NoteBy}} wrote:</p>
<blockquote style="margin:0 0 12px;padding:4px 12px;border-left:3px solid #4a7;color:#222">{{range lines .Note}}{{.}}<br>
{{end}}</blockquote>
{{end}}{{if .Changes}}<table cellpadding="4" cellspacing="0" style="border-collapse:collapse;margin:8px 0">
<tr style="background:#f2f2f2"><th align="left">Document</th><th align="left">Version</th><th align="left">Size</th><th align="left">Attached as</th></tr>
{{range .Changes}}<tr><td>{{.Document}}</td><td>{{if eq .From 0}}new, v{{.To}}{{else if eq .From .To}}v{{.To}}{{else}}v{{.From}} → v{{.To}}{{end}}{{if .Remark}} ({{.Remark}}){{end}}</td><td>{{size .ToSize}}</td><td>{{.Attached}}</td></tr>
{{if .What}}<tr><td colspan="4" style="padding:0 4px 8px 16px;color:#444;font-size:13px">{{range .What}}{{.}}<br>
{{end}}</td></tr>
{{end}}{{end}}</table>
{{end}}{{range .Sections}}<p style="margin:12px 0 4px;font-weight:bold">{{.Title}}</p>
<ul style="margin:0 0 10px;padding-left:20px">{{range .Lines}}<li>{{.}}</li>{{end}}</ul>
{{end}}{{if .Digest}}<p style="margin:12px 0 4px;font-weight:bold">History</p>
<table cellpadding="4" cellspacing="0" style="border-collapse:collapse;font-size:13px">
<tr style="background:#f2f2f2"><th align="left">Turn</th><th align="left">Party</th><th align="left">Who</th><th align="left">When</th><th align="left">Files</th><th align="left">Note</th></tr>
{{range .Digest}}<tr><td>{{.Turn}}</td><td>{{.Party}}</td><td>{{.Who}}</td><td>{{.When}}</td><td>{{.Files}}</td><td>{{.Note}}</td></tr>
{{end}}</table>
{{end}}{{if .Footer}}<p style="margin:16px 0 0;color:#888;font-size:12px">{{.Footer}}</p>{{end}}
</body></html>
`))

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
