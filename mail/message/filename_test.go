package message

import (
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

func TestSanitizeFilename(t *testing.T) {
	long := strings.Repeat("ä", 150) + ".docx" // 305 bytes
	for _, tc := range []struct{ in, want string }{
		{"contract.docx", "contract.docx"},
		{"../../etc/passwd", "passwd"},
		{`C:\x\evil.docx`, "evil.docx"},
		{"..", ""},
		{"", ""},
		{" . ", ""},
		{".htaccess", "htaccess"},
		{"report.pdf. . ", "report.pdf"},
		{"a\x00b\x1fc\x7f.txt", "abc.txt"},
		{"invoice\u202Excod.exe", "invoicexcod.exe"}, // right-to-left override
		{"two  spaces\tand\r\nbreaks.txt", "two spaces and breaks.txt"},
		{`what?*<now>|"x":y.txt`, "what___now___x__y.txt"},
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"LPT1.docx", "_LPT1.docx"},
		{"COM10.txt", "COM10.txt"},
		{"console.txt", "console.txt"},
		{"Grüße – Änderungen.docx", "Grüße – Änderungen.docx"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{long, strings.Repeat("ä", 97) + ".docx"},
		{strings.Repeat("x", 250), strings.Repeat("x", 200)},
	} {
		if got := SanitizeFilename(tc.in); got != tc.want {
			t.Errorf("SanitizeFilename(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := SanitizeFilename(tc.in); len(got) > maxFilenameBytes || got != SanitizeFilename(got) {
			t.Errorf("SanitizeFilename(%q) = %q: too long or not stable", tc.in, got)
		}
	}
}

func TestPartFilename(t *testing.T) {
	for _, tc := range []struct {
		name, disposition, contentType, want string
	}{
		{"rfc2231 latin-1", `attachment; filename*="iso-8859-1''HasenundFr%F6sche.txt"`, "text/plain", "HasenundFrösche.txt"},
		{"rfc2231 unquoted", `inline; filename*=ISO-8859-1''Eelanal%FC%FCsi%20p%E4ring.jpg`, "image/jpeg", "Eelanalüüsi päring.jpg"},
		{"rfc2231 wins over plain", `attachment; filename="fallback.txt"; filename*=utf-8''r%C3%A9sum%C3%A9.txt`, "text/plain", "résumé.txt"},
		{"rfc2231 continuations", `attachment; filename*0*=utf-8''%E3%81%8B%E3%81; filename*2=".txt"; filename*1*=%8D`, "text/plain", "かき.txt"},
		{"rfc2231 in name", "", `application/pdf; name*=utf-8''%C3%BC.pdf`, "ü.pdf"},
		{"encoded word", `attachment; filename="=?UTF-8?Q?Biodiversit=C3=A9_de_semaine.doc?="`, "application/msword", "Biodiversité de semaine.doc"},
		{"encoded words split", "", `text/plain; name="=?utf-8?B?44GL44GN?= =?utf-8?B?44GP?="`, "かきく"},
		{"raw utf-8", "attachment; filename=\"Картинка.png\"", "image/png", "Картинка.png"},
		{"raw latin-1", "attachment; filename=\"Gr\xfc\xdfe.txt\"", "text/plain", "Grüße.txt"},
		{"unquoted with spaces", "attachment; filename=my file.pdf; size=3", "application/pdf", "my file.pdf"},
		{"spaces around =", `attachment; filename = "a.pdf"`, "application/pdf", "a.pdf"},
		{"escaped quote", `attachment; filename="say \"hi\".txt"`, "text/plain", `say "hi".txt`},
		{"windows path kept for sanitising", `inline; filename="C:\TEMP\nsmail.png"`, "image/png", `C:\TEMP\nsmail.png`},
		{"name only", "", `image/png; name="blue.png"`, "blue.png"},
		{"disposition wins", `attachment; filename="a.txt"`, `text/plain; name="b.txt"`, "a.txt"},
		{"uppercase keys", `ATTACHMENT; FILENAME="A.TXT"`, "text/plain", "A.TXT"},
		{"none", "inline", "text/plain; charset=utf-8", ""},
		{"unterminated quote", `attachment; filename="open.txt`, "text/plain", "open.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h message.Header
			if tc.disposition != "" {
				h.Set("Content-Disposition", tc.disposition)
			}
			h.Set("Content-Type", tc.contentType)
			if got := partFilename(h, ""); got != tc.want {
				t.Errorf("partFilename = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGeneratedFilename(t *testing.T) {
	for _, tc := range []struct {
		n         int
		mediaType string
		want      string
	}{
		{1, "application/pdf", "attachment-1.pdf"},
		{2, "image/jpeg", "attachment-2.jpg"},
		{3, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment-3.docx"},
		{4, "message/rfc822", "attachment-4.eml"},
		{5, "application/x-unheard-of", "attachment-5"},
	} {
		if got := generatedFilename(tc.n, tc.mediaType); got != tc.want {
			t.Errorf("generatedFilename(%d, %q) = %q, want %q", tc.n, tc.mediaType, got, tc.want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		charset string
		in      string
		want    string
	}{
		{"iso-8859-1", "Gr\xfc\xdfe", "Grüße"},
		{"windows-1252", "\x93quoted\x94", "“quoted”"},
		{"gb2312", "你好", "你好"}, // valid UTF-8 under a wrong label
		{"iso-2022-jp", "\x1b$BF|K\\\x1b(B", "日本"},
		{"utf-7", "Fr+APY-sche +- 1+AKM-", "Frösche + 1£"},
		{"utf-7", "+ZeVnLIqe-", "日本語"},
		{"", "plain", "plain"},
		{"x-unknown", "caf\xe9", "café"},
	} {
		got, _ := decodeText(tc.charset, []byte(tc.in))
		if got != tc.want {
			t.Errorf("decodeText(%q, %q) = %q, want %q", tc.charset, tc.in, got, tc.want)
		}
	}
	if _, err := decodeText("x-unknown", []byte("caf\xe9")); err == nil {
		t.Error("unknown charset not reported")
	}
}
