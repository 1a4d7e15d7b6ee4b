package reply

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A mobile tail is the line a mail app appends to every message it sends. It
// is known by two things in one short line: a device or an app (iPhone,
// Android, Samsung, Huawei, Outlook, Yahoo Mail…) and the word the app's
// language uses for "sent from" or "get", at the start or at the end of the
// line: "Sent from my iPhone", "Envoyé de mon iPhone", "Von meinem iPhone
// gesendet", "Enviado desde mi iPhone", "Inviato da iPhone", "Verzonden met
// iPhone", "Skickat från min iPhone", "Odesláno z iPhonu", "Отправлено с
// iPhone", "从我的iPhone发送", "iPhoneから送信", "내 iPhone에서 보냄", "Sent
// from my Galaxy", "Get Outlook for iOS", "Outlook für Android herunterladen",
// "Sent from Mail for Windows". A line that says "sent from my …" in so many
// words ("Sent from my TI-85", "Sent from my cell, please excuse any typos.",
// "Sent with Airmail", "Envoyé depuis mon appareil") is one whatever the
// device.
var (
	mobileSentFromRe = regexp.MustCompile(`(?i)^(?:` +
		`(?:sent|envoyé|enviado|enviada|inviato|verzonden|verstuurd|skickat|sendt|wysłane|wysłano|отправлено|надіслано|trimis|lähetetty|odesláno|odoslané|poslano|gesendet)` +
		reBlank + `+(?:from|de|depuis|desde|do|da|dal|vanaf|van|met|från|fra|z|ze|с|со|з|de pe|von)` + reBlank + `+(?:my|mon|ma|mi|meu|o meu|mio|mijn|min|mitt|mojego|mého|моего|мого|meinem|meiner)(?:[^\p{L}]|$)` +
		`|(?:from my|von meinem|von meiner)` + reBlank + `.{1,40}` +
		`|sent` + reBlank + `+(?:with|via|using|by|from)` + reBlank + `+\S+(?:` + reBlank + `+\S+){0,5}` + reBlank + `*[.!]?$` +
		`)`)

	mobileDeviceRe = regexp.MustCompile(`(?i)iphon|ipad|ipod|android|samsung|galaxy|huawei|honor|xiaomi|redmi|oneplus|pixel|blackberry|windows phone|nokia|motorola|xperia|oppo|vivo|outlook|yahoo|aol|gmail|proton ?mail|spark|airmail|bluemail|k-9|fairemail|edison|newton|mailbox|windows|smartphone|mobile|handy|móvil|cellulare|mobiel|mobil|телефон|мобильн|手机|手機|携帯|휴대폰|갤럭시`)
	mobileStartRe  = regexp.MustCompile(`(?i)^(?:(?:sent|envoyé|gesendet|enviado|enviada|inviato|verzonden|verstuurd|skickat|sendt|lähetetty|wysłane|wysłano|odesláno|odoslané|poslano|отправлено|надіслано|εστάλη|trimis|get|obtener|obtenga|obtenez|obtenir|télécharger|holen sie|scarica|ottieni|baixe|obter|obtenha|skaffa|hent|hanki|pobierz|stáhnout|získejte|получить|скачать|отримати|завантажте|λήψη|descărcați|descarcă|download|diese nachricht|this message|von meinem|depuis mon|de mon|desde mi|dal mio|da mio|vanaf mijn|från min|fra min|fra mi|z mojego|с моего|з мого|az én)(?:[^\p{L}]|$)|从我的|從我的|发自我的|發自我的|来自我的|來自我的|发自|發自|来自|來自)`)
	mobileEndRe    = regexp.MustCompile(`(?i)(?:gesendet|versendet|送信|发送|發送|傳送|보냄|전송됨|gönderildi|küldve|küldtem|beziehen|herunterladen|downloaden|edinin|letöltése|入手|받기|verzonden|verstuurd|inviato|enviado|skickat|sendt)[.!。]?$`)
)

// Bounds of mobile tails: the runes of one, and how many may end a text
// ("Sent from my iPhone" under "Sent with Spark").
const (
	maxMobileTailLen   = 80
	maxMobileTailWords = 12
	maxMobileTails     = 30
)

