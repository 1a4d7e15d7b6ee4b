package reply

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

	// disclaimerWords finds disclaimerWordList.
	disclaimerWords = newPhraseMatcher(disclaimerWordList, true)

	// signOffNameRe is what may follow a closing phrase on its line: the
	// name ("Thanks, Jane", "Cheers - Bob", "Best, J.") or where it is sent
	// from ("Viele Grüße aus Berlin").
	signOffNameRe = regexp.MustCompile(`^[,;–—-]? ?(?:(?i:aus|from|de|desde|da|dalla|uit|från|fra|z|iz|из|з) )?` + nameRe + `$`)

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
// of name, title, company and phone below it, which read as no sentence; or,
// with no closing, a last paragraph that is only the sender's name or address
// (nameSigStart). A legal disclaimer below either is cut with it. When the
// note above would be only a greeting ("Hi John,"), the first closing line is
// the note ("Hi John," / "Thanks!" / "Best," / "Anna"). body is trimmed; off
// is what was cut.
func cutSignOff(text string) (body, off string) {
	return cutSignOffIn(text, true)
}

// cutSignOffIn is cutSignOff, looking for a signature without a closing
// only if names: not in an inline reply, where the last line answers a quote
// ("> Who leads?" / "Maria").
func cutSignOffIn(text string, names bool) (body, off string) {
	lines := splitBodyLines(text)
	end := len(lines)
	if d := disclaimerStart(lines); d >= 0 {
		end = d
	}
	start, closings := closingStart(lines[:end])
	if start < 0 && names {
		start = nameSigStart(lines[:end])
	}
	if start < 0 {
		return joinTrimmed(lines), ""
	}
	if closings > 0 {
		if g := greetingOnly(lines[:start]); g || isBlankLines(lines[:start]) {
			// The thanks is the message when nothing but a greeting is
			// above it; with nothing at all above, only when a blank line
			// sets it apart from what follows.
			next := start + 1
			for next < end && isBlank(lines[next]) {
				next++
			}
			if next < end && (g || next > start+1) {
				start = next
			}
		}
	}
	return joinTrimmed(lines[:start]), joinTrimmed(lines[start:])
}

// closingStart returns where the closing lines at the end of lines start
// (-1 if there are none) and how many there are.
func closingStart(lines []string) (start, closing int) {
	start = -1
	tail := 0
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
			return -1, 0
		default:
			return -1, 0
		}
		if start >= 0 && start != i {
			break
		}
	}
	return start, closing
}

// greetingOnly reports whether lines hold one short line ending in a comma
// or a colon, as a greeting does ("Hi John,", "Hallo,", "Olá Rui,", "Dear
// Mr. Smith:"), and nothing else.
func greetingOnly(lines []string) bool {
	g := ""
	for _, l := range lines {
		if l = strings.TrimFunc(visible(l), isSpaceOrMark); l == "" {
			continue
		}
		if g != "" {
			return false
		}
		g = l
	}
	if g == "" || len(strings.Fields(g)) > 5 || utf8.RuneCountInString(g) > 40 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(g)
	return strings.ContainsRune(",:，،", r)
}

func isBlankLines(lines []string) bool {
	for _, l := range lines {
		if !isBlank(l) {
			return false
		}
	}
	return true
}

// Bounds of a name or address signature without a closing.
const (
	maxNameSigWords = 3 // words of the name
	maxNameSigLines = 4 // lines of the paragraph: name, address, title, phone
)

