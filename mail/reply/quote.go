package reply

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote stripping works like discourse's email_reply_trimmer: every line is
// classified (empty, text, quoted, attribution, split, forward), then the body
// is cut by the pattern the classes make. A marker is known by its shape and
// its words (quotewords.go), never by one client's exact line, so a date
// format, a wrapping or a client not seen before still matches. MAIL-NOTES
// "Where the new text ends" lists the cases.

// reBlank is a space of any kind: French typography puts a no-break space
// before ":" ("a écrit :"), and HTML bodies turned to text keep &nbsp;.
const reBlank = `[\s\p{Zs}]`

// reDigit is a digit as a date is written in any script: ASCII, and the
// Arabic-Indic and Persian digits ("۴ مارس ۲۰۲۴ ساعت ۱۰:۱۵").
const reDigit = `[0-9٠-٩۰-۹]`

var (
	// quotedRe matches a ">"-quoted line, as every plain-text client writes
	// them (RFC 3676 §4.5 quote depth).
	quotedRe = regexp.MustCompile(`^[ \t\p{Zs}]*>`)

	// attrVerbs finds one of attrVerbs as a word. Words in scripts without
	// spaces (写道, のメッセージ, 님이 작성) are found anywhere.
	attrVerbs = newPhraseMatcher(attrVerbWords, false)

	// attrVerbEndRe is what may follow a verb that ends the attribution: a
	// bracket ("napsal(a):") and the colon.
	attrVerbEndRe = regexp.MustCompile(`^ ?(?:\([^()]{0,20}\))? ?[:：] ?$`)

	// wrappedAddrEndRe is the end of an address that Gmail wrapped onto a
	// line of its own (Japanese: "… <taro@example.co.jp" / ">:"): it starts
	// with ">" but is no quote.
	wrappedAddrEndRe = regexp.MustCompile(`^[ \t]*>` + reBlank + `*[:：]` + reBlank + `*$`)

	// attrAddrRe is a mail address, bare or in brackets.
	attrAddrRe = regexp.MustCompile(`[^\s<>()\[\]"]+@[^\s<>()\[\]"]+\.[\p{L}\d]`)

	// attrDateRe is the part of a date a client always writes: a year or a
	// time of day.
	attrDateRe = regexp.MustCompile(reDigit + `{4}|` + reDigit + `{1,2}[:.h時시]` + reDigit + `{2}|` + reDigit + `{1,2}` + reBlank + `*(?:AM|PM|am|pm)|[上下]午|오[전후]`)

	// attrIntroRe starts an attribution: one of attrIntros, a date, or a
	// weekday and a day ("Tue, Mar 5", "tir. 5.", "вт, 5 мар.").
	attrIntroRe = regexp.MustCompile(`(?i)^(?:(?:` + wordsRe(attrIntros) + `)(?:` + reBlank + `|$)|\d|\p{L}{2,12}\.?,?` + reBlank + `+(?:\d|\p{L}{2,12}\.?` + reBlank + `+\d))`)

	// bannerRe is a dashed banner, its words in group 1: "-----Original
	// Message-----", "----- Original Message -----", "-------- Forwarded
	// Message --------", "---------- Forwarded message ---------",
	// "-----Reply Message-----", Samsung's "-------- Original message
	// --------", Seznam's "---------- Původní e-mail ----------". It is one only when the words name a message (bannerNouns)
	// or say it is forwarded (forwardWords).
	bannerRe = regexp.MustCompile(`^[\s\p{Zs}*>]*[-=_]{2,}` + reBlank + `*([^-=_\s\p{Zs}](?:[^-=_]|-[^-=_\s]){0,60}?)` + reBlank + `*[-=_]{2,}[\s\p{Zs}*]*$`)

	// bannerWords and forwardWords find those words, also as the start of
	// a longer one ("Forwarded", "Weitergeleitete").
	bannerWords  = newPhraseMatcher(bannerNouns, true)
	forwardWords = newPhraseMatcher(forwardWordList, true)

	// ruleRe is a horizontal rule: Outlook's "________________________________"
	// above its header block, Gmail's rendering of it (" ------------------"),
	// and the "---" HTMLToText writes for <hr>.
	ruleRe = regexp.MustCompile(`^[\s\p{Zs}*]*(?:_{3,}|-{3,}|—{2,})[\s\p{Zs}*]*$`)
)

// outlookField sorts the names of the header block's fields: a block counts
// only when it names a sender.
type outlookField uint8

