package mail

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote stripping works like discourse's email_reply_trimmer: every line is
// classified (empty, text, quoted, attribution, split), then the body is cut
// by the pattern the classes make. The patterns below say which client writes
// each marker; MAIL-NOTES "Where the new text ends" lists the cases.

// reBlank is a space of any kind: French typography puts a no-break space
// before ":" ("a écrit :"), and HTML bodies turned to text keep &nbsp;.
const reBlank = `[\s\p{Zs}]`

var (
	// quotedRe matches a ">"-quoted line, as every plain-text client writes
	// them (RFC 3676 §4.5 quote depth).
	quotedRe = regexp.MustCompile(`^[ \t]*>`)

	// attrPrefixRe is what precedes an attribution inside a quote: Apple Mail
	// and iOS Mail quote the "On … wrote:" line itself ("> On 22 Aug 2015, …").
	attrPrefixRe = regexp.MustCompile(`^(?:` + reBlank + `|>)*`)

	// attrEndRe is an attribution ending in "wrote:" in one of the languages
	// of MAIL-NOTES: Gmail, Apple Mail and Thunderbird "On <date>, <name>
	// wrote:", "Le <date>, <name> a écrit :", "El <date>, <name> escribió:",
	// "Il <date> <name> ha scritto:", "Op <date> heeft <name> het volgende
	// geschreven:" (iOS), "<date>, <name> написал(а):", "<date> пользователь
	// <name> написал:" (Gmail for Android), "在 <date>，<name> 写道：" (iOS),
	// "<date> <name> <addr>のメッセージ:" (Japanese Gmail), plus "<name>
	// <addr> schrieb:" (K-9 Mail) and Polish, Portuguese and Ukrainian forms.
	attrEndRe = regexp.MustCompile(`(?i)(?:(?:^|[^\p{L}])(?:wrote|writes|a` + reBlank + `+écrit|écrit|schrieb|geschrieben|escribió|escreveu|schreef|ha` + reBlank + `+scritto|skrev|napisał(?:\(a\)|a)?|написал(?:\(а\)|а)?|пише)|写道|のメッセージ|のメール)` + reBlank + `*[:：]` + reBlank + `*$`)

	// attrNameLastRe is an attribution with the name after the verb: Gmail
	// and Apple Mail in German, Dutch and Danish/Norwegian ("Am <date> schrieb
	// <name> <addr>:", "Op <date> schreef <name>:", "Den <date> skrev <name>:").
	attrNameLastRe = regexp.MustCompile(`(?i)^(?:Am|Op|Den|\p{L}{2,4}\.)` + reBlank + `.+[^\p{L}](?:schrieb|schreef|skrev)` + reBlank + `.+[:：]` + reBlank + `*$`)

	// attrDateLastRe is an attribution with the date after the verb: German
	// Gmail "<name> <addr> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:", some
	// webmails "<name> wrote on <date>:".
	attrDateLastRe = regexp.MustCompile(`(?i)(?:^|[^\p{L}])(?:wrote|schrieb)` + reBlank + `+(?:on|am)` + reBlank + `.+[:：]` + reBlank + `*$`)

	// attrDateAddrRe is a date, a name and an address with no verb at all:
	// Gmail in Japanese and Russian ("2016年1月1日(金) 12:00 <name> <addr>:",
	// "вт, 5 янв. 2016 г. в 23:39, <name> <addr>:").
	attrDateAddrRe = regexp.MustCompile(`\d{4}.{1,80}<[^\s<>@]+@[^\s<>@]+>` + reBlank + `*[:：]` + reBlank + `*$`)

	// attrEvidenceRe is what tells an attribution from a sentence that ends in
	// "wrote:": a year, a time or an address.
	attrEvidenceRe = regexp.MustCompile(`@|\d{4}|\d{1,2}[:.h]\d{2}`)

	// attrIntroRe starts an attribution that a client wrapped over two or
	// three lines (Gmail wraps at 78 columns): "On", "Le", "Am", "El", "Em",
	// "Op", "Il", "Den", "Dnia", "在", a date, or a weekday, a comma and a day.
	attrIntroRe = regexp.MustCompile(`(?i)^(?:(?:On|At|Le|Am|El|Em|Op|Il|Den|Dnia|W dniu|在)` + reBlank + `|\d|\p{L}{2,12}\.?,` + reBlank + `*\d)`)

	// sentenceEndRe ends a line of prose, which a wrapped attribution's
	// first lines never do.
	sentenceEndRe = regexp.MustCompile(`[.!?;]` + reBlank + `*$`)

	// originalMessageRe is the banner Outlook, AOL, Yahoo and Zimbra put above
	// the quoted message, in the languages Outlook ships: "-----Original
	// Message-----", "----- Original Message -----", "-----Ursprüngliche
	// Nachricht-----", "-----Message d'origine-----", and the Spanish,
	// Italian, Dutch, Scandinavian, Russian, Polish, Portuguese, Chinese and
	// Japanese ones.
	originalMessageRe = regexp.MustCompile(`(?i)^[\s*]*-{2,}` + reBlank + `*(?:original message|ursprüngliche nachricht|message d['’]origine|mensaje original|messaggio originale|oorspronkelijk bericht|originalmeddelande|oprindelig meddelelse|opprinnelig melding|исходное сообщение|wiadomość oryginalna|mensagem original|原始邮件|元のメッセージ)` + reBlank + `*-{2,}[\s*]*$`)

	// ruleRe is a horizontal rule: Outlook's "________________________________"
	// above its header block, Gmail's rendering of it (" ------------------"),
	// and the "---" HTMLToText writes for <hr>.
	ruleRe = regexp.MustCompile(`^[\s*]*(?:_{3,}|-{3,})[\s*]*$`)
)

