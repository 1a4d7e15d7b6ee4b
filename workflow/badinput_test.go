package workflow_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/store"
)

func TestRejectedRecipients(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 100))
	tags := tagsOf(t, r.newMail())
	forged := strings.Replace(tags[bob], "+"+c.ID+".p", "+"+c.ID+".q", 1)
	// Bob's address carrying Alice's MAC.
	mac := func(tag string) (head, mac string) {
		local := tag[:strings.IndexByte(tag, '@')]
		i := strings.LastIndexByte(local, '.')
		return local[:i], local[i:]
	}
	bobHead, _ := mac(tags[bob])
	_, aliceMAC := mac(tags[alice])
	moved := bobHead + aliceMAC + "@gw.test"
	for _, tc := range []struct {
		name string
		rcpt string
		code int
		enh  smtp.EnhancedCode
	}{
		{"foreign domain", "someone@elsewhere.test", 550, smtp.EnhancedCode{5, 7, 1}},
		{"forged tag", forged, 550, smtp.EnhancedCode{5, 1, 1}},
		{"mac of another person", moved, 550, smtp.EnhancedCode{5, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.send(bob, []string{tc.rcpt}, (&testMail{from: bob, subject: "x", msgid: tc.name + "@axe.test", body: "x"}).bytes())
			code, enh := smtpCode(t, err)
			if code != tc.code || enh != tc.enh {
				t.Errorf("got %d %v, want %d %v", code, enh, tc.code, tc.enh)
			}
		})
	}
	if n := len(r.inbound()); n != 1 {
		t.Errorf("%d inbound records, want only the start", n)
	}
}

func TestStrangerChangesNothing(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 100))
	tags := tagsOf(t, r.newMail())
	for _, from := range []string{"mallory@evil.test", alice} { // alice on bob's tag is a stranger there too
		r.mustSend(&testMail{from: from, to: []string{tags[bob]}, subject: "Re: x", msgid: "s-" + from,
			body: "take this", files: []testFile{{"contract.docx", fileData(66, 100)}}}, tags[bob])
	}
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("a stranger made a version")
	}
	if got := r.collab(); got.Turn != 2 {
		t.Errorf("a stranger moved the turn")
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("mail went out for a stranger: %s", describe(mails))
	}
	ins := r.inbound()
	for _, in := range ins[1:] {
		if in.Outcome != store.OutcomeStranger || in.Collab != c.ID {
			t.Errorf("inbound %d: outcome %s collab %q", in.ID, in.Outcome, in.Collab)
		}
	}
}

func TestDuplicateMessage(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 100))
	tags := tagsOf(t, r.newMail())
	m := &testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "dup@axe.test",
		body: "v2", files: []testFile{{"contract.docx", fileData(2, 100)}}}
	r.mustSend(m, tags[bob])
	first := r.newMail()
	r.mustSend(m, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions after a redelivery, want 2", n)
	}
	if mails := r.newMail(); len(first) == 0 || len(mails) != 0 {
		t.Errorf("redelivery sent %d mails", len(mails))
	}
	// Without a Message-ID the digest of the bytes stands in for it.
	m2 := &testMail{from: alice, to: []string{tags[alice]}, subject: "Re: x", body: "no id", files: []testFile{{"contract.docx", fileData(3, 100)}}}
	r.mustSend(m2, tags[alice])
	r.mustSend(m2, tags[alice])
	if n := len(r.versions(c.ID, "contract.docx")); n != 3 {
		t.Errorf("%d versions after an id-less redelivery, want 3", n)
	}
}

func TestTooBig(t *testing.T) {
	r := newRig(t, rigOptions{maxBytes: 64 << 10})
	err := r.send(alice, []string{gw}, (&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "big",
		msgid: "big@acme.test", files: []testFile{{"big.docx", fileData(1, 100_000)}}}).bytes())
	if code, enh := smtpCode(t, err); code != 552 || enh != (smtp.EnhancedCode{5, 3, 4}) {
		t.Errorf("got %d %v, want 552 5.3.4", code, enh)
	}
	if n := len(r.inbound()); n != 0 {
		t.Errorf("%d inbound records for a refused mail", n)
	}
}

