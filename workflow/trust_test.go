package workflow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// forgery is Eve's mail claiming to be Bob's: envelope eve@evil.test, header
// From bob@axe.test, a file and "Accepted all terms".
func forgery(msgid string) *testMail {
	return &testMail{from: bob, fromName: "Bob Axe", subject: "Re: Services contract", msgid: msgid,
		body: "Accepted all terms.", files: []testFile{{"contract.docx", fileData(666, 1000)}}}
}

// TestForgedFrom: a header From is a claim (DESIGN §3). By thread or subject
// tag it acts only when a trusted DMARC pass vouches for it, and a trusted
// DMARC fail holds it for the owner whatever matched it.
func TestForgedFrom(t *testing.T) {
	const (
		held    = "held"
		applied = "applied"
	)
	for _, tc := range []struct {
		name    string
		via     string // "thread", "subject", "tag"
		authres []string
		want    string
		askedBy string // who is asked to confirm a held mail, "" for nobody
	}{
		{"thread, no result", "thread", nil, held, bob},
		{"subject tag, no result", "subject", nil, held, bob},
		{"thread, trusted pass", "thread", []string{dmarcPass("axe.test")}, applied, ""},
		{"subject tag, trusted pass", "subject", []string{dmarcPass("axe.test")}, applied, ""},
		{"thread, pass from an untrusted server", "thread", []string{"Authentication-Results: evil.test; dmarc=pass header.from=axe.test"}, held, bob},
		{"thread, pass for another domain", "thread", []string{"Authentication-Results: mx.gw.test; dmarc=pass header.from=evil.test"}, held, bob},
		{"thread, forged pass below the trusted none", "thread", []string{
			"Authentication-Results: mx.gw.test; dmarc=none header.from=axe.test",
			"Authentication-Results: mx.gw.test; dmarc=pass header.from=axe.test",
		}, held, bob},
		{"thread, trusted fail", "thread", []string{"Authentication-Results: mx.gw.test; dmarc=fail (p=reject) header.from=axe.test"}, held, alice},
		{"subject tag, trusted fail", "subject", []string{"Authentication-Results: mx.gw.test; dmarc=fail header.from=axe.test"}, held, alice},
		{"tagged address, no result", "tag", nil, applied, ""},
		{"tagged address, trusted fail", "tag", []string{"Authentication-Results: mx.gw.test; dmarc=fail header.from=axe.test"}, held, alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			c := r.start(fileData(1, 1000))
			mails := r.newMail()
			handoff := to(t, mails, bob)
			m := forgery("forged@evil.test")
			m.extra = tc.authres
			rcpt := gw
			switch tc.via {
			case "thread":
				m.to, m.inReplyTo = []string{gw}, handoff.msg.MessageID
			case "subject":
				m.to, m.subject = []string{gw}, handoff.msg.Subject
			case "tag":
				rcpt = tagsOf(t, mails)[bob]
				m.to = []string{rcpt}
			}
			if err := r.send("eve@evil.test", []string{rcpt}, m.bytes()); err != nil {
				t.Fatal(err)
			}
			in := r.inbound()[1]
			out := r.newMail()
			if tc.want == applied {
				if len(r.versions(c.ID, "contract.docx")) != 2 || r.collab().Turn != 3 || in.Outcome != store.OutcomeTurn {
					t.Fatalf("not applied: outcome %s %q", in.Outcome, in.Detail)
				}
				return
			}
			if n := len(r.versions(c.ID, "contract.docx")); n != 1 || r.collab().Turn != 2 {
				t.Fatalf("held mail changed the collaboration: %d versions, turn %d", n, r.collab().Turn)
			}
			if in.Outcome != store.OutcomeHeld || in.Raw == "" || in.Collab != c.ID {
				t.Fatalf("inbound %+v", in)
			}
			if len(out) != 1 || out[0].out.Msg.To.Addr != tc.askedBy || out[0].kind != "hold" {
				t.Fatalf("want one hold request to %s, got %s", tc.askedBy, describe(out))
			}
			ask := out[0]
			if !strings.Contains(ask.msg.Text, "on hold") || ask.msg.ReplyTo[0].Addr != tagsOf(t, mails)[tc.askedBy] {
				t.Errorf("hold request: Reply-To %v\n%s", ask.msg.ReplyTo, ask.msg.Text)
			}
			if strings.Contains(ask.raw, "Accepted all terms") {
				t.Error("the hold request quotes the held mail's text")
			}
		})
	}
}

