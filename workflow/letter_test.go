package workflow

import (
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
		if got := string(linkify(tc.in)); got != tc.want {
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
	html, err := l.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<b>bold", "<img", "<i>c", "<u>a", "<h1>", "<a href=javascript", "<p>", "<w>", "<n>"} {
		if strings.Contains(html, bad) {
			t.Errorf("the HTML part holds %q unescaped", bad)
		}
	}
}