const (
	fieldOther outlookField = iota
	fieldSender
	fieldDate
)

// outlookFieldOf returns the kind of the header block field line l starts
// with, and false if it starts with none. Gmail shows the names in bold when
// it renders an Outlook reply ("*From:*"), a quoted block has "> " before
// them, Chinese and Japanese Outlook write a full-width colon, French a
// no-break space before it.
func outlookFieldOf(l string) (outlookField, bool) {
	if len(l) > 96 {
		l = l[:96] // a field name is near the start; keep a hostile line cheap
	}
	i := strings.IndexAny(l, ":：")
	if i <= 0 {
		return fieldOther, false
	}
	name := strings.TrimFunc(l[:i], func(r rune) bool {
		return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) || r == '*' || r == '>'
	})
	kind, ok := outlookFields[normPhrase(name)]
	return kind, ok
}

// quoteLine is the class of one line of a body.
type quoteLine uint8

const (
	lineEmpty   quoteLine = iota
	lineText              // the writer's own text, as far as can be told
	lineQuoted            // starts with ">"
	lineAttr              // "On … wrote:" and its translations, possibly wrapped or quoted
	lineSplit             // Outlook-style start of the quoted thread: banner, rule + header block, header block
	lineForward           // start of a forwarded message: "---------- Forwarded message ---------", "Begin forwarded message:"
)

// Bounds that keep the classifier from reading prose as markers, and keep it
// linear on hostile input.
const (
	maxAttrLen      = 400  // bytes of an attribution, wrapped lines joined
	maxWeakAttrLen  = 100  // runes of an attribution without date or address
	maxVerblessLen  = 250  // runes of an attribution with no verb
	maxAttrLines    = 3    // lines an attribution may be wrapped over
	maxBlockScan    = 16   // lines looked at for one header block
	maxBlockWrapped = 2    // wrapped continuation lines in a header block
	maxMarkerLen    = 400  // bytes of a line that can be a banner or a rule
	minQuotedLines  = 3    // ">" lines that make a quote without an attribution (talon's rule)
	maxVisibleLine  = 2048 // bytes of a line that invisible characters are taken out of
)

// StripQuote returns the new text of a reply body (text/plain, already decoded
// to UTF-8) and the quoted part that was cut, so nothing is lost.
//
// Outlook-style markers (an "-----Original Message-----" banner, a rule
// followed by a From:/Sent: block, or such a block alone) start the quoted
// thread: everything from the first of them down is cut (a body that starts
// with one has no new text). Above that, an attribution ("On … wrote:") with
// text before it and no new text below its quote is cut the same way;
// otherwise attributions and ">" lines are dropped and the text between them
// kept, so a bottom-poster keeps the answer below the quote and an inline
// reply keeps its new lines. Without an attribution, fewer than three ">"
// lines in the middle of the text are the writer's own. A forwarded message
// ("---------- Forwarded message ---------", "Begin forwarded message:")
// below the new text is part of it and stays in reply. The reply is trimmed of
// surrounding blank lines; trailing spaces inside it are kept.
func StripQuote(body string) (reply, rest string) {
	note, fwd, cut, _ := stripQuote(body)
	return joinParts(note, fwd), cut
}

// stripQuote is StripQuote with the new text and the forwarded message it
// introduces kept apart, for Extract to cut the signature of the new
// text alone. interleaved reports whether a quote was taken out between
// lines of new text (an inline reply), where a last short line answers the
// quote above it.
func stripQuote(body string) (note, forward, rest string, interleaved bool) {
	lines := splitBodyLines(body)
	seen := visibleLines(lines)
	kinds := classifyLines(seen)

	end := len(lines)
	if i := slices.IndexFunc(kinds, func(k quoteLine) bool { return k == lineSplit || k == lineForward }); i >= 0 {
		end = i
		if kinds[i] == lineSplit && blockForwarded(seen, kinds, i) {
			kinds[i] = lineForward
		}
		if kinds[i] == lineForward {
			forward = joinTrimmed(lines[i:])
			lines, kinds = lines[:i], kinds[:i]
		}
	}
	if a := slices.Index(kinds[:end], lineAttr); a >= 0 && slices.Contains(kinds[:a], lineText) && !newTextBelow(kinds[a:end]) {
		end = a
	}
	region := kinds[:end]
	dropQuoted := slices.Contains(region, lineAttr) || countKind(region, lineQuoted) >= minQuotedLines
	lastText := slices.Index(region, lineText)
	if lastText >= 0 {
		lastText = len(region) - 1 - slices.Index(reversedKinds(region), lineText)
	}

	kept := make([]string, 0, end)
	var cut []string
	dropped := false
	for i, l := range lines[:end] {
		switch k := kinds[i]; {
		case k == lineAttr, k == lineQuoted && (dropQuoted || i > lastText && lastText >= 0):
			// A quoted run after the last line of text is the quote of a
			// top-poster, however short.
			cut = append(cut, l)
			dropped = true
		case k == lineEmpty && dropped && len(kept) > 0 && strings.TrimSpace(kept[len(kept)-1]) == "":
			// One blank line is enough where a quoted run was taken out.
		default:
			kept = append(kept, l)
			if k != lineEmpty {
				if dropped && !isBlankLines(kept[:len(kept)-1]) {
					interleaved = true
				}
				dropped = false
			}
		}
	}
	cut = append(cut, lines[end:]...)
	return joinTrimmed(kept), forward, joinTrimmed(cut), interleaved
}

