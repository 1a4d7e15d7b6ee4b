package message

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/internal/mailtest"
)

func testOutgoing(to string) mail.Outgoing {
	return mail.Outgoing{
		MessageID: NewMessageID("gw.example"),
		Date:      time.Date(2025, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600)),
		From:      mail.Address{Name: "Alice Smith (via turnmail)", Addr: "collab@gw.example"},
		To:        mail.Address{Name: "Bob", Addr: to},
		Subject:   "Services Agreement [tm:k7p2qz]",
		Text:      "Your turn.\n",
	}
}

// part is one leaf of a parsed message.
type part struct {
	ctype, filename string
	body            []byte
}

// parseBack reads raw with go-message and returns the top entity, the
// message's structure ("multipart/mixed[text/plain,application/pdf]") and
// its leaves in order.
func parseBack(t *testing.T, raw []byte) (*message.Entity, string, []part) {
	t.Helper()
	top, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message.Read: %v", err)
	}
	var leaves []part
	var structure func(e *message.Entity) string
	structure = func(e *message.Entity) string {
		ctype, _, err := e.Header.ContentType()
		if err != nil {
			t.Fatalf("content type: %v", err)
		}
		mr := e.MultipartReader()
		if mr == nil {
			body, err := io.ReadAll(e.Body)
			if err != nil {
				t.Fatalf("read %s body: %v", ctype, err)
			}
			ah := gomail.AttachmentHeader{Header: e.Header}
			name, err := ah.Filename()
			if err != nil {
				t.Fatalf("filename: %v", err)
			}
			leaves = append(leaves, part{ctype, name, body})
			return ctype
		}
		var kids []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			// Without go-message/charset a non-UTF-8 text part keeps its bytes.
			if err != nil && !message.IsUnknownCharset(err) {
				t.Fatalf("next part of %s: %v", ctype, err)
			}
			kids = append(kids, structure(p))
		}
		return ctype + "[" + strings.Join(kids, ",") + "]"
	}
	s := structure(top)
	return top, s, leaves
}

func render(t *testing.T, m *mail.Outgoing, blobs mail.BlobOpener) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteMessage(&buf, m, blobs); err != nil {
		t.Fatalf("WriteMessage: %v", err)
	}
	return buf.Bytes()
}

// checkLines fails unless every line of raw ends in CRLF and is at most 998
// octets, and the top header's lines are at most 78 unless they hold a single
// word.
func checkLines(t *testing.T, raw []byte) {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) ||
		bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\r")) {
		t.Errorf("message has a bare CR or LF")
	}
	inHeader := true
	for i, line := range strings.Split(string(raw), "\r\n") {
		if line == "" {
			inHeader = false
		}
		if len(line) > 998 || inHeader && len(line) > 78 && len(strings.Fields(line)) > 2 {
			t.Errorf("line %d is %d octets: %.80q", i+1, len(line), line)
		}
	}
}