// outlookField sorts the names of the header block's fields: a block counts
// only when it names a sender.
type outlookField uint8

const (
	fieldOther outlookField = iota
	fieldSender
	fieldDate
)

// outlookFields are the names Outlook (and Windows Live, Outlook for Mac,
// Outlook on the web) gives the fields of the header block it writes instead
// of an attribution, in the client's language: "From:/Sent:/To:/Subject:",
// "Von:/Gesendet:/An:/Betreff:", "De :/Envoyé :/À :/Objet :",
// "Från:/Skickat:/Till:/Ämne:", and Spanish, Portuguese, Italian, Dutch,
// Danish/Norwegian, Polish, Russian, Chinese and Japanese.
var outlookFields = map[string]outlookField{
	"from": fieldSender, "von": fieldSender, "de": fieldSender, "da": fieldSender, "van": fieldSender,
	"från": fieldSender, "fra": fieldSender, "od": fieldSender, "от": fieldSender, "差出人": fieldSender,
	"发件人": fieldSender, "寄件者": fieldSender,

	"sent": fieldDate, "date": fieldDate, "gesendet": fieldDate, "datum": fieldDate, "envoyé": fieldDate,
	"enviado": fieldDate, "enviada em": fieldDate, "fecha": fieldDate, "inviato": fieldDate, "data": fieldDate,
	"verzonden": fieldDate, "skickat": fieldDate, "sendt": fieldDate, "wysłano": fieldDate,
	"отправлено": fieldDate, "送信日時": fieldDate, "发送时间": fieldDate,

	"to": fieldOther, "an": fieldOther, "à": fieldOther, "para": fieldOther, "a": fieldOther, "aan": fieldOther,
	"till": fieldOther, "til": fieldOther, "do": fieldOther, "кому": fieldOther, "宛先": fieldOther,
	"收件人": fieldOther, "cc": fieldOther, "kopie": fieldOther, "bcc": fieldOther, "reply-to": fieldOther,
	"subject": fieldOther, "betreff": fieldOther, "objet": fieldOther, "asunto": fieldOther,
	"assunto": fieldOther, "oggetto": fieldOther, "onderwerp": fieldOther, "ämne": fieldOther,
	"emne": fieldOther, "temat": fieldOther, "тема": fieldOther, "件名": fieldOther, "主题": fieldOther,
}

