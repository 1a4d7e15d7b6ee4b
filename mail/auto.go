package mail

import (
	"strings"

	gomail "github.com/emersion/go-message/mail"
)

// AutoReason says why a message is automatic (an auto-reply, a bounce or
// other report, mailing-list traffic, or the gateway's own mail coming back)
// and must never be answered, or returns "". envFrom is the envelope sender
// as in Envelope.From: "" is the null sender (RFC 5321 §4.5.5), itself a
// reason. A caller without an envelope passes the Return-Path address, or
// any non-empty string to judge the header alone, as Parse does.
func AutoReason(h gomail.Header, envFrom string) string {
	if r := headerAutoReason(h); r != "" {
		return r
	}
	if envFrom == "" {
		return "null envelope sender"
	}
	return ""
}

// headerAutoReason is AutoReason without the envelope. The signals are
// MAIL-NOTES "Telling automatic mail apart"; the reason names the first that
// matched, in lower case.
//
// X-Auto-Response-Suppress is not one of them: Exchange and Outlook set it on
// ordinary mail too (meeting replies, mail sent through some add-ins), and
// every automatic sample in the corpus that carries it also carries a
// stronger signal (Auto-Submitted, Return-Path <>, an auto-reply subject).
func headerAutoReason(h gomail.Header) string {
	// Our own mail coming back (forwarded by a rule, bounced) is a loop.
	for f := h.Fields(); f.Next(); {
		if k := strings.ToLower(f.Key()); strings.HasPrefix(k, "x-turnmail-") {
			return "loop: " + k
		}
	}
	// RFC 3834 §5: anything but "no" is automatic; the value may carry
	// parameters or a comment ("auto-generated (warning-timeout)").
	if v := firstWord(h.Get("Auto-Submitted")); v != "" && v != "no" {
		return "auto-submitted: " + v
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Apple-Action")), "vacation") {
		return "x-apple-action: vacation"
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond"} {
		if h.Has(k) {
			switch firstWord(h.Get(k)) {
			case "no", "false", "0":
			default:
				return strings.ToLower(k)
			}
		}
	}
	switch v := firstWord(h.Get("Precedence")); v {
	case "bulk", "junk", "list":
		return "precedence: " + v
	}
	// RFC 2919, RFC 2369: list software adds these; people's clients do not.
	for _, k := range []string{"List-Id", "List-Unsubscribe", "List-Post"} {
		if h.Has(k) {
			return strings.ToLower(k)
		}
	}
	if strings.ReplaceAll(strings.TrimSpace(h.Get("Return-Path")), " ", "") == "<>" {
		return "return-path: <>"
	}
	// RFC 3464 delivery status notifications and RFC 5965 feedback reports.
	switch ct := headerToken(h.Get("Content-Type")); ct {
	case "multipart/report", "message/feedback-report", "message/delivery-status":
		return "content-type: " + ct
	}
	if from := addressList(h.Values("From")); len(from) > 0 {
		local, _, _ := strings.Cut(from[0].Addr, "@")
		if autoSenders[local] {
			return "from: " + local + "@"
		}
	}
	subject := strings.ToLower(strings.TrimSpace(headerText(h, "Subject")))
	for _, s := range autoSubjects {
		if strings.HasPrefix(subject, s) {
			return "subject: " + s
		}
	}
	return ""
}

// firstWord returns the lower-cased first word of a structured field value,
// ignoring parameters after ';' and comments after '('.
func firstWord(v string) string {
	if i := strings.IndexAny(v, ";("); i >= 0 {
		v = v[:i]
	}
	f := strings.Fields(strings.ToLower(v))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// autoSenders are local parts used only by software (RFC 2142 §3 for the
// first two).
var autoSenders = map[string]bool{
	"mailer-daemon": true,
	"postmaster":    true,
	"noreply":       true,
	"no-reply":      true,
	"donotreply":    true,
	"do-not-reply":  true,
}

// autoSubjects start the subjects of auto-replies and bounces in the
// languages we meet, lower-cased. Only a prefix counts, so that a person's
// "Re: Automatic reply: …" is still answered.
var autoSubjects = []string{
	"out of office",
	"automatic reply",
	"auto reply",
	"auto-reply",
	"autoreply",
	"abwesenheitsnotiz",
	"automatische antwort",
	"réponse automatique",
	"respuesta automática",
	"automatyczna odpowiedź",
	"delivery status notification",
	"undeliverable",
	"undelivered mail",
	"mail delivery failed",
	"delivery failure",
	"failure notice",
	"returned mail",
}