// newTextBelow reports whether the writer's text follows the quote that an
// attribution starts: a bottom-post or an inline reply, rather than a quote
// that lost its ">" marks (Outlook for iOS, some webmails).
func newTextBelow(kinds []quoteLine) bool {
	quoted := false
	for _, k := range kinds {
		switch k {
		case lineQuoted:
			quoted = true
		case lineText:
			return quoted
		}
	}
	return false
}

func reversedKinds(kinds []quoteLine) []quoteLine {
	r := slices.Clone(kinds)
	slices.Reverse(r)
	return r
}

// joinParts joins the non-empty parts with a blank line.
func joinParts(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

// splitBodyLines splits a body into lines, whatever its line endings.
func splitBodyLines(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	return strings.Split(body, "\n")
}

// joinTrimmed joins lines, leaving out blank lines at either end and
// trailing white space at the end.
func joinTrimmed(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.TrimRightFunc(strings.Join(lines, "\n"), unicode.IsSpace)
}

func countKind(kinds []quoteLine, k quoteLine) int {
	n := 0
	for _, kk := range kinds {
		if kk == k {
			n++
		}
	}
	return n
}

// classifyLines gives every line its class. Attributions are found from the
// line that ends them, looking back over lines a client wrapped; splits and
// forwards only among unquoted lines.
func classifyLines(lines []string) []quoteLine {
	kinds := make([]quoteLine, len(lines))
	for i, l := range lines {
		switch {
		case isBlank(l):
			kinds[i] = lineEmpty
		case quotedRe.MatchString(l) && !wrappedAddrEndRe.MatchString(l):
			kinds[i] = lineQuoted
		default:
			kinds[i] = lineText
		}
	}
	for j, l := range lines {
		if kinds[j] == lineText && !endsWithColon(l) && !endsWithAddr(l) && inlineAttribution(l) {
			kinds[j] = lineAttr
			continue
		}
		if kinds[j] == lineEmpty || !endsWithColon(l) && !endsWithAddr(l) {
			continue
		}
		if s := attributionStart(lines, kinds, j); s >= 0 {
			for i := s; i <= j; i++ {
				kinds[i] = lineAttr
			}
		}
	}
	for i := range lines {
		if kinds[i] != lineText {
			continue
		}
		switch {
		case isForward(lines, kinds, i):
			kinds[i] = lineForward
		case isSplit(lines, kinds, i):
			kinds[i] = lineSplit
		}
	}
	return kinds
}

// isInvisible reports whether r is a format character that shows nothing:
// the bidi marks, embeddings and isolates Gmail wraps Hebrew and Arabic
// attributions in (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), zero-width
// spaces and joiners, and the byte order mark.
func isInvisible(r rune) bool {
	return r == '\u200e' || r == '\u200f' || r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069' ||
		r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
}

// visible returns l without its invisible characters (isInvisible), for
// matching markers: what the reader does not see cannot tell a marker apart.
func visible(l string) string {
	// All of them are three bytes long, starting 0xe2 0x80, 0xe2 0x81 or
	// 0xef 0xbb. A line longer than any marker is left alone: it is no
	// marker, and a hostile one stays cheap.
	if len(l) > maxVisibleLine || strings.IndexByte(l, 0xe2) < 0 && strings.IndexByte(l, 0xef) < 0 {
		return l
	}
	return strings.Map(func(r rune) rune {
		if isInvisible(r) {
			return -1
		}
		return r
	}, l)
}

// visibleLines returns lines through visible, sharing lines when none
// changes.
func visibleLines(lines []string) []string {
	var out []string
	for i, l := range lines {
		if v := visible(l); v != l {
			if out == nil {
				out = slices.Clone(lines)
			}
			out[i] = v
		}
	}
	if out == nil {
		return lines
	}
	return out
}

// isBlank reports whether l holds only white space, no-break spaces and
// zero-width characters (Outlook and Gmail leave U+200B and U+FEFF behind).
func isBlank(l string) bool {
	return strings.TrimFunc(l, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' || r == '\u200c' || r == '\u200d'
	}) == ""
}

