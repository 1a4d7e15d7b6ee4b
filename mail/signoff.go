package mail

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// signOffSet and signOffList hold signOffs, normalised (normPhrase), the
	// list longest first.
	signOffSet, signOffList = phraseSet(signOffs)

	// closingCore and closingWord hold the words a closing line is made of
	// (isClosingWords): closingCore those that close on their own or end a
	// closing ("regards", "grüßen", "cumprimentos"), closingWord these and
	// the modifiers that lengthen one.
	closingCore, closingWord = closingWordSets()

	// signOffNameRe is what may follow a closing phrase on its line: the
	// name ("Thanks, Jane", "Cheers - Bob", "Best, J.") or where it is sent
	// from ("Viele Grüße aus Berlin").
	signOffNameRe = regexp.MustCompile(`^[,;–—-]? ?(?:(?i:aus|from|de|desde|da|dalla|uit|från|fra|z|из|з) )?` + nameRe + `$`)

	// sigTailProseRe is a line that reads as a sentence, not as a name, a
	// title, a company or a phone number: it asks, exclaims or introduces, it
	// is a postscript, or it starts in lower case.
	sigTailProseRe = regexp.MustCompile(`(?i)[?？!！:：]` + reBlank + `*$|^p\.?s\.?\b|^(?-i:\p{Ll})\p{L}*` + reBlank + `+\p{L}+` + reBlank + `+\p{L}`)
)

// nameRe is a name of up to four words, each capitalised or an initial:
// "Jane", "J.", "Jane Doe", "María José García", "JD".
const nameRe = `(?-i:\p{Lu}[\p{L}'’.-]*(?:` + reBlank + `+\p{Lu}[\p{L}'’.-]*){0,3})`

// Bounds of the lines after a sign-off.
const (
	maxSignOffTail     = 7   // lines of name, title, company, phone
	maxClosingLines    = 3   // closing lines in a row ("Thanks again!" / "Best,")
	maxSignOffTailLen  = 60  // runes of a line of name or title
	maxSignOffInfoLen  = 100 // runes of a line with a number, an address or a link
	maxSignOffTailWord = 8   // words of one such line (twice that with a number or link)
)

// cutSignOff cuts a sign-off at the end of text: the last run of closing
// lines ("Regards,", "Thanks again!" / "Best,") with at most seven short lines
// of name, title, company and phone below it, which read as no sentence.
// body is trimmed; off is what was cut.
func cutSignOff(text string) (body, off string) {
	lines := splitBodyLines(text)
	start := -1
	tail, closing := 0, 0
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimFunc(visible(lines[i]), isSpaceOrMark)
		switch {
		case l == "":
			continue
		case closing < maxClosingLines && isSignOff(l):
			start = i
			closing++
		case start >= 0:
			// Above the closing lines: the note.
		case isSigTailLine(l):
			if tail++; tail <= maxSignOffTail {
				continue
			}
			return joinTrimmed(lines), ""
		default:
			return joinTrimmed(lines), ""
		}
		if start >= 0 && start != i {
			break
		}
	}
	if start < 0 {
		return joinTrimmed(lines), ""
	}
	return joinTrimmed(lines[:start]), joinTrimmed(lines[start:])
}

func isSpaceOrMark(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' || r == '*' || r == '_'
}

// closingPunct is what may end a closing line, with emoji ("Thanks! 🙏"),
// the Arabic comma ("مع التحية،") and the Devanagari danda.
const closingPunct = " ,.!;:…。！、~)،।"

// Bounds of a closing line made of closing words.
const maxClosingWords = 6

func closingWordSets() (core, word map[string]bool) {
	core, word = map[string]bool{}, map[string]bool{}
	mods := map[string]bool{}
	for _, m := range closingModifiers {
		mods[normPhrase(m)] = true
		word[normPhrase(m)] = true
	}
	for _, p := range signOffs {
		ws := strings.Fields(normPhrase(p))
		for _, w := range ws {
			word[trimClosing(w)] = true
		}
		if last := trimClosing(ws[len(ws)-1]); len(ws) == 1 || !mods[last] {
			core[last] = true
		}
	}
	return core, word
}

