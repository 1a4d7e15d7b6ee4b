package workflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Doc is a document as MatchDocuments sees it.
type Doc struct {
	ID, Name string
}

// DocKey normalises an attachment filename to the key that identifies its
// document across versions (DESIGN §3): people rename the file they send back
// ("contract v2 - AXE comments.docx"), so the key is the lower-cased name with
// the extension kept and the stem stripped of copy, version, status and date
// markers, of the given party names (whole words, case-insensitive) and of
// bracketed comments, separators collapsed to one space. If stripping would
// leave the stem empty, the stem is kept unstripped (only lower-cased and its
// separators collapsed). partyNames may be nil. The result is never empty for
// a non-empty filename.
func DocKey(filename string, partyNames []string) string {
	return docKey(filename, partyWords(partyNames), false)
}

// MatchDocuments assigns each attachment filename to an existing document:
// first by equal DocKey of the document's Name and the filename, then, for
// attachments still unmatched, by being the only document with that extension
// while the attachment is the only unmatched one of that extension in this
// mail and no other attachment of this mail matched that document. It returns
// one document ID per filename, "" for a new document.
//
// Several attachments may match one document by key (a clean copy and a
// redline of the same contract); the caller decides what that means. Where
// several documents share a key, the one whose name equals the filename (case
// aside) wins, then the one whose name matches when bracketed text that is not
// a mere marker is kept ("Exhibit (A).docx" vs "Exhibit (B).docx"); an
// attachment that still fits more than one is a new document rather than a
// guess.
func MatchDocuments(filenames []string, docs []Doc, partyNames []string) []string {
	parties := partyWords(partyNames)
	keys := make([]string, len(docs))
	for i, d := range docs {
		keys[i] = docKey(d.Name, parties, false)
	}

	ids := make([]string, len(filenames))
	claimed := make(map[string]bool)
	for j, fn := range filenames {
		key := docKey(fn, parties, false)
		var cands []int
		for i := range docs {
			if keys[i] == key {
				cands = append(cands, i)
			}
		}
		if i, ok := pickCandidate(fn, cands, docs, parties); ok {
			ids[j] = docs[i].ID
			claimed[docs[i].ID] = true
		}
	}

	// The extension fallback: a renamed file ("AXE markup.docx") still belongs
	// to the one .docx of the collaboration when nothing else could be meant.
	docsByExt := make(map[string][]int)
	for i, d := range docs {
		// A name without an extension says nothing about what kind of file it is.
		if ext := lowerExt(d.Name); ext != "" {
			docsByExt[ext] = append(docsByExt[ext], i)
		}
	}
	unmatchedByExt := make(map[string]int)
	for j, fn := range filenames {
		if ids[j] == "" {
			unmatchedByExt[lowerExt(fn)]++
		}
	}
	for j, fn := range filenames {
		ext := lowerExt(fn)
		if ids[j] != "" || ext == "" || unmatchedByExt[ext] != 1 || len(docsByExt[ext]) != 1 {
			continue
		}
		if d := docs[docsByExt[ext][0]]; !claimed[d.ID] {
			ids[j] = d.ID
			claimed[d.ID] = true
		}
	}
	return ids
}

func lowerExt(name string) string {
	_, ext := splitExt(strings.TrimSpace(name))
	return strings.ToLower(ext)
}

// pickCandidate chooses among the documents (indexes into docs) whose key
// equals filename's.
func pickCandidate(filename string, cands []int, docs []Doc, parties [][]string) (int, bool) {
	switch len(cands) {
	case 0:
		return 0, false
	case 1:
		return cands[0], true
	}
	if i, ok := only(cands, func(i int) bool { return strings.EqualFold(docs[i].Name, filename) }); ok {
		return i, true
	}
	fine := docKey(filename, parties, true)
	return only(cands, func(i int) bool { return docKey(docs[i].Name, parties, true) == fine })
}

// only returns the single element of s for which f holds.
func only(s []int, f func(int) bool) (int, bool) {
	found, n := 0, 0
	for _, i := range s {
		if f(i) {
			found = i
			n++
		}
	}
	return found, n == 1
}

// VersionedName is how version n of a document is named when sent out:
// "contract.docx", 2 → "contract (v2).docx"; "notes", 2 → "notes (v2)";
// ".env", 2 → ".env (v2)". A version marker of this form already at the end of
// the stem is replaced, not doubled.
func VersionedName(name string, n int) string {
	stem, ext := splitExt(strings.TrimSpace(name))
	stem = strings.TrimSpace(trailingVersion.ReplaceAllString(stem, ""))
	if stem == "" {
		stem = "document"
	}
	return fmt.Sprintf("%s (v%d)%s", stem, n, ext)
}

