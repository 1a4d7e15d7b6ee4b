package workflow_test

import (
	"bytes"
	"context"
	"fmt"
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
	mails := r.newMail()
	tags := tagsOf(t, mails)
	handoff := to(t, mails, bob)
	take := func(from, msgid string) *testMail {
		return &testMail{from: from, subject: "Re: x", msgid: msgid, body: "take this",
			files: []testFile{{"contract.docx", fileData(66, 100)}}}
	}
	// By every way of matching: the tagged address, the thread, the subject tag.
	viaTag := take("mallory@evil.test", "s1@evil.test")
	viaTag.to = []string{tags[bob]}
	r.mustSend(viaTag, tags[bob])
	viaThread := take("mallory@evil.test", "s2@evil.test")
	viaThread.to, viaThread.inReplyTo = []string{gw}, handoff.msg.MessageID
	r.mustSend(viaThread, gw)
	viaSubject := take("mallory@evil.test", "s3@evil.test")
	viaSubject.to, viaSubject.subject = []string{gw}, handoff.msg.Subject
	r.mustSend(viaSubject, gw)

	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("a stranger made a version")
	}
	if got := r.collab(); got.Turn != 2 {
		t.Errorf("a stranger moved the turn")
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("mail went out for a stranger: %s", describe(mails))
	}
	for _, in := range r.inbound()[1:] {
		if in.Outcome != store.OutcomeStranger || in.Collab != c.ID {
			t.Errorf("inbound %d: outcome %s collab %q", in.ID, in.Outcome, in.Collab)
		}
	}

	// A participant on someone else's tagged address changes nothing either,
	// but is told, at their own address, where to write.
	onBobs := take(alice, "s4@acme.test")
	onBobs.to = []string{tags[bob]}
	r.mustSend(onBobs, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("alice's mail to bob's address made a version")
	}
	m := to(t, r.newMail(), alice)
	if m.msg.ReplyTo[0].Addr != tags[alice] || !strings.Contains(m.msg.Text, "nothing changed") {
		t.Errorf("alice was answered at %v: %q", m.msg.ReplyTo, m.msg.Text)
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
// trigger mail (DESIGN §6), even with attachments to the gateway. Each case
// has one signal only.
func TestAutomaticMailGetsNoAnswer(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 100))
	mails := r.newMail()
	tags := tagsOf(t, mails)
	for i, tc := range []struct {
		name, from, env, subject, detail string
		extra                            []string
	}{
		{"auto-submitted", bob, bob, "Re: contract", "auto-submitted", []string{"Auto-Submitted: auto-replied"}},
		{"precedence", bob, bob, "Re: contract", "precedence", []string{"Precedence: bulk"}},
		{"list", bob, bob, "Re: contract", "list", []string{"List-Id: <x.lists.test>"}},
		{"x-autoreply", bob, bob, "Re: contract", "autoreply", []string{"X-Autoreply: yes"}},
		{"subject", bob, bob, "Automatic reply: contract", "subject", nil},
		{"null sender", bob, "", "Re: contract", "null", nil},
		{"mailer-daemon", "mailer-daemon@axe.test", "bounces@axe.test", "Re: contract", "mailer-daemon", nil},
		{"dsn", bob, bob, "Re: contract", "report", []string{"X-Dummy: 1"}},
		{"our own mail back", bob, bob, "Re: contract", "loop", []string{"X-Turnmail-Collab: " + c.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &testMail{from: tc.from, to: []string{tags[bob]}, subject: tc.subject, msgid: fmt.Sprintf("auto%d@axe.test", i),
				extra: tc.extra, body: "I am away", files: []testFile{{"contract.docx", fileData(uint64(50+i), 100)}}}
			raw := m.bytes()
			if tc.name == "dsn" {
				raw = bytes.Replace(raw, []byte("multipart/mixed"), []byte("multipart/report; report-type=delivery-status"), 1)
			}
			if err := r.send(tc.env, []string{tags[bob], gw}, raw); err != nil {
				t.Fatal(err)
			}
			ins := r.inbound()
			in := ins[len(ins)-1]
			if in.Outcome != store.OutcomeIgnored || !strings.Contains(strings.ToLower(in.Detail), tc.detail) {
				t.Errorf("outcome %s (%s), want ignored for %q", in.Outcome, in.Detail, tc.detail)
			}
		})
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("automatic mail was answered: %s", describe(mails))
	}
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("automatic mail made a version")
	}
	// A gateway mail coming back by its Message-ID is a loop too.
	back := mails[0].raw
	if err := r.send(bob, []string{tags[bob]}, []byte(back)); err != nil {
		t.Fatal(err)
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("our own mail was answered: %s", describe(mails))
	}
}

