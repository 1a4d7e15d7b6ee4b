package mail

import (
	"bufio"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

func TestAutoReason(t *testing.T) {
	const person = "From: Bob <bob@example.com>\nSubject: Re: contract\n"
	for _, tc := range []struct {
		name, header, envFrom, want string
	}{
		{"person", person, "bob@example.com", ""},
		{"null sender", person, "", "null envelope sender"},
		{"auto-submitted", person + "Auto-Submitted: auto-replied\n", "x@y", "auto-submitted: auto-replied"},
		{"auto-submitted comment", person + "Auto-Submitted: auto-generated (warning-timeout)\n", "x@y", "auto-submitted: auto-generated"},
		{"auto-submitted no", person + "Auto-Submitted: no\n", "x@y", ""},
		{"precedence", person + "Precedence: Bulk\n", "x@y", "precedence: bulk"},
		{"precedence first-class", person + "Precedence: first-class\n", "x@y", ""},
		{"x-autoreply", person + "X-Autoreply: yes\n", "x@y", "x-autoreply"},
		{"x-autorespond", person + "X-Autorespond: 1\n", "x@y", "x-autorespond"},
		{"list-id", person + "List-Id: <team.lists.example.com>\n", "x@y", "list-id"},
		{"list-post alone", person + "List-Post: <mailto:team@lists.example.com>\n", "x@y", "list-post"},
		{"return-path", person + "Return-Path: < >\n", "x@y", "return-path: <>"},
		{"report", person + "Content-Type: multipart/report; report-type=delivery-status; boundary=x\n", "x@y", "content-type: multipart/report"},
		{"mailer-daemon", "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n", "x@y", "from: mailer-daemon@"},
		{"no-reply", "From: <no-reply@service.example>\n", "x@y", "from: no-reply@"},
		{"out of office", "From: bob@example.com\nSubject: Out of Office: contract\n", "x@y", "subject: out of office"},
		{"encoded subject", "From: bob@example.com\nSubject: =?utf-8?q?R=C3=A9ponse_automatique?=\n", "x@y", "subject: réponse automatique"},
		{"german", "From: bob@example.com\nSubject: Abwesenheitsnotiz: Vertrag\n", "x@y", "subject: abwesenheitsnotiz"},
		{"reply to an auto-reply", "From: bob@example.com\nSubject: Re: Automatic reply: contract\n", "x@y", ""},
		{"apple vacation", person + "X-Apple-Action: VACATION\n", "x@y", "x-apple-action: vacation"},
		{"loop", person + "X-Turnmail-Collab: k7p2qz\n", "x@y", "loop: x-turnmail-collab"},
		// Exchange sets it on ordinary mail too: not a reason on its own.
		{"x-auto-response-suppress alone", person + "X-Auto-Response-Suppress: All\n", "x@y", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.ReplaceAll(tc.header, "\n", "\r\n") + "\r\n"
			th, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			h := gomail.Header{Header: message.Header{Header: th}}
			if got := AutoReason(h, tc.envFrom); got != tc.want {
				t.Errorf("AutoReason = %q, want %q", got, tc.want)
			}
		})
	}
}