var trailingVersion = regexp.MustCompile(`\s*\(v\d+\)$`)

// compoundExts are the multi-part extensions kept whole, so that
// "backup.tar.gz" versions as "backup (v2).tar.gz".
var compoundExts = []string{".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst"}

// splitExt splits a filename into stem and extension (with its dot, case
// kept). An extension is 1–10 letters or digits with at least one letter, so
// "report 2.1" and "notes v2.1" have none; a leading dot starts a dotfile's
// name, not an extension.
func splitExt(name string) (stem, ext string) {
	for _, ce := range compoundExts {
		if i := len(name) - len(ce); i > 0 && strings.EqualFold(name[i:], ce) {
			return name[:i], name[i:]
		}
	}
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	// Judged lower-cased, as keys are: "İ" lower-cases to "i" and a mark.
	n, letter := 0, false
	for _, r := range strings.ToLower(name[i+1:]) {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r):
		case unicode.IsMark(r):
			continue
		default:
			return name, ""
		}
		n++
	}
	if n == 0 || n > 10 || !letter {
		return name, ""
	}
	return name[:i], name[i:]
}

// docKey is DocKey with the party names already split into words. With fine,
// bracketed text is dropped only when it is nothing but markers; it tells
// apart documents whose names differ only inside brackets.
func docKey(filename string, parties [][]string, fine bool) string {
	name := strings.TrimSpace(filename)
	stem, ext := splitExt(name)
	ext = strings.ToLower(ext)
	stem = strings.ToLower(stem)

	toks := stripMarkers(tokenize(dropBrackets(stem, parties, fine)), parties)
	if len(toks) == 0 {
		toks = tokenize(stem)
	}
	if len(toks) == 0 {
		// Nothing but separators: keep the name as it is rather than return "".
		if stem == "" && ext == "" {
			return strings.ToLower(filename)
		}
		return stem + ext
	}
	return joinTokens(toks) + ext
}

// dropBrackets replaces each outermost (…), […] or {…} group of s with a
// space (with fine: only groups that are nothing but markers). Unmatched
// brackets become separators.
func dropBrackets(s string, parties [][]string, fine bool) string {
	var b strings.Builder
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '[', '{':
			if depth == 0 {
				start = i
			}
			depth++
		case ')', ']', '}':
			switch depth {
			case 0:
				b.WriteByte(' ')
			case 1:
				b.WriteByte(' ')
				if fine {
					inner := stripMarkers(tokenize(dropBrackets(s[start+1:i], parties, true)), parties)
					// A lone number is a copy marker: "contract (1)".
					if len(inner) != 1 || !digits.MatchString(inner[0].word) {
						b.WriteString(joinTokens(inner))
						b.WriteByte(' ')
					}
				}
				depth = 0
			default:
				depth--
			}
		default:
			if depth == 0 {
				b.WriteRune(r)
			}
		}
	}
	if depth > 0 {
		// An unclosed group is not a comment: keep its text.
		b.WriteByte(' ')
		b.WriteString(dropBrackets(s[start+1:], parties, fine))
	}
	return b.String()
}

// token is one word of a stem and the run of separators before it.
type token struct {
	sep, word string
}

func isSep(r rune) bool {
	switch r {
	case '_', '-', '.', ',', '–', '—', '(', ')', '[', ']', '{', '}':
		return true
	}
	return unicode.IsSpace(r)
}

func tokenize(s string) []token {
	var toks []token
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return !isSep(r) })
		if i < 0 {
			break
		}
		sep := s[:i]
		s = s[i:]
		j := strings.IndexFunc(s, isSep)
		if j < 0 {
			j = len(s)
		}
		toks = append(toks, token{sep: sep, word: s[:j]})
		s = s[j:]
	}
	return toks
}

func joinTokens(toks []token) string {
	words := make([]string, len(toks))
	for i, t := range toks {
		words[i] = t.word
	}
	return strings.Join(words, " ")
}

// partyWords splits party names into lower-case words the way stems are.
func partyWords(names []string) [][]string {
	var out [][]string
	for _, n := range names {
		toks := tokenize(strings.ToLower(n))
		if len(toks) == 0 {
			continue
		}
		words := make([]string, len(toks))
		for i, t := range toks {
			words[i] = t.word
		}
		out = append(out, words)
	}
	return out
}