// isMobileTail reports whether line l is a mobile tail.
func isMobileTail(l string) bool {
	l = strings.TrimFunc(l, func(r rune) bool {
		return unicode.IsSpace(r) || r == '(' || r == ')' || r == '<' || r == '>' || r == '*' || r == '_'
	})
	if l == "" || len(l) > 4*maxMobileTailLen || utf8.RuneCountInString(l) > maxMobileTailLen {
		return false
	}
	if mobileSentFromRe.MatchString(l) {
		// "Sent from my cell, please excuse any typos.", not a sentence
		// that goes on.
		return !strings.HasSuffix(l, "?") && strings.Count(l, ",") <= 1 && len(strings.Fields(l)) <= maxMobileTailWords-2
	}
	// A tail is a phrase, not a sentence with clauses.
	if strings.HasSuffix(l, "?") || strings.HasSuffix(l, "？") || strings.ContainsAny(l, ",;，") ||
		len(strings.Fields(l)) > maxMobileTailWords {
		return false
	}
	// "Get Outlook for iOS<https://aka.ms/o0ukef>": the link is not the tail's end.
	if i := strings.IndexAny(l, "<["); i > 0 {
		l = strings.TrimSpace(l[:i])
	}
	return mobileDeviceRe.MatchString(l) && (mobileStartRe.MatchString(l) || mobileEndRe.MatchString(l))
}

// maxBareSigLines bounds the tail below a bare "--" line (the RFC 3676
// delimiter with its trailing space eaten by a client or a list) or a rule
// of underscores: a longer tail is more likely the writer's text below a rule
// than a signature.
const maxBareSigLines = 6

// bareSigRe is a signature delimiter that lost its form: "--" without its
// space, "__" (Outlook.com signatures), "—" an editor made of "--". A longer
// line of underscores is no delimiter: above a header block it starts the
// quote (isSplit), anywhere else it is the writer's own (the line to sign on
// in a contract note, "______________________________" / "Unterschrift").
var bareSigRe = regexp.MustCompile(`^(?:--|—|__)[ \t\p{Zs}]*$`)

// StripSignature cuts the signature off the end of a reply's text: from the
// last RFC 3676 §4.3 delimiter line "-- " down, from a bare "--" or "__"
// line with at most six lines below it, and mobile tails ("Sent
// from my iPhone", "Get Outlook for iOS", "Envoyé de mon iPhone"…) ending the
// text. The body is trimmed as StripQuote's reply is; sig is what was cut.
func StripSignature(text string) (body, sig string) {
	lines := splitBodyLines(text)
	end := trimMobileTail(lines, len(lines))
	for i := end - 1; i >= 0; i-- {
		l := visible(lines[i])
		if l == "-- " {
			end = i
			break
		}
		if bareSigRe.MatchString(strings.TrimRight(l, " \t")) {
			if nonBlankLines(lines[i+1:end]) <= maxBareSigLines {
				end = i
			}
			break
		}
	}
	end = trimMobileTail(lines, end)
	return joinTrimmed(lines[:end]), joinTrimmed(lines[end:])
}

// trimMobileTail returns where the mobile tails ending lines[:end] start.
func trimMobileTail(lines []string, end int) int {
	for range maxMobileTails {
		last := end - 1
		for last >= 0 && isBlank(lines[last]) {
			last--
		}
		if last < 0 || !isMobileTail(visible(lines[last])) {
			return end
		}
		end = last
	}
	return end
}

func nonBlankLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if !isBlank(l) {
			n++
		}
	}
	return n
}

// Extract returns the person's new text of a reply body (text/plain,
// decoded to UTF-8), and rest, everything that was cut from it, so nothing is
// lost: StripQuote cuts the quoted thread, StripSignature the signature and
// mobile tails, and a sign-off at the end ("Regards," / name / title) is cut
// too. A forwarded message below the new text stays in reply, after it. rest
// holds the sign-off, the signature and the quote, in that order, each
// separated by a blank line.
//
// The reply is never empty when the person wrote something above the quote:
// when cutting the sign-off would leave nothing ("Thanks!", "Gruß Discourse"),
// the sign-off is the note.
func Extract(body string) (reply, rest string) {
	note, forward, quote, interleaved := stripQuote(body)
	text, sig := StripSignature(note)
	kept, off := cutSignOffIn(text, !interleaved)
	if kept == "" {
		kept, off = text, ""
	}
	return joinParts(kept, forward), joinParts(off, sig, quote)
}
