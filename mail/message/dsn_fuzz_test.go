package message

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzReadReport checks that ReadReport returns within a bound of time and
// of input read on any input, never panics, and returns only what a
// Report may hold; seeded from testdata/dsn (their {{FILL}} lines left
// short) and a few hostile shapes.
func FuzzReadReport(f *testing.F) {
	for _, tc := range dsnCases {
		f.Add(dsnFixture(f, tc.file, strings.Repeat("X-Filler: x\r\n", 3)))
	}
	f.Add([]byte("Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\nQWN0aW9uOiBmYWlsZWQ"))
	f.Add([]byte("Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nAction: failed=\r\nFinal-Recipient: utf-8; \\x{F8}=\r\n"))
	f.Add([]byte("From: mailer-daemon@x\r\nSubject: Undeliverable\r\n\r\nRemote host said: 550-5.1.1 x\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		type result struct {
			r    *Report
			read int
		}
		done := make(chan [2]result, 1)
		go func() {
			msg, _ := Parse(bytes.NewReader(raw), &parseBlobs{}, nil)
			var res [2]result
			for i, m := range []*Message{msg, nil} {
				cr := &countingReader{r: bytes.NewReader(raw)}
				res[i] = result{ReadReport(cr, m), cr.n}
			}
			done <- res
		}()
		var res [2]result
		select {
		case res = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadReport of %d bytes did not return within 10 s", len(raw))
		}
		for _, x := range res {
			if x.read > maxReport {
				t.Errorf("read %d bytes, more than %d", x.read, maxReport)
			}
			checkReportBounds(t, x.r)
		}
	})
}

// checkReportBounds checks what any Report holds: a failure is the action
// "failed", the recipient is bounded valid UTF-8, the server's words are a
// 4xx or 5xx code or none, an RFC 3463 status or none, and one line of
// UTF-8 text of at most 400 bytes and an ellipsis.
func checkReportBounds(t *testing.T, r *Report) {
	t.Helper()
	if r == nil {
		return
	}
	if r.Failed != (r.Action == "failed") {
		t.Errorf("Failed %v with Action %q", r.Failed, r.Action)
	}
	if strings.ContainsAny(r.Action, " \t\r\n(") || r.Action != strings.ToLower(r.Action) {
		t.Errorf("Action %q is not a lower-case word", r.Action)
	}
	if len(r.Recipient) > maxRecipient || !utf8.ValidString(r.Recipient) {
		t.Errorf("Recipient %q: %d bytes, or not UTF-8", r.Recipient, len(r.Recipient))
	}
	if s := r.Said; s != nil {
		if s.Code != 0 && (s.Code < 400 || s.Code > 599) {
			t.Errorf("Said.Code %d", s.Code)
		}
		if s.Enhanced != "" && !enhancedRE.MatchString(s.Enhanced) {
			t.Errorf("Said.Enhanced %q", s.Enhanced)
		}
		if len(s.Text) > 400+len("…") || strings.ContainsAny(s.Text, "\r\n") || !utf8.ValidString(s.Text) {
			t.Errorf("Said.Text of %d bytes: %q", len(s.Text), s.Text)
		}
	}
}
