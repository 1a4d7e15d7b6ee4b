package mail

import (
	"regexp"
	"strings"
	"unicode"
)

// mobileSignatureRe matches the line a mail app appends to every message it
// sends, in the languages those apps ship: iOS Mail ("Sent from my iPhone",
// "Envoyé de mon iPhone", "Von meinem iPhone gesendet", "Enviado desde mi
// iPhone", "Inviato da iPhone", "Verstuurd vanaf mijn iPhone", "Skickat från
// min iPhone", "Sendt fra min iPhone", "Wysłane z iPhone'a", "Отправлено с
// iPhone", "发自我的iPhone", "iPhoneから送信"), Android mail apps and
// BlackBerry ("Sent from my Android…", "Sent from my Samsung Galaxy
// smartphone."), K-9 Mail ("Diese Nachricht wurde von meinem
// Android-Mobiltelefon mit K-9 Mail gesendet."), Outlook for iOS and Android
// ("Get Outlook for iOS<https://aka.ms/o0ukef>"), Windows 10 Mail ("Sent from
// Mail for Windows 10") and the Yahoo, AOL, Proton, Spark, Airmail and
// Sparrow apps ("Sent from Yahoo Mail on Android", "Sent with Airmail").
var mobileSignatureRe = regexp.MustCompile(`(?i)^[\s\p{Zs}(<]*(?:` +
	`sent from my .{1,60}` +
	`|sent (?:from|with|via) (?:mail|outlook|yahoo|aol|proton ?mail|gmail|bluemail|spark|airmail|sparrow|samsung|android|iphone|ipad|blackberry|mobile)\b.{0,60}` +
	`|get outlook for (?:ios|android)\b.{0,60}` +
	`|envoyé (?:de|depuis) (?:mon|ma|yahoo|outlook)\b.{0,60}` +
	`|von meinem .{1,60} gesendet\.?` +
	`|diese nachricht wurde von .{1,80} gesendet\.?` +
	`|enviado (?:desde|do|de) (?:mi|meu|o meu)\b.{1,60}` +
	`|inviato da(?:l mio)? .{1,60}` +
	`|(?:verzonden|verstuurd) (?:met|vanaf|van) .{1,60}` +
	`|skickat från min .{1,60}` +
	`|sendt fra min .{1,60}` +
	`|wysłane z .{1,60}` +
	`|отправлено с .{1,60}` +
	`|(?:发自我的|從我的|来自我的|發自我的)` + reBlank + `*ip(?:hone|ad).{0,20}` +
	`|iphoneから送信` +
	`)$`)

// maxBareSigLines bounds the tail below a bare "--" line (the RFC 3676
// delimiter with its trailing space eaten by a client or a list): a longer
// tail is more likely the writer's text below a rule than a signature.
const maxBareSigLines = 6

// StripSignature cuts the signature off the end of a reply's text: from the
// last RFC 3676 §4.3 delimiter line "-- " down, from a bare "--" line with at
// most six lines below it, and mobile tails ("Sent from my iPhone", "Get
// Outlook for iOS", "Envoyé de mon iPhone"…) ending the text. The body is
// trimmed as StripQuote's reply is; sig is what was cut.
func StripSignature(text string) (body, sig string) {
	lines := splitBodyLines(text)
	end := trimMobileTail(lines, len(lines))
	for i := end - 1; i >= 0; i-- {
		if lines[i] == "-- " {
			end = i
			break
		}
		if strings.TrimRight(lines[i], " \t") == "--" {
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
	for {
		last := end - 1
		for last >= 0 && strings.TrimSpace(lines[last]) == "" {
			last--
		}
		if last < 0 || !mobileSignatureRe.MatchString(strings.TrimRightFunc(lines[last], unicode.IsSpace)) {
			return end
		}
		end = last
	}
}

func nonBlankLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// ExtractReply returns the new text of a reply body: StripQuote, then
// StripSignature. rest holds everything cut, signature first, for storage
// with the note.
func ExtractReply(body string) (reply, rest string) {
	text, quote := StripQuote(body)
	reply, sig := StripSignature(text)
	switch {
	case sig == "":
		return reply, quote
	case quote == "":
		return reply, sig
	}
	return reply, sig + "\n\n" + quote
}