// endsWithAddr reports whether l ends in a bracketed address, as old Gmail
// attributions do: "2013/7/20 sam via Discourse Meta <info@discourse.org>",
// with no colon.
func endsWithAddr(l string) bool {
	l = strings.TrimRightFunc(l, unicode.IsSpace)
	return strings.HasSuffix(l, ">") && strings.Contains(l, "@")
}

func endsWithColon(l string) bool {
	l = strings.TrimRightFunc(l, unicode.IsSpace)
	return strings.HasSuffix(l, ":") || strings.HasSuffix(l, "：")
}

// attributionStart returns the first line of the attribution that line j
// ends, or -1. An attribution may be wrapped over up to three lines, with no
// line ending a sentence before j: it starts on line j if j alone is one and
// starts like one; else on the nearest line above that starts like one
// ("On", "Le", a date…) and holds a date or an address; else on line j if j
// alone is one with a date or an address; else on the nearest line above
// with a date or an address that makes one ("<name> <addr> schrieb am Di.,
// 16. Aug. 2016" / "um 12:52 Uhr:"); else on j if j alone is one ("Bob
// wrote:" above a quote).
func attributionStart(lines []string, kinds []quoteLine, j int) int {
	if len(lines[j]) > maxAttrLen {
		return -1
	}
	quoted := nextIsQuoted(kinds, j)
	single := isAttribution(attrText(lines[j]), quoted)
	if single && attrIntroRe.MatchString(attrText(lines[j])) {
		return j
	}
	var above []int // lines that could start a wrapped attribution, nearest first
	for s := j - 1; s >= 0 && s > j-maxAttrLines && sameRun(kinds, s, j); s-- {
		if sentenceEnd(lines[s]) && !dateWrapEnd(attrText(lines[s])) {
			break
		}
		if t := attrText(lines[s]); strings.Contains(t, "@") || hasDateDigit(t) {
			above = append(above, s)
		}
	}
	for _, s := range above {
		if attrIntroRe.MatchString(attrText(lines[s])) && isAttribution(attrJoin(lines[s:j+1]), quoted) {
			return s
		}
	}
	// A line with a date or an address is an attribution of its own; one
	// with only the verb ("menulis:", "a écrit :") ends a wrapped one.
	if single && attrEvidence(attrText(lines[j])) {
		return j
	}
	for _, s := range above {
		if isAttribution(attrJoin(lines[s:j+1]), quoted) {
			return s
		}
	}
	if single {
		return j
	}
	return -1
}

// attrJoin joins the lines of a wrapped attribution into one, or returns ""
// when it is too long to be one.
func attrJoin(lines []string) string {
	parts := make([]string, len(lines))
	n := 0
	for i, l := range lines {
		if n += len(l); n > maxAttrLen {
			return ""
		}
		parts[i] = attrText(l)
	}
	return strings.Join(parts, " ")
}

// sameRun reports whether lines s..j are all non-empty and all quoted or all
// unquoted, as the lines of one attribution are.
func sameRun(kinds []quoteLine, s, j int) bool {
	for i := s; i <= j; i++ {
		if kinds[i] != kinds[s] || kinds[i] == lineEmpty || kinds[i] == lineAttr {
			return false
		}
	}
	return true
}

// attrText is a line without what precedes an attribution (the quote marks
// of one that is itself quoted, Apple Mail, iOS: "> On 22 Aug 2015, …"; the
// dashes of old Yahoo: "--- On Tue, … wrote:") and surrounding space.
func attrText(l string) string {
	l = strings.TrimLeftFunc(l, func(r rune) bool { return r == '>' || unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) })
	if t := strings.TrimLeft(l, "-"); len(l)-len(t) >= 2 {
		l = strings.TrimLeftFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) })
	}
	return strings.TrimRightFunc(l, unicode.IsSpace)
}

