package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// TestServeLMTP: Postfix's way in. The daemon takes the start mail over LMTP
// on a unix socket and answers each recipient.
func TestServeLMTP(t *testing.T) {
	sock := filepath.Join(os.TempDir(), fmt.Sprintf("tm-lmtp-%d.sock", time.Now().UnixNano()))
	t.Cleanup(func() { os.Remove(sock) })
	cfg, _, _ := startTestDaemon(t, fmt.Sprintf("[lmtp]\nlisten = %q\n", "unix:"+sock))

	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.gw.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@acme.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"collab@gw.test", "nobody@elsewhere.test"} {
		if err := c.Rcpt(rcpt, nil); rcpt == "collab@gw.test" && err != nil {
			t.Fatal(err)
		} else if rcpt != "collab@gw.test" && err == nil {
			t.Fatal("a foreign recipient was accepted over LMTP")
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, docxMail("alice@acme.test", "bob@axe.test", "collab@gw.test", "Lease", "l1@acme.test", "The lease.", "lease.docx", []byte("lease v1")))
	resp, err := w.CloseWithLMTPResponse()
	if err != nil || len(resp) != 1 || resp["collab@gw.test"] == nil {
		t.Fatalf("per-recipient replies %v, %v: want one 250", resp, err)
	}
	waitFor(t, "the handoff", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)["bob@axe.test"]) == 1 })
}

// TestServeIMAP: a mailbox at a provider, watched over IMAP. The start mail
// and the reply are dropped into it; each is applied once and moved to the
// done mailbox.
func TestServeIMAP(t *testing.T) {
	addr, user, pass := imapServerForTest(t)
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	box := fmt.Sprintf("tm-serve-%d", time.Now().UnixNano())
	done := box + "-done"
	for _, m := range []string{box, done} {
		if err := c.Create(m, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c.Delete(box).Wait()
		c.Delete(done).Wait()
	})
	appendMail := func(raw string) {
		t.Helper()
		cmd := c.Append(box, int64(len(raw)), nil)
		io.WriteString(cmd, raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	cfg, _, _ := startTestDaemon(t, fmt.Sprintf(
		"[imap]\naddr = %q\ntls = \"none\"\nusername = %q\npassword = %q\nmailbox = %q\ndone_mailbox = %q\npoll_interval = \"1s\"\n",
		addr, user, pass, box, done))
	appendMail(docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Lease", "i1@acme.test", "The lease.", "lease.docx", []byte("lease v1")))
	waitFor(t, "the handoff", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)["bob@axe.test"]) == 1 })
	h := outboxMail(t, cfg.Outbound.Dir)["bob@axe.test"][0]
	tag := h.ReplyTo[0].Addr
	appendMail(docxMail("Bob <bob@axe.test>", tag, "", "Re: Lease", "i2@axe.test", "Signed.", "lease - AXE.docx", []byte("lease v2")))
	waitFor(t, "alice's handoff", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)["alice@acme.test"]) == 2 })

	waitFor(t, "both mails in the done mailbox", func() bool {
		st, err := c.Status(done, &imap.StatusOptions{NumMessages: true}).Wait()
		return err == nil && st.NumMessages != nil && *st.NumMessages == 2
	})
	if st, err := c.Status(box, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil || *st.NumMessages != 0 {
		t.Errorf("watched mailbox still holds mail: %v %v", st, err)
	}
	// Both were applied once: Bob's reply made version 2, nothing more.
	for _, m := range outboxMail(t, cfg.Outbound.Dir)["alice@acme.test"] {
		if strings.HasPrefix(m.Subject, "Your turn") && (len(m.Attachments) != 1 || m.Attachments[0].Filename != "lease (v2).docx") {
			t.Errorf("alice's handoff carries %+v", m.Attachments)
		}
	}
}

// imapServerForTest is a real Dovecot with TURNMAIL_TEST_DOVECOT=1 (see
// .ci/interop and ../shared/rig), else go-imap's in-memory server on
// loopback.
func imapServerForTest(t *testing.T) (addr, user, pass string) {
	t.Helper()
	if os.Getenv("TURNMAIL_TEST_DOVECOT") == "1" {
		return envOr("DOVECOT_ADDR", "127.0.0.1:10143"), envOr("DOVECOT_USER", "test@example.com"), envOr("DOVECOT_PASS", "secret")
	}
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("gateway", "imap-pass")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), "gateway", "imap-pass"
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
