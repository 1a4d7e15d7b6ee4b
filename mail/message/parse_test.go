package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-message"

	"github.com/turnmail/turnmail/mail"
)

// parseBlobs is an in-memory BlobWriter that hashes what it is given and,
// when keep is set, keeps the bytes. Mail's unit tests need no real store.
type parseBlobs struct {
	keep bool

	mu    sync.Mutex
	data  map[string][]byte
	puts  int
	check func(read int64) // called every MiB read, for the memory test
}

func (s *parseBlobs) PutBlob(r io.Reader) (mail.Blob, error) {
	h := sha256.New()
	var buf bytes.Buffer
	w := io.Writer(h)
	if s.keep {
		w = io.MultiWriter(h, &buf)
	}
	var n int64
	chunk := make([]byte, 32<<10)
	for {
		k, err := r.Read(chunk)
		if k > 0 {
			w.Write(chunk[:k])
			if s.check != nil && (n+int64(k))>>20 != n>>20 {
				s.check(n + int64(k))
			}
			n += int64(k)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return mail.Blob{}, err
		}
	}
	b := mail.Blob{Digest: hex.EncodeToString(h.Sum(nil)), Size: n}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	if s.keep {
		if s.data == nil {
			s.data = map[string][]byte{}
		}
		s.data[b.Digest] = buf.Bytes()
	}
	return b, nil
}

func (s *parseBlobs) OpenBlob(digest string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.data[digest]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", digest)
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (s *parseBlobs) get(t *testing.T, b mail.Blob) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.data[b.Digest]
	if !ok {
		t.Fatalf("blob %s not stored", b.Digest)
	}
	return string(d)
}

// corpusDir returns /work/shared/corpus as seen from the repository, or
// skips the test: a user's clone does not have it.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("mail corpus not available at %s (only in the development setup): %v", dir, err)
	}
	return dir
}

func filenames(atts []Attachment) []string {
	var l []string
	for _, a := range atts {
		l = append(l, a.Filename)
	}
	return l
}

// corpusWant is what Parse must find in one corpus message, set from
// reading the file.
type corpusWant struct {
	files   []string // exact attachment names, in order
	damaged []string // exact names of damaged attachments, in order
	auto    bool
	tnef    bool
	text    string // a word of the decoded text/plain body; "" when there is none
	subject string // a word of the decoded Subject, where decoding matters
	skipped string // a word of some Skipped note
}