// isClosingWords reports whether n, a normalised line without its closing
// punctuation, is a closing made of closing words: at most six, one of them
// one that closes ("Com os melhores cumprimentos", "Mit besten Grüßen",
// "Very best wishes"), so that a longer form of a known closing is one too.
func isClosingWords(n string) bool {
	ws := strings.Fields(n)
	if len(ws) < 2 || len(ws) > maxClosingWords {
		return false
	}
	core := false
	for _, w := range ws {
		w = trimClosing(w)
		if !closingWord[w] {
			return false
		}
		core = core || closingCore[w]
	}
	return core
}

// thaiParticles end a polite Thai line ("ขอบคุณครับ", "ขอบคุณค่ะ"), a word of
// its own that Thai writes without a space.
var thaiParticles = []string{"ครับ", "ค่ะ", "คะ", "นะ", "จ้ะ", "จ้า"}

func trimThaiParticle(n string) string {
	for _, p := range thaiParticles {
		if t, ok := strings.CutSuffix(n, p); ok && t != "" {
			return strings.TrimRight(t, " ")
		}
	}
	return n
}

// trimClosing cuts closing punctuation and symbols off the end of s.
func trimClosing(s string) string {
	return strings.TrimRightFunc(s, func(r rune) bool {
		return strings.ContainsRune(closingPunct, r) || unicode.IsSpace(r) || unicode.Is(unicode.So, r) ||
			unicode.Is(unicode.Sk, r) || r == '\ufe0f' || r == '\u200d'
	})
}

// isSignOff reports whether the trimmed line l is a closing line: one of
// signOffs, maybe with a name after it, and closing punctuation.
func isSignOff(l string) bool {
	if len(l) > 120 {
		return false
	}
	n := trimClosing(normPhrase(l))
	if signOffSet[n] || signOffSet[trimThaiParticle(n)] || isClosingWords(n) {
		return true
	}
	// A longer closing with the name after a comma: "Com os melhores
	// cumprimentos, Inês".
	if i := strings.IndexAny(n, ",،"); i > 0 && isClosingWords(trimClosing(n[:i])) {
		orig := collapseSpace(strings.TrimSpace(l))
		if j := strings.IndexAny(orig, ",،"); j > 0 && signOffNameRe.MatchString(strings.TrimLeft(orig[j:], ", ،")) {
			return true
		}
	}
	// The name keeps its capitals: look for it in l with only its blanks
	// collapsed, when lowering kept every byte where it was.
	orig := trimClosing(collapseSpace(strings.TrimSpace(l)))
	if len(orig) != len(n) {
		return false
	}
	for _, p := range signOffList {
		rest, ok := strings.CutPrefix(n, p)
		if !ok || rest == "" {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(rest); unicode.IsLetter(r) {
			continue
		}
		return signOffNameRe.MatchString(strings.TrimLeft(orig[len(p):], " "))
	}
	return false
}

// phraseSet returns phrases normalised as a set and as a list, longest
// first.
func phraseSet(phrases []string) (map[string]bool, []string) {
	set := make(map[string]bool, len(phrases))
	var list []string
	for _, p := range phrases {
		if p = normPhrase(p); p != "" && !set[p] {
			set[p] = true
			list = append(list, p)
		}
	}
	slices.SortStableFunc(list, func(a, b string) int { return len(b) - len(a) })
	return set, list
}

// isSigTailLine reports whether the trimmed line l can be part of what
// follows a sign-off: a name, a title, a company, an address, a phone number
// or a link, not a sentence.
func isSigTailLine(l string) bool {
	if len(l) > 4*maxSignOffInfoLen {
		return false
	}
	n := utf8.RuneCountInString(l)
	info := strings.ContainsAny(l, "0123456789@|") || strings.Contains(l, "://") || strings.Contains(l, "www.")
	switch {
	case n > maxSignOffInfoLen, n > maxSignOffTailLen && !info:
		return false
	case len(strings.Fields(l)) > maxSignOffTailWord && !info, len(strings.Fields(l)) > 2*maxSignOffTailWord:
		return false
	case sigTailProseRe.MatchString(l) && !info:
		return false
	case strings.HasSuffix(l, ".") && len(strings.Fields(l)) >= 4 && !info && hasLowerWord(l):
		// A sentence; "Bianchi & Figli S.r.l." is a company.
		return false
	case strings.HasSuffix(l, "。"):
		return false
	}
	return true
}

// hasLowerWord reports whether a word of l starts with a lower-case letter.
func hasLowerWord(l string) bool {
	for _, w := range strings.Fields(l) {
		if r, _ := utf8.DecodeRuneInString(w); unicode.IsLower(r) {
			return true
		}
	}
	return false
}
