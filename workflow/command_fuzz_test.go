package workflow

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseCommands feeds ParseCommands reply texts, which anyone who has a
// tagged address writes, seeded from the reply fixtures of mail/reply (the
// texts ParseCommands gets, as people write them) and testdata/fuzz. Besides
// not panicking, what it returns must be what it says: commands with a
// lower-case name from the top lines of the text, the rest taken from the
// text as it was, and nothing in the rest that parses as a command again.
func FuzzParseCommands(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "mail", "reply", "testdata", "replies", "*.txt"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, seed := range []string{
		"", "/done", "/DONE.\n/status!", "\n \n/skip\n\nNothing from us.", "/add carol@acme.com  contributor\n\n/done\nThanks",
		"/deadline 2026-12-01\r\nPlease.", "See the file.\n/home/bob/contract.docx", "/ done\n//done\n/1", "/état",
		"/add\u00a0bob@axe.com", "\u2028/done", "/done\x00", "/\xff", "/a\u0301", "/drop all\n/done all",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmds, rest := ParseCommands(text)
		lines := map[string]bool{}
		for _, l := range strings.Split(text, "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, c := range cmds {
			if c.Name == "" || c.Name != strings.ToLower(c.Name) || strings.IndexFunc(c.Name, unicode.IsSpace) >= 0 {
				t.Fatalf("ParseCommands(%q): command name %q", text, c.Name)
			}
			if !strings.HasPrefix(c.Line, "/") || !lines[c.Line] {
				t.Fatalf("ParseCommands(%q): command line %q is not a line of the text", text, c.Line)
			}
			if want := strings.Fields(c.Line[1:])[1:]; len(c.Args) != len(want) || len(want) > 0 && !reflect.DeepEqual(c.Args, want) {
				t.Fatalf("ParseCommands(%q): %q has args %q", text, c.Line, c.Args)
			}
		}
		if rest != strings.TrimSpace(rest) || !strings.Contains(text, rest) {
			t.Fatalf("ParseCommands(%q): rest %q is not a trimmed part of the text", text, rest)
		}
		if again, _ := ParseCommands(rest); len(again) > 0 {
			t.Fatalf("ParseCommands(%q): rest %q holds commands %q", text, rest, again)
		}
	})
}
