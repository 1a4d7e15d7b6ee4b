package smtpd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
)

// shortTempDir returns a new directory removed at the end of the test.
// t.TempDir() holds the test's name, and a Unix socket's path must stay
// under about 100 bytes (sun_path).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startLMTP runs an LMTP Server on network ("unix": a socket in a short temp
// dir; "tcp": loopback) through ListenLMTP, and returns the address to dial.
// A nil log discards.
func startLMTP(t *testing.T, network string, cfg Config, d mail.Deliverer, log *slog.Logger) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = "unix:" + filepath.Join(shortTempDir(t), "lmtp.sock")
	}
	ln, err := ListenLMTP(addr)
	if err != nil {
		t.Fatalf("ListenLMTP(%q): %v", addr, err)
	}
	cfg.LMTP = true
	serve(t, newTestServer(t, cfg, d, log), ln)
	return ln.Addr().String()
}

func dialLMTP(t *testing.T, network, addr string) *smtp.Client {
	t.Helper()
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(nc)
	t.Cleanup(func() { c.Close() })
	return c
}

// lmtpSend runs one transaction on c. It returns each RCPT's reply (nil when
// accepted) and, keyed by accepted recipient, each reply after DATA (nil for
// 250).
func lmtpSend(t *testing.T, c *smtp.Client, from string, rcpts []string, body string) (rcptErrs []error, data map[string]error) {
	t.Helper()
	if err := c.Mail(from, nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	for _, rcpt := range rcpts {
		rcptErrs = append(rcptErrs, c.Rcpt(rcpt, nil))
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatalf("write body: %v", err)
	}
	resp, err := w.CloseWithLMTPResponse()
	var perRcpt smtp.LMTPDataError
	if err != nil && !errors.As(err, &perRcpt) {
		t.Fatalf("end of DATA: %v", err)
	}
	data = make(map[string]error)
	for rcpt := range resp {
		data[rcpt] = nil
	}
	for rcpt, e := range perRcpt {
		data[rcpt] = e
	}
	return rcptErrs, data
}

// logBuffer collects JSON log lines written from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var lines []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.b.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLMTPDelivers(t *testing.T) {
	tagged := newTestTagger(t).Address("k7p2qz", "p1")
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			logs := &logBuffer{}
			d := &testDeliverer{}
			addr := startLMTP(t, network, Config{}, d, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			c := dialLMTP(t, network, addr)
			// Upper case: go-smtp keys the per-recipient status by the
			// address as the client wrote it.
			rcpts := []string{"COLLAB@GW.EXAMPLE", tagged}
			rcptErrs, data := lmtpSend(t, c, "alice@acme.example", rcpts, testBody)
			for i, err := range rcptErrs {
				if err != nil {
					t.Errorf("RCPT %s: %v", rcpts[i], err)
				}
			}
			if len(data) != 2 || data[rcpts[0]] != nil || data[rcpts[1]] != nil {
				t.Fatalf("replies after DATA %v, want 250 for each of %q", data, rcpts)
			}

			got := d.deliveries()
			if len(got) != 1 {
				t.Fatalf("%d deliveries, want 1", len(got))
			}
			env := got[0].env
			if env.Source != "lmtp" || env.From != "alice@acme.example" || env.ID == "" || env.Received.IsZero() {
				t.Errorf("envelope %+v", env)
			}
			if want := "collab@gw.example " + tagged; strings.Join(env.Recipients, " ") != want {
				t.Errorf("recipients %q, want %q", env.Recipients, want)
			}
			if got[0].body != testBody {
				t.Errorf("body %q, want %q", got[0].body, testBody)
			}

			// The session goes on to a second message.
			if _, data := lmtpSend(t, c, "bob@axe.example", []string{tagged}, testBody); data[tagged] != nil {
				t.Fatalf("second message: %v", data[tagged])
			}
			if got := d.deliveries(); len(got) != 2 {
				t.Fatalf("%d deliveries after the second message, want 2", len(got))
			}

			lines := logs.lines(t)
			accepted := false
			for _, line := range lines {
				if line["component"] != "lmtpd" {
					t.Errorf("log line without component lmtpd: %v", line)
				}
				if line["msg"] == "message accepted" {
					accepted = true
					if line["session"] != env.ID {
						t.Errorf("message accepted without its session: %v", line)
					}
				}
				for _, v := range line {
					if s, ok := v.(string); ok && (strings.Contains(s, "Hello.") || strings.Contains(s, "leading dot")) {
						t.Errorf("log line carries the body: %v", line)
					}
				}
			}
			if !accepted {
				t.Errorf("no message accepted line in %d log lines", len(lines))
			}
		})
	}
}