// isAttribution reports whether text, ending in a colon, is an attribution.
// With a verb ("wrote", "schrieb", "写道"…) it needs a date or an address,
// and one more sign that it is not a sentence of the writer's ("As I wrote
// on 5 March 2024, we need:"): a quote below it, an address, an intro word
// or the verb right before the colon; or, when short, only a quote below it
// ("Bob wrote:" + "> …"). Without a verb it needs an address, a quote below
// it and a date or a short line ("Ana Ionescu <ana@…>:"): Gmail in Russian, Japanese and Czech writes "<date>,
// <name> <addr>:", old Gmail "<date> <name> <addr>" with no colon at all.
func isAttribution(text string, quoted bool) bool {
	if text == "" || len(text) > maxAttrLen {
		return false
	}
	if !endsWithColon(text) {
		// Old Gmail: a date, a name and an address, then the quote.
		return quoted && endsWithAddr(text) && attrIntroRe.MatchString(text) && attrEvidence(text) &&
			attrDateRe.MatchString(text) && utf8.RuneCountInString(text) <= maxVerblessLen
	}
	addr := strings.Contains(text, "@") && attrAddrRe.MatchString(text)
	date := hasDateDigit(text) && attrDateRe.MatchString(text)
	if !quoted && !addr && !date {
		return false // most lines ending in a colon; say no before the costly part
	}
	norm := normPhrase(text)
	if end := attrVerbs.lastEnd(norm); end >= 0 {
		verbLast := attrVerbEndRe.MatchString(norm[end:])
		if addr || date {
			return quoted || addr || verbLast || attrIntroRe.MatchString(text)
		}
		return quoted && verbLast && utf8.RuneCountInString(text) <= maxWeakAttrLen
	}
	// A verb not known (a language not listed): the address and the quote
	// right below tell it, in a line short enough to be no sentence.
	n := utf8.RuneCountInString(text)
	return quoted && addr && (date && n <= maxVerblessLen || n <= maxWeakAttrLen)
}

// hasDateDigit reports whether text may hold a date: a digit of any script
// attrDateRe knows, or the words of a time of day without one (午, 오전).
func hasDateDigit(text string) bool {
	return strings.ContainsAny(text, "0123456789午오") || strings.ContainsAny(text, "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹")
}

// attrEvidence reports whether text holds a date or an address.
func attrEvidence(text string) bool {
	return strings.Contains(text, "@") && attrAddrRe.MatchString(text) ||
		hasDateDigit(text) && attrDateRe.MatchString(text)
}

func nextIsQuoted(kinds []quoteLine, j int) bool {
	for _, k := range kinds[j+1:] {
		if k != lineEmpty {
			return k == lineQuoted
		}
	}
	return false
}

// isForward reports whether unquoted line i starts a forwarded message: a
// banner that says so ("---------- Forwarded message ---------", "--------
// Weitergeleitete Nachricht --------"), or a short line ending in a colon
// that says so with a header block (maybe quoted) right below it (Apple Mail
// "Begin forwarded message:", "Début du message réexpédié :").
func isForward(lines []string, kinds []quoteLine, i int) bool {
	l := lines[i]
	if len(l) > maxMarkerLen || !dashed(l) && !endsWithColon(l) || !forwardWords.match(l) {
		return false
	}
	if m := bannerRe.FindStringSubmatch(l); m != nil {
		return true
	}
	if !endsWithColon(l) || utf8.RuneCountInString(strings.TrimSpace(l)) > 60 {
		return false
	}
	for k := i + 1; k < len(lines) && k <= i+3; k++ {
		if kinds[k] != lineEmpty {
			_, ok := outlookFieldOf(lines[k])
			return ok
		}
	}
	return false
}

// isSplit reports whether unquoted line i starts an Outlook-style quoted
// thread: a banner naming the original message, a rule with a header block
// below it (past at most two blank lines), or a header block.
func isSplit(lines []string, kinds []quoteLine, i int) bool {
	l := lines[i]
	if len(l) > maxMarkerLen {
		return headerBlockAt(lines, kinds, i)
	}
	if dashed(l) {
		if m := bannerRe.FindStringSubmatch(l); m != nil && (bannerWords.match(m[1]) || headerBlockBelow(lines, kinds, i)) {
			return true
		}
		if ruleRe.MatchString(l) {
			return headerBlockBelow(lines, kinds, i)
		}
		if dashedAttribution(l) {
			return true
		}
	}
	if isBareBanner(l) && i+1 < len(lines) && kinds[i+1] == lineText && headerBlockAt(lines, kinds, i+1) {
		return true
	}
	return headerBlockAt(lines, kinds, i)
}

