package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/mail"
)

// dsnCase is one fixture of testdata/dsn and what ReadReport must make of
// it.
type dsnCase struct {
	file string
	// fill replaces the line {{FILL}} of a hostile fixture: what would make
	// the file too large to keep.
	fill string
	// maxRead, when set, bounds what ReadReport may read of the input.
	maxRead int
	want    *Report // nil: no report
}

// dsnCases are written here, each imitating the server its name says; the
// comment above each names the software and the language.
var dsnCases = []dsnCase{
	// Postfix 3.x, English: 550 to RCPT from the next hop.
	{file: "postfix-en-550-user-unknown.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>: Recipient address rejected: User unknown in local recipient table"}}},
	// Postfix 3.x, English: 552 at end of DATA, mailbox over quota (Dovecot's words).
	{file: "postfix-en-552-mailbox-full.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 552, Enhanced: "5.2.2", Text: "<bob@axe.test> Quota exceeded (mailbox for user is full)"}}},
	// Postfix 3.x, English: delay warning, 4.4.1 in its own X-Postfix words.
	{file: "postfix-en-441-delayed.eml", want: &Report{Action: "delayed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Enhanced: "4.4.1", Text: "connect to mail.axe.test[192.0.2.7]:25: Connection timed out"}}},
	// Postfix 3.x, English: NOTIFY=SUCCESS relayed to a host without DSN.
	{file: "postfix-en-relayed.eml", want: &Report{Action: "relayed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Enhanced: "2.0.0", Text: "250 2.0.0 Ok: queued as 3F2B1C0D9E"}}},
	// Postfix 3.x, English, SMTPUTF8: RFC 6533 global report, raw UTF-8 address.
	{file: "postfix-en-smtputf8-global.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bøb@axé.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bøb@axé.test>: Recipient address rejected: User unknown in local recipient table"}}},
	// Postfix 3.x, English, global report base64-encoded (unpadded) by a
	// content scanner on the way, its address in RFC 6533 \x{} escapes.
	{file: "postfix-en-reencoded-base64.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bøb@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bøb@axe.test>: Recipient address rejected: User unknown in local recipient table"}}},
	// Postfix 3.x, German remote words, global report quoted-printable-encoded
	// by a content scanner, with a soft line break and "=3D".
	{file: "postfix-en-reencoded-qp.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bøb@axe.test",
		Said: &mail.Refusal{Code: 552, Enhanced: "5.2.2", Text: "<bøb@axe.test>: Postfach voll, Quota = 100%"}}},
	// Exim 4.7x, English: plain text, before Exim wrote multipart/report;
	// the reply after "host … [address]:".
	{file: "exim-en-plain.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>: Recipient address rejected: User unknown in local recipient table"}}},
	// Exim 4.96, English: multipart/report, Status 5.0.0 as Exim always
	// writes it, the server's 5.1.1 in Diagnostic-Code.
	{file: "exim-en-dsn.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>: Recipient address rejected: User unknown in local recipient table"}}},
	// qmail 1.03, English: "Hi. This is the qmail-send program", "Remote host said:".
	{file: "qmail-en-plain.eml", want: &Report{Failed: true, Action: "failed",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>... No such user"}}},
	// Sendmail 8.17, English: upper-case RFC822 and SMTP types, a first
	// part without Content-Type.
	{file: "sendmail-en-550.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>... User unknown"}}},
	// Sendmail 8.17, English: a return receipt, "delivered (to mailbox)".
	{file: "sendmail-en-delivered.eml", want: &Report{Action: "delivered", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Enhanced: "2.1.5"}}},
	// Sendmail 8.17, English: three recipients, only the second failed;
	// Sendmail's comments after the action.
	{file: "sendmail-en-second-failed.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>... User unknown"}}},
	// Gmail, English: the 550-5.1.1 reply over four folded lines, the text
	// part inside multipart/related inside multipart/alternative.
	{file: "gmail-en-550-folded.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser a1si2 - gsmtp"}}},
	// Microsoft 365 (Exchange Online), English: "Undeliverable:", 5.1.10.
	{file: "exchange-online-en-undeliverable.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.10", Text: "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}}},
	// Exchange Server 2016, German: "Unzustellbar:", mailbox over quota.
	{file: "exchange-2016-de-unzustellbar.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 554, Enhanced: "5.2.2", Text: "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded"}}},
	// Microsoft 365 (Exchange Online), French: "Non remis :", 5.4.1.
	{file: "exchange-online-fr-non-remis.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.4.1", Text: "Recipient address rejected: Access denied. AS(201806281) [AM0PR01MB5123.eurprd01.prod.exchangelabs.com]"}}},
	// Yahoo Mail, English: plain text after qmail's, Yahoo's "552 1" reply.
	{file: "yahoo-en-plain.eml", want: &Report{Failed: true, Action: "failed",
		Said: &mail.Refusal{Code: 552, Text: "1 Requested mail action aborted, mailbox not found [RCPT_TO]"}}},
	// Amazon SES, English: Action before Final-Recipient, Status last.
	{file: "amazon-ses-en-550.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "user unknown"}}},
	// Dovecot Pigeonhole Sieve, English: a vacation reply to the return
	// path is no report.
	{file: "dovecot-sieve-en-vacation.eml"},

	// The hostile ones imitate nobody: forged reports in Postfix's layout.
	// multipart/report without a boundary: only the mailer daemon's From
	// tells a bounce, which quotes nothing.
	{file: "hostile-no-boundary.eml", want: &Report{Failed: true, Action: "failed"}},
	// The message ends inside the status part, in the middle of a line.
	{file: "hostile-truncated-status.eml", want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.te"}}},
	// 10,000 header lines: over Parse's 5,000 fields, no report either.
	{file: "hostile-10000-header-lines.eml", fill: strings.Repeat("Received: from x by y\r\n", 9999) + "Received: from x by y"},
	// 10,000 lines in the status part: its first 64 KiB are read, the
	// recipient after them is not.
	{file: "hostile-10000-status-lines.eml", fill: strings.Repeat("X-Filler: x\r\n", 10000), want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "user unknown"}}},
	// A Diagnostic-Code of 1 MiB: 400 bytes of it are quoted.
	{file: "hostile-diagnostic-1mb.eml", fill: strings.Repeat("A", 1<<20), want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: strings.Repeat("A", 400) + "…"}}},
	// A thousand parts before the status part: the first ten are looked
	// through and no more read; Parse refuses the message.
	{file: "hostile-thousand-parts.eml", fill: strings.Repeat("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n", 1000), maxRead: 20 << 10},
	// Every field twice, the Diagnostic-Code folded over 5,000 lines: the
	// first of each is taken, 4 KiB of the folded one.
	{file: "hostile-repeated-folded.eml", fill: strings.Repeat(" x\r\n", 5000), want: &Report{Failed: true, Action: "failed", Recipient: "bob@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "user" + strings.Repeat(" x", 198) + "…"}}},
}

// dsnFixture reads testdata/dsn/name with its {{FILL}} line made fill.
func dsnFixture(t testing.TB, name, fill string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "dsn", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(raw, []byte("{{FILL}}"), []byte(fill))
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

func TestReadReport(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "dsn", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, tc := range dsnCases {
		have[tc.file] = true
	}
	for _, path := range files {
		if !have[filepath.Base(path)] {
			t.Errorf("no case for testdata/dsn/%s: add it to dsnCases", filepath.Base(path))
		}
	}
	for _, tc := range dsnCases {
		crlf := dsnFixture(t, tc.file, tc.fill)
		// Servers write CRLF; mail that went through a Unix mailbox or a
		// milter may have bare LF.
		for _, eol := range []string{"crlf", "lf"} {
			t.Run(tc.file+"/"+eol, func(t *testing.T) {
				raw := crlf
				if eol == "lf" {
					raw = bytes.ReplaceAll(crlf, []byte("\r\n"), []byte("\n"))
				}
				msg, err := Parse(bytes.NewReader(raw), &parseBlobs{}, nil)
				if errors.Is(err, ErrLimit) {
					msg = nil // what the gateway refuses; ReadReport must still end
				} else if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				cr := &countingReader{r: bytes.NewReader(raw)}
				got := ReadReport(cr, msg)
				checkReport(t, got, tc.want)
				if tc.maxRead > 0 && cr.n > tc.maxRead {
					t.Errorf("read %d bytes, want at most %d", cr.n, tc.maxRead)
				}
				if cr.n > maxReport {
					t.Errorf("read %d bytes, more than maxReport", cr.n)
				}
			})
		}
	}
}

func checkReport(t *testing.T, got, want *Report) {
	t.Helper()
	if got == nil || want == nil {
		if got != want {
			t.Fatalf("report %s, want %s", describeReport(got), describeReport(want))
		}
		return
	}
	if got.Failed != want.Failed || got.Action != want.Action || got.Recipient != want.Recipient {
		t.Errorf("report %s, want %s", describeReport(got), describeReport(want))
	}
	switch {
	case got.Said == nil || want.Said == nil:
		if got.Said != want.Said {
			t.Errorf("said %#v, want %#v", got.Said, want.Said)
		}
	case *got.Said != *want.Said:
		t.Errorf("said\n%#v, want\n%#v", *got.Said, *want.Said)
	}
}

func describeReport(r *Report) string {
	if r == nil {
		return "nil"
	}
	said := "nil"
	if r.Said != nil {
		said = "“" + r.Said.Error() + "”"
	}
	return fmt.Sprintf("{Failed: %v, Action: %q, Recipient: %q, Said: %s}", r.Failed, r.Action, r.Recipient, said)
}

func TestUnembedUnicode(t *testing.T) {
	for in, want := range map[string]string{
		`bob@axe.test`:             "bob@axe.test",
		`b\x{F8}b@ax\x{e9}.test`:   "bøb@axé.test",
		`\x{1F600}@axe.test`:       "😀@axe.test",
		`b\x{}b`:                   `b\x{}b`,
		`b\x{110000}b`:             `b\x{110000}b`, // past Unicode
		`b\x{D800}b`:               `b\x{D800}b`,   // a surrogate
		`b\x{1234567}b`:            `b\x{1234567}b`,
		`b\x{zz}b\x{F8}`:           `b\x{zz}bø`,
		`trailing \x{`:             `trailing \x{`,
		`\x{\x{F8}`:                `\x{ø`,
		strings.Repeat(`\x{`, 100): strings.Repeat(`\x{`, 100),
	} {
		if got := unembedUnicode(in); got != want {
			t.Errorf("unembedUnicode(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStatusLatin1: a status part in raw Latin-1, against RFC 3464 but
// written by servers all the same, still gives the server's words as text.
func TestStatusLatin1(t *testing.T) {
	status := "Reporting-MTA: dns; mx.axe.test\r\n\r\n" +
		"Final-Recipient: rfc822; j\xfcrgen@axe.test\r\n" +
		"Action: failed\r\n" +
		"Status: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 Empf\xe4nger unbekannt\r\n"
	checkReport(t, statusFields([]byte(status)), &Report{Failed: true, Action: "failed", Recipient: "jürgen@axe.test",
		Said: &mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "Empfänger unbekannt"}})
}