// stripMarkers removes markers from toks until none is left, since removing
// one can bring others together ("Nov final 24" → "Nov 24").
func stripMarkers(toks []token, parties [][]string) []token {
	for {
		next := stripPass(toks, parties)
		if len(next) == len(toks) {
			return next
		}
		toks = next
	}
}

// stripPass removes the markers it finds in one left-to-right scan. The
// separators of a removed run are kept with the next word so that rules
// looking at separators see what the person wrote.
func stripPass(toks []token, parties [][]string) []token {
	var out []token
	pending := ""
	for i := 0; i < len(toks); {
		if n := markerLen(toks, i, len(out) == 0, parties); n > 0 {
			for k := i; k < i+n; k++ {
				pending += toks[k].sep
			}
			i += n
			continue
		}
		t := toks[i]
		t.sep = pending + t.sep
		pending = ""
		out = append(out, t)
		i++
	}
	return out
}

// markerWords are removed wherever they stand as a whole word: status and
// review markers, in English and the languages our users write in most.
var markerWords = map[string]bool{
	"final": true, "clean": true, "redline": true, "redlined": true, "blackline": true, "draft": true,
	"edited": true, "edits": true, "tracked": true, "changes": true, "comments": true, "commented": true,
	"markup": true, "revised": true,
	// German, French, Spanish, Italian.
	"entwurf": true, "änderungen": true, "aenderungen": true, "kommentare": true,
	"brouillon": true, "commentaires": true, "finale": true,
	"borrador": true, "cambios": true, "comentarios": true, "bozza": true,
}

// copyWords mark a copy ("contract copy 2", "contract - Copy") and, with the
// word mapped to at the start of a name, prefix one ("Copy of contract").
var copyWords = map[string]string{"copy": "of", "kopie": "von", "copie": "de", "copia": "de"}

var (
	// versionWord is a version marker in one word: v2, v03, rev2, version3,
	// and status words numbered as people do (draft2, final3).
	versionWord = regexp.MustCompile(`^(v|ver|version|rev|revision|draft|final|copy)\d+$`)
	// versionLead is a version word that wants a number after it: "version 3".
	versionLead = map[string]bool{"v": true, "ver": true, "version": true, "rev": true, "revision": true}
	revWord     = regexp.MustCompile(`^r\d{1,3}$`)
	digits      = regexp.MustCompile(`^\d+$`)
	// monthWord is a date in one word: 24nov2026, 24nov, nov24, nov2026.
	monthWord = regexp.MustCompile(`^(\d{1,2}(` + monthAlt + `)(\d{2}|\d{4})?|(` + monthAlt + `)(\d{1,2}|\d{4}))$`)
	dayWord   = regexp.MustCompile(`^(\d{1,2})(st|nd|rd|th)?$`)
)

const monthAlt = `jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|` +
	`sep|sept|september|oct|october|nov|november|dec|december`

var months = func() map[string]bool {
	m := make(map[string]bool)
	for _, s := range strings.Split(monthAlt, "|") {
		m[s] = true
	}
	return m
}()

// markerLen reports how many tokens from toks[i] form a marker, 0 for none.
// atStart says no word is kept before toks[i].
func markerLen(toks []token, i int, atStart bool, parties [][]string) int {
	w := toks[i].word
	next := ""
	if i+1 < len(toks) {
		next = toks[i+1].word
	}
	if of, ok := copyWords[w]; ok {
		switch {
		case atStart && next == of:
			return 2
		case len(next) <= 2 && digits.MatchString(next): // macOS: "contract copy 2"
			return 2
		}
		return 1
	}
	if versionWord.MatchString(w) {
		return 1 + dottedDigits(toks, i+1)
	}
	if markerWords[w] {
		return 1
	}
	if versionLead[w] {
		if digits.MatchString(next) {
			return 2 + dottedDigits(toks, i+2)
		}
		// Engineering-style letter revisions: "rev A".
		if (w == "rev" || w == "revision") && len(next) == 1 && next[0] >= 'a' && next[0] <= 'z' {
			return 2
		}
	}
	// "r2" is read as a revision only where nothing else could be meant: tied
	// to the name by _ or - and at its end ("contract_r2", not "Form R2").
	if revWord.MatchString(w) && !atStart && i == len(toks)-1 && strings.ContainsAny(toks[i].sep, "_-") {
		return 1
	}
	if n := dateLen(toks, i); n > 0 {
		return n
	}
	if n := partyLen(toks, i, parties); n > 0 {
		return n
	}
	// "contract with AXE comments": joining words go with the marker.
	j := i
	for j < len(toks) && connectors[toks[j].word] {
		j++
	}
	if j > i && j < len(toks) && markerLen(toks, j, false, parties) > 0 {
		return j - i
	}
	return 0
}