var (
	// bareNameRe is a line that is only a name, one to three capitalised
	// words: "Ruth", "Anna-Lena Berg", "J. R. Smith".
	bareNameRe = regexp.MustCompile(`^\p{Lu}[\p{L}'’.-]*(?:` + reBlank + `+(?:(?:van|von|de|der|den|da|di|du|del|della|la|le|dos|das|ter|ten|bin|binti|al|el)` + reBlank + `+)*\p{Lu}[\p{L}'’.-]*){0,2}$` +
		// Scripts without capitals (Hebrew, Arabic, Devanagari, Thai): one
		// or two words of letters alone.
		`|^[\p{Hebrew}\p{Arabic}\p{Devanagari}\p{Thai}\p{M}]{2,}(?:` + reBlank + `[\p{Hebrew}\p{Arabic}\p{Devanagari}\p{Thai}\p{M}]{2,})?$`)

	// cjkNameRe is a name in Han or Hangul, two to four characters (or a
	// family and a given name with a space between), maybe with the word
	// that signs it after it: "王芳", "山田 太郎", "王芳 敬上", "한동훈 드림",
	// "김민수 올림", "田中より", "山田拝". Kana alone signs only with such a
	// word ("たなかより"): a bare kana line is more often an answer.
	cjkNameRe = regexp.MustCompile(`^(?:[\p{Han}\p{Hangul}]{2,4}|\p{Han}{1,3}` + reBlank + `\p{Han}{1,3})(?:` + reBlank + `*(?:` + cjkSignWords + `))?$` +
		`|^[\p{Han}\p{Hangul}\p{Hiragana}\p{Katakana}ー]{2,8}` + reBlank + `*(?:` + cjkSignWords + `)$`)

	// initialEndRe is a name ending in an initial: "Jane D.".
	initialEndRe = regexp.MustCompile(`(?:^|` + reBlank + `)\p{Lu}\.$`)

	// sigAddrRe is a line that is only an address, maybe with the name
	// before it: Foxmail's default signature "lina@foxmail.com", "Lina Wang
	// <lina@example.com>", "Lina Wang | lina@example.com", "mailto:…".
	sigAddrRe = regexp.MustCompile(`^(?:` + nameRe + reBlank + `*[|,–—-]?` + reBlank + `*)?[<(\[]?(?:mailto:)?[^\s<>()\[\]@"]+@[^\s<>()\[\]@"]+\.\p{L}{2,}[>)\]]?$`)
)

// cjkSignWords follow a name to sign a note: Chinese 敬上 and 上, Japanese
// 拝 and より, Korean 드림 and 올림.
const cjkSignWords = `敬上|谨上|謹上|拝|より|드림|올림|배상`

// cjkAnswerEndRe is how a short Korean or Japanese answer ends, which a name
// does not: a verb's ending ("좋아요", "됩니다", "了解です").
var cjkAnswerEndRe = regexp.MustCompile(`[요다죠까네함됨です。！？]$`)

// cjkSurnameStarts are the first characters of the commonest family
// names: Chinese (simplified and traditional), Japanese and Korean. A bare
// Han or Hangul line with none of them ("下周一", "明天见") is more likely
// an answer than a name.
const cjkSurnameStarts = "王李张張刘劉陈陳杨楊黄黃赵趙吴吳周徐孙孫马馬朱胡郭何高林罗羅郑鄭梁谢謝宋唐许許韩韓冯馮邓鄧曹彭曾肖萧蕭田董袁潘于蒋蔣蔡余杜叶葉程苏蘇魏吕呂丁任沈姚卢盧姜崔钟鍾谭譚陆陸汪范金石廖贾賈夏韦韋付傅方白邹鄒孟熊秦邱江尹薛闫阎段雷侯龙龍史陶黎贺賀顾顧毛郝龚龔邵万萬钱錢严嚴覃武戴莫孔向汤湯欧歐司上诸諸" +
	"佐鈴渡伊山中小加吉松井木斎清森池橋前藤岡後長村近坂遠青西福太原大野竹川内北宮平堀岩本安菅関増酒今市杉久新" +
	"김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄변채원천방공현함염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부"

// cjkNameShape reports whether a line cjkNameRe matched is shaped as a
// person's name: signed with a word (敬上, 드림, より), written as family
// and given name apart, or starting with a common family name.
func cjkNameShape(l string) bool {
	t := strings.TrimRightFunc(l, unicode.IsSpace)
	for _, w := range strings.Split(cjkSignWords, "|") {
		if strings.HasSuffix(t, w) {
			return true
		}
	}
	if strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Zs, r) }) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(t)
	return strings.ContainsRune(cjkSurnameStarts, r)
}

