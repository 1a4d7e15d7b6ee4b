package workflow_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// bounceFixture reads testdata/bounces/name with {{VERP}} made addr.
func bounceFixture(t *testing.T, name, addr string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bounces", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(raw, []byte("{{VERP}}"), []byte(addr))
}

// plumbing is what the owner must never read: the gateway's relay and the
// stages of its SMTP session.
var plumbing = []string{"127.0.0.1", "smtp to", "rcpt to", "end of data", "SMTP error", "greeting", "outbound"}

// TestBounce: reports that come back, over SMTP, to the bounce address of
// Bob's handoff, after the smarthost took it.
func TestBounce(t *testing.T) {
	tests := []struct {
		fixture string
		outcome string   // the inbound record's
		failed  bool     // the handoff is failed, and Alice told
		words   []string // in Alice's notice
	}{
		{"postfix-550.eml", store.OutcomeBounce, true, []string{
			"“550 5.1.1 <bob@axe.test>: Recipient address rejected: User unknown in virtual mailbox table”",
			"That means the address does not exist there.", "the mail handing them the turn", "Bob Axe <bob@axe.test>"}},
		{"gmail-folded.eml", store.OutcomeBounce, true, []string{
			"“550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces."}},
		{"status-only.eml", store.OutcomeBounce, true, []string{"refused it, with status 5.2.2.", "That means the mailbox is full."}},
		{"qmail-plain.eml", store.OutcomeBounce, true, []string{"“550 5.1.1 <bob@axe.test>... No such user”"}},
		{"delayed-base64.eml", store.OutcomeIgnored, false, nil},
		// An auto-reply that went to the return path is no bounce.
		{"vacation.eml", store.OutcomeIgnored, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			c := r.start(fileData(1, 1000))
			handoff := to(t, r.newMail(), bob).out
			if err := r.st.MarkSent(handoff.ID, r.peek()); err != nil {
				t.Fatal(err)
			}
			verp := r.tag.BounceAddress(handoff.ID)
			if err := r.send("", []string{verp}, bounceFixture(t, tc.fixture, verp)); err != nil {
				t.Fatalf("deliver the report: %v", err)
			}

			ins := r.inbound()
			if in := ins[len(ins)-1]; in.Outcome != tc.outcome {
				t.Errorf("the report's outcome: %s (%s), want %s", in.Outcome, in.Detail, tc.outcome)
			}
			o, err := r.st.Outbound(handoff.ID)
			if err != nil {
				t.Fatal(err)
			}
			mails := r.newMail()
			if !tc.failed {
				if o.State != store.OutboundSent || len(mails) != 0 {
					t.Errorf("handoff %s, %s", o.State, describe(mails))
				}
				return
			}
			if o.State != store.OutboundFailed || !strings.HasPrefix(o.LastError, "bounced") {
				t.Errorf("handoff after the bounce: %s, %q", o.State, o.LastError)
			}
			notice := to(t, mails, alice)
			if notice.kind != "delivery" || len(mails) != 1 {
				t.Fatalf("after the bounce: %s", describe(mails))
			}
			text := notice.msg.Text
			for _, w := range append(tc.words, "“Services contract” could not be delivered to", "Check the address") {
				if !strings.Contains(text, w) {
					t.Errorf("notice lacks %q:\n%s", w, text)
				}
			}
			for _, p := range plumbing {
				if strings.Contains(text, p) {
					t.Errorf("notice shows %q:\n%s", p, text)
				}
			}
			if notice.out.Collab != c.ID {
				t.Errorf("notice about %q", notice.out.Collab)
			}

			// The same report again (another copy, another Message-ID)
			// tells nobody twice.
			again := bytes.Replace(bounceFixture(t, tc.fixture, verp), []byte("Message-I"), []byte("X-Old-Message-I"), 1)
			if err := r.send("", []string{verp}, again); err != nil {
				t.Fatal(err)
			}
			if mails := r.newMail(); len(mails) != 0 {
				t.Errorf("a second report sent %s", describe(mails))
			}
		})
	}
}