// TestConfirmHeld: the person a held mail names confirms it by replying to
// the request from their own reply address, and it is applied as sent, once.
func TestConfirmHeld(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	mails := r.newMail()
	tags := tagsOf(t, mails)
	handoff := to(t, mails, bob)
	v2 := fileData(2, 1000)
	// Bob's real mail, a Reply-All to Alice's first mail with the gateway in
	// Cc, through an MTA that vouches for nothing.
	r.mustSend(&testMail{from: bob, to: []string{alice, gw}, subject: "Re: Services contract", msgid: "bob-real@axe.test",
		inReplyTo: "start-1@acme.test", body: "Clause 4 reworded.", files: []testFile{{"contract v2.docx", v2}}}, gw)
	ask := to(t, r.newMail(), bob)
	if ask.kind != "hold" {
		t.Fatalf("want a hold request, got %s", ask.kind)
	}

	// Alice cannot confirm it, even with the request's Message-ID.
	r.mustSend(&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: " + ask.msg.Subject, msgid: "alice-c@acme.test",
		inReplyTo: ask.msg.MessageID, body: "yes"}, tags[alice])
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Fatalf("alice confirmed bob's mail: %d versions", n)
	}
	r.newMail()

	confirm := &testMail{from: bob, to: []string{tags[bob]}, subject: "Re: " + ask.msg.Subject, msgid: "bob-c@axe.test",
		inReplyTo: ask.msg.MessageID, references: []string{handoff.msg.MessageID, ask.msg.MessageID}, body: "Yes, that was me."}
	r.mustSend(confirm, tags[bob])
	vs := r.versions(c.ID, "contract.docx")
	if len(vs) != 2 || r.collab().Turn != 3 {
		t.Fatalf("after confirming: %d versions, turn %d", len(vs), r.collab().Turn)
	}
	if vs[1].MsgID != "bob-real@axe.test" {
		t.Errorf("v2 from %q, want the held mail", vs[1].MsgID)
	}
	out := r.newMail()
	if h := to(t, out, alice); h.kind != "handoff" || !strings.Contains(h.msg.Text, "Clause 4 reworded") {
		t.Errorf("alice's handoff: %s %q", h.kind, h.msg.Text)
	}
	ins := r.inbound()
	if ins[1].Outcome != store.OutcomeTurn || !strings.Contains(ins[len(ins)-1].Detail, fmt.Sprint("confirmed held inbound ", ins[1].ID)) {
		t.Errorf("held %s, confirmation %s %q", ins[1].Outcome, ins[len(ins)-1].Outcome, ins[len(ins)-1].Detail)
	}
	// Confirming again (a redelivery, or a second reply) changes nothing.
	r.mustSend(confirm, tags[bob])
	confirm.msgid = "bob-c2@axe.test"
	r.mustSend(confirm, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions after confirming twice", n)
	}
}

// TestReleaseAndDrop: an operator releases or drops held mail.
func TestReleaseAndDrop(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	handoff := to(t, r.newMail(), bob)
	for i, id := range []string{"h1@axe.test", "h2@axe.test"} {
		m := forgery(id)
		m.to, m.inReplyTo = []string{gw}, handoff.msg.MessageID
		m.files[0].data = fileData(uint64(10+i), 1000)
		r.mustSend(m, gw)
	}
	ins := r.inbound()
	ctx := context.Background()
	if err := r.eng.Drop(ins[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Drop(ins[1].ID); err == nil {
		t.Error("dropped a dropped mail")
	}
	if _, err := r.eng.Release(ctx, ins[1].ID); err == nil {
		t.Error("released a dropped mail")
	}
	outcome, err := r.eng.Release(ctx, ins[2].ID)
	if err != nil || outcome != store.OutcomeTurn {
		t.Fatalf("release: %s, %v", outcome, err)
	}
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions after releasing one", n)
	}
	ins = r.inbound()
	if ins[1].Outcome != store.OutcomeDropped || ins[1].Raw != "" || ins[2].Outcome != store.OutcomeTurn {
		t.Errorf("outcomes %s %s", ins[1].Outcome, ins[2].Outcome)
	}
	if _, err := r.eng.Release(ctx, ins[2].ID); err == nil {
		t.Error("released an applied mail twice")
	}
}

// TestUnauthenticatedAccept: with [security] unauthenticated = "accept" the
// From is believed, as before there were holds.
func TestUnauthenticatedAccept(t *testing.T) {
	r := newRig(t, rigOptions{unauthenticated: workflow.UnauthenticatedAccept})
	c := r.start(fileData(1, 1000))
	handoff := to(t, r.newMail(), bob)
	m := forgery("acc@axe.test")
	m.to, m.inReplyTo = []string{gw}, handoff.msg.MessageID
	r.mustSend(m, gw)
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions, want the mail applied", n)
	}
}