// answerWords are one-word answers that are no name, though capitalised
// alone on a line: "Agreed", "Done", "Approved".
var answerWords = map[string]bool{
	"agreed": true, "done": true, "yes": true, "no": true, "ok": true, "okay": true, "sure": true,
	"approved": true, "confirmed": true, "noted": true, "perfect": true, "great": true, "fine": true,
	"good": true, "excellent": true, "correct": true, "right": true, "absolutely": true, "definitely": true,
	"ja": true, "nein": true, "genau": true, "einverstanden": true, "erledigt": true, "passt": true,
	"oui": true, "non": true, "parfait": true, "d'accord": true, "entendu": true, "sí": true, "si": true,
	"vale": true, "perfecto": true, "claro": true, "certo": true, "perfetto": true, "sim": true, "não": true,
	"combinado": true, "feito": true, "akkoord": true, "prima": true, "klopt": true, "nee": true,
	"tak": true, "nie": true, "ano": true, "ne": true, "jo": true, "nej": true, "selvä": true, "kyllä": true,
	"да": true, "нет": true, "хорошо": true, "evet": true, "hayır": true, "tamam": true, "igen": true,
	"nem": true, "rendben": true, "nu": true, "bine": true, "ναι": true, "όχι": true,
	"baik": true, "setuju": true, "siap": true, "ya": true, "tidak": true, "vâng": true, "được": true,
	"כן": true, "לא": true, "בסדר": true, "מאשר": true, "מאשרת": true, "מסכים": true, "מסכימה": true,
	"نعم": true, "لا": true, "موافق": true, "موافقة": true, "حسنا": true, "تمام": true,
	"हाँ": true, "हां": true, "नहीं": true, "ठीक": true, "ठीक है": true, "ใช่": true, "ไม่": true, "ตกลง": true,
	"好的": true, "好": true, "同意": true, "可以": true, "收到": true, "了解": true, "明白": true, "是的": true,
	"没问题": true, "沒問題": true, "不行": true, "不同意": true, "确认": true, "確認": true, "已收到": true,
	"好的好的": true, "行": true, "对": true, "對": true, "不是": true, "承知": true, "了解しました": true,
	"承知しました": true, "大丈夫": true, "問題なし": true, "賛成": true, "反対": true, "네": true, "예": true,
	"아니요": true, "좋아요": true, "확인": true, "동의": true, "알겠어요": true, "그래요": true, "감사": true,
}

// nameSigStart returns where the last paragraph of lines starts when it is
// a signature without a closing: the sender's name alone ("Ruth"), the
// sender's address alone (Foxmail) or with the name, or the name above at
// most three lines of title, address and phone, one with a number, an
// address or a link. It must follow text that is more than a greeting, after
// a blank line, so a one-line reply ("Agreed") or a reply under a greeting
// ("Hi John," / "Approved") stays. It returns -1 otherwise.
func nameSigStart(lines []string) int {
	last := len(lines) - 1
	for last >= 0 && isBlank(lines[last]) {
		last--
	}
	first := last
	for first > 0 && !isBlank(lines[first-1]) {
		first--
	}
	if first <= 0 || last-first+1 > maxNameSigLines || isBlankLines(lines[:first]) || greetingOnly(lines[:first]) {
		return -1
	}
	above := first - 1
	for above > 0 && isBlank(lines[above]) {
		above--
	}
	if endsWithColon(visible(lines[above])) {
		return -1 // what the text announces ("The one thing we still need is:" / "Milk")
	}
	head := strings.TrimFunc(visible(lines[first]), isSpaceOrMark)
	if len(head) > maxSignOffTailLen*4 {
		return -1
	}
	if strings.HasSuffix(head, ".") && !initialEndRe.MatchString(head) {
		return -1 // a sentence ("No."), not a name ("Jane D.")
	}
	switch {
	case sigAddrRe.MatchString(head):
	case cjkNameRe.MatchString(head) && !answerWords[head] && !cjkAnswerEndRe.MatchString(head) && cjkNameShape(head):
	case bareNameRe.MatchString(head) && len(strings.Fields(head)) <= maxNameSigWords+2 &&
		!answerWords[strings.ToLower(collapseSpace(head))]:
	default:
		return -1
	}
	info := last == first
	for _, l := range lines[first+1 : last+1] {
		l = strings.TrimFunc(visible(l), isSpaceOrMark)
		if !isSigTailLine(l) {
			return -1
		}
		info = info || strings.ContainsAny(l, "0123456789@|") || strings.Contains(l, "://") || strings.Contains(l, "www.")
	}
	if !info {
		return -1
	}
	return first
}

func isSpaceOrMark(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' || r == '*' || r == '_'
}