// dashedAttribution reports whether l is an attribution between dashes, as
// Zoho writes it: "---- On Mon, 11 Nov 2024 14:03:12 +0100 Bob <bob@…>
// wrote ----", with no colon.
func dashedAttribution(l string) bool {
	t := strings.TrimSpace(l)
	if !strings.HasPrefix(t, "--") || !strings.HasSuffix(t, "--") {
		return false
	}
	inner := strings.TrimSpace(strings.Trim(t, "-"))
	return inner != "" && attrEvidence(inner) && attrVerbs.lastEnd(normPhrase(inner)) >= 0
}

// isBareBanner reports whether l names the original message without dashes
// ("  Original Message  ", BlackBerry): a few words with a banner noun and
// no sentence. It counts only right above a header block.
func isBareBanner(l string) bool {
	t := strings.TrimSpace(l)
	return t != "" && utf8.RuneCountInString(t) <= 40 && len(strings.Fields(t)) <= 4 &&
		!sentenceEnd(t) && !endsWithColon(t) && bannerWords.match(t)
}

// dashed reports whether l has what every banner and rule has: two dashes,
// equals signs or underscores in a row.
func dashed(l string) bool {
	return strings.Contains(l, "--") || strings.Contains(l, "__") || strings.Contains(l, "==") || strings.Contains(l, "——")
}

// sentenceEnd reports whether l ends a line of prose, which a wrapped
// attribution's first lines never do.
func sentenceEnd(l string) bool {
	r, _ := utf8.DecodeLastRuneInString(strings.TrimRightFunc(l, unicode.IsSpace))
	return strings.ContainsRune(".!?;。！？", r)
}

// ordinalDayEndRe is a line ending in a day of the month with its ordinal
// dot, as German, Scandinavian, Czech or Polish dates write it ("Di., 12.").
var ordinalDayEndRe = regexp.MustCompile(`(?:^|[\s\p{Zs},])[0-9]{1,2}\.$`)

// dateWrapEnd reports whether l, which ends in a full stop, is rather an
// attribution wrapped inside its date: Gmail for Android breaks "Katharina
// Hoffmann <k@…> schrieb am Di., 12." / "März 2024, 10:14:". The dot is a day's
// ordinal one, and the line has an address, an intro word or a verb of an
// attribution, so a sentence of the writer's ("We meet on the 12.") is not
// taken.
func dateWrapEnd(l string) bool {
	if len(l) > maxAttrLen || !ordinalDayEndRe.MatchString(l) {
		return false
	}
	return strings.Contains(l, "@") && attrAddrRe.MatchString(l) || attrIntroRe.MatchString(l) ||
		attrVerbs.lastEnd(normPhrase(l)) >= 0
}

// headerBlockBelow reports whether a header block starts below line i, past
// at most two blank lines.
func headerBlockBelow(lines []string, kinds []quoteLine, i int) bool {
	for k := i + 1; k < len(lines) && k <= i+3; k++ {
		if kinds[k] != lineEmpty {
			return headerBlockAt(lines, kinds, k)
		}
	}
	return false
}

// headerBlockAt reports whether an Outlook header block starts at line i:
// unquoted field lines, with single blank lines between them (Outlook's HTML
// turned to text) and values wrapped onto a next line (long To: lists), that
// name a sender and either a date or a third field.
func headerBlockAt(lines []string, kinds []quoteLine, i int) bool {
	return knownHeaderBlockAt(lines, kinds, i) || genericHeaderBlockAt(lines, kinds, i)
}

// knownHeaderBlockAt is headerBlockAt with the field names of outlookFields.
func knownHeaderBlockAt(lines []string, kinds []quoteLine, i int) bool {
	fields, wrapped := 0, 0
	from, date := false, false
	prev := lineEmpty
	for k := i; k < len(lines) && k < i+maxBlockScan; k++ {
		switch kinds[k] {
		case lineEmpty:
			if prev == lineEmpty {
				return false
			}
			prev = lineEmpty
			continue
		case lineText, lineSplit:
		default:
			return false
		}
		kind, ok := outlookFieldOf(lines[k])
		if !ok {
			if k == i || prev == lineEmpty || wrapped == maxBlockWrapped {
				return false
			}
			wrapped++
			prev = lineText
			continue
		}
		prev = lineText
		fields++
		v := fieldValue(lines[k])
		switch kind {
		case fieldSender:
			if fields > 2 || !senderValue(v) {
				return false // a sender field lower down, or one naming no one: "From: 12 months' fees"
			}
			from = true
		case fieldDate:
			if v != "" && !(hasDateDigit(v) && genericDate(v)) {
				return false // "Date: effective upon signature" is no date
			}
			date = true
		}
		if from && (fields >= 3 || date && fields >= 2) {
			return true
		}
	}
	return false
}

