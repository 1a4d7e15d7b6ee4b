package reply

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// TestCorpusHTMLReplies runs talon's HTML replies: the extracted reply must
// equal the expectation with all white space removed on both sides (corpus
// README, "Expected-output semantics"). talon keeps the sign-off ("Thanks,"
// / "Alex") that Extract cuts, so the reply plus the start of what was
// cut is compared.
func TestCorpusHTMLReplies(t *testing.T) {
	noSpace := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	for _, p := range corpusCases(t, "reply-html-body-*.html") {
		t.Run(filepath.Base(p), func(t *testing.T) {
			html := readFile(t, p)
			got, rest := ExtractHTML(html)
			want := noSpace(readFile(t, expectedPath(p)))
			if !keptOrCut(noSpace(got), noSpace(rest), want) {
				t.Errorf("ExtractHTML:\n got %q\n cut %q\nwant %q", got, rest, want)
			}
		})
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, html, text string
	}{
		{"paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"},
		{"line breaks", "<div>one<br>two<br><br>three</div>", "one\ntwo\n\nthree"},
		{"gmail empty lines", "<div>Hi</div><div><br></div><div>Bye</div>", "Hi\n\nBye"},
		{"outlook empty paragraphs", "<p class=MsoNormal>Hi<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Bye</p>", "Hi\n\nBye"},
		{"white space collapsed", "<p>  a\n  lot   of\tspace  </p>", "a lot of space"},
		{"inline elements keep spaces", "<p><b>From:</b> Bob <i>Smith</i>,<span> ok</span></p>", "From: Bob Smith, ok"},
		{"entities", "<p>Fish &amp; chips &lt;3 &eacute;t&eacute; caf&#233;</p>", "Fish & chips <3 été café"},
		{"lists", "<ul><li>one</li><li>two<ul><li>deep</li></ul></li></ul><ol><li>first</li></ol>", "- one\n- two\n\n  - deep\n\n- first"},
		{"links", `<p><a href="https://example.com/doc">the draft</a>, <a href="https://example.com">https://example.com</a>, <a href="mailto:bob@example.com">bob@example.com</a>, <a href="#top">top</a></p>`,
			"the draft (https://example.com/doc), https://example.com, bob@example.com, top"},
		{"image link", `<a href="https://example.com"><img src="cid:logo" alt="Logo"></a>`, ""},
		{"tables", "<table><tr><th>Doc</th><th>Version</th></tr><tr><td>contract</td><td>v2</td></tr></table>", "Doc | Version\ncontract | v2"},
		{"dropped elements", "<html><head><title>T</title><style>p{color:red}</style></head><body><script>x()</script><p>Body</p></body></html>", "Body"},
		{"blockquote", "<p>Reply</p><blockquote><p>Quoted<br>more</p></blockquote><p>After</p>", "Reply\n\n> Quoted\n> more\n\nAfter"},
		{"pre", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"rule", "<p>Above</p><hr><p>Below</p>", "Above\n\n---\n\nBelow"},
		{"fragment", "plain <b>bold</b>", "plain bold"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToText(tt.html); got != tt.text {
				t.Errorf("HTMLToText(%q)\n got %q\nwant %q", tt.html, got, tt.text)
			}
		})
	}
}

