package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/store"
)

// TestBounceOverSMTP: the worker sends Bob's handoff to a smarthost that
// takes it, MAIL FROM the handoff's own bounce address; a delivery status
// notification comes back to that address through the gateway's SMTP
// server; the handoff is failed in the queue, and Alice's notice quotes
// the remote server and nothing of the gateway's relay.
func TestBounceOverSMTP(t *testing.T) {
	c := &capture{}
	srv := smtp.NewServer(c)
	srv.Domain = "smarthost.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	_, _, d := startTestDaemon(t, fmt.Sprintf("[outbound]\nmode = \"smtp\"\nsmarthost = %q\nstarttls = false\n", ln.Addr().String()))
	addr := d.smtpLn.Addr().String()
	sendMail(t, addr, "alice@acme.test", []string{"collab@gw.test"},
		docxMail("alice@acme.test", "Bob Axe <bob@axe.test>", "collab@gw.test", "Contract", "start@acme.test", "Our draft.", "contract.docx", []byte("v1")))
	verp := ""
	waitFor(t, "Bob's handoff at the smarthost", func() bool {
		for _, m := range c.all() {
			if len(m.to) == 1 && m.to[0] == "bob@axe.test" {
				verp = m.from
			}
		}
		return verp != ""
	})
	outbound := func(to, kind string) (o *store.Outbound) {
		t.Helper()
		err := d.st.View(func(tx *store.Tx) error {
			return tx.Outbounds(func(x *store.Outbound) error {
				if x.Msg.To.Addr == to && x.Kind == kind {
					o = x
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	waitFor(t, "the handoff marked sent", func() bool { return outbound("bob@axe.test", "handoff").State == store.OutboundSent })
	if !strings.HasPrefix(verp, "collab+b.") {
		t.Fatalf("handoff MAIL FROM %q", verp)
	}

	// A forged bounce address is refused at RCPT.
	forged := strings.Replace(verp, "collab+b.", "collab+b.1", 1)
	cl, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := cl.Rcpt(forged, nil); !errors.As(err, &se) || se.Code != 550 {
		t.Errorf("RCPT TO a forged bounce address: %v", err)
	}
	cl.Close()

	sendMail(t, addr, "", []string{verp}, "From: MAILER-DAEMON@mx.axe.test (Mail Delivery System)\r\n"+
		"To: "+verp+"\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.axe.test>\r\n"+
		"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"+
		"--r\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"+
		"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.axe.test\r\n\r\n"+
		"Final-Recipient: rfc822; bob@axe.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"+
		"Diagnostic-Code: smtp; 550 5.1.1 <bob@axe.test>: Recipient address rejected: User unknown\r\n"+
		"--r--\r\n")

	var notice *store.Outbound
	waitFor(t, "Alice's notice", func() bool { notice = outbound("alice@acme.test", "delivery"); return notice != nil })
	if o := outbound("bob@axe.test", "handoff"); o.State != store.OutboundFailed || !strings.Contains(o.LastError, "550 5.1.1") {
		t.Errorf("handoff after the bounce: %s, %q", o.State, o.LastError)
	}
	text := notice.Msg.Text
	for _, w := range []string{"Bob Axe <bob@axe.test>", "the mail handing them the turn",
		"“550 5.1.1 <bob@axe.test>: Recipient address rejected: User unknown”"} {
		if !strings.Contains(text, w) {
			t.Errorf("notice lacks %q:\n%s", w, text)
		}
	}
	for _, p := range []string{ln.Addr().String(), "127.0.0.1", "smtp to", "SMTP error"} {
		if strings.Contains(text, p) {
			t.Errorf("notice shows %q:\n%s", p, text)
		}
	}
	// And the notice goes out too, from a bounce address of its own.
	waitFor(t, "the notice at the smarthost", func() bool {
		for _, m := range c.all() {
			if m.to[0] == "alice@acme.test" && strings.Contains(string(m.data), "X-Turnmail-Kind: delivery") {
				return strings.HasPrefix(m.from, "collab+b.") && m.from != verp
			}
		}
		return false
	})
}