// outlookFieldRe is one line of the header block, its field name in group 1.
// Gmail shows the names in bold when it renders an Outlook reply ("*From:*").
var outlookFieldRe = regexp.MustCompile(`(?i)^[\s\p{Zs}*]*(` + strings.Join(slices.Sorted(maps.Keys(outlookFields)), "|") + `)[\s\p{Zs}*]*[:：]`)

// outlookFieldOf returns the kind of the header block field line l starts
// with, and false if it starts with none.
func outlookFieldOf(l string) (outlookField, bool) {
	if !strings.ContainsAny(l, ":：") {
		return fieldOther, false // most lines; the regexp is slow to say no
	}
	m := outlookFieldRe.FindStringSubmatch(l)
	if m == nil {
		return fieldOther, false
	}
	return outlookFields[strings.ToLower(m[1])], true
}

// quoteLine is the class of one line of a body.
type quoteLine uint8

const (
	lineEmpty  quoteLine = iota
	lineText             // the writer's own text, as far as can be told
	lineQuoted           // starts with ">"
	lineAttr             // "On … wrote:" and its translations, possibly wrapped or quoted
	lineSplit            // Outlook-style start of the quoted thread: banner, rule + header block, header block
)

// Bounds that keep the classifier from reading prose as markers.
const (
	maxAttrLen      = 400 // bytes of an attribution, wrapped lines joined
	maxWeakAttrLen  = 100 // runes of an attribution without date or address
	maxAttrLines    = 3   // lines an attribution may be wrapped over
	maxBlockScan    = 16  // lines looked at for one header block
	maxBlockWrapped = 2   // wrapped continuation lines in a header block
	minQuotedLines  = 3   // ">" lines that make a quote without an attribution (talon's rule)
)

// StripQuote returns the new text of a reply body (text/plain, already decoded
// to UTF-8) and the quoted part that was cut, so nothing is lost.
//
// Outlook-style markers (an "-----Original Message-----" banner, a rule
// followed by a From:/Sent: block, or such a block alone) start the quoted
// thread: everything from the first of them down is cut (a body that starts
// with one has no new text: it is a bare forward). Above that, an
// attribution ("On … wrote:") with text before it and no ">" lines after it
// is cut the same way; otherwise attributions and ">" lines are dropped and
// the text between them kept, so a bottom-poster keeps the answer below the
// quote and an inline reply keeps its new lines. Without an attribution,
// fewer than three ">" lines are the writer's own text. The reply is trimmed
// of surrounding blank lines; trailing spaces inside it are kept.
func StripQuote(body string) (reply, rest string) {
	lines := splitBodyLines(body)
	kinds := classifyLines(lines)

	end := slices.Index(kinds, lineSplit)
	if end < 0 {
		end = len(lines)
	}
	if a := slices.Index(kinds[:end], lineAttr); a >= 0 && slices.Contains(kinds[:a], lineText) && !slices.Contains(kinds[a:end], lineQuoted) {
		end = a
	}
	dropQuoted := slices.Contains(kinds[:end], lineAttr) || countKind(kinds[:end], lineQuoted) >= minQuotedLines

	kept := make([]string, 0, end)
	var cut []string
	dropped := false
	for i, l := range lines[:end] {
		switch k := kinds[i]; {
		case k == lineAttr, k == lineQuoted && dropQuoted:
			cut = append(cut, l)
			dropped = true
		case k == lineEmpty && dropped && len(kept) > 0 && strings.TrimSpace(kept[len(kept)-1]) == "":
			// One blank line is enough where a quoted run was taken out.
		default:
			kept = append(kept, l)
			if k != lineEmpty {
				dropped = false
			}
		}
	}
	cut = append(cut, lines[end:]...)
	return joinTrimmed(kept), joinTrimmed(cut)
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
// line that ends them, looking back over lines a client wrapped; splits only
// among unquoted lines.
func classifyLines(lines []string) []quoteLine {
	kinds := make([]quoteLine, len(lines))
	for i, l := range lines {
		switch {
		case strings.TrimSpace(l) == "":
			kinds[i] = lineEmpty
		case quotedRe.MatchString(l):
			kinds[i] = lineQuoted
		default:
			kinds[i] = lineText
		}
	}
	for j, l := range lines {
		if kinds[j] == lineEmpty || !endsWithColon(l) {
			continue
		}
		if s := attributionStart(lines, kinds, j); s >= 0 {
			for i := s; i <= j; i++ {
				kinds[i] = lineAttr
			}
		}
	}
	for i := range lines {
		if kinds[i] == lineText && isSplit(lines, kinds, i) {
			kinds[i] = lineSplit
		}
	}
	return kinds
}

func endsWithColon(l string) bool {
	l = strings.TrimRightFunc(l, unicode.IsSpace)
	return strings.HasSuffix(l, ":") || strings.HasSuffix(l, "：")
}

// attributionStart returns the first line of the attribution that line j
// ends, or -1. A wrapped attribution starts on the nearest line above j (at
// most two) that starts like one ("On", a date…), with no line in between
// ending a sentence. One on a single line needs a year, time or address, or a
// quote right below it ("Bob wrote:" + "> …").
func attributionStart(lines []string, kinds []quoteLine, j int) int {
	if s := wrappedAttrStart(lines, kinds, j); s < j && isAttribution(attrJoin(lines[s:j+1])) {
		return s
	}
	text := attrJoin(lines[j : j+1])
	if isAttribution(text) ||
		attrEndRe.MatchString(text) && utf8.RuneCountInString(text) <= maxWeakAttrLen && nextIsQuoted(kinds, j) {
		return j
	}
	return -1
}

// wrappedAttrStart returns where an attribution ending on line j would start
// if a client wrapped it, or j.
func wrappedAttrStart(lines []string, kinds []quoteLine, j int) int {
	for s := j; s >= 0 && s > j-maxAttrLines && sameRun(kinds, s, j); s-- {
		if attrIntroRe.MatchString(attrText(lines[s])) {
			for _, l := range lines[s:j] {
				if sentenceEndRe.MatchString(l) {
					return j
				}
			}
			return s
		}
	}
	return j
}

// attrJoin joins the lines of a wrapped attribution into one, or returns ""
// when it is too long to be one.
func attrJoin(lines []string) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = attrText(l)
	}
	if text := strings.Join(parts, " "); len(text) <= maxAttrLen {
		return text
	}
	return ""
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