func TestWriteMessageRoundTrip(t *testing.T) {
	blobs := mailtest.Blobs{}
	big := make([]byte, 1<<20)
	rand.Read(big)
	longName := `Anlage 7 – "Haftung" Änderungsvorschläge der Gegenseite, überarbeitet im März 2025.txt`
	atts := []mail.OutgoingAttachment{
		blobs.Add("Vertrag Änderungen (v2).docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", []byte("PK\x03\x04 docx bytes")),
		blobs.Add("契約書 最終版 (v3).pdf", "application/pdf", []byte("%PDF-1.7\n\x00\x01\x02")),
		blobs.Add("data.bin", "", big),
		blobs.Add(longName, "text/plain; charset=iso-8859-1", []byte("Haftung\xe4\r\n")),
	}
	var refs []string
	for i := range 12 {
		refs = append(refs, fmt.Sprintf("msg%02d.%s", i, NewMessageID("gw.example")))
	}
	refs = append(refs, "reply.abcdefghijklmnop@gw.example")
	m := testOutgoing("bob@axe.example")
	m.To.Name = "Jürgen Müller"
	m.ReplyTo = &mail.Address{Name: "turnmail", Addr: "collab+k7p2qz.p1.abcdefghijklm@gw.example"}
	m.Subject = "Re: Vertrag – Änderungen für 2025, 日本語の件名も長くなるとエンコードされて折り返される [tm:k7p2qz]"
	m.InReplyTo = refs[len(refs)-2]
	m.References = refs
	m.ListID = "Services Agreement <k7p2qz.collab.gw.example>"
	m.ListPost = "collab+k7p2qz.p1.abcdefghijklm@gw.example"
	m.ListUnsubscribe = "<mailto:collab+unsub@gw.example?subject=unsubscribe>"
	m.Header = [][2]string{{"X-Turnmail-Collab", "k7p2qz"}}
	m.Text = "Hello Jürgen,\n\nyour turn. " + strings.Repeat("long-line-without-spaces", 60) + "\ntrailing space \n"
	m.HTML = "<p>Hello Jürgen,</p><p>your turn.</p>"
	m.Attachments = atts

	raw := render(t, &m, blobs)
	checkLines(t, raw)
	if !regexp.MustCompile(`\r\nReferences: <[^\r]*>\r\n <`).Match(raw) {
		t.Errorf("References is not folded between ids")
	}

	top, structure, leaves := parseBack(t, raw)
	wantStructure := "multipart/mixed[multipart/alternative[text/plain,text/html]," +
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document,application/pdf,application/octet-stream,text/plain]"
	if structure != wantStructure {
		t.Fatalf("structure\n got %s\nwant %s", structure, wantStructure)
	}

	h := gomail.Header{Header: top.Header}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	addr := func(key string) string {
		t.Helper()
		l, err := h.AddressList(key)
		if err != nil || len(l) != 1 {
			t.Fatalf("%s: %v %v", key, l, err)
		}
		return l[0].Name + " <" + l[0].Address + ">"
	}
	check("From", addr("From"), "Alice Smith (via turnmail) <collab@gw.example>")
	check("To", addr("To"), "Jürgen Müller <bob@axe.example>")
	check("Reply-To", addr("Reply-To"), "turnmail <collab+k7p2qz.p1.abcdefghijklm@gw.example>")
	subject, err := h.Subject()
	check("Subject", subject, m.Subject)
	if err != nil {
		t.Errorf("Subject: %v", err)
	}
	date, err := h.Date()
	if err != nil || !date.Equal(m.Date) {
		t.Errorf("Date = %v, %v; want %v", date, err, m.Date)
	}
	id, _ := h.MessageID()
	check("Message-ID", id, m.MessageID)
	irt, _ := h.MsgIDList("In-Reply-To")
	check("In-Reply-To", strings.Join(irt, " "), m.InReplyTo)
	gotRefs, err := h.MsgIDList("References")
	check("References", strings.Join(gotRefs, " "), strings.Join(refs, " "))
	if err != nil {
		t.Errorf("References: %v", err)
	}
	check("List-Id", h.Get("List-Id"), m.ListID)
	check("List-Post", h.Get("List-Post"), "<mailto:"+m.ListPost+">")
	check("List-Unsubscribe", h.Get("List-Unsubscribe"), m.ListUnsubscribe)
	check("MIME-Version", h.Get("MIME-Version"), "1.0")
	check("Auto-Submitted", h.Get("Auto-Submitted"), "auto-generated")
	check("X-Auto-Response-Suppress", h.Get("X-Auto-Response-Suppress"), "All")
	check("X-Turnmail-Collab", h.Get("X-Turnmail-Collab"), "k7p2qz")

	check("text", string(leaves[0].body), strings.ReplaceAll(m.Text, "\n", "\r\n"))
	check("html", string(leaves[1].body), m.HTML)
	for i, a := range atts {
		p := leaves[2+i]
		check(fmt.Sprintf("attachment %d name", i), p.filename, a.Filename)
		if !bytes.Equal(p.body, blobs[a.Blob.Digest]) {
			t.Errorf("attachment %q: %d bytes differ from the %d stored", a.Filename, len(p.body), a.Blob.Size)
		}
	}
	// Clients that read no RFC 2231 get the RFC 2047 filename= and name=.
	for _, key := range []string{"filename", "name"} {
		re := regexp.MustCompile(`(?s)Content-Disposition: attachment;.*?[; ]` + key + `="([^"]*)"`)
		if key == "name" {
			re = regexp.MustCompile(`Content-Type: application/pdf;\s+name="([^"]*)"`)
		}
		sub := re.FindSubmatch(raw)
		if sub == nil {
			t.Fatalf("no %s= fallback in\n%s", key, raw[:2000])
		}
		var dec gomail.Header
		dec.Set("X", strings.ReplaceAll(string(sub[1]), "\r\n", ""))
		got, err := dec.Text("X")
		if err != nil || got != atts[0].Filename && got != atts[1].Filename {
			t.Errorf("%s= fallback %q decodes to %q, %v", key, sub[1], got, err)
		}
	}
	if !strings.Contains(string(raw), "Content-Type: text/plain; charset=iso-8859-1;") {
		t.Errorf("attachment content type lost its charset")
	}
}