// TestNoBackscatter: a notice about mail that went nowhere goes to the
// envelope sender, and only when it is the header From (DESIGN §6).
func TestNoBackscatter(t *testing.T) {
	r := newRig(t, rigOptions{})
	for i := range 40 {
		victim := fmt.Sprintf("victim%d@else.test", i)
		m := &testMail{from: victim, to: []string{gw}, subject: "hello", msgid: fmt.Sprintf("bs%d@spam.test", i), body: "hi"}
		if err := r.send("spammer@spam.test", []string{gw}, m.bytes()); err != nil {
			t.Fatal(err)
		}
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Fatalf("%d notices to forged senders: %s", len(mails), describe(mails))
	}
	honest := &testMail{from: "frank@else.test", to: []string{gw}, subject: "hello", msgid: "frank@else.test", body: "hi"}
	if err := r.send("Frank@Else.test", []string{gw}, honest.bytes()); err != nil {
		t.Fatal(err)
	}
	if mails := r.newMail(); len(mails) != 1 || mails[0].out.Msg.To.Addr != "frank@else.test" {
		t.Fatalf("want one notice to frank, got %s", describe(mails))
	}
}

// TestMessageIDSquatting: a stranger who sends a Message-ID first does not
// make the real mail with it pass for a redelivery.
func TestMessageIDSquatting(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	tags := tagsOf(t, r.newMail())
	squat := &testMail{from: "mallory@evil.test", to: []string{tags[bob]}, subject: "Re: x", msgid: "bob-next@axe.test", body: "first"}
	if err := r.send("mallory@evil.test", []string{tags[bob]}, squat.bytes()); err != nil {
		t.Fatal(err)
	}
	real := &testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "bob-next@axe.test", body: "v2",
		files: []testFile{{"contract.docx", fileData(2, 1000)}}}
	r.mustSend(real, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Fatalf("bob's mail vanished behind the squatter's: %d versions", n)
	}
	// Bob's own redelivery is still one.
	r.mustSend(real, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 2 {
		t.Errorf("%d versions after a redelivery", n)
	}
	// And the squatter's Message-ID does not lead to the collaboration.
	ins := r.inbound()
	if ins[1].Outcome != store.OutcomeStranger {
		t.Errorf("squatter: %s", ins[1].Outcome)
	}
}

// TestPostmasterKept: mail to postmaster@ is accepted (RFC 5321 §4.5.1) and
// kept for the operator, whatever it says.
func TestPostmasterKept(t *testing.T) {
	r := newRig(t, rigOptions{})
	for i, rcpt := range []string{"postmaster@gw.test", "PostMaster@GW.test"} {
		m := &testMail{from: "admin@else.test", to: []string{rcpt}, subject: "your server", msgid: fmt.Sprintf("pm%d@else.test", i), body: "hello"}
		if err := r.send("admin@else.test", []string{rcpt}, m.bytes()); err != nil {
			t.Fatalf("%s: %v", rcpt, err)
		}
	}
	ins := r.inbound()
	if len(ins) != 2 || ins[0].Outcome != store.OutcomePostmaster || ins[0].Raw == "" || ins[1].Outcome != store.OutcomePostmaster {
		t.Fatalf("inbound %+v", ins)
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("mail went out: %s", describe(mails))
	}
}
