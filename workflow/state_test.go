package workflow_test

import (
	"strings"
	"testing"
)

// TestEveryMailCarriesTheState: a handoff names the deadline on the
// reader's clock with how far off it is, lists every document (the ones the
// turn left alone with their version, not attached), shows each note by its
// gist rather than its salutation, says "skipped" where a turn was, and
// tells a contributor what they can do rather than to hand the turn back.
func TestEveryMailCarriesTheState(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.mustSend(&testMail{
		from: alice, fromName: "Alice Acme", to: []string{"Bob Axe <" + bob + ">"}, cc: []string{carol, dave, gw},
		subject: "Services contract", msgid: "start-2@acme.test", body: "Bob, here are the contract and the prices.",
		files: []testFile{{"contract.docx", fileData(1, 5000)}, {"prices.xlsx", fileData(2, 3000)}},
	}, gw)
	tags := tagsOf(t, r.newMail())
	send := func(from, msgid, body string, files ...testFile) []*sent {
		t.Helper()
		r.mustSend(&testMail{from: from, to: []string{tags[from]}, subject: "Re: Services contract", msgid: msgid,
			body: body, files: files}, tags[from])
		return r.newMail()
	}
	send(alice, "tz@acme.test", "/timezone Europe/Paris")
	send(bob, "dl@axe.test", "/deadline 2026-11-20")

	mails := send(bob, "bob-2@axe.test", "Dear Alice,\n\nClause 4 reworded; prices unchanged.", testFile{"contract v2.docx", fileData(3, 5100)})
	h := to(t, mails, alice)
	for _, want := range []string{
		"Due 2026-11-20 (until 2026-11-21 00:59 CET, your time), in 18 days.", // Bob's day ends at midnight UTC
		"prices.xlsx: v1 (2.9 KB), unchanged this turn, not attached",
		`contract.docx: v1 (4.9 KB) → v2 (5.0 KB), attached as "contract (v2).docx"`,
		"Clause 4 reworded; prices unchanged.",
	} {
		if !strings.Contains(h.msg.Text, want) {
			t.Errorf("alice's handoff lacks %q:\n%s", want, h.msg.Text)
		}
	}
	if len(h.atts) != 1 {
		t.Errorf("alice's handoff attaches %v, want the changed document only", keys(h.atts))
	}
	if strings.Contains(h.msg.Text, "    Dear Alice,") {
		t.Errorf("the history shows the salutation:\n%s", h.msg.Text)
	}
	c := to(t, mails, carol)
	if strings.Contains(c.msg.Text, "to hand the turn back") || !strings.Contains(c.msg.Text, "they go to your party's leaders as a draft") {
		t.Errorf("contributor carol's handoff:\n%s", c.msg.Text)
	}

	mails = send(alice, "skip@acme.test", "/skip")
	b := to(t, mails, bob)
	for _, want := range []string{"Alice Acme (ACME) skipped turn 3", "Turn 3 · ACME · Alice Acme", "· skipped"} {
		if !strings.Contains(b.msg.Text, want) {
			t.Errorf("bob's handoff after /skip lacks %q:\n%s", want, b.msg.Text)
		}
	}
	if a := to(t, mails, alice); !strings.Contains(a.msg.Text, "You skipped turn 3") {
		t.Errorf("alice's confirmation of /skip:\n%s", a.msg.Text)
	}
}

// TestTooLargeToAttachWithoutLink: without an HTTP listener, a file over the
// bound is left out with word of where it is kept; what fits is attached.
func TestTooLargeToAttachWithoutLink(t *testing.T) {
	r := newRig(t, rigOptions{maxAttach: 8000})
	r.mustSend(&testMail{
		from: alice, to: []string{"Bob Axe <" + bob + ">"}, cc: []string{gw}, subject: "Two files", msgid: "two@acme.test",
		body: "Both.", files: []testFile{{"small.txt", fileData(1, 5000)}, {"large.pdf", fileData(2, 6000)}},
	}, gw)
	h := to(t, r.newMail(), bob)
	if _, ok := h.atts["small (v1).txt"]; !ok || len(h.atts) != 1 {
		t.Errorf("attached %v, want only the file that fits", keys(h.atts))
	}
	for _, want := range []string{"large.pdf: new, v1 (5.9 KB), not attached: too large for one mail", "large (v1).pdf (5.9 KB) is over this mail's 7.8 KB", "the gateway keeps it"} {
		if !strings.Contains(h.msg.Text, want) {
			t.Errorf("handoff lacks %q:\n%s", want, h.msg.Text)
		}
	}
}
