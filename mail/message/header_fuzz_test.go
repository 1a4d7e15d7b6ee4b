package message

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-msgauth/authres"
)

// FuzzDMARCVerdict feeds DMARCVerdict Authentication-Results fields, which
// every server on the way, and the sender, may write, seeded with the
// shapes of TestDMARCVerdict and of what OpenDMARC and Postfix write.
// Besides not panicking, only the topmost field of a trusted server may
// count: fields below it, and fields of other servers above it, change
// nothing.
func FuzzDMARCVerdict(f *testing.F) {
	for _, seed := range []string{
		"mx.gw.test; spf=pass smtp.mailfrom=axe.test; dmarc=pass header.from=axe.test",
		"mx.gw.test; dmarc=fail (p=reject) header.from=axe.test",
		"mx.gw.test 1; dmarc=pass header.from=axe.test",
		"MX.GW.Test; dmarc=pass header.from=AXE.test",
		"evil.test; dmarc=pass header.from=axe.test",
		"mx.gw.test; dmarc=pass",
		"mx.gw.test; dmarc=temperror header.from=axe.test",
		"mx.gw.test; none",
		"mx.gw.test; dkim=pass header.d=axe.test header.s=s1; dmarc=pass (p=none dis=none) header.from=axe.test",
		"mx.gw.test;\r\n\tdmarc=pass header.from=axe.test",
		"mx.gw.test; dmarc=pass header.from=axe.test; dmarc=fail header.from=axe.test",
		"mx.gw.test (comment; dmarc=fail) ; dmarc=pass header.from=axe.test",
		"mx.gw.test; dmarc=", ";", "", "mx.gw.test; dmarc=pass header.from=\"axe.test\"",
	} {
		f.Add(seed, "axe.test")
	}
	trusted := []string{"mx.gw.test"}
	forged := "evil.test; dmarc=pass header.from="
	f.Fuzz(func(t *testing.T, field, fromDomain string) {
		v := DMARCVerdict([]string{field}, trusted, fromDomain)
		if v != DMARCNone && v != DMARCPass && v != DMARCFail {
			t.Fatalf("DMARCVerdict(%q) = %q", field, v)
		}
		if got := DMARCVerdict([]string{field}, nil, fromDomain); got != DMARCNone {
			t.Fatalf("DMARCVerdict(%q) without trusted servers = %q", field, got)
		}
		if got := DMARCVerdict([]string{forged + fromDomain, field}, trusted, fromDomain); got != v {
			t.Fatalf("DMARCVerdict(%q) = %q, and %q with an untrusted field above it", field, v, got)
		}
		if id, _, _ := authres.Parse(field); isTrusted(id, trusted) {
			below := "mx.gw.test; dmarc=fail header.from=" + fromDomain
			if got := DMARCVerdict([]string{field, below}, trusted, fromDomain); got != v {
				t.Fatalf("DMARCVerdict(%q) = %q, and %q with a field below it", field, v, got)
			}
		} else if v != DMARCNone {
			t.Fatalf("DMARCVerdict(%q) = %q from an untrusted server %q", field, v, id)
		}
	})
}

// FuzzSanitizeFilename feeds SanitizeFilename attachment names, which the
// sender writes, seeded with the filename parameters of testdata/mime (raw
// Shift_JIS, GB2312, KOI8-R and Windows-1252 among them) and the shapes of
// path tricks. What it returns is used as a path element and shown in mail:
// it must be what its comment promises, and already sane (a second pass
// changes nothing).
func FuzzSanitizeFilename(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "mime", "*.eml"))
	param := regexp.MustCompile(`(?i)filename\*?="?([^"\r\n;]*)`)
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range param.FindAllSubmatch(raw, -1) {
			f.Add(string(m[1]))
		}
	}
	for _, seed := range []string{
		"contract.docx", "../../etc/passwd", `C:\Users\bob\Desktop\contract v2.docx`, "CON.txt", "com1.docx", "lpt9",
		"  .hidden. ", "a<b>c:d\"e|f?g*h", "re\u202egnp.exe", "tab\tand\nnewline", "\xff\xfename.pdf", "...",
		strings.Repeat("ä", 150) + ".docx", strings.Repeat("x", 300) + ".verylongextension", "CONIN$", "nul .txt",
		"Übersicht Q3 – final (2).xlsx", "契約書.docx", "a/b/", "名前\u200f.txt",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := SanitizeFilename(name)
		if got == "" {
			return
		}
		if !utf8.ValidString(got) || len(got) > maxFilenameBytes {
			t.Fatalf("SanitizeFilename(%q) = %q: invalid or %d bytes", name, got, len(got))
		}
		if strings.ContainsAny(got, "/\\<>:\"|?*") || strings.ContainsFunc(got, func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.IsSpace(r) && r != ' '
		}) {
			t.Fatalf("SanitizeFilename(%q) = %q holds a character it drops", name, got)
		}
		if strings.HasPrefix(got, ".") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, ".") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("SanitizeFilename(%q) = %q: dots or spaces at an end, or doubled", name, got)
		}
		if reservedName(got) {
			t.Fatalf("SanitizeFilename(%q) = %q, a Windows device name", name, got)
		}
		if again := SanitizeFilename(got); again != got {
			t.Fatalf("SanitizeFilename(%q) = %q, but SanitizeFilename(%q) = %q", name, got, got, again)
		}
	})
}
