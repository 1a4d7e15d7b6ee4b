package reply

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// replyFixture is one file of testdata/replies (see its README).
type replyFixture struct {
	name    string
	headers map[string]string
	input   string
	html    bool
	reply   string
	restHas []string
}

var fixtureSectionRe = regexp.MustCompile(`^-- ([a-z.-]+) --$`)

// parseReplyFixture reads the format described in testdata/replies/README.md.
func parseReplyFixture(name, data string) (replyFixture, error) {
	f := replyFixture{name: name, headers: map[string]string{}}
	sections := map[string][]string{}
	var order []string
	cur := ""
	for _, l := range strings.Split(strings.TrimSuffix(data, "\n"), "\n") {
		if m := fixtureSectionRe.FindStringSubmatch(l); m != nil {
			cur = m[1]
			if _, dup := sections[cur]; dup {
				return f, fmt.Errorf("section %q twice", cur)
			}
			sections[cur] = []string{}
			order = append(order, cur)
			continue
		}
		if cur == "" {
			if strings.TrimSpace(l) == "" {
				continue
			}
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				return f, fmt.Errorf("header line %q has no colon", l)
			}
			f.headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
			continue
		}
		sections[cur] = append(sections[cur], l)
	}
	for _, k := range []string{"client", "language"} {
		if f.headers[k] == "" {
			return f, fmt.Errorf("no %q header", k)
		}
	}
	in, ok := sections["input"]
	if h, okh := sections["input.html"]; okh {
		in, ok, f.html = h, true, true
	}
	if !ok {
		return f, fmt.Errorf("no input section (have %v)", order)
	}
	f.input = strings.Join(in, "\n")
	if f.headers["crlf"] == "yes" {
		f.input = strings.ReplaceAll(f.input, "\n", "\r\n")
	}
	reply, ok := sections["reply"]
	if !ok {
		return f, fmt.Errorf("no reply section")
	}
	f.reply = strings.Join(reply, "\n")
	for _, l := range sections["rest-has"] {
		if strings.TrimSpace(l) != "" {
			f.restHas = append(f.restHas, l)
		}
	}
	return f, nil
}

func loadReplyFixtures(tb testing.TB) []replyFixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "replies", "*.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(paths)
	var out []replyFixture
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		f, err := parseReplyFixture(strings.TrimSuffix(filepath.Base(p), ".txt"), string(b))
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out = append(out, f)
	}
	return out
}

// run returns the note and what was cut, as workflow gets them.
func (f replyFixture) run() (reply, rest string) {
	if f.html {
		return ExtractHTML(f.input)
	}
	return Extract(f.input)
}

// TestReplyFixtures runs every case of testdata/replies and prints the pass
// rate, overall and for the held-out cases; all must pass.
func TestReplyFixtures(t *testing.T) {
	fixtures := loadReplyFixtures(t)
	if len(fixtures) < 150 {
		t.Errorf("%d reply fixtures, want at least 150", len(fixtures))
	}
	var pass, heldout, heldoutPass int
	for _, f := range fixtures {
		ok := t.Run(f.name, func(t *testing.T) {
			reply, rest := f.run()
			if reply != f.reply {
				t.Errorf("%s, %s (%s)\n got %q\nwant %q", f.headers["client"], f.headers["language"], f.headers["about"], reply, f.reply)
			}
			for _, l := range f.restHas {
				if !strings.Contains(rest, l) {
					t.Errorf("rest lacks %q:\n%s", l, rest)
				}
			}
		})
		held := strings.Contains(f.name, "-heldout-")
		if held {
			heldout++
		}
		if ok {
			pass++
			if held {
				heldoutPass++
			}
		}
	}
	t.Logf("reply fixtures: %d/%d pass (%.1f %%); held-out style: %d/%d", pass, len(fixtures),
		100*float64(pass)/float64(max(len(fixtures), 1)), heldoutPass, heldout)
}