func TestExtractHTMLReply(t *testing.T) {
	tests := []struct {
		name, html, reply string
	}{{
		name: "gmail",
		html: `<div dir="ltr">Looks good.<div><br></div><div>Jane</div></div><br><div class="gmail_quote gmail_quote_container">` +
			`<div dir="ltr" class="gmail_attr">On Tue, Mar 5, 2024 at 9:12 AM Bob &lt;<a href="mailto:bob@example.com">bob@example.com</a>&gt; wrote:<br></div>` +
			`<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex"><div dir="ltr">Here is v2.</div></blockquote></div>`,
		reply: "Looks good.", // the bare name is a sign-off
	}, {
		name: "gmail inline",
		html: `<div dir="ltr"><blockquote class="gmail_quote">Can you take clause 4?</blockquote><div>Yes.</div>` +
			`<blockquote class="gmail_quote">And clause 7?</blockquote><div>No.</div></div>`,
		reply: "Yes.\n\nNo.", // a blank line where each quote was, as in plain text
	}, {
		name: "apple mail",
		html: `<html><body dir="auto">Fine by me.<br><br><div dir="ltr">Sent from my iPhone</div><div dir="ltr"><br>` +
			`<blockquote type="cite">On 5 Mar 2024, at 09:12, Bob &lt;bob@example.com&gt; wrote:<br><br></blockquote></div>` +
			`<blockquote type="cite"><div dir="ltr">Here is v2.</div></blockquote></body></html>`,
		reply: "Fine by me.",
	}, {
		name: "thunderbird",
		html: `<html><body><p>Agreed.</p><div class="moz-cite-prefix">On 05/03/2024 09:12, Bob wrote:<br></div>` +
			`<blockquote type="cite" cite="mid:1@example.com">Here is v2.</blockquote><p>-- <br>Jane Doe</p></body></html>`,
		reply: "Agreed.",
	}, {
		name: "outlook divRplyFwdMsg",
		html: `<div>Signed copy attached.</div><div><br></div><hr style="display:inline-block;width:98%" tabindex="-1">` +
			`<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Bob &lt;bob@example.com&gt;<br><b>Sent:</b> Tuesday, March 5, 2024 9:12 AM<br>` +
			`<b>To:</b> Jane<br><b>Subject:</b> contract</font><div>&nbsp;</div></div><div>Please sign.</div>`,
		reply: "Signed copy attached.",
	}, {
		name: "outlook appendonsend",
		html: `<div class="elementToProof">Signed.</div><div id="appendonsend"></div><hr tabindex="-1">` +
			`<div id="x_divRplyFwdMsg"><b>From:</b> Bob</div><div>Please sign.</div>`,
		reply: "Signed.",
	}, {
		name: "outlook desktop border-top",
		html: `<div class=WordSection1><p class=MsoNormal>Signed.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>` +
			`<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal><b>Von:</b> Bob ` +
			`<br><b>Gesendet:</b> Dienstag, 5. März 2024 09:12<br><b>An:</b> Jane</p></div></div><p class=MsoNormal>Bitte unterschreiben.</p></div>`,
		reply: "Signed.",
	}, {
		name:  "border-top div that is not a header block",
		html:  `<p>Signed.</p><div style="border-top:1px solid #ccc">Footer of my own</div>`,
		reply: "Signed.\n\nFooter of my own",
	}, {
		name: "zimbra",
		html: `<html><body><div>Done.</div><hr id="zwchr"><div><b>From: </b>Bob<br><b>Sent: </b>Monday<br></div>` +
			`<blockquote>Please sign.</blockquote></body></html>`,
		reply: "Done.",
	}, {
		name: "original message text",
		html: `<p>Done.</p><p>-----Original Message-----<br>From: Bob<br>Sent: Monday, March 4, 2024<br>To: Jane<br>Subject: contract</p>` +
			`<p>Please sign.</p>`,
		reply: "Done.",
	}, {
		name:  "signature",
		html:  `<div>Done.</div><div><br></div><div>-- <br>Jane Doe<br>ACME</div>`,
		reply: "Done.",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := ExtractHTML(tt.html); got != tt.reply {
				t.Errorf("ExtractHTML:\n got %q\nwant %q", got, tt.reply)
			}
		})
	}
}

// TestExtractHTMLReplyKeepsTheCut: what ExtractHTML cuts comes back as
// rest, so that the quoted thread is stored with the note and nothing is lost.
func TestExtractHTMLReplyKeepsTheCut(t *testing.T) {
	for _, tc := range []struct{ name, html, reply, inRest string }{
		{"gmail", `<div dir="ltr">Clause 4 is fine.<br><br>Best,<br>Bob</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 2, 2026 at 10:00 AM Alice &lt;alice@acme.test&gt; wrote:<br></div><blockquote class="gmail_quote">Here is our draft of clause 4.</blockquote></div>`,
			"Clause 4 is fine.", "Here is our draft of clause 4."},
		{"outlook", `<div>Agreed.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Alice<br><b>Sent:</b> Monday<br><b>Subject:</b> Contract</div><div>The old text.</div>`,
			"Agreed.", "The old text."},
		{"thunderbird", `<p>Done.</p><div class="moz-cite-prefix">On 02/11/2026 10:00, Alice wrote:<br></div><blockquote type="cite">Please check.</blockquote>`,
			"Done.", "Please check."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, rest := ExtractHTML(tc.html)
			if reply != tc.reply || !strings.Contains(rest, tc.inRest) {
				t.Errorf("got %q, rest %q", reply, rest)
			}
		})
	}
}
