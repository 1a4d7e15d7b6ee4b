package reply

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// phraseMatcher finds any of a list of words and phrases in a line, in time
// linear in the line: a regexp alternation of a few hundred words costs the
// product of both lengths on every line, which a hostile body of 100,000
// lines turns into minutes.
type phraseMatcher struct {
	byKey map[string][]string // first three letters of the first word → phrases, longest first
	cjk   []string            // phrases in scripts without spaces, found anywhere
	// prefix lets a phrase end inside a word ("forward" in "forwarded");
	// otherwise a letter may not follow it.
	prefix bool
}

const phraseKeyRunes = 3

func newPhraseMatcher(phrases []string, prefix bool) *phraseMatcher {
	m := &phraseMatcher{byKey: map[string][]string{}, prefix: prefix}
	for _, p := range phrases {
		p = normPhrase(p)
		if p == "" {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(p); isCJK(r) {
			m.cjk = append(m.cjk, p)
			continue
		}
		k := phraseKey(p)
		m.byKey[k] = append(m.byKey[k], p)
	}
	for k, ps := range m.byKey {
		// Longest first, so that the end found is the end of the longest
		// phrase at a position ("a écrit le" over "a écrit").
		for i := 1; i < len(ps); i++ {
			for j := i; j > 0 && len(ps[j]) > len(ps[j-1]); j-- {
				ps[j], ps[j-1] = ps[j-1], ps[j]
			}
		}
		m.byKey[k] = ps
	}
	return m
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// normPhrase lowers s and turns each run of blanks (no-break spaces too)
// into one space.
func normPhrase(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// phraseKey is the first up to three letters of s.
func phraseKey(s string) string {
	n := 0
	for i, r := range s {
		if !unicode.IsLetter(r) || n == phraseKeyRunes {
			return s[:i]
		}
		n++
	}
	return s
}

// lastEnd returns the end in norm (a normPhrase'd line) of the last phrase
// found there, or -1.
func (m *phraseMatcher) lastEnd(norm string) int {
	end := -1
	for _, p := range m.cjk {
		if i := strings.LastIndex(norm, p); i >= 0 && i+len(p) > end {
			end = i + len(p)
		}
	}
	prevLetter := false
	for i, r := range norm {
		letter := unicode.IsLetter(r)
		if letter && !prevLetter {
			for _, p := range m.byKey[phraseKey(norm[i:])] {
				if !strings.HasPrefix(norm[i:], p) {
					continue
				}
				e := i + len(p)
				if next, _ := utf8.DecodeRuneInString(norm[e:]); !m.prefix && e < len(norm) && unicode.IsLetter(next) {
					continue
				}
				end = max(end, e)
				break
			}
		}
		prevLetter = letter
	}
	return end
}

// match reports whether a phrase is in s.
func (m *phraseMatcher) match(s string) bool {
	return m.lastEnd(normPhrase(s)) >= 0
}