// closingPunct is what may end a closing line, with emoji ("Thanks! 🙏"),
// the Arabic comma ("مع التحية،") and the Devanagari danda.
const closingPunct = " ,.!;:…。！、~)،।，：；！？؛۔"

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
	// Two closings in two languages: "Mit freundlichen Grüßen / Kind
	// regards", "Cordialement | Best regards".
	for _, sep := range []string{" / ", " | ", " - ", " – "} {
		if a, b, ok := strings.Cut(n, sep); ok && isClosingPhrase(trimClosing(a)) && isClosingPhrase(trimClosing(b)) {
			return true
		}
	}
	// A longer closing with the name after a comma: "Com os melhores
	// cumprimentos, Inês".
	if i := strings.IndexAny(n, ",،"); i > 0 && isClosingWords(trimClosing(n[:i])) {
		orig := collapseSpace(strings.TrimSpace(l))
		if j := strings.IndexAny(orig, ",،"); j > 0 && signOffNameRe.MatchString(strings.TrimLeft(orig[j:], ", ،")) {
			return true
		}
	}
	// A closing phrase and a name after it. Only the phrases that start
	// with n's first byte can start n: most lines are no closing, and a
	// weekly summary takes the gist of thousands of notes.
	if n == "" {
		return false
	}
	for _, p := range signOffsByByte[n[0]] {
		rest, ok := strings.CutPrefix(n, p)
		if !ok || rest == "" {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(rest); unicode.IsLetter(r) {
			continue
		}
		// The name keeps its capitals: look for it in l with only its
		// blanks collapsed, when lowering kept every byte where it was.
		orig := trimClosing(collapseSpace(strings.TrimSpace(l)))
		if len(orig) != len(n) {
			return false
		}
		return signOffNameRe.MatchString(strings.TrimLeft(orig[len(p):], " "))
	}
	return false
}

// signOffsByByte is signOffList by first byte, each in its order.
var signOffsByByte = func() (by [256][]string) {
	for _, p := range signOffList {
		by[p[0]] = append(by[p[0]], p)
	}
	return by
}()

// isClosingPhrase reports whether n, normalised and trimmed, is a closing
// without a name: one of signOffs or made of closing words.
func isClosingPhrase(n string) bool {
	return signOffSet[n] || isClosingWords(n)
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
	case strings.HasSuffix(l, ".") && len(strings.Fields(l)) >= 4 && !info && hasLowerWord(l) && !endsWithAbbrev(l):
		// A sentence; "Bianchi & Figli S.r.l." is a company, and so is
		// "Advokátní kancelář Svobodová s.r.o." or "Kancelaria X i
		// Wspólnicy sp.k.": a legal form ends it, not a full stop.
		return false
	case strings.HasSuffix(l, "。"):
		return false
	}
	return true
}

// endsWithAbbrev reports whether the last word of l is an abbreviation with
// a dot inside it ("s.r.o.", "sp.k.", "o.o.", "S.p.A."), as a company's legal
// form is, rather than a word a sentence ends with.
func endsWithAbbrev(l string) bool {
	f := strings.Fields(l)
	w := strings.TrimSuffix(f[len(f)-1], ".")
	i := strings.IndexByte(w, '.')
	return i > 0 && i < len(w)-1
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

// Bounds of a disclaimer: the lines looked at from the end, and the runes it
// has at least (a notice, not a word).
const (
	maxDisclaimerLines = 60
	minDisclaimerLen   = 60
	maxDisclaimerLine  = 1000 // bytes of one line of it
)

// disclaimerStart returns where a legal disclaimer at the end of lines
// starts, or -1: the last paragraphs that each start with a disclaimer word
// ("CONFIDENTIALITY NOTICE: …", "Diese E-Mail enthält vertrauliche …", a
// translation below), or that have one from a line on, below the lines of a
// signature ("Beispiel GmbH · HRB 1234" / "Diese E-Mail …"). It is cut only
// below a sign-off: alone it may be the writer's own words.
func disclaimerStart(lines []string) int {
	start, runes := -1, 0
	low := max(0, len(lines)-maxDisclaimerLines)
	i := len(lines) - 1
	for i >= low {
		for i >= low && isBlank(lines[i]) {
			i--
		}
		first := i
		for first > low && !isBlank(lines[first-1]) {
			first--
		}
		if i < low {
			break
		}
		at := -1
		for k := first; k <= i; k++ {
			if len(lines[k]) > maxDisclaimerLine {
				return -1 // no line of a notice; keep a hostile line cheap
			}
			if disclaimerWords.match(visible(lines[k])) {
				at = k
				break
			}
		}
		if at < 0 {
			break
		}
		for _, l := range lines[at : i+1] {
			runes += utf8.RuneCountInString(l)
		}
		start = at
		if at > first {
			break
		}
		i = first - 1
	}
	if start <= 0 || runes < minDisclaimerLen {
		return -1
	}
	return start
}