// attrText is a line without its quote marks and surrounding space.
func attrText(l string) string {
	return strings.TrimRightFunc(attrPrefixRe.ReplaceAllString(l, ""), unicode.IsSpace)
}

func isAttribution(text string) bool {
	if !attrEvidenceRe.MatchString(text) {
		return false
	}
	return attrEndRe.MatchString(text) || attrNameLastRe.MatchString(text) ||
		attrDateLastRe.MatchString(text) || attrDateAddrRe.MatchString(text)
}

func nextIsQuoted(kinds []quoteLine, j int) bool {
	for _, k := range kinds[j+1:] {
		if k != lineEmpty {
			return k == lineQuoted
		}
	}
	return false
}

// isSplit reports whether unquoted line i starts an Outlook-style quoted
// thread: an "Original Message" banner, a rule with a header block below it
// (past at most two blank lines), or a header block.
func isSplit(lines []string, kinds []quoteLine, i int) bool {
	l := lines[i]
	if originalMessageRe.MatchString(l) {
		return true
	}
	if ruleRe.MatchString(l) {
		for k := i + 1; k < len(lines) && k <= i+3; k++ {
			if kinds[k] != lineEmpty {
				return headerBlockAt(lines, kinds, k)
			}
		}
		return false
	}
	return headerBlockAt(lines, kinds, i)
}

// headerBlockAt reports whether an Outlook header block starts at line i:
// unquoted field lines, with single blank lines between them (Outlook's HTML
// turned to text) and values wrapped onto a next line (long To: lists), that
// name a sender and either a date or a third field.
func headerBlockAt(lines []string, kinds []quoteLine, i int) bool {
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
		switch kind {
		case fieldSender:
			from = true
		case fieldDate:
			date = true
		}
		if from && (fields >= 3 || date && fields >= 2) {
			return true
		}
	}
	return false
}