var corpusWants = map[string]corpusWant{
	// The name is raw 8-bit bytes that were already UTF-8 (of U+FFFD and
	// GB2312 read as Latin-1) when the fixture was made; Parse keeps them.
	"attach-8bit-filename-01.eml": {files: []string{"\ufffd½\ufffd \ufffdı\ufffd\ufffdĵ\ufffd.txt"}},
	// Raw UTF-8 cut in the middle of a rune by Yahoo: the broken rune goes.
	"attach-8bit-filename-02.eml": {files: []string{"Картинка с очень, очень длинным предлинным именем преименем таким чт"}, text: "Hello"},
	"attach-eml-01.eml":           {files: []string{"thanks.eml"}, text: "Hello"},
	"attach-eml-02.eml":           {files: []string{"original.eml"}, text: "bounce"},
	"attach-eml-03.eml":           {files: []string{"Test 6.eml"}, text: "forward"},
	"attach-encoded-word-01.eml":  {files: []string{"HasenundFrösche.txt"}, text: "Tortoise"},
	"attach-encoded-word-02.eml":  {files: []string{"てすと.txt"}, text: "testing"},
	// The fixture's base64 photo is cut short upstream (it ends one
	// character into a quantum): it is damaged, not a document; its
	// ks_c_5601-1987 encoded name is still decoded.
	"attach-encoded-word-03.eml": {files: []string{"ATT00001.txt"}, damaged: []string{"사진.JPG"}, text: "companions", skipped: "사진.JPG"},
	"attach-encoded-word-04.eml": {files: []string{"Biodiversité de semaine en semaine.doc"}},
	"attach-inline-cid-01.eml":   {text: "Test of text section", skipped: "favicon.png"},
	"attach-inline-cid-02.eml":   {files: []string{"greenball.png", "redball.png"}, text: "Tortoise", skipped: "blueball.png"},
	"attach-inline-cid-03.eml":   {files: []string{"redball.png", "greenball.png"}, text: "Frösche", subject: "Frösche", skipped: "nsmailEG.png"},
	"attach-iphone-photo-01.eml": {files: []string{"photo.JPG"}, text: "Hello"},
	"attach-iphone-photo-02.eml": {files: []string{"image1.jpeg"}, text: "insert an image"},
	"attach-rfc2231-01.eml":      {files: []string{"HasenundFrösche.txt"}, subject: "Frösche"},
	"attach-rfc2231-02.eml":      {files: []string{"Eelanalüüsi päring.jpg"}, subject: "Eelanalüüsi"},
	"attach-rfc2231-03.eml":      {files: []string{"かきくけこかきくけこかきくけこかきくけこかきくけこ.txt"}, subject: "まみむめも"},
	// Both winmail.dat hold only the message's own properties and rich
	// text, no attachment: nothing is hidden from the gateway.
	"attach-tnef-01.eml": {text: "шостий", skipped: "no attachments inside"},
	// An Amazon WorkMail bounce (null Return-Path, MAILER-DAEMON) that
	// happens to carry a winmail.dat: automatic, unlike the other attach-*.
	"attach-tnef-02.eml": {files: []string{"Nyaaaaan.eml"}, auto: true, text: "error occurred", skipped: "winmail.dat"},

	"auto-ooo-01.eml": {auto: true, text: "away"},
	"auto-ooo-02.eml": {auto: true, text: "out of the office"},
	"auto-ooo-03.eml": {auto: true, text: "sleeping"},
	"auto-ooo-04.eml": {auto: true, text: "traveling"},
	"auto-ooo-05.eml": {auto: true, text: "no longer in use"},

	"bounce-arf-01.eml":             {auto: true, files: []string{"Some subject.eml"}, text: "abuse report", skipped: "message/feedback-report"},
	"bounce-dsn-01.eml":             {auto: true, files: []string{"test_bounce 8.eml"}, text: "couldn't be delivered", skipped: "message/delivery-status"},
	"bounce-dsn-02.eml":             {auto: true, files: []string{"Example Subject.eml"}, text: "error occurred"},
	"bounce-dsn-03.eml":             {auto: true, text: "WARNING", skipped: "text/rfc822-headers"},
	"bounce-dsn-04.eml":             {auto: true, files: []string{"FILE-SRV _ FILE-SRV _ Ellern Mede _ eventlog _ Security - Microsoft-Windows-Security-Auditing _ Code_ '4625' - Type_ 'Critical, Error, Warning, , Information, Verbose' - Desc_ '' {44565655}.eml"}, text: "mail system"},
	"bounce-dsn-05.eml":             {auto: true, files: []string{"にゃーん.eml"}, text: "Office365"},
	"bounce-nondsn-01.eml":          {auto: true, text: "failed permanently"},
	"bounce-nondsn-02.eml":          {auto: true, text: "mail delivery software"},
	"bounce-nondsn-03.eml":          {auto: true, text: "qmail-send"},
	"charset-gb2312-01.eml":         {text: "增值税发票", subject: "增值税发票"}, // the body is UTF-8 labelled GB2312
	"charset-iso-2022-jp-01.eml":    {text: "日本語が", subject: "日本語メールテスト"},
	"charset-shift-jis-01.eml":      {text: "このメールはテスト用のメールです"},
	"charset-utf-7-01.eml":          {text: "mißliche Lage", subject: "Frösche"},
	"charset-windows-1252-01.eml":   {text: "mißliche Lage", subject: "Frösche"},
	"list-mailman-signed-01.eml":    {auto: true, text: "GnuPG team", skipped: "application/pgp-signature"},
	"list-reply-apache-01.eml":      {auto: true, text: "real uid of root"},
	"list-reply-ro-01.eml":          {auto: true, text: "boot"},
	"list-reply-ro-02.eml":          {auto: true, text: "Buna"},
	"malformed-8bit-headers-01.eml": {skipped: "no part"}, // no part matches the declared boundary
	"malformed-boundary-01.eml":     {text: "outlook test"},
	// The boundary is folded in the header and in the body alike: no part
	// can be found, the header still says it is automatic.
	"malformed-boundary-02.eml":           {auto: true, skipped: "no part"},
	"malformed-boundary-03.eml":           {text: "Some body"},
	"malformed-charset-01.eml":            {text: "Tortoise", skipped: "invalid-charset"},
	"malformed-empty-multipart-01.eml":    {skipped: "no part"},
	"malformed-encoded-word-01.eml":       {text: "TEST"},
	"malformed-header-01.eml":             {text: "prospect"},
	"malformed-missing-headers-01.eml":    {auto: true, text: "toto", subject: "Automatyczna odpowiedź"},
	"malformed-truncated-01.eml":          {auto: true, text: "配信に失敗しました"},
	"reply-android-ru-01.eml":             {text: "пользователь"},
	"reply-aol-originalmessage-01.eml":    {text: "Hello"},
	"reply-apple-mail-01.eml":             {text: "Hello"},
	"reply-apple-mail-02.eml":             {text: "Hello"},
	"reply-gmail-01.eml":                  {text: "Hello"},
	"reply-iphone-01.eml":                 {text: "Sent from my iPhone"},
	"reply-outlook-quoteheader-01.eml":    {text: "Hello"},
	"reply-outlook-web-hotmail-01.eml":    {text: "Hello"},
	"reply-sparrow-signature-01.eml":      {text: "Sparrow"},
	"reply-thunderbird-01.eml":            {text: "Hello"},
	"reply-yahoo-originalmessage-01.eml":  {text: "Hello"},
	"reply-zimbra-originalmessage-01.eml": {text: "Hello"},
}

func TestParseCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no .eml files in %s", dir)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := corpusWants[name]
			if !ok {
				t.Fatalf("no expectations for %s: read it and add them to corpusWants", name)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			blobs := &parseBlobs{}
			m, err := Parse(f, blobs, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := filenames(m.Attachments); !slices.Equal(got, want.files) {
				t.Errorf("attachments %q, want %q", got, want.files)
			}
			if got := filenames(m.Damaged); !slices.Equal(got, want.damaged) {
				t.Errorf("damaged %q, want %q", got, want.damaged)
			}
			for _, a := range m.Attachments {
				if a.Filename != SanitizeFilename(a.Filename) || a.ContentType == "" || a.Blob.Digest == "" {
					t.Errorf("attachment %+v", a)
				}
			}
			if (m.Auto != "") != want.auto {
				t.Errorf("Auto %q, want automatic %v", m.Auto, want.auto)
			}
			if m.TNEF != want.tnef {
				t.Errorf("TNEF %v, want %v", m.TNEF, want.tnef)
			}
			if want.text == "" && m.Text != "" {
				t.Errorf("Text %q, want none", m.Text)
			}
			if !strings.Contains(m.Text, want.text) {
				t.Errorf("Text %q does not contain %q", m.Text, want.text)
			}
			if !strings.Contains(m.Subject, want.subject) {
				t.Errorf("Subject %q does not contain %q", m.Subject, want.subject)
			}
			if want.skipped != "" && !strings.Contains(strings.Join(m.Skipped, "\n"), want.skipped) {
				t.Errorf("Skipped %q does not mention %q", m.Skipped, want.skipped)
			}
			if !strings.HasPrefix(name, "malformed-") && m.From == nil {
				t.Errorf("no From")
			}
		})
	}
}

// fixtureWants is what Parse must find in each of testdata/mime (see its
// README for what each imitates).
var fixtureWants = map[string]struct {
	files, damaged, calendar []string
	text                     string
}{
	"exchange-ko-truncated-photo.eml":        {files: []string{"ATT00001.txt"}, damaged: []string{"사진.JPG"}, text: "사진 보내드립니다."},
	"thunderbird-de-unpadded-base64.eml":     {files: []string{"Vertrag.txt"}, text: "Grüße"},
	"outlook-en-signature-logo.eml":          {files: []string{"contract v2 - ACME.docx"}, text: "markup"},
	"outlook-fr-calendar-invite.eml":         {calendar: []string{"invite.ics"}, text: "Réunion"},
	"foxmail-zh-gb2312-raw-filename.eml":     {files: []string{"合同草案.pdf"}, text: "附件是合同。"},
	"becky-ja-shiftjis-raw-filename.eml":     {files: []string{"契約書.pdf"}, text: "契約書を添付します。"},
	"thebat-ru-koi8r-raw-filename.eml":       {files: []string{"Договор.pdf"}, text: "Договор во вложении."},
	"eudora-en-windows1252-raw-filename.eml": {files: []string{"Résumé – final.pdf"}, text: "Résumé attached."},
	"webmail-it-qp-stray-equals.eml":         {text: "Perché 2+2=4 e non 5?    \r\nSaluti Giulia\r\n"},
	"mutt-en-cut-attachment.eml":             {damaged: []string{"notes.pdf"}, text: "notes attached"},
	"outlook-de-winmail-dat.eml":             {files: []string{"Änderungsvorschläge Vertrag.docx", "Preisliste 2024.xlsx"}, text: "Preisliste"},
}

func TestParseFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "mime", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := fixtureWants[name]
			if !ok {
				t.Fatalf("no expectations for %s: add them to fixtureWants", name)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := Parse(f, &parseBlobs{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := filenames(m.Attachments); !slices.Equal(got, want.files) {
				t.Errorf("attachments %q, want %q", got, want.files)
			}
			if got := filenames(m.Damaged); !slices.Equal(got, want.damaged) {
				t.Errorf("damaged %q, want %q", got, want.damaged)
			}
			if !slices.Equal(m.Calendar, want.calendar) {
				t.Errorf("calendar %q, want %q", m.Calendar, want.calendar)
			}
			if !strings.Contains(m.Text, want.text) {
				t.Errorf("Text %q does not contain %q", m.Text, want.text)
			}
			if m.TNEF {
				t.Errorf("TNEF set: %q", m.Skipped)
			}
		})
	}
}

// TestParseCorpusHeader checks decoded header fields of a few messages.
func TestParseCorpusHeader(t *testing.T) {
	dir := corpusDir(t)
	parse := func(name string) *Message {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := Parse(f, &parseBlobs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := parse("list-reply-ro-01.eml")
	if m.MessageID != "3E43EB00.7040006@pcnet.ro" || len(m.References) != 4 || m.Date.IsZero() {
		t.Errorf("list-reply-ro-01: id %q, references %q, date %v", m.MessageID, m.References, m.Date)
	}
	m = parse("auto-ooo-03.eml")
	if !slices.Equal(m.InReplyTo, []string{"25203A4E-F90F-4A14-BF51-3E7B9D39BE8E@libsisimai.org"}) {
		t.Errorf("auto-ooo-03: In-Reply-To %q", m.InReplyTo)
	}
	m = parse("charset-utf-7-01.eml")
	want := []mail.Address{{Name: "Joe Blow", Addr: "jblow@example.com"}, {Name: "Jürgen Schmürgen", Addr: "schmuergen@example.com"}}
	if !slices.Equal(m.To, want) {
		t.Errorf("charset-utf-7-01: To %+v, want %+v", m.To, want)
	}
	m = parse("list-reply-apache-01.eml") // raw Latin-1 byte in the display name
	if m.From == nil || m.From.Name != "Ingo Lütkebohle" || m.From.Addr != "ingo@blank.pages.de" {
		t.Errorf("list-reply-apache-01: From %+v", m.From)
	}
	m = parse("auto-ooo-05.eml")
	if !slices.Equal(m.DeliveredTo, []string{"system@errors.ef.example.org"}) {
		t.Errorf("auto-ooo-05: DeliveredTo %q", m.DeliveredTo)
	}
	m = parse("malformed-empty-multipart-01.eml") // To: <Undisclosed-Recipient:@mailman.enron.com;>
	if len(m.To) != 0 {
		t.Errorf("malformed-empty-multipart-01: To %+v", m.To)
	}
}

// crlf turns a readable fixture into wire format.
func crlf(s string) string {
	return strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n")
}

const nestedMixed = `
From: Alice <Alice@Example.COM>
To: bob@example.net, Team: carol@example.net, "Dave D." <dave@example.net>;
Subject: =?utf-8?q?Vertrag_=C3=BCberarbeitet?=
Message-ID: <m1@example.com>
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe, here is the contract.
--alt
Content-Type: multipart/related; boundary=rel

%s
--rel--
--alt--
--outer
Content-Type: application/pdf; name="contract.pdf"
Content-Disposition: attachment; filename="contract.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer--
`

const relatedHTML = `--rel
Content-Type: text/html; charset=utf-8

<p>Gr&uuml;&szlig;e</p><img src="cid:logo%401">`

const relatedLogo = `--rel
Content-Type: image/png; name=logo.png
Content-Disposition: inline; filename=logo.png
Content-ID: <logo@1>
Content-Transfer-Encoding: base64

iVBORw0KGgo=`

func TestParseNested(t *testing.T) {
	// The HTML usually comes before the images it shows, but not always.
	for name, related := range map[string]string{
		"html first": relatedHTML + "\n" + relatedLogo,
		"logo first": relatedLogo + "\n" + relatedHTML,
	} {
		t.Run(name, func(t *testing.T) {
			blobs := &parseBlobs{keep: true}
			m, err := Parse(strings.NewReader(crlf(fmt.Sprintf(nestedMixed, related))), blobs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Text != "Grüße, here is the contract." {
				t.Errorf("Text %q", m.Text)
			}
			if !strings.Contains(m.HTML, `src="cid:logo%401"`) {
				t.Errorf("HTML %q", m.HTML)
			}
			if len(m.Attachments) != 1 {
				t.Fatalf("attachments %+v", m.Attachments)
			}
			a := m.Attachments[0]
			if a.Filename != "contract.pdf" || a.ContentType != "application/pdf" || a.Inline {
				t.Errorf("attachment %+v", a)
			}
			if got := blobs.get(t, a.Blob); got != "%PDF-1.4\n" {
				t.Errorf("stored %q", got)
			}
			if blobs.puts != 2 {
				t.Errorf("%d blobs stored, want the PDF and the logo", blobs.puts)
			}
			if !strings.Contains(strings.Join(m.Skipped, "\n"), `inline image "logo.png"`) {
				t.Errorf("Skipped %q", m.Skipped)
			}
			if m.Subject != "Vertrag überarbeitet" || m.MessageID != "m1@example.com" || m.Auto != "" {
				t.Errorf("Subject %q, Message-ID %q, Auto %q", m.Subject, m.MessageID, m.Auto)
			}
			if m.From == nil || m.From.Addr != "alice@example.com" {
				t.Errorf("From %+v", m.From)
			}
			wantTo := []mail.Address{{Addr: "bob@example.net"}, {Addr: "carol@example.net"}, {Name: "Dave D.", Addr: "dave@example.net"}}
			if !slices.Equal(m.To, wantTo) {
				t.Errorf("To %+v, want %+v", m.To, wantTo)
			}
		})
	}
}

// TestParseComposed reads back what WriteMessage writes: the gateway's own
// mail must parse to the same names and bytes, and count as automatic.
func TestParseComposed(t *testing.T) {
	blobs := &parseBlobs{keep: true}
	put := func(data string) mail.Blob {
		b, err := blobs.PutBlob(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	names := []string{
		"Vertrag (v2).docx",
		"Änderungsvorschläge der Gegenseite – überarbeitet im März 2025, mit sehr langem Namen, der umbrochen werden muss.txt",
		"見積書.pdf",
	}
	out := &mail.Outgoing{
		MessageID: "out1@gw.example",
		From:      mail.Address{Name: "Bob (via turnmail)", Addr: "collab@gw.example"},
		To:        mail.Address{Addr: "alice@example.com"},
		Subject:   "Your turn: Vertrag [tm:k7p2qz]",
		Header:    [][2]string{{"X-Turnmail-Collab", "k7p2qz"}},
		Text:      "Bob handed over.\n",
	}
	for i, n := range names {
		out.Attachments = append(out.Attachments, mail.OutgoingAttachment{Filename: n, ContentType: "application/octet-stream", Blob: put(fmt.Sprintf("content %d", i))})
	}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, out, blobs); err != nil {
		t.Fatal(err)
	}
	m, err := Parse(&buf, blobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Auto == "" || m.MessageID != out.MessageID || m.Subject != out.Subject || !strings.Contains(m.Text, "Bob handed over.") {
		t.Errorf("Auto %q, Message-ID %q, Subject %q, Text %q", m.Auto, m.MessageID, m.Subject, m.Text)
	}
	if len(m.Attachments) != len(names) {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	for i, a := range m.Attachments {
		if a.Filename != names[i] || a.Blob != out.Attachments[i].Blob {
			t.Errorf("attachment %d: %q %+v, want %q %+v", i, a.Filename, a.Blob, names[i], out.Attachments[i].Blob)
		}
	}
}

// attachmentMail builds a multipart/mixed message with a text part and one
// part per header block given, each with a short base64 body.
func attachmentMail(partHeaders ...string) string {
	var b strings.Builder
	b.WriteString("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n")
	for _, h := range partHeaders {
		b.WriteString("--b\n" + h + "\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n")
	}
	b.WriteString("--b--\n")
	return crlf(b.String())
}

func TestParseAttachmentNames(t *testing.T) {
	m, err := Parse(strings.NewReader(attachmentMail(
		"Content-Type: application/pdf",
		"Content-Type: application/octet-stream\nContent-Disposition: attachment",
		`Content-Type: application/octet-stream; name="../../etc/passwd"`,
		`Content-Type: application/msword`+"\n"+`Content-Disposition: attachment; filename="C:\x\evil.docx"`,
		`Content-Type: text/plain`+"\n"+`Content-Disposition: attachment; filename="..."`,
		"Content-Type: image/jpeg\nContent-Disposition: inline; filename=IMG_0042.jpeg",
		"Content-Type: message/rfc822\nContent-Disposition: attachment",
	)), &parseBlobs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attachment-1.pdf", "attachment-2.bin", "passwd", "evil.docx", "attachment-5.txt", "IMG_0042.jpeg", "attachment-7.eml"}
	if got := filenames(m.Attachments); !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	if m.Text != "see attached" {
		t.Errorf("Text %q", m.Text)
	}
	if !m.Attachments[5].Inline || m.Attachments[3].Inline {
		t.Errorf("Inline flags %+v", m.Attachments)
	}
}

func TestParseSkippedParts(t *testing.T) {
	m, err := Parse(strings.NewReader(attachmentMail(
		"Content-Type: application/pkcs7-signature; name=smime.p7s",
		"Content-Type: application/octet-stream; name=signature.asc",
		"Content-Type: text/calendar; method=REQUEST",
		"Content-Type: application/ms-tnef; name=winmail.dat",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Type: message/delivery-status",
	)), &parseBlobs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 0 || !m.TNEF || m.Auto != "report part: message/delivery-status" {
		t.Errorf("attachments %+v, TNEF %v, Auto %q", m.Attachments, m.TNEF, m.Auto)
	}
	if len(m.Skipped) != 6 {
		t.Errorf("Skipped %q", m.Skipped)
	}
}

func TestParseTooManyAttachments(t *testing.T) {
	parts := []string{"Content-Type: image/png", "Content-Type: image/png", "Content-Type: image/png"}
	_, err := Parse(strings.NewReader(attachmentMail(parts...)), &parseBlobs{}, &ParseOptions{MaxAttachments: 2})
	if !errors.Is(err, ErrTooManyAttachments) {
		t.Errorf("3 attachments, max 2: %v", err)
	}
	m, err := Parse(strings.NewReader(attachmentMail(parts...)), &parseBlobs{}, &ParseOptions{MaxAttachments: 3})
	if err != nil || len(m.Attachments) != 3 {
		t.Errorf("3 attachments, max 3: %v", err)
	}
}

func TestParseMaxDepth(t *testing.T) {
	nested := func(depth int) string {
		var b strings.Builder
		b.WriteString("From: a@example.com\n")
		for i := range depth {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\n\ndeep\n")
		for i := depth - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "--b%d--\n", i)
		}
		return crlf(b.String())
	}
	m, err := Parse(strings.NewReader(nested(5)), &parseBlobs{}, &ParseOptions{MaxDepth: 5})
	if err != nil || m.Text != "deep" {
		t.Errorf("depth 5, max 5: %v, Text %q", err, m.Text)
	}
	if _, err := Parse(strings.NewReader(nested(6)), &parseBlobs{}, &ParseOptions{MaxDepth: 5}); !errors.Is(err, ErrLimit) {
		t.Errorf("depth 6, max 5: %v", err)
	}
	_, err = Parse(strings.NewReader(nested(21)), &parseBlobs{}, nil)
	if !errors.Is(err, ErrLimit) || err.Error() != "the message has MIME parts nested more than 20 deep" {
		t.Errorf("depth 21, default max: %v", err)
	}
}

func TestParseMalformedHeader(t *testing.T) {
	for _, raw := range []string{
		"this is no header\r\n\r\nbody\r\n",
		" continuation first\r\nSubject: x\r\n\r\nbody\r\n",
	} {
		if _, err := Parse(strings.NewReader(raw), &parseBlobs{}, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q): %v, want ErrMalformed", raw, err)
		}
	}
	// An mbox From line and a broken line after good fields are tolerated.
	m, err := Parse(strings.NewReader("From a@example.com Mon Jan  1 00:00:00 2024\r\nSubject: hi\r\nbroken line\r\n\r\nbody\r\n"), &parseBlobs{}, nil)
	if err != nil || m.Subject != "hi" {
		t.Errorf("tolerated header: %v, %+v", err, m)
	}
}

type failingBlobs struct{}

var errBlobStore = errors.New("disk full")

func (failingBlobs) PutBlob(r io.Reader) (mail.Blob, error) {
	io.Copy(io.Discard, r)
	return mail.Blob{}, errBlobStore
}

func TestParseBlobWriterFails(t *testing.T) {
	_, err := Parse(strings.NewReader(attachmentMail("Content-Type: image/png; name=a.png")), failingBlobs{}, nil)
	if !errors.Is(err, errBlobStore) || errors.Is(err, ErrMalformed) {
		t.Errorf("Parse: %v, want the store's error", err)
	}
}

func TestParseTextBound(t *testing.T) {
	raw := "Subject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("ü", MaxTextBytes)
	m, err := Parse(strings.NewReader(raw), &parseBlobs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Text) > MaxTextBytes || len(m.Text) < MaxTextBytes-4 || !strings.HasSuffix(m.Text, "ü") {
		t.Errorf("Text of %d bytes", len(m.Text))
	}
	if !strings.Contains(strings.Join(m.Skipped, "\n"), "cut at") {
		t.Errorf("Skipped %q", m.Skipped)
	}
}

// writeBigMail writes a message with one attachment of size pseudo-random
// bytes, base64-encoded by go-message, and returns the attachment's digest.
func writeBigMail(w io.Writer, size int64) (string, error) {
	var h message.Header
	h.Set("From", "a@example.com")
	h.SetContentType("multipart/mixed", nil)
	mw, err := message.CreateWriter(w, h)
	if err != nil {
		return "", err
	}
	var ph message.Header
	ph.SetContentType("application/octet-stream", nil)
	ph.SetContentDisposition("attachment", map[string]string{"filename": "big.bin"})
	ph.Set("Content-Transfer-Encoding", "base64")
	pw, err := mw.CreatePart(ph)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	src := io.LimitReader(rand.NewChaCha8([32]byte{1}), size)
	if _, err := io.Copy(io.MultiWriter(pw, sum), src); err != nil {
		return "", err
	}
	if err := pw.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), mw.Close()
}

func TestParseLargeAttachmentStreams(t *testing.T) {
	const size = 20 << 20
	pr, pw := io.Pipe()
	digest := make(chan string, 1)
	go func() {
		d, err := writeBigMail(pw, size)
		pw.CloseWithError(err)
		digest <- d
	}()

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	blobs := &parseBlobs{check: func(int64) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}}
	m, err := Parse(pr, blobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	a := m.Attachments[0]
	if a.Filename != "big.bin" || a.Blob.Size != size || a.Blob.Digest != <-digest {
		t.Errorf("attachment %+v", a)
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap: %d KiB before, peak growth %d KiB while streaming %d MiB", base>>10, growth>>10, size>>20)
	// Loose: holding the attachment would need 20 MiB; garbage between
	// collections may reach a few MiB.
	if growth > size/2 {
		t.Errorf("heap grew by %d MiB while streaming a %d MiB attachment", growth>>20, size>>20)
	}
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if _, err := writeBigMail(&buf, 200<<10); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	blobs := &parseBlobs{}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(raw), blobs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
