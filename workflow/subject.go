package workflow

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// replyPrefixes are the words mail clients put before a subject when replying
// or forwarding, in the languages they are localised to, lower-cased.
var replyPrefixes = map[string]bool{
	"re": true, "fwd": true, "fw": true, // English, and everyone's default
	"aw": true, "wg": true, "antw": true, // German, Dutch
	"sv": true, "vs": true, "vb": true, // Scandinavian, Finnish
	"odp": true, "pd": true, // Polish
	"tr": true, "réf": true, "ref": true, // French
	"rv": true, "res": true, "enc": true, // Spanish, Portuguese
	"r": true, "rif": true, "i": true, // Italian
	"ynt": true, "ilt": true, // Turkish
	"απ": true, "σχετ": true, "πρθ": true, // Greek
	"回复": true, "答复": true, "转发": true, "回覆": true, "轉寄": true, "轉發": true, // Chinese
	"転送": true, "返信": true, // Japanese
	"회신": true, "전달": true, // Korean
}

// tagRE is the subject tag the gateway adds to every mail it sends.
var tagRE = regexp.MustCompile(`(?i)\[tm:([a-z0-9]{4,12})\]`)

// BaseSubject returns the words of a subject that stay the same across a
// thread, for comparing subjects: without reply and forward prefixes of any
// language ("Re: AW: Fwd[2]: x", "RE[3]: x", "答复： x"), our own "[tm:<id>]"
// tag wherever it stands, a leading "Your turn:" (our handoff prefix), and
// surrounding or repeated whitespace. A word that merely starts like a prefix
// ("Reorg plan") is kept: a prefix counts only when a colon follows it.
func BaseSubject(s string) string {
	s = tagRE.ReplaceAllString(s, " ")
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if rest, ok := cutReplyPrefix(s); ok {
			s = rest
			continue
		}
		if rest, ok := cutHandoffPrefix(s); ok {
			s = rest
			continue
		}
		break
	}
	return strings.Join(strings.Fields(s), " ")
}

// cutReplyPrefix removes one reply prefix from the start of s: a prefix word,
// an optional counter ("[2]", "(2)"), and a colon (ASCII or full-width), with
// spaces allowed around the counter and before the colon ("Re :", French).
func cutReplyPrefix(s string) (string, bool) {
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if end <= 0 {
		return s, false
	}
	if !replyPrefixes[strings.ToLower(s[:end])] {
		return s, false
	}
	rest := strings.TrimLeftFunc(s[end:], unicode.IsSpace)
	rest = cutCounter(rest)
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	r, size := utf8.DecodeRuneInString(rest)
	if r != ':' && r != '：' {
		return s, false
	}
	return rest[size:], true
}

// cutHandoffPrefix removes the start of a handoff's subject, "Your turn:",
// from s, in any case and with any whitespace between the words: BaseSubject
// ignores repeated whitespace, and what it returns must come out of it
// unchanged, or a stored subject would lose its first words in the next mail.
func cutHandoffPrefix(s string) (string, bool) {
	const your, turn = "your", "turn:"
	if len(s) < len(your) || !strings.EqualFold(s[:len(your)], your) {
		return s, false
	}
	rest := strings.TrimLeftFunc(s[len(your):], unicode.IsSpace)
	if len(rest) == len(s)-len(your) || len(rest) < len(turn) || !strings.EqualFold(rest[:len(turn)], turn) {
		return s, false
	}
	return rest[len(turn):], true
}

// cutCounter removes a reply counter ("[3]", "(3)") from the start of s.
func cutCounter(s string) string {
	if s == "" || (s[0] != '[' && s[0] != '(') {
		return s
	}
	closer := byte(']')
	if s[0] == '(' {
		closer = ')'
	}
	i := 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 1 || i >= len(s) || s[i] != closer {
		return s
	}
	return s[i+1:]
}

// SubjectTag finds the gateway's "[tm:<id>]" tag in a subject and returns the
// collaboration id, lower-cased (MTAs and people may change its case).
func SubjectTag(s string) (id string, ok bool) {
	m := tagRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return strings.ToLower(m[1]), true
}