func TestUnmatchedGetsOneNotice(t *testing.T) {
	r := newRig(t, rigOptions{})
	for i := range 2 {
		r.mustSend(&testMail{from: "eve@else.test", to: []string{gw}, subject: "Hello?", msgid: "u" + string(rune('0'+i)) + "@else.test", body: "How does this work?"}, gw)
	}
	mails := r.newMail()
	if len(mails) != 1 {
		t.Fatalf("%d notices, want one (per address, kind and day)", len(mails))
	}
	if m := mails[0]; m.out.Msg.To.Addr != "eve@else.test" || !strings.Contains(m.msg.Text, "attach the documents") {
		t.Errorf("notice %q to %s", m.msg.Text, m.out.Msg.To.Addr)
	}
	for _, in := range r.inbound() {
		if in.Outcome != store.OutcomeUnmatched {
			t.Errorf("outcome %s", in.Outcome)
		}
	}
}

// TestAutomaticMailGetsNoAnswer: auto-replies, bounces and list mail never
// trigger mail (DESIGN §6), even with attachments to the gateway.
func TestAutomaticMailGetsNoAnswer(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 100))
	tags := tagsOf(t, r.newMail())
	for i, tc := range []struct {
		from  string
		extra []string
		env   string
	}{
		{bob, []string{"Auto-Submitted: auto-replied"}, bob},
		{bob, []string{"Precedence: bulk"}, bob},
		{bob, []string{"List-Id: <x.lists.test>"}, bob},
		{bob, []string{"X-Autoreply: yes"}, bob},
		{"mailer-daemon@axe.test", nil, ""},
	} {
		m := &testMail{from: tc.from, to: []string{tags[bob]}, subject: "Automatic reply: x", msgid: "auto" + string(rune('a'+i)) + "@axe.test",
			extra: tc.extra, body: "I am away", files: []testFile{{"contract.docx", fileData(uint64(50+i), 100)}}}
		if err := r.send(tc.env, []string{tags[bob], gw}, m.bytes()); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("automatic mail was answered: %s", describe(mails))
	}
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("automatic mail made a version")
	}
	for _, in := range r.inbound()[1:] {
		if in.Outcome != store.OutcomeIgnored {
			t.Errorf("inbound %d outcome %s", in.ID, in.Outcome)
		}
	}
}

// TestStoreFailure: 451 4.3.0 while the store fails; the retried mail is then
// processed once.
func TestStoreFailure(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 100))
	tags := tagsOf(t, r.newMail())
	m := &testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "retry@axe.test",
		body: "v2", files: []testFile{{"contract.docx", fileData(2, 100)}}}
	r.fault.set(true)
	err := r.send(bob, []string{tags[bob]}, m.bytes())
	if code, enh := smtpCode(t, err); code != 451 || enh != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("got %d %v, want 451 4.3.0", code, enh)
	}
	if strings.Contains(err.Error(), "injected") {
		t.Errorf("the internal error reached the client: %v", err)
	}
	r.fault.set(false)
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Fatalf("a failed delivery left a version")
	}
	r.mustSend(m, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions after the retry, want 2", n)
	}
	if got := r.collab(); got.Turn != 3 {
		t.Errorf("turn %d after the retry, want 3", got.Turn)
	}
}

// TestUnparseableKeptRaw: a message that cannot be parsed is accepted, kept
// whole and listed as unprocessable.
func TestUnparseableKeptRaw(t *testing.T) {
	r := newRig(t, rigOptions{})
	raw := []byte("this line is no header\r\nFrom: alice@acme.test\r\n\r\nbody\r\n")
	if err := r.send(alice, []string{gw}, raw); err != nil {
		t.Fatal(err)
	}
	ins := r.inbound()
	if len(ins) != 1 || ins[0].Outcome != store.OutcomeUnprocessable || ins[0].Raw == "" {
		t.Fatalf("inbound %+v", ins)
	}
	if got := r.blob(ins[0].Raw); string(got) != string(raw) {
		t.Errorf("raw kept as %q", got)
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("unprocessable mail was answered")
	}
}
