package workflow_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/store"
)

// TestStaleDraftIsNotHandedOver is the case of the issue: ACME's leader
// sends her file out of turn, made on v1; AXE then hands back v2. Her
// party's /done must not carry the old file over AXE's work: it stays as a
// draft, every mail to ACME says it is stale and how to send or drop it,
// and "/done all" sends it anyway.
func TestStaleDraftIsNotHandedOver(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 5000))
	tags := tagsOf(t, r.newMail())
	send := func(from, msgid, body string, files ...testFile) []*sent {
		t.Helper()
		r.mustSend(&testMail{from: from, to: []string{tags[from]}, subject: "Re: Services contract", msgid: msgid,
			body: body, files: files}, tags[from])
		return r.newMail()
	}

	// Turn 2 is AXE's: Alice's file is ACME's draft, made on v1.
	early := fileData(2, 5000)
	mails := send(alice, "alice-early@acme.test", "Our next round, early.", testFile{"contract.docx", early})
	if m := to(t, mails, alice); !strings.Contains(m.msg.Text, "Drafts of ACME waiting for its turn") || !strings.Contains(m.msg.Text, "made on v1") {
		t.Errorf("alice's confirmation does not list the draft:\n%s", m.msg.Text)
	}
	if m := to(t, mails, alice); len(m.atts) != 0 || strings.Contains(m.msg.Text, "attached as") {
		t.Errorf("the draft confirmation says it attaches %v", keys(m.atts))
	}

	// Bob hands back v2: ACME's handoff says the draft is stale.
	axe := fileData(3, 5200)
	mails = send(bob, "bob-2@axe.test", "Clauses 7 and 9 are ours now.", testFile{"contract.docx", axe})
	for _, addr := range []string{alice, carol} {
		h := to(t, mails, addr)
		if !strings.Contains(h.msg.Text, "STALE: the current version is v2") || !strings.Contains(h.msg.HTML, "STALE") {
			t.Errorf("%s's handoff does not warn of the stale draft:\n%s", addr, h.msg.Text)
		}
	}
	for _, addr := range []string{bob, dave} {
		if m := to(t, mails, addr); strings.Contains(m.msg.Text, "Drafts of") {
			t.Errorf("AXE's %s was told of ACME's drafts:\n%s", addr, m.msg.Text)
		}
	}

	// /done: the turn ends, AXE's v2 stays the latest, the draft stays.
	mails = send(alice, "alice-done@acme.test", "/done\nNo changes from us this round.")
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 2 || !bytes.Equal(r.blob(vs[1].Blob.Digest), axe) {
		t.Fatalf("after /done: %d versions; the stale draft undid AXE's work", len(vs))
	}
	if h := to(t, mails, bob); h.kind != "handoff" || len(h.atts) != 0 {
		t.Errorf("bob's handoff carries %v", keys(h.atts))
	}
	if m := to(t, mails, alice); !strings.Contains(m.msg.Text, "/done all sends it anyway") || !strings.Contains(m.msg.Text, "/drop contract.docx") {
		t.Errorf("alice is not told how to send or drop it:\n%s", m.msg.Text)
	}
	var drafts []*store.Draft
	r.st.View(func(tx *store.Tx) (err error) { drafts, err = tx.Drafts(c.ID, 0); return })
	if len(drafts) != 1 || drafts[0].Base != 1 {
		t.Fatalf("ACME's drafts after /done: %+v", drafts)
	}

	// Back to ACME; /done all sends it as v3, on purpose.
	send(bob, "bob-skip@axe.test", "/skip")
	send(alice, "alice-all@acme.test", "/done all\nWe stand by our earlier text.")
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 3 || !bytes.Equal(r.blob(vs[2].Blob.Digest), early) {
		t.Fatalf("after /done all: %d versions", len(vs))
	}
	r.st.View(func(tx *store.Tx) (err error) { drafts, err = tx.Drafts(c.ID, 0); return })
	if len(drafts) != 0 {
		t.Errorf("%d drafts left after /done all", len(drafts))
	}
}

// TestDropDrafts: a leader discards a party's draft; a contributor may not.
func TestDropDrafts(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 5000))
	tags := tagsOf(t, r.newMail())
	r.mustSend(&testMail{from: dave, to: []string{tags[dave]}, subject: "Re: x", msgid: "dave-d@axe.test",
		body: "A try.", files: []testFile{{"contract dave.docx", fileData(5, 5000)}}}, tags[dave])
	r.newMail()
	for _, tc := range []struct{ from, body, want string }{
		{dave, "/drop contract.docx", "only a leader of your party can drop its drafts"},
		{bob, "/drop budget.xlsx", "your party has no draft of that name"},
		{bob, "/drop", "write /drop and the document's name"},
		{bob, "/drop Contract.docx", "Dropped the draft(s) of contract.docx"},
	} {
		r.mustSend(&testMail{from: tc.from, to: []string{tags[tc.from]}, subject: "Re: x", msgid: tc.body + tc.from,
			body: tc.body}, tags[tc.from])
		if m := to(t, r.newMail(), tc.from); !strings.Contains(m.msg.Text, tc.want) {
			t.Errorf("%s %q: answer lacks %q:\n%s", tc.from, tc.body, tc.want, m.msg.Text)
		}
	}
	var drafts []*store.Draft
	r.st.View(func(tx *store.Tx) (err error) { drafts, err = tx.Drafts(c.ID, 1); return })
	if len(drafts) != 0 {
		t.Errorf("%d drafts after /drop", len(drafts))
	}
}