// fieldValue returns the value of header field line l, after its colon.
func fieldValue(l string) string {
	i := strings.IndexAny(l, ":：")
	if i < 0 {
		return ""
	}
	return strings.TrimFunc(l[i:], func(r rune) bool {
		return r == ':' || r == '：' || r == '*' || unicode.IsSpace(r) || unicode.Is(unicode.Zs, r)
	})
}

// senderValue reports whether v, the value of a From field, names a sender
// as a client writes it: an address, or a name ("Sarah Klein", "Klein,
// Sarah", "'Sarah Klein'", "山田 太郎") with no digits in it. An empty value is
// a name wrapped onto the next line. "12 months' fees" or "the old price"
// is a person's own "From: … / To: …" line, not a sender.
func senderValue(v string) bool {
	if v == "" || strings.Contains(v, "@") {
		return true
	}
	if hasDateDigit(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsLetter(r) {
			return !unicode.IsLower(r) // a name starts with a capital, or with a letter of a script without case
		}
		if unicode.IsDigit(r) {
			return false
		}
	}
	return false
}

// Bounds of a header block in a language whose field names are not known.
const (
	minGenericFields = 3
	maxGenericFields = 6
	maxGenericLabel  = 40 // bytes of a field name
)

var (
	// genericFieldRe is a "Label: value" line of a header block: a name of
	// one to three words of letters, in any script, maybe in bold as Gmail
	// renders Outlook's ("*Nuo:*"), a colon, and a value.
	genericFieldRe = regexp.MustCompile(`^[\s\p{Zs}*]*(\p{L}[\p{L}\p{M}.]*(?:[ \p{Zs}]\p{L}[\p{L}\p{M}.]*){0,2})[\s\p{Zs}*]*[:：][\s\p{Zs}*]*(\S.*)$`)

	// genericTimeRe is a time of day ("10:15", "10.15 Uhr" is not needed:
	// Outlook writes the colon) or a numeric date ("04.03.2024",
	// "2024-03-04", "4/3/24").
	genericTimeRe = regexp.MustCompile(reDigit + `{1,2}[:：]` + reDigit + `{2}|` + reDigit + `{1,4}[./-]` + reDigit + `{1,2}[./-]` + reDigit + `{2,4}`)

	// genericYearRe and genericDayRe are a year and a day of the month
	// apart from it, as a date with a month word has them ("4 март 2024",
	// "2024 m. kovo 4 d.").
	genericYearRe = regexp.MustCompile(`(?:^|[^0-9٠-٩۰-۹])(?:19|20|۱۹|۲۰|١٩|٢٠)` + reDigit + `{2}(?:[^0-9٠-٩۰-۹]|$)`)
	genericDayRe  = regexp.MustCompile(`(?:^|[^0-9٠-٩۰-۹])` + reDigit + `{1,2}(?:[^0-9٠-٩۰-۹]|$)`)
)

// genericDate reports whether the value v of a header field holds a date or
// a time: a time of day, a numeric date, or a year with a day apart from it.
// "24 months" or "net 30 days" is none.
func genericDate(v string) bool {
	if genericTimeRe.MatchString(v) {
		return true
	}
	y := genericYearRe.FindStringIndex(v)
	return y != nil && genericDayRe.MatchString(v[:y[0]]+" "+v[y[1]:])
}