func TestLMTPRejectsRecipients(t *testing.T) {
	tagged := newTestTagger(t).Address("k7p2qz", "p1")
	forged := strings.Replace(tagged, "k7p2qz", "k7p2qa", 1)
	d := &testDeliverer{}
	addr := startLMTP(t, "tcp", Config{}, d, nil)
	c := dialLMTP(t, "tcp", addr)
	rcpts := []string{"collab@gw.example", "bob@axe.example", forged, tagged}
	rcptErrs, data := lmtpSend(t, c, "alice@acme.example", rcpts, testBody)

	if rcptErrs[0] != nil || rcptErrs[3] != nil {
		t.Errorf("valid recipients refused: %v", rcptErrs)
	}
	checkReply(t, rcptErrs[1], 550, smtp.EnhancedCode{5, 7, 1})
	checkReply(t, rcptErrs[2], 550, smtp.EnhancedCode{5, 1, 1})
	// Only the accepted recipients get a reply after DATA.
	if len(data) != 2 || data["collab@gw.example"] != nil || data[tagged] != nil {
		t.Fatalf("replies after DATA %v, want 250 for the gateway and the tagged address only", data)
	}
	got := d.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	if want := "collab@gw.example " + tagged; strings.Join(got[0].env.Recipients, " ") != want {
		t.Errorf("recipients %q, want %q", got[0].env.Recipients, want)
	}
}

func TestLMTPDeliverFails(t *testing.T) {
	const internal = "store: bbolt write /var/lib/turnmail/secret.db: disk on fire"
	tests := []struct {
		name string
		hook func(context.Context, mail.Envelope) error
	}{
		{"error", func(context.Context, mail.Envelope) error { return errors.New(internal) }},
		{"panic", func(context.Context, mail.Envelope) error { panic(internal) }},
	}
	tagged := newTestTagger(t).Address("k7p2qz", "p1")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &testDeliverer{hook: tc.hook}
			addr := startLMTP(t, "unix", Config{}, d, nil)
			c := dialLMTP(t, "unix", addr)
			rcpts := []string{"collab@gw.example", tagged}
			_, data := lmtpSend(t, c, "alice@acme.example", rcpts, testBody)
			if len(data) != len(rcpts) {
				t.Fatalf("replies after DATA %v, want one for each of %q", data, rcpts)
			}
			for _, rcpt := range rcpts {
				smtpErr := checkReply(t, data[rcpt], 451, smtp.EnhancedCode{4, 3, 0})
				if strings.Contains(smtpErr.Message, "secret") || strings.Contains(smtpErr.Message, "fire") {
					t.Errorf("reply %q leaks the error", smtpErr.Message)
				}
			}
			if got := d.deliveries(); len(got) != 0 {
				t.Fatalf("delivered %d messages, want none", len(got))
			}
			// The session survives for a retry.
			if err := c.Noop(); err != nil {
				t.Errorf("NOOP after failed delivery: %v", err)
			}
		})
	}
}

func TestLMTPTooBig(t *testing.T) {
	tagged := newTestTagger(t).Address("k7p2qz", "p1")
	d := &testDeliverer{}
	addr := startLMTP(t, "tcp", Config{MaxMessageBytes: 1024}, d, nil)
	c := dialLMTP(t, "tcp", addr)
	rcpts := []string{"collab@gw.example", tagged}
	big := testBody + strings.Repeat("0123456789abcdef\r\n", 1000)
	_, data := lmtpSend(t, c, "alice@acme.example", rcpts, big)
	if len(data) != len(rcpts) {
		t.Fatalf("replies after DATA %v, want one for each of %q", data, rcpts)
	}
	for _, rcpt := range rcpts {
		checkReply(t, data[rcpt], 552, smtp.EnhancedCode{5, 3, 4})
	}
	if got := d.deliveries(); len(got) != 0 {
		t.Fatalf("delivered %d messages, want none", len(got))
	}
	// The rest of the big body was consumed: the next message goes through.
	if _, data := lmtpSend(t, c, "alice@acme.example", rcpts, testBody); data[rcpts[0]] != nil || data[rcpts[1]] != nil {
		t.Fatalf("message after too big: %v", data)
	}
	if got := d.deliveries(); len(got) != 1 || got[0].body != testBody {
		t.Fatalf("deliveries after too big: %+v", got)
	}
}