func TestWriteMessageStructure(t *testing.T) {
	blobs := mailtest.Blobs{}
	pdf := blobs.Add("a.pdf", "application/pdf", []byte("%PDF"))
	tests := []struct {
		name, html string
		atts       []mail.OutgoingAttachment
		want       string
	}{
		{"text only", "", nil, "text/plain"},
		{"text and html", "<p>hi</p>", nil, "multipart/alternative[text/plain,text/html]"},
		{"text and attachment", "", []mail.OutgoingAttachment{pdf}, "multipart/mixed[text/plain,application/pdf]"},
		{"all", "<p>hi</p>", []mail.OutgoingAttachment{pdf}, "multipart/mixed[multipart/alternative[text/plain,text/html],application/pdf]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testOutgoing("bob@axe.example")
			m.HTML, m.Attachments = tc.html, tc.atts
			raw := render(t, &m, blobs)
			checkLines(t, raw)
			top, got, leaves := parseBack(t, raw)
			if got != tc.want {
				t.Errorf("structure %s, want %s", got, tc.want)
			}
			if _, params, _ := top.Header.ContentType(); tc.want == "text/plain" && params["charset"] != "utf-8" {
				t.Errorf("text part charset %q", params["charset"])
			}
			if string(leaves[0].body) != "Your turn.\r\n" {
				t.Errorf("text %q", leaves[0].body)
			}
		})
	}
}

func TestWriteMessageErrors(t *testing.T) {
	blobs := mailtest.Blobs{}
	tests := []struct {
		name      string
		edit      func(m *mail.Outgoing)
		permanent bool
	}{
		{"no message id", func(m *mail.Outgoing) { m.MessageID = "" }, true},
		{"no recipient", func(m *mail.Outgoing) { m.To.Addr = "" }, true},
		{"line break in List-Id", func(m *mail.Outgoing) { m.ListID = "a\r\nBcc: x@evil.example" }, true},
		{"line break in address", func(m *mail.Outgoing) { m.To.Addr = "bob@axe.example>\r\nBcc: <x@evil.example" }, true},
		{"bad header name", func(m *mail.Outgoing) { m.Header = [][2]string{{"X A:", "b"}} }, true},
		{"missing blob", func(m *mail.Outgoing) {
			m.Attachments = []mail.OutgoingAttachment{{Filename: "a.pdf", Blob: mail.Blob{Digest: "00", Size: 1}}}
		}, false},
		{"short blob", func(m *mail.Outgoing) {
			a := blobs.Add("a.pdf", "application/pdf", []byte("%PDF"))
			a.Blob.Size++
			m.Attachments = []mail.OutgoingAttachment{a}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testOutgoing("bob@axe.example")
			tc.edit(&m)
			err := WriteMessage(io.Discard, &m, blobs)
			if err == nil {
				t.Fatal("no error")
			}
			var pe *mail.PermanentError
			if errors.As(err, &pe) != tc.permanent {
				t.Errorf("err %v: permanent %v, want %v", err, !tc.permanent, tc.permanent)
			}
		})
	}
}

func TestNewMessageID(t *testing.T) {
	re := regexp.MustCompile(`^[a-z2-7]{26}@gw\.example$`)
	seen := make(map[string]bool)
	for range 100 {
		id := NewMessageID("gw.example")
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated Message-ID %q", id)
		}
		seen[id] = true
	}
}