// TestStoreFailure: 451 4.3.0 while the store fails, whether storing the
// attachment or applying the mail, with nothing half done; the retried mail
// is then processed once.
func TestStoreFailure(t *testing.T) {
	for _, stage := range []string{"attachment", "apply"} {
		t.Run(stage, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			c := r.start(fileData(1, 100))
			tags := tagsOf(t, r.newMail())
			v2 := fileData(2, 100)
			if stage == "apply" {
				// With the attachment's bytes already stored, the one write
				// left is the transaction that applies the mail.
				if _, err := r.st.PutBlob(bytes.NewReader(v2)); err != nil {
					t.Fatal(err)
				}
			}
			m := &testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "retry@axe.test",
				body: "v2", files: []testFile{{"contract.docx", v2}}}
			before := len(r.inbound())
			r.fault.set(true)
			err := r.send(bob, []string{tags[bob]}, m.bytes())
			r.fault.set(false)
			if code, enh := smtpCode(t, err); code != 451 || enh != (smtp.EnhancedCode{4, 3, 0}) {
				t.Fatalf("got %d %v, want 451 4.3.0", code, enh)
			}
			if stage == "apply" && r.fault.failed != 1 {
				t.Fatalf("%d writes failed, want only the one applying the mail", r.fault.failed)
			}
			if strings.Contains(err.Error(), "injected") {
				t.Errorf("the internal error reached the client: %v", err)
			}
			if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
				t.Fatalf("a failed delivery left a version")
			}
			if len(r.inbound()) != before || len(r.newMail()) != 0 || r.collab().Turn != 2 {
				t.Fatal("a failed delivery left an audit record, queued mail or moved the turn")
			}
			r.mustSend(m, tags[bob])
			if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
				t.Errorf("%d versions after the retry, want 2", n)
			}
			if got := r.collab(); got.Turn != 3 {
				t.Errorf("turn %d after the retry, want 3", got.Turn)
			}
			if mails := r.newMail(); len(mails) != 4 {
				t.Errorf("retry sent %s", describe(mails))
			}
		})
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