// rawConn speaks the protocol line by line, for what go-smtp's client will
// not do (its LMTP client falls back to HELO when LHLO is refused).
type rawConn struct {
	t *testing.T
	*textproto.Conn
	nc net.Conn // beneath it, for STARTTLS
}

func dialRaw(t *testing.T, addr string) rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	rc := rawConn{t: t, Conn: textproto.NewConn(nc), nc: nc}
	rc.step("", 220)
	return rc
}

// step sends cmd, unless empty, and reads a reply with code; it returns the
// reply's text.
func (rc rawConn) step(cmd string, code int) string {
	rc.t.Helper()
	if cmd != "" {
		if err := rc.PrintfLine("%s", cmd); err != nil {
			rc.t.Fatal(err)
		}
	}
	_, msg, err := rc.ReadResponse(code)
	if err != nil {
		rc.t.Fatalf("%q: %v", cmd, err)
	}
	return msg
}

func TestLMTPReadTimeoutInData(t *testing.T) {
	d := &testDeliverer{}
	addr := startLMTP(t, "tcp", Config{DataBlockTimeout: 300 * time.Millisecond}, d, nil)
	rc := dialRaw(t, addr)
	rc.step("LHLO client.example", 250)
	rc.step("MAIL FROM:<alice@acme.example>", 250)
	rc.step("RCPT TO:<collab@gw.example>", 250)
	rc.step("RCPT TO:<Collab@GW.example>", 250)
	rc.step("DATA", 354)
	// Half a message, then silence: one 451 for each recipient, then hang up.
	if err := rc.PrintfLine("Subject: half"); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"collab@gw.example", "Collab@GW.example"} {
		_, msg, err := rc.ReadResponse(250)
		var protoErr *textproto.Error
		if !errors.As(err, &protoErr) || protoErr.Code != 451 || !strings.HasPrefix(msg, "4.4.2 <"+rcpt+"> ") {
			t.Fatalf("reply for %s after stalled DATA: %v", rcpt, err)
		}
	}
	if _, err := rc.ReadLine(); err != io.EOF {
		t.Fatalf("after the timeout replies: %v, want EOF", err)
	}
	if got := d.deliveries(); len(got) != 0 {
		t.Fatalf("delivered %d messages, want none", len(got))
	}
}

// Each server speaks its own protocol only, and the SMTP one answers a
// message once, whatever its recipients, as before.
func TestLMTPAndSMTPGreetings(t *testing.T) {
	refused := func(rc rawConn, cmd string) {
		t.Helper()
		if msg := rc.step(cmd, 500); !strings.HasPrefix(msg, "5.5.1 ") {
			t.Errorf("%q refused with %q, want 500 5.5.1", cmd, msg)
		}
	}
	d := &testDeliverer{}
	rc := dialRaw(t, startLMTP(t, "tcp", Config{}, d, nil))
	refused(rc, "EHLO client.example")
	refused(rc, "HELO client.example")
	rc.step("LHLO client.example", 250)

	_, smtpAddr := startServer(t, Config{}, d)
	rc = dialRaw(t, smtpAddr)
	refused(rc, "LHLO client.example")
	rc.step("EHLO client.example", 250)
	rc.step("MAIL FROM:<alice@acme.example>", 250)
	rc.step("RCPT TO:<collab@gw.example>", 250)
	rc.step("RCPT TO:<COLLAB@gw.example>", 250)
	rc.step("DATA", 354)
	dw := rc.DotWriter()
	if _, err := io.WriteString(dw, testBody); err != nil {
		t.Fatal(err)
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	rc.step("", 250)
	// A second reply to DATA would be read here instead of QUIT's.
	rc.step("QUIT", 221)
	got := d.deliveries()
	if len(got) != 1 || got[0].env.Source != "smtp" || got[0].body != testBody {
		t.Fatalf("deliveries %+v, want one from smtp", got)
	}
	if rcpts := strings.Join(got[0].env.Recipients, " "); rcpts != "collab@gw.example collab@gw.example" {
		t.Errorf("recipients %q", rcpts)
	}
}

func TestListenLMTP(t *testing.T) {
	// dialable fails unless something accepts connections at addr.
	dialable := func(t *testing.T, network, addr string) {
		t.Helper()
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		c.Close()
	}
	listen := func(t *testing.T, addr string) net.Listener {
		t.Helper()
		ln, err := ListenLMTP(addr)
		if err != nil {
			t.Fatalf("ListenLMTP(%q): %v", addr, err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}

	t.Run("unix", func(t *testing.T) {
		dir := filepath.Join(shortTempDir(t), "run")
		path := filepath.Join(dir, "lmtp.sock")
		listen(t, "unix:"+path)
		dialable(t, "unix", path)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
			t.Errorf("socket mode %v, want socket 0660", fi.Mode())
		}
		fi, err = os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o750 {
			t.Errorf("created directory mode %v, want 0750", fi.Mode().Perm())
		}
	})

	t.Run("stale socket", func(t *testing.T) {
		path := filepath.Join(shortTempDir(t), "lmtp.sock")
		old, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		// As a process that died leaves it: the file stays, nobody listens.
		old.(*net.UnixListener).SetUnlinkOnClose(false)
		old.Close()
		if _, err := net.Dial("unix", path); err == nil {
			t.Fatal("stale socket still answers")
		}
		listen(t, "unix:"+path)
		dialable(t, "unix", path)
	})

	t.Run("socket in use", func(t *testing.T) {
		path := filepath.Join(shortTempDir(t), "lmtp.sock")
		listen(t, "unix:"+path)
		if ln, err := ListenLMTP("unix:" + path); err == nil {
			ln.Close()
			t.Fatal("second listener on a socket in use")
		}
		dialable(t, "unix", path)
	})

	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(shortTempDir(t), "lmtp.sock")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		if ln, err := ListenLMTP("unix:" + path); err == nil {
			ln.Close()
			t.Fatal("listening in place of a regular file")
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
			t.Errorf("regular file changed: %q, %v", b, err)
		}
	})

	t.Run("tcp", func(t *testing.T) {
		ln := listen(t, "127.0.0.1:0")
		if ln.Addr().Network() != "tcp" {
			t.Errorf("network %q, want tcp", ln.Addr().Network())
		}
		dialable(t, "tcp", ln.Addr().String())
	})

	for _, addr := range []string{"", "unix:", "127.0.0.1", "/run/turnmail/lmtp.sock", "127.0.0.1:99999"} {
		t.Run("bad "+addr, func(t *testing.T) {
			if ln, err := ListenLMTP(addr); err == nil {
				ln.Close()
				t.Fatalf("ListenLMTP(%q) succeeded", addr)
			}
		})
	}
}

