package workflow_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// rawReply is Bob's reply through his tagged address, with extra MIME parts
// (already encoded, each starting with its header) after a text part.
func rawReply(tag, msgid, text string, parts ...string) []byte {
	var b strings.Builder
	b.WriteString("From: Bob Axe <" + bob + ">\r\nTo: " + tag + "\r\nSubject: Re: Services contract\r\n" +
		"Message-ID: <" + msgid + ">\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n" +
		"--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	for _, p := range parts {
		b.WriteString("--=_b\r\n" + strings.ReplaceAll(p, "\n", "\r\n") + "\r\n")
	}
	b.WriteString("--=_b--\r\n")
	return []byte(b.String())
}

// sendWithin sends as r.send does, failing the test if the server has not
// answered within a minute: a hang guard, not a speed test.
func (r *rig) sendWithin(from string, rcpts []string, raw []byte) error {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.send(from, rcpts, raw) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		r.t.Fatal("the server did not answer within a minute")
		return nil
	}
}

// TestTruncatedBase64 is the hang of issue 7: a base64 attachment cut inside
// a quantum ("AHEBA", as a real Exchange mail carries) once pinned a core for
// ever. Over SMTP into the real store it is answered, not made a version,
// and its sender hears that it arrived damaged.
func TestTruncatedBase64(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	cut := "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\n" +
		"Content-Disposition: attachment; filename=\"contract v2.docx\"\nContent-Transfer-Encoding: base64\n\n" +
		"UEsDBBQABgAIAAAAIQDfpNJsWgEAACAFAAATAAgCW0NvbnRlbnRfVHlwZXNdLnhtbCCiBAIooAAC\nAHEBA"
	if err := r.sendWithin(bob, []string{tags[bob]}, rawReply(tags[bob], "cut@axe.test", "Here is v2.", cut)); err != nil {
		t.Fatal(err)
	}
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("a damaged file became version %d", n)
	}
	told := false
	for _, m := range r.newMail() {
		if m.out.Msg.To.Addr == bob && strings.Contains(m.msg.Text, "contract v2.docx: arrived damaged") {
			told = true
		}
		if len(m.atts) > 0 {
			t.Errorf("%s got attachments %v", m.out.Msg.To.Addr, keys(m.atts))
		}
	}
	if !told {
		t.Error("bob was not told his file arrived damaged")
	}

	// Missing padding alone is no damage: the file is whole.
	whole := "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"contract.docx\"\n" +
		"Content-Transfer-Encoding: base64\n\nAAECAwQ"
	if err := r.sendWithin(bob, []string{tags[bob]}, rawReply(tags[bob], "pad@axe.test", "v2, really.", whole)); err != nil {
		t.Fatal(err)
	}
	vs := r.versions(c.ID, "contract.docx")
	if len(vs) != 2 || vs[1].Blob.Size != 5 {
		t.Errorf("unpadded base64: %d versions", len(vs))
	}
}

// TestCalendarInviteTold: an invite is no document, and its sender hears it
// was not passed on.
func TestCalendarInviteTold(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	invite := "Content-Type: text/calendar; charset=utf-8; method=REQUEST; name=\"invite.ics\"\n" +
		"Content-Disposition: attachment; filename=\"invite.ics\"\n\nBEGIN:VCALENDAR\nMETHOD:REQUEST\nEND:VCALENDAR"
	r.mustSendRaw(bob, tags[bob], rawReply(tags[bob], "cal@axe.test", "Shall we meet on Monday?", invite))
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("%d versions", n)
	}
	m := to(t, r.newMail(), bob)
	if !strings.Contains(m.msg.Text, "invite.ics: a calendar invite") {
		t.Errorf("bob's answer: %q", m.msg.Text)
	}
}