func TestTooManyAttachments(t *testing.T) {
	r := newRig(t, rigOptions{})
	var files []testFile
	for i := range 101 {
		files = append(files, testFile{fmt.Sprintf("f%d.docx", i), []byte{byte(i)}})
	}
	err := r.send(alice, []string{gw}, (&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Lots", msgid: "many@acme.test", files: files}).bytes())
	// A limit is answered at SMTP time, with the reason: the sender's own
	// server tells them, and nothing is kept.
	if code, enh := smtpCode(t, err); code != 552 || enh != (smtp.EnhancedCode{5, 3, 4}) || !strings.Contains(err.Error(), "more than 100") {
		t.Errorf("got %v, want 552 5.3.4 naming the limit", err)
	}
	if ins := r.inbound(); len(ins) != 0 {
		t.Fatalf("inbound %+v", ins)
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Fatalf("answer: %s", describe(mails))
	}
}

// TestStartEdgeCases: odd but real first mails.
func TestStartEdgeCases(t *testing.T) {
	t.Run("gateway in To, people listed twice and in upper case", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.mustSend(&testMail{from: "Alice@ACME.test", to: []string{gw, "BOB@axe.test"}, cc: []string{bob, "alice@acme.test"},
			subject: "Edge", msgid: "e1@acme.test", files: []testFile{{"a.docx", []byte("a")}}}, gw)
		c := r.collab()
		var people []*store.Participant
		r.st.View(func(tx *store.Tx) (err error) { people, err = tx.Participants(c.ID); return })
		if len(people) != 2 || people[0].Address != alice || people[1].Address != bob || people[1].Role != store.RoleLeader {
			t.Errorf("participants %+v", people)
		}
	})
	t.Run("from the gateway's own domain", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.mustSend(&testMail{from: gw, to: []string{bob}, cc: []string{gw}, subject: "Loop", msgid: "e2@gw.test",
			files: []testFile{{"a.docx", []byte("a")}}}, gw)
		if ins := r.inbound(); len(ins) != 1 || ins[0].Outcome != store.OutcomeRejected {
			t.Errorf("inbound %+v", ins)
		}
		if mails := r.newMail(); len(mails) != 0 {
			t.Errorf("gateway mailed itself: %s", describe(mails))
		}
	})
	t.Run("nobody on the other side", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.mustSend(&testMail{from: alice, to: []string{gw}, subject: "Alone", msgid: "e3@acme.test",
			files: []testFile{{"a.docx", []byte("a")}}}, gw)
		mails := r.newMail()
		if len(mails) != 1 || !strings.Contains(mails[0].msg.Text, "no one to hand the turn to") {
			t.Errorf("answer: %s", describe(mails))
		}
	})
	t.Run("everyone in one domain", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.mustSend(&testMail{from: alice, to: []string{carol}, cc: []string{"erin@acme.test", gw}, subject: "Internal review", msgid: "e4@acme.test",
			files: []testFile{{"policy.odt", []byte("p")}}}, gw)
		c := r.collab()
		if c.Parties[1].Name != "CAROL" {
			t.Errorf("parties %+v", c.Parties)
		}
		if h := to(t, r.newMail(), carol); h.kind != "handoff" {
			t.Errorf("carol got %s", h.kind)
		}
	})
}

// TestEmptyReplyIsAnswered: a reply holding only the quote (or only a pasted
// image) is not silently dropped, and is answered once a day at most.
func TestEmptyReplyIsAnswered(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.start(fileData(1, 100))
	tags := tagsOf(t, r.newMail())
	for i := range 2 {
		r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: fmt.Sprintf("empty%d@axe.test", i),
			body: "On Monday Alice wrote:\n> Bob, here is our draft."}, tags[bob])
	}
	mails := r.newMail()
	if len(mails) != 1 || !strings.Contains(mails[0].msg.Text, "nothing changed") {
		t.Errorf("answers: %s", describe(mails))
	}
	for _, in := range r.inbound()[1:] {
		if in.Outcome != store.OutcomeEmpty {
			t.Errorf("outcome %s", in.Outcome)
		}
	}
}

// TestReprocess: a message kept unprocessable is run again; one that still
// cannot be parsed stays as it was.
func TestReprocess(t *testing.T) {
	r := newRig(t, rigOptions{})
	bad := []byte("no header here\r\n\r\nbody\r\n")
	if err := r.send(alice, []string{gw}, bad); err != nil {
		t.Fatal(err)
	}
	// A message an older turnmail could not parse, kept raw.
	good := (&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Kept", msgid: "kept@acme.test",
		files: []testFile{{"contract.docx", []byte("v1")}}}).bytes()
	raw, err := r.st.PutBlob(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	err = r.st.Update(func(tx *store.Tx) error {
		return tx.AddInbound(&store.Inbound{Source: "smtp", EnvFrom: alice, Recipients: []string{gw}, Digest: sha(good),
			Size: int64(len(good)), Outcome: store.OutcomeUnprocessable, Raw: raw.Digest})
	})
	if err != nil {
		t.Fatal(err)
	}
	ins := r.inbound()
	if err := r.eng.Reprocess(context.Background(), ins[0].ID); err == nil {
		t.Error("reprocessing a message that still cannot be parsed succeeded")
	}
	if err := r.eng.Reprocess(context.Background(), ins[1].ID); err != nil {
		t.Fatal(err)
	}
	ins = r.inbound()
	if ins[0].Outcome != store.OutcomeUnprocessable || ins[1].Outcome != store.OutcomeStarted || len(ins) != 2 {
		t.Errorf("after reprocessing: %s %s (%d records)", ins[0].Outcome, ins[1].Outcome, len(ins))
	}
	if c := r.collab(); c.Subject != "Kept" {
		t.Errorf("collaboration %q", c.Subject)
	}
	if err := r.eng.Reprocess(context.Background(), ins[1].ID); err == nil {
		t.Error("an applied message was reprocessed again")
	}
}