// TestLMTPRejection: a Deliverer's Rejection is answered once for each
// recipient, with its codes and reason (RFC 2033 §4.2).
func TestLMTPRejection(t *testing.T) {
	tagged := newTestTagger(t).Address("k7p2qz", "p1")
	for _, tc := range testRejections {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			d := &testDeliverer{hook: func(context.Context, mail.Envelope) error { return tc.err }}
			addr := startLMTP(t, "unix", Config{}, d, slog.New(slog.NewJSONHandler(logs, nil)))
			c := dialLMTP(t, "unix", addr)
			rcpts := []string{"collab@gw.example", tagged}
			_, data := lmtpSend(t, c, "alice@acme.example", rcpts, testBody)
			if len(data) != len(rcpts) {
				t.Fatalf("replies after DATA %v, want one for each of %q", data, rcpts)
			}
			for _, rcpt := range rcpts {
				// go-smtp names the recipient in each reply.
				if reply := checkReply(t, data[rcpt], tc.code, tc.ec); reply.Message != "<"+rcpt+"> "+tc.msg {
					t.Errorf("reply for %s: %q, want %q", rcpt, reply.Message, tc.msg)
				}
			}
			if err := c.Noop(); err != nil {
				t.Errorf("NOOP after a rejection: %v", err)
			}
			if lines := logged(t, logs, "message rejected"); len(lines) != 1 || lines[0]["level"] != "INFO" {
				t.Errorf("log lines for the rejection: %v", lines)
			}
		})
	}
}

// TestLMTPPostmaster: postmaster@ the gateway's domain is taken over LMTP as
// over SMTP (RFC 5321 §4.5.1), whatever its case.
func TestLMTPPostmaster(t *testing.T) {
	d := &testDeliverer{}
	addr := startLMTP(t, "tcp", Config{}, d, nil)
	c := dialLMTP(t, "tcp", addr)
	rcptErrs, data := lmtpSend(t, c, "mailer-daemon@axe.example", []string{"POSTMASTER@gw.example"}, testBody)
	if rcptErrs[0] != nil || data["POSTMASTER@gw.example"] != nil {
		t.Fatalf("RCPT %v, DATA %v", rcptErrs, data)
	}
	if got := d.deliveries(); len(got) != 1 || strings.Join(got[0].env.Recipients, " ") != "postmaster@gw.example" {
		t.Fatalf("deliveries %+v", got)
	}
}
