package reply

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzExtractReply feeds Extract (and, for inputs that look like HTML,
// ExtractHTML) arbitrary bodies, seeded from testdata/replies. It
// checks what must hold for any input: no panic, and for text every line of
// the note and of what was cut comes from the body, so nothing is made up.
func FuzzExtractReply(f *testing.F) {
	for _, fx := range loadReplyFixtures(f) {
		f.Add(fx.input)
	}
	f.Add("")
	f.Add(strings.Repeat(">", 1000))
	f.Add("On Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:")
	f.Fuzz(func(t *testing.T, body string) {
		if strings.HasPrefix(strings.TrimSpace(body), "<") {
			ExtractHTML(body)
		}
		reply, rest := Extract(body)
		if utf8.ValidString(body) && (!utf8.ValidString(reply) || !utf8.ValidString(rest)) {
			t.Fatalf("invalid UTF-8 out of valid input: %q, %q", reply, rest)
		}
		lines := map[string]bool{}
		for _, l := range splitBodyLines(body) {
			lines[strings.TrimRightFunc(l, isSpaceRune)] = true
		}
		for _, out := range []string{reply, rest} {
			for _, l := range splitBodyLines(out) {
				if l = strings.TrimRightFunc(l, isSpaceRune); l != "" && !lines[l] {
					t.Fatalf("line %q is not in the body %q", l, body)
				}
			}
		}
	})
}

func isSpaceRune(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0xa0 || r == 0x1680 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000
}

// BenchmarkExtractReplyHostile strips 1 MiB bodies written to be slow: one
// line without a line break, 100k ">" lines, lines that all end like an
// attribution or start like a header block, and deeply nested HTML quotes.
// ns/op over MB/s shows the cost stays linear in the size.
func BenchmarkExtractReplyHostile(b *testing.B) {
	const size = 1 << 20
	fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	cases := []struct {
		name, body string
		html       bool
	}{
		{"one long line", fill("x"), false},
		{"one long line of colons and dashes", fill("-- wrote: 2024 <a@b.c> "), false},
		{"gt lines", fill(">\n"), false},
		{"deep gt lines", fill(">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>\n"), false},
		{"attribution ends", fill("On 5 Mar 2024, Bob <\nbob@example.com> wrote:\n"), false},
		{"verb lines", fill("wrote:\n"), false},
		{"address lines", fill("2024 Bob <bob@example.com>\n> x\n"), false},
		{"header fields", fill("From: a\n"), false},
		{"header blocks", fill("From: a\nSent: 2024\n"), false},
		{"rules", fill("________\n"), false},
		{"banners", fill("----- Original Message -----\n"), false},
		{"signature delimiters", fill("-- \n"), false},
		{"sign-offs", fill("Thanks,\n"), false},
		{"inline attributions", fill("On 5 Mar 2024 10:14, Bob<bob@example.com> wrote: a: b: c:\n"), false},
		{"disclaimer lines", fill("Regards,\nCONFIDENTIAL: intended recipient only\n\n"), false},
		{"bare names", fill("Text.\n\nRuth Anne Miller\n"), false},
		{"mobile tails", fill("Sent from my iPhone\n"), false},
		{"blank lines", fill("\u00a0\n"), false},
		{"html nested blockquotes", fill("<blockquote type=cite>x"), true},
		{"html nested border-top divs", fill(`<div style="border-top:1px">`), true},
		{"html gmail quotes", fill(`<div class="gmail_quote"><div class="gmail_attr">a</div>b</div>`), true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if c.html {
					ExtractHTML(c.body)
				} else {
					Extract(c.body)
				}
			}
		})
	}
}
