package workflow_test

import (
	"strings"
	"testing"
)

// TestOneAnswerPerMail: a mail with several commands and a file gives each
// person one mail that says all of it, of the strongest kind among what it
// says (a handoff stays a handoff), and /status tells where things stand
// after the rest of the mail was applied.
func TestOneAnswerPerMail(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.start(fileData(1, 5000))
	tags := tagsOf(t, r.newMail())

	r.mustSend(&testMail{
		from: bob, to: []string{tags[bob]}, subject: "Re: Services contract", msgid: "bob-many@axe.test",
		body:  "/deadline 2030-01-10\n/status\n/frobnicate\n/help\n\nClause 4 reworded.",
		files: []testFile{{"contract.docx", fileData(2, 5100)}},
	}, tags[bob])
	mails := r.newMail()
	if got := recipients(mails); len(got) != 4 {
		t.Fatalf("mails %s, want one to each of the four", describe(mails))
	}

	for _, addr := range []string{alice, carol} {
		h := to(t, mails, addr)
		if h.kind != "handoff" || !strings.HasPrefix(h.msg.Text, "Your turn on ") || len(h.atts) != 1 {
			t.Errorf("%s got %s %q with %v", addr, h.kind, h.msg.Subject, keys(h.atts))
		}
		for _, want := range []string{"handed over turn 2", "Clause 4 reworded.", "set the deadline to 2030-01-10"} {
			if !strings.Contains(h.msg.Text, want) || !strings.Contains(h.msg.HTML, want) {
				t.Errorf("%s's handoff lacks %q:\n%s", addr, want, h.msg.Text)
			}
		}
	}

	b := to(t, mails, bob)
	for _, want := range []string{
		"You handed turn 2 over to ACME.",                // the turn
		"set the deadline to 2030-01-10",                 // the deadline
		"turn 3 is with ACME",                            // /status, after the turn moved
		`"/frobnicate" was not carried out`,              // the unknown command
		"How to work with the gateway.",                  // /help
		"Commands (one per line, at the top of a reply)", // its list
	} {
		if !strings.Contains(b.msg.Text, want) {
			t.Errorf("bob's answer lacks %q:\n%s", want, b.msg.Text)
		}
	}
	if n := strings.Count(b.msg.Text, "Commands (one per line"); n != 1 {
		t.Errorf("the command list is in bob's answer %d times", n)
	}
	if n := strings.Count(b.msg.Text, "  - contract.docx"); n != 1 {
		t.Errorf("contract.docx is listed %d times in bob's answer:\n%s", n, b.msg.Text)
	}
	if d := to(t, mails, dave); d.kind != "confirm" || !strings.Contains(d.msg.Text, "set the deadline") {
		t.Errorf("dave got %s:\n%s", d.kind, d.msg.Text)
	}
	if got := r.collab(); got.Turn != 3 || got.DeadlineDate != "2030-01-10" {
		t.Errorf("turn %d, deadline %q", got.Turn, got.DeadlineDate)
	}

	// Commands alone: one reply to the sender, none to anyone else.
	r.mustSend(&testMail{from: dave, to: []string{tags[dave]}, subject: "Re: x", msgid: "dave-two@axe.test",
		body: "/status\n/help\n/done"}, tags[dave])
	mails = r.newMail()
	d := to(t, mails, dave)
	if len(mails) != 1 || d.kind != "reply" {
		t.Fatalf("mails %s", describe(mails))
	}
	for _, want := range []string{"turn 3 is with ACME", "How to work with the gateway.", `"/done" was not carried out`} {
		if !strings.Contains(d.msg.Text, want) {
			t.Errorf("dave's answer lacks %q:\n%s", want, d.msg.Text)
		}
	}
}