func (r *rig) mustSendRaw(from, rcpt string, raw []byte) {
	r.t.Helper()
	if err := r.send(from, []string{rcpt}, raw); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// TestWinmailStarts: Outlook's winmail.dat in a starting mail is unpacked
// into the documents it carries.
func TestWinmailStarts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "mail", "message", "testdata", "mime", "outlook-de-winmail-dat.eml"))
	if err != nil {
		t.Fatal(err)
	}
	raw := regexp.MustCompile(`(?m)^To: .*$`).ReplaceAllString(string(b), "To: Bob <"+bob+">\r\nCc: "+gw)
	raw = strings.Replace(raw, "petra@beispiel.de", alice, 1)
	r := newRig(t, rigOptions{})
	r.mustSendRaw(alice, gw, []byte(raw))
	c := r.collab()
	var docs []*store.Document
	if err := r.st.View(func(tx *store.Tx) (err error) { docs, err = tx.Documents(c.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents from winmail.dat, want its 2 files", len(docs))
	}
	if h := to(t, r.newMail(), bob); h.kind != "handoff" || len(h.atts) != 2 {
		t.Errorf("bob's handoff: %s with %v", h.kind, keys(h.atts))
	}
}

// TestSignatureLogoNotADocument: Outlook's signature logo in
// multipart/related, sent with Content-Disposition: attachment and shown by
// cid: in the HTML, is not a document.
func TestSignatureLogoNotADocument(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	raw := "From: Bob Axe <" + bob + ">\r\nTo: " + tags[bob] + "\r\nSubject: Re: Services contract\r\nMessage-ID: <logo@axe.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n" +
		"Content-Type: multipart/related; boundary=r; type=\"text/html\"\r\n\r\n--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		"<p>New version attached.</p><p>Bob<br><img src=\"cid:image001.png@01DA\"></p>\r\n--r\r\n" +
		"Content-Type: image/png; name=\"image001.png\"\r\nContent-Disposition: attachment; filename=\"image001.png\"\r\n" +
		"Content-ID: <image001.png@01DA>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n--m\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"contract.docx\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--m--\r\n"
	r.mustSendRaw(bob, tags[bob], []byte(raw))
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions of contract.docx", n)
	}
	var docs []*store.Document
	if err := r.st.View(func(tx *store.Tx) (err error) { docs, err = tx.Documents(c.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Errorf("the signature logo became a document: %d documents", len(docs))
	}
}

// TestAutoRepliesIgnored: auto-replies that only their subject or an
// Exchange or X-Loop header gives away get no answer and change nothing.
func TestAutoRepliesIgnored(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	for i, tc := range []struct{ subject, header string }{
		{"Abwesend: Services contract", ""},
		{"Absence: Re: Services contract", ""},
		{"Autosvar: Services contract", ""},
		{"Automatisch antwoord: Services contract", ""},
		{"Risposta automatica: Services contract", ""},
		{"Resposta automática: Services contract", ""},
		{"自动回复: Services contract", ""},
		{"Bob Axe is out of the office", ""},
		{"Re: Services contract", "X-Loop: bob@axe.test"},
		{"Re: Services contract", "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"},
	} {
		m := &testMail{from: bob, to: []string{tags[bob]}, subject: tc.subject, msgid: "auto" + string(rune('a'+i)) + "@axe.test",
			body: "I am away until Monday."}
		if tc.header != "" {
			m.extra = []string{tc.header}
		}
		r.mustSend(m, tags[bob])
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("auto-replies were answered or relayed: %s", describe(mails))
	}
	for _, in := range r.inbound()[1:] {
		if in.Outcome != store.OutcomeIgnored {
			t.Errorf("%q: outcome %s", in.Subject, in.Outcome)
		}
	}
	if c2 := r.collab(); c2.Turn != c.Turn {
		t.Error("the turn moved")
	}
}

// TestLimitsAnsweredWithCodes: a mail over a bound of the parser gets a 5xx
// with the reason at the end of DATA, never a silent 250; long lines are
// taken as they come.
func TestLimitsAnsweredWithCodes(t *testing.T) {
	r := newRig(t, rigOptions{})
	start := func(extraHeader, body string) []byte {
		return []byte("From: " + alice + "\r\nTo: " + bob + "\r\nCc: " + gw + "\r\nSubject: Limits\r\nMIME-Version: 1.0\r\n" +
			extraHeader + "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + body)
	}
	var bomb strings.Builder
	bomb.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.docx\"\r\n")
	for range 200_000 {
		bomb.WriteString("X-Filler: 0123456789\r\n")
	}
	bomb.WriteString("\r\nAAAA\r\n--b--\r\n")
	var deep strings.Builder
	for i := range 30 {
		deep.WriteString("--b" + strings.Repeat("x", i) + "\r\nContent-Type: multipart/mixed; boundary=b" + strings.Repeat("x", i+1) + "\r\n\r\n")
	}
	var bigHeader strings.Builder
	for range 30_000 {
		bigHeader.WriteString("X-Filler: 0123456789012345678901234567890123456789\r\n")
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"part header bomb", start("", bomb.String())},
		{"MIME depth", start("", deep.String())},
		{"top-level header over 1 MiB", start(bigHeader.String(), "--b--\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.sendWithin(alice, []string{gw}, tc.raw)
			code, enh := smtpCode(t, err)
			if code/100 != 5 || enh[0] != 5 {
				t.Errorf("got %v, want a 5xx", err)
			}
		})
	}
	if ins := r.inbound(); len(ins) != 0 {
		t.Errorf("refused mail left records: %+v", ins)
	}

	// A body line far over RFC 5322's 998 octets is accepted as Postfix does.
	long := "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>" + strings.Repeat("word ", 2000) + "</p>\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"contract.docx\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + strings.Repeat("AAAA", 5000) + "\r\n--b--\r\n"
	if err := r.sendWithin(alice, []string{gw}, start("Message-ID: <long@acme.test>\r\n", long)); err != nil {
		t.Fatalf("long lines: %v", err)
	}
	c := r.collab()
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 1 || vs[0].Blob.Size != 15000 {
		t.Errorf("long base64 line: %+v", vs)
	}
}

// TestIMAPLimitKeptAndTold: from IMAP a mail over a limit cannot be refused:
// it is kept unprocessable (for the failed mailbox) and its sender told.
func TestIMAPLimitKeptAndTold(t *testing.T) {
	r := newRig(t, rigOptions{})
	var deep strings.Builder
	deep.WriteString("From: Frank <frank@else.test>\r\nTo: " + gw + "\r\nSubject: Deep\r\nMessage-ID: <deep@else.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := range 30 {
		deep.WriteString("--b" + strings.Repeat("x", i) + "\r\nContent-Type: multipart/mixed; boundary=b" + strings.Repeat("x", i+1) + "\r\n\r\n")
	}
	sp, err := mail.NewSpool(t.TempDir(), strings.NewReader(deep.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	res, err := r.eng.Deliver(context.Background(), mail.Envelope{ID: "imap-1", Source: "imap", From: "frank@else.test", Received: time.Now()}, sp)
	if err != nil || !res.Unprocessable {
		t.Fatalf("Deliver: %+v, %v", res, err)
	}
	if ins := r.inbound(); len(ins) != 1 || ins[0].Outcome != store.OutcomeUnprocessable || ins[0].Raw == "" {
		t.Fatalf("inbound %+v", ins)
	}
	m := to(t, r.newMail(), "frank@else.test")
	if !strings.Contains(m.msg.Text, "nested more than 20 deep") {
		t.Errorf("notice: %q", m.msg.Text)
	}
}
