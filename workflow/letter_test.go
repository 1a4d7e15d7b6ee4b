package workflow

import (
	"bytes"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestLinkify(t *testing.T) {
	tests := []struct{ in, want string }{
		{"write to bob@axe.test.", `write to <a href="mailto:bob@axe.test" style="color:#1a5fb4">bob@axe.test</a>.`},
		{"Reply-To: collab+k7p2qz.p2.abc@gw.test)", `Reply-To: <a href="mailto:collab+k7p2qz.p2.abc@gw.test" style="color:#1a5fb4">collab+k7p2qz.p2.abc@gw.test</a>)`},
		{"(mailto:c@gw.test?subject=status&body=%2Fstatus)", `(<a href="mailto:c@gw.test?subject=status&amp;body=%2Fstatus" style="color:#1a5fb4">mailto:c@gw.test?subject=status&amp;body=%2Fstatus</a>)`},
		{"see https://gw.test/d/x?a=1&b=2, then", `see <a href="https://gw.test/d/x?a=1&amp;b=2" style="color:#1a5fb4">https://gw.test/d/x?a=1&amp;b=2</a>, then`},
		{`<script>alert("x")</script>`, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`},
		{`javascript:alert(1)`, `javascript:alert(1)`},
		{`"><img src=x onerror=alert(1)>@evil.test`, `&#34;&gt;&lt;img src=x onerror=alert(1)&gt;@evil.test`},
		{"no links here", "no links here"},
		{`Fri 30 Oct: <b>Ann</b> & "Bob" ended turn 3 (mailto without a colon)`, `Fri 30 Oct: &lt;b&gt;Ann&lt;/b&gt; &amp; &#34;Bob&#34; ended turn 3 (mailto without a colon)`},
		{"mailto:ann", `<a href="mailto:ann" style="color:#1a5fb4">mailto:ann</a>`},
	}
	for _, tc := range tests {
		if got := linkified(tc.in); got != tc.want {
			t.Errorf("linkify(%q)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// TestLetterHTMLEscapes: whatever a person wrote reaches the HTML part as
// text, never as markup.
func TestLetterHTMLEscapes(t *testing.T) {
	l := &letter{
		Preheader: "Bob <b>bold</b> handed over.", NoteBy: "Eve <eve@x.test>", Note: "<img src=x onerror=alert(1)>\nline two",
		Changes:  []change{{Document: "<i>c</i>.docx", To: 1, What: []string{"¶ 1: “<u>a</u>” → “b”"}}},
		Sections: []section{{Title: "<h1>T</h1>", Lines: []string{"<a href=javascript:x>y</a>"}}},
		Digest:   []digestRow{{Turn: 1, Party: "<p>", Who: "<w>", Note: "<n>"}},
	}
	html := l.HTML()
	for _, bad := range []string{"<b>bold", "<img", "<i>c", "<u>a", "<h1>", "<a href=javascript", "<p>", "<w>", "<n>"} {
		if strings.Contains(html, bad) {
			t.Errorf("the HTML part holds %q unescaped", bad)
		}
	}
}

func linkified(s string) string {
	var b strings.Builder
	linkify(&b, s)
	return b.String()
}

// linkRe is what linkify made links of before links found them without a
// regular expression: FuzzLinks holds links to it.
var linkRe = regexp.MustCompile(`(?:https?://|mailto:)[^\s<>"“”()]+|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)

// FuzzLinks: links finds what linkRe finds, at the same places.
func FuzzLinks(f *testing.F) {
	for _, s := range []string{
		"write to bob@axe.test.", "Reply-To: collab+k7p2qz.p2.abc@gw.test)", "(mailto:c@gw.test?subject=status&body=%2Fstatus)",
		"see https://gw.test/d/x?a=1&b=2, then", `"><img src=x onerror=alert(1)>@evil.test`, "mailto:ann", "http:// x",
		"xhttps://a.b", "a@b.c_d@e.f", "a@b", "a@b.", "a@.b.c", "a@b..c", "a@b.c-.d@e", "“https://x.test/“a”", "https://x\xe2\x80y",
		"For details, reply to collab+ab3dq2.p1.x7@gw.test with /status (mailto:collab+ab3dq2.p1.x7@gw.test?subject=status&body=%2Fstatus).",
		"..%+_-@x-y.z9", "HTTP://upper.test", "mailto:", "a@b.c\x00d@e.f", "é@x.y", "a\u00a0b@c.d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got [][]int
		for start, end := range links(s) {
			got = append(got, []int{start, end})
		}
		if want := linkRe.FindAllStringIndex(s, -1); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("links(%q) = %v, the regular expression finds %v", s, got, want)
		}
	})
}

// letterTemplate is what HTML rendered letters with before it wrote them
// itself: TestLetterHTMLTemplate and FuzzLetterHTML hold it to the same
// bytes.
var letterTemplate = template.Must(template.New("letter").Funcs(template.FuncMap{
	"lines": func(s string) []string { return strings.Split(s, "\n") },
	"size":  humanSize,
	"link":  func(s string) template.HTML { return template.HTML(linkified(s)) },
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

func templateHTML(t testing.TB, l *letter) string {
	t.Helper()
	var b bytes.Buffer
	if err := letterTemplate.Execute(&b, l); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestLetterHTMLTemplate: HTML writes what the template did, for letters
// with every part, none, and the characters escaping is about.
func TestLetterHTMLTemplate(t *testing.T) {
	odd := "a+b <c> & \"d\" 'e' \x00 \xff “f” bob@axe.test, https://gw.test/x?a=1&b=2."
	letters := []*letter{
		{},
		{Preheader: "Bob handed over."},
		{
			Preheader: odd, Paras: []string{"One.", odd, ""}, NoteBy: "Eve <eve@x.test>", Note: odd + "\nline two\n",
			Changes: []change{
				{Document: "c.docx", To: 1, ToSize: 4000},
				{Document: odd, From: 2, To: 2, ToSize: 1 << 20, Remark: odd, Attached: odd, What: []string{odd, "¶ 1: “a” → “b”"}},
				{Document: "d.xlsx", From: 1, To: 3, FromSize: 10, ToSize: 5 << 30},
			},
			Digest: []digestRow{
				{Turn: 1, Party: "ACME", Who: "Ann", When: "Mon 2 Nov"},
				{Turn: 2, Party: odd, Who: odd, When: odd, Files: odd, Note: odd + "\n\nsecond"},
			},
			Sections: []section{{Title: odd}, {Title: "T", Lines: []string{odd, "", "reply to collab+x.p1.y@gw.test"}}},
			Footer:   odd,
		},
	}
	for i, l := range letters {
		if got, want := l.HTML(), templateHTML(t, l); got != want {
			t.Errorf("letter %d:\n got %q\nwant %q", i, got, want)
		}
	}
}

// FuzzLetterHTML: whatever the strings of a letter, HTML writes what the
// template did.
func FuzzLetterHTML(f *testing.F) {
	f.Add("Bob <b>bold</b> handed over.", "Eve <eve@x.test>", "<img src=x>\nline two", "mailto:a@b.c+d", 3)
	f.Add("", "", "", "", 0)
	f.Fuzz(func(t *testing.T, a, b, c, d string, n int) {
		l := &letter{
			Preheader: a, Paras: []string{b, c}, NoteBy: b, Note: c,
			Changes:  []change{{Document: a, From: n % 3, To: n % 2, ToSize: int64(n), Remark: d, Attached: c, What: []string{d, a}}},
			Digest:   []digestRow{{Turn: n, Party: a, Who: b, When: c, Files: d, Note: a + "\n" + d}},
			Sections: []section{{Title: d, Lines: []string{a, b, c}}},
			Footer:   d,
		}
		if got, want := l.HTML(), templateHTML(t, l); got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
}
