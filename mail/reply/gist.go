package reply

import (
	"strings"
	"unicode/utf8"
)

// Gist returns the line of a note that says what it is about, for a
// history row or a summary: the first line that is neither a salutation
// ("Dear Bob,", "Hallo Anna,", "Dear Mr. Smith:") nor a closing, shortened
// to at most max runes at a word boundary, with "…" when cut. A note that
// is only a salutation gives it anyway, rather than nothing.
func Gist(note string, max int) string {
	first := ""
	for _, line := range strings.Split(note, "\n") {
		line = strings.TrimFunc(visible(line), isSpaceOrMark)
		if line == "" {
			continue
		}
		if first == "" {
			first = line
		}
		if isSignOff(line) {
			break // what follows a closing is the signature
		}
		if greetingOnly([]string{line}) {
			continue
		}
		return shorten(line, max)
	}
	return shorten(first, max)
}

// shorten cuts s to at most max runes, at the last space before the cut
// when there is one in its second half.
func shorten(s string, max int) string {
	if max <= 1 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	cut := string(r)
	if i := strings.LastIndexAny(cut, " \t"); i > len(cut)/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}