// TestAllowedSenders: with allowed_senders set, only those may start a
// collaboration; the others are told, once a day.
func TestAllowedSenders(t *testing.T) {
	r := newRig(t, rigOptions{allowed: []string{"@acme.test", "zoe@freelance.test"}})
	for i, from := range []string{"mallory@evil.test", "mallory@evil.test", "zoe@freelance.test", alice} {
		r.mustSend(&testMail{from: from, to: []string{bob}, cc: []string{gw}, subject: "Deal", msgid: fmt.Sprintf("a%d@test", i),
			files: []testFile{{"deal.docx", []byte("d")}}}, gw)
	}
	var cs []*store.Collab
	r.st.View(func(tx *store.Tx) (err error) { cs, err = tx.Collabs(); return })
	if len(cs) != 2 {
		t.Fatalf("%d collaborations, want zoe's and alice's", len(cs))
	}
	var notices int
	for _, m := range r.newMail() {
		if m.out.Msg.To.Addr == "mallory@evil.test" {
			notices++
		}
		if m.out.Msg.To.Addr == bob && len(m.atts) == 0 {
			t.Error("bob got a handoff without the file")
		}
	}
	if notices != 1 {
		t.Errorf("%d notices to the sender not allowed, want 1", notices)
	}
}

// TestProgramsNotPassedOn: a program is never a document, however it is
// named, and its sender hears so.
func TestProgramsNotPassedOn(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.mustSend(&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Invoice", msgid: "exe@acme.test", body: "See attached.",
		files: []testFile{{"contract.docx", fileData(1, 100)}, {"invoice.pdf.exe", []byte("MZ")}, {"run.JS", []byte("x")}}}, gw)
	c := r.collab()
	var docs []*store.Document
	if err := r.st.View(func(tx *store.Tx) (err error) { docs, err = tx.Documents(c.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Name != "contract.docx" {
		t.Fatalf("documents %+v", docs)
	}
	mails := r.newMail()
	for _, m := range mails {
		for name := range m.atts {
			if strings.Contains(name, ".exe") || strings.Contains(strings.ToLower(name), ".js") {
				t.Errorf("%s got %s", m.out.Msg.To.Addr, name)
			}
		}
	}
	var told bool
	for _, m := range mails {
		if m.out.Msg.To.Addr == alice && strings.Contains(m.msg.Text, "invoice.pdf.exe: a program") && strings.Contains(m.msg.Text, "run.JS") {
			told = true
		}
	}
	if !told {
		t.Errorf("alice was not told: %s", describe(mails))
	}

	// Programs alone start nothing; the sender hears why.
	r.mustSend(&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Tool", msgid: "exe2@acme.test", body: "x",
		files: []testFile{{"setup.exe", []byte("MZ")}}}, gw)
	if m := to(t, r.newMail(), alice); !strings.Contains(m.msg.Text, "setup.exe: a program") {
		t.Errorf("notice: %q", m.msg.Text)
	}
}

// TestSameBytesKnownBeforeParsing: a redelivery of the same bytes is known
// from its digest alone, before parsing or any write: it is answered 250
// even while the store cannot write.
func TestSameBytesKnownBeforeParsing(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	raw := (&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "same@axe.test", body: "v2",
		files: []testFile{{"contract.docx", fileData(2, 1000)}}}).bytes()
	if err := r.send(bob, []string{tags[bob]}, raw); err != nil {
		t.Fatal(err)
	}
	r.fault.set(true)
	defer r.fault.set(false)
	if err := r.send(bob, []string{tags[bob]}, raw); err != nil {
		t.Fatalf("redelivery while the store cannot write: %v", err)
	}
	r.fault.set(false)
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions", n)
	}
}