// genericHeaderBlockAt reports whether a header block in any language starts
// at line i: three to six "Label: value" lines in a row (genericFieldRe), one
// value an address ("Name <addr>" or bare) and another a date or time.
// Outlook writes its block in the language of the sender's Outlook, and not
// every language's field names are known (outlookFields): the shape and the
// address and date in it tell the block. A person's own "Label: value" lines
// (terms in a contract note) lack the address and the date together, or the
// address in the sender's place.
func genericHeaderBlockAt(lines []string, kinds []quoteLine, i int) bool {
	if i > 0 && kinds[i-1] != lineEmpty && !dashed(lines[i-1]) && !isBareBanner(lines[i-1]) {
		return false // a list the text runs into ("The terms are:" / "Price: …"), not a block set apart
	}
	n, addrs := 0, 0
	addr, date := -1, -1
	named := false
	for k := i; k < len(lines) && n < maxGenericFields; k++ {
		if kinds[k] != lineText && kinds[k] != lineSplit || len(lines[k]) > maxAttrLen {
			break
		}
		head := lines[k][:min(len(lines[k]), maxGenericLabel+8)]
		c := strings.IndexAny(head, ":：")
		if c <= 0 || strings.TrimFunc(lines[k][c:], func(r rune) bool { return r == ':' || r == '：' || r == '*' || unicode.IsSpace(r) }) == "" {
			break // no field name and value around a colon; say no before the regexp
		}
		m := genericFieldRe.FindStringSubmatch(lines[k])
		if m == nil || len(m[1]) > maxGenericLabel {
			break
		}
		v := m[2]
		switch {
		case strings.Contains(v, "@") && attrAddrRe.MatchString(v):
			if addr < 0 {
				addr = n
			}
			addrs++
			named = named || strings.Contains(v, "<")
		case date < 0 && hasDateDigit(v) && genericDate(v):
			date = n
		}
		n++
	}
	// The sender comes first or second (GMX puts the date first), the date
	// among the first four, and the block names its people as a client
	// does: "Name <addr>", or more than one address (From and To).
	return n >= minGenericFields && addr >= 0 && addr <= 1 && date >= 0 && date <= 3 && (named || addrs >= 2)
}

// inlineAttribution reports whether l starts with an attribution that does
// not end the line: Yahoo Mail for Android flattens "Le <date>, <name><addr>
// a écrit :" and the start of the quoted text onto one line. As no quote
// below vouches for it, it needs all the signs: an intro word or date first,
// an address, a date, and the verb right before the colon.
func inlineAttribution(l string) bool {
	if len(l) > maxAttrLen {
		l = l[:maxAttrLen]
	}
	if !strings.Contains(l, "@") {
		return false
	}
	t := attrText(l)
	if !attrIntroRe.MatchString(t) {
		return false
	}
	for i, r := range t {
		if r != ':' && r != '：' {
			continue
		}
		head, after := t[:i+len(string(r))], t[i+len(string(r)):]
		if strings.TrimSpace(after) == "" {
			return false // ends the line: the usual path
		}
		if n, _ := utf8.DecodeRuneInString(after); unicode.IsDigit(n) {
			continue // a time of day: "10:14"
		}
		if !strings.Contains(head, "@") || !attrAddrRe.MatchString(head) || !attrDateRe.MatchString(head) {
			continue
		}
		norm := normPhrase(head)
		if end := attrVerbs.lastEnd(norm); end >= 0 && attrVerbEndRe.MatchString(norm[end:]) {
			return true
		}
	}
	return false
}

// blockForwarded reports whether the header block that the split at line
// i starts (on line i or below it) is that of a forwarded message: its
// subject starts with a forward prefix ("FW:", "Fwd:", "WG:", "TR:", "RV:",
// "I:", "ENC:", "Doorst:", "VB:", "VL:", "PD:", "Пересл:", "转发:", "転送:").
// Outlook writes the same block above a quoted and a forwarded message.
func blockForwarded(lines []string, kinds []quoteLine, i int) bool {
	for k := i; k < len(lines) && k < i+maxBlockScan; k++ {
		if kinds[k] != lineText && kinds[k] != lineSplit && kinds[k] != lineEmpty {
			return false
		}
		if isForwardSubject(lines[k]) {
			return true
		}
	}
	return false
}

// forwardSubjectRe is the subject field of a header block with a forward
// prefix; a "Re:" before it makes it a reply.
var forwardSubjectRe = regexp.MustCompile(`(?i)^[\s\p{Zs}*]*(?:` + wordsRe(subjectFieldNames) + `)[\s\p{Zs}*]*[:：][\s\p{Zs}*]*(?:` + wordsRe(forwardPrefixes) + `)` + reBlank + `*(?:\[\d+\])?` + reBlank + `*[:：]`)

func isForwardSubject(l string) bool {
	if len(l) > 96 {
		l = l[:96]
	}
	return forwardSubjectRe.MatchString(l)
}