// TestBounceForged: a report to a bounce address the gateway did not make
// is refused at RCPT, and one for a message not in the queue changes
// nothing.
func TestBounceForged(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.start(fileData(1, 1000))
	handoff := to(t, r.newMail(), bob).out
	verp := r.tag.BounceAddress(handoff.ID)
	forged := strings.Replace(verp, fmt.Sprintf("+b.%x", handoff.ID), fmt.Sprintf("+b.%x", handoff.ID+1), 1)
	err := r.send("", []string{forged}, bounceFixture(t, "postfix-550.eml", forged))
	if code, enh := smtpCode(t, err); code != 550 || enh != [3]int{5, 1, 1} {
		t.Errorf("report to a forged bounce address: %v", err)
	}
	unknown := r.tag.BounceAddress(9999)
	if err := r.send("", []string{unknown}, bounceFixture(t, "postfix-550.eml", unknown)); err != nil {
		t.Fatal(err)
	}
	ins := r.inbound()
	if in := ins[len(ins)-1]; in.Outcome != store.OutcomeIgnored || !strings.Contains(in.Detail, "not in the queue") {
		t.Errorf("report for an unknown message: %+v", in)
	}
	if o, err := r.st.Outbound(handoff.ID); err != nil || o.State != store.OutboundQueued {
		t.Errorf("handoff: %+v, %v", o, err)
	}
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("sent %s", describe(mails))
	}
}

// TestDeliveryFailedWords: the owner's notice of a refusal at the smarthost
// quotes the recipient's server, and nothing of the gateway's relay.
func TestDeliveryFailedWords(t *testing.T) {
	tests := []struct {
		name  string
		cause error
		words []string
	}{
		{"550 to RCPT", fmt.Errorf("smtp to 127.0.0.1:41600: %w", &mail.PermanentError{Err: fmt.Errorf("rcpt to: %w",
			&mail.Refusal{Code: 550, Enhanced: "5.1.1", Text: "<bob@axe.test>: Recipient address rejected: User unknown"})}),
			[]string{"Their mail server refused it: “550 5.1.1 <bob@axe.test>: Recipient address rejected: User unknown”", "does not exist"}},
		{"deferred until given up", &mail.PermanentError{Err: fmt.Errorf("gave up after 20 attempts: %w",
			fmt.Errorf("smtp to 127.0.0.1:41600: rcpt to: %w", &mail.Refusal{Code: 452, Enhanced: "4.2.2", Text: "mailbox full"}))},
			[]string{"kept putting it off (“452 4.2.2 mailbox full”), and the gateway gave up after 20 attempts", "mailbox is full"}},
		{"the relay never answered", &mail.PermanentError{Err: errors.New("gave up after 20 attempts: smtp to 127.0.0.1:41600: greeting: 554 5.3.2 go away")},
			[]string{"could not hand it on, and gave up after 20 attempts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			r.start(fileData(1, 1000))
			handoff := to(t, r.newMail(), bob).out
			q := mail.QueuedMail{ID: handoff.ID, Attempts: 19, Collab: handoff.Collab, Kind: handoff.Kind, Msg: handoff.Msg}
			r.eng.DeliveryFailed(q, tc.cause)
			mails := r.newMail()
			notice := to(t, mails, alice)
			if notice.kind != "delivery" || len(mails) != 1 {
				t.Fatalf("after the failure: %s", describe(mails))
			}
			for _, w := range tc.words {
				if !strings.Contains(notice.msg.Text, w) {
					t.Errorf("notice lacks %q:\n%s", w, notice.msg.Text)
				}
			}
			for _, p := range append(plumbing, "554", "41600") {
				if strings.Contains(notice.msg.Text, p) {
					t.Errorf("notice shows %q:\n%s", p, notice.msg.Text)
				}
			}
		})
	}
}