// connectors join a name to the markers after it.
var connectors = map[string]bool{"with": true, "w": true, "incl": true, "mit": true, "avec": true, "con": true}

// dottedDigits counts the ".N" parts that continue a version number at
// toks[i]: the "1" of "v2.1".
func dottedDigits(toks []token, i int) int {
	n := 0
	for ; i < len(toks) && toks[i].sep == "." && digits.MatchString(toks[i].word); i++ {
		n++
	}
	return n
}

// dateLen reports how many tokens from toks[i] form a date.
func dateLen(toks []token, i int) int {
	w := toks[i].word
	// 20261124, 24112026, 11242026.
	if len(w) == 8 && digits.MatchString(w) &&
		(isYMD(w[:4], w[4:6], w[6:]) || isYMD(w[4:], w[2:4], w[:2]) || isYMD(w[4:], w[:2], w[2:4])) {
		return 1
	}
	if monthWord.MatchString(w) {
		return 1
	}
	// Three numbers joined by one repeated separator: 2026-11-24, 24.11.2026,
	// 11-24-26, 2026_11_24.
	if i+2 < len(toks) {
		t0, t1, t2 := toks[i], toks[i+1], toks[i+2]
		if t1.sep == t2.sep && (t1.sep == "-" || t1.sep == "." || t1.sep == "_") &&
			digits.MatchString(t0.word) && digits.MatchString(t1.word) && digits.MatchString(t2.word) &&
			numericDate(t0.word, t1.word, t2.word) {
			return 3
		}
	}
	// Month names: "24 Nov 2026", "24th November", "Nov 24", "November 24, 2026", "Nov 2026".
	if dayWord.MatchString(w) && i+1 < len(toks) && months[toks[i+1].word] && validDay(w) {
		return 2 + yearAt(toks, i+2, true)
	}
	if months[w] && i+1 < len(toks) {
		next := toks[i+1].word
		if dayWord.MatchString(next) && validDay(next) {
			return 2 + yearAt(toks, i+2, false)
		}
		if yearAt(toks, i+1, false) == 1 {
			return 2
		}
	}
	return 0
}

// yearAt is 1 if toks[i] is a year: four digits, or two where short years
// are usual (after day and month: 24-Nov-26).
func yearAt(toks []token, i int, short bool) int {
	if i >= len(toks) || !digits.MatchString(toks[i].word) {
		return 0
	}
	switch w := toks[i].word; {
	case len(w) == 4 && isYear(w), short && len(w) == 2:
		return 1
	}
	return 0
}

func validDay(w string) bool {
	m := dayWord.FindStringSubmatch(w)
	d, _ := strconv.Atoi(m[1])
	return d >= 1 && d <= 31
}

// numericDate reports whether a, b, c read as a date in some order people
// write: Y-M-D, D-M-Y or M-D-Y with four-digit years, or all three of two
// digits (24.11.26, 11-24-26, 26-11-24).
func numericDate(a, b, c string) bool {
	switch {
	case len(a) == 4:
		return len(b) <= 2 && len(c) <= 2 && isYMD(a, b, c)
	case len(c) == 4:
		return len(a) <= 2 && len(b) <= 2 && (isYMD(c, b, a) || isYMD(c, a, b))
	case len(a) == 2 && len(b) == 2 && len(c) == 2:
		return isYMD("20"+c, b, a) || isYMD("20"+c, a, b) || isYMD("20"+a, b, c)
	}
	return false
}

func isYear(y string) bool {
	n, err := strconv.Atoi(y)
	return err == nil && n >= 1900 && n <= 2099
}

func isYMD(y, m, d string) bool {
	mn, err1 := strconv.Atoi(m)
	dn, err2 := strconv.Atoi(d)
	return isYear(y) && err1 == nil && err2 == nil && mn >= 1 && mn <= 12 && dn >= 1 && dn <= 31
}

// partyLen reports how many tokens from toks[i] spell one of the party
// names, the last word possibly possessive ("AXE's"); the longest name wins.
func partyLen(toks []token, i int, parties [][]string) int {
	best := 0
	for _, p := range parties {
		if i+len(p) > len(toks) {
			continue
		}
		ok := true
		for k, pw := range p {
			w := toks[i+k].word
			if k == len(p)-1 {
				w = strings.TrimSuffix(strings.TrimSuffix(w, "'s"), "’s")
			}
			if w != pw {
				ok = false
				break
			}
		}
		if ok {
			best = max(best, len(p))
		}
	}
	return best
}
