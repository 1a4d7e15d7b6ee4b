package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/internal/testutil"
	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/internal/mailtest"
)

// jsonLogger writes JSON lines to logs, or nowhere when logs is nil.
func jsonLogger(logs *logBuffer) *slog.Logger {
	if logs == nil {
		return nil
	}
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tlsFixture is a throwaway CA and a server certificate it issued, in PEM
// files as an operator would keep them.
type tlsFixture struct {
	ca                *testutil.CA
	certPath, keyPath string
	leaf              testutil.Leaf
	cert              *CertFile
}

// newTLSFixture writes a certificate for gw.example and 127.0.0.1 and loads
// it, logging to logs when set.
func newTLSFixture(t *testing.T, logs *logBuffer) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	f := &tlsFixture{ca: testutil.NewCA(t), certPath: filepath.Join(dir, "cert.pem"), keyPath: filepath.Join(dir, "key.pem")}
	f.leaf = f.ca.Issue(t, "gw.example", "127.0.0.1")
	f.leaf.Write(t, f.certPath, f.keyPath)
	var err error
	f.cert, err = NewCertFile(f.certPath, f.keyPath, jsonLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *tlsFixture) serverConfig() *tls.Config {
	return &tls.Config{GetCertificate: f.cert.GetCertificate}
}

// client trusts the fixture's CA and expects the gateway's name.
func (f *tlsFixture) client() *tls.Config { return f.ca.ClientConfig("gw.example") }

// dialTLS speaks STARTTLS with go-smtp's client.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, cfg)
	if err != nil {
		t.Fatalf("STARTTLS to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	// The handshake runs with the first command over TLS.
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP over TLS to %s: %v", addr, err)
	}
	return c
}

// presented returns the serial of the certificate a new STARTTLS handshake
// sees.
func presented(t *testing.T, addr string, cfg *tls.Config) *big.Int {
	t.Helper()
	c := dialTLS(t, addr, cfg)
	defer c.Quit()
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		t.Fatal("no TLS after STARTTLS")
	}
	return st.PeerCertificates[0].SerialNumber
}

// TestSMTPStartTLS: with a certificate the server offers STARTTLS, a real
// client upgrades with it and verifies the chain, a message goes through over
// TLS, and STARTTLS is no longer offered then (RFC 3207 §4.2).
func TestSMTPStartTLS(t *testing.T) {
	logs := &logBuffer{}
	f := newTLSFixture(t, nil)
	d := &testDeliverer{}
	_, addr := startServerLog(t, Config{TLSConfig: f.serverConfig()}, d, logs)

	plain := dial(t, addr)
	if ok, _ := plain.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered on a plain connection")
	}
	plain.Quit()

	c := dialTLS(t, addr, f.client())
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered again over TLS")
	}
	if st, _ := c.TLSConnectionState(); st.PeerCertificates[0].SerialNumber.Cmp(f.leaf.Serial) != 0 {
		t.Errorf("server presented serial %v, want %v", st.PeerCertificates[0].SerialNumber, f.leaf.Serial)
	}
	// A body line far over the command line bound: the reader beneath
	// go-smtp sees the plain text, and tells body from commands over TLS
	// as it does without.
	body := "Subject: over TLS\r\n\r\n" + strings.Repeat("x", 100_000) + "\r\n"
	if err := send(c, "alice@acme.example", []string{"collab@gw.example"}, body); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
	if got := d.deliveries(); len(got) != 1 || got[0].body != body {
		t.Fatalf("deliveries: %d, want the one message whole", len(got))
	}
	var tlsSessions int
	for _, l := range logged(t, logs, "session") {
		if l["tls"] == "TLS 1.3" {
			tlsSessions++
		}
	}
	if tlsSessions != 1 {
		t.Errorf("%d sessions logged with tls = TLS 1.3, want 1", tlsSessions)
	}
}

// TestSMTPStartTLSCommandLines: over TLS a command line is bounded as over
// plain text.
func TestSMTPStartTLSCommandLines(t *testing.T) {
	f := newTLSFixture(t, nil)
	_, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, &testDeliverer{})
	rc := dialRaw(t, addr)
	rc.step("EHLO client.example", 250)
	tc := rc.startTLS(t, "STARTTLS", f.client())
	tc.step("EHLO client.example", 250)
	if err := tc.PrintfLine("NOOP %s", strings.Repeat("n", 3000)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tc.ReadResponse(250); !isReply(err, 500) {
		t.Fatalf("a 3000-octet command line over TLS: %v, want 500", err)
	}
}

// startTLS sends cmd (a STARTTLS line, maybe with more after it), expects
// 220 and returns the connection over TLS.
func (rc rawConn) startTLS(t *testing.T, cmd string, cfg *tls.Config) rawConn {
	t.Helper()
	if _, err := io.WriteString(rc.W, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := rc.W.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rc.ReadResponse(220); err != nil {
		t.Fatalf("%q: %v", cmd, err)
	}
	if rc.R.Buffered() > 0 {
		t.Fatal("the server wrote more after 220")
	}
	tc := tls.Client(rc.nc, cfg)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return rawConn{t: t, Conn: textproto.NewConn(tc), nc: tc}
}

func isReply(err error, code int) bool {
	var pe *textproto.Error
	return errors.As(err, &pe) && pe.Code == code
}

// TestSMTPStartTLSRaw: STARTTLS as RFC 3207 has it, beyond what go-smtp's
// client does.
func TestSMTPStartTLSRaw(t *testing.T) {
	f := newTLSFixture(t, nil)

	// Commands sent after STARTTLS in the same packet are dropped: they
	// came in plain text, and must not count as if sent over TLS
	// (CVE-2011-0411). Over TLS the session starts afresh, and the server
	// does not greet again.
	t.Run("injection", func(t *testing.T) {
		logs := &logBuffer{}
		d := &testDeliverer{}
		_, addr := startServerLog(t, Config{TLSConfig: f.serverConfig()}, d, logs)
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		tc := rc.startTLS(t, "STARTTLS\r\nMAIL FROM:<mallory@evil.example>\r\nRCPT TO:<collab@gw.example>", f.client())
		msg := tc.step("EHLO client.example", 250)
		if strings.Contains(msg, "STARTTLS") {
			t.Errorf("EHLO over TLS offers STARTTLS: %q", msg)
		}
		if err := tc.PrintfLine("DATA"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tc.ReadResponse(354); err == nil {
			t.Fatal("DATA accepted: the injected MAIL and RCPT counted")
		}
		if lines := logged(t, logs, "starttls: dropped input sent ahead of the handshake"); len(lines) != 1 {
			t.Errorf("log lines about the dropped input: %v", lines)
		}
	})

	// Commands before STARTTLS in the same packet are answered first.
	t.Run("pipelined before", func(t *testing.T) {
		_, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, &testDeliverer{})
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		if _, err := io.WriteString(rc.W, "NOOP\r\nSTARTTLS\r\n"); err != nil {
			t.Fatal(err)
		}
		rc.W.Flush()
		rc.step("", 250)
		rc.step("", 220)
		tc := tls.Client(rc.nc, f.client())
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake: %v", err)
		}
	})

	// A STARTTLS line that comes in two reads.
	t.Run("split", func(t *testing.T) {
		_, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, &testDeliverer{})
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		io.WriteString(rc.W, "STAR")
		rc.W.Flush()
		tc := rc.startTLS(t, "TTLS", f.client())
		tc.step("EHLO client.example", 250)
		tc.step("MAIL FROM:<alice@acme.example>", 250)
	})

	t.Run("parameters", func(t *testing.T) {
		_, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, &testDeliverer{})
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		rc.step("STARTTLS now", 501)
		if line, err := rc.ReadLine(); err == nil {
			t.Fatalf("after 501: %q, want the connection closed", line)
		}
	})

	t.Run("not offered", func(t *testing.T) {
		_, addr := startServer(t, Config{}, &testDeliverer{})
		rc := dialRaw(t, addr)
		if msg := rc.step("EHLO client.example", 250); strings.Contains(msg, "STARTTLS") {
			t.Errorf("STARTTLS offered without a certificate: %q", msg)
		}
		rc.step("STARTTLS", 502)
		rc.step("NOOP", 250)
	})

	// A handshake that fails (the client does not trust the certificate)
	// ends the connection and nothing else.
	t.Run("bad handshake", func(t *testing.T) {
		srv, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, &testDeliverer{})
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		rc.step("STARTTLS", 220)
		tc := tls.Client(rc.nc, &tls.Config{ServerName: "gw.example"}) // the system roots
		if err := tc.Handshake(); err == nil {
			t.Fatal("handshake succeeded without trusting the CA")
		}
		mailtest.WaitFor(t, "the connection to be released", func() bool {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return len(srv.conns) == 0 && srv.connLimit.open == 0
		})
	})
}

// TestSMTPRequireTLS: with require_tls, MAIL before STARTTLS is refused with
// RFC 3207's words, and taken over TLS.
func TestSMTPRequireTLS(t *testing.T) {
	f := newTLSFixture(t, nil)
	d := &testDeliverer{}
	_, addr := startServer(t, Config{TLSConfig: f.serverConfig(), RequireTLS: true}, d)

	plain := dial(t, addr)
	if ok, _ := plain.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	err := plain.Mail("alice@acme.example", nil)
	if reply := checkReply(t, err, 530, smtp.EnhancedCode{5, 7, 0}); reply.Message != "Must issue a STARTTLS command first" {
		t.Errorf("reply text %q", reply.Message)
	}

	c := dialTLS(t, addr, f.client())
	if err := send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	if got := d.deliveries(); len(got) != 1 {
		t.Fatalf("delivered %d, want 1", len(got))
	}

	// Told to require TLS without a certificate, the server takes nothing.
	_, addr = startServer(t, Config{RequireTLS: true}, d)
	checkReply(t, dial(t, addr).Mail("alice@acme.example", nil), 530, smtp.EnhancedCode{5, 7, 0})
}

// TestSMTPStartTLSShutdown: Shutdown closes a TLS session that is idle and
// lets one in the middle of a message finish, as it does without TLS.
func TestSMTPStartTLSShutdown(t *testing.T) {
	f := newTLSFixture(t, nil)
	entered := make(chan struct{})
	release := make(chan struct{})
	d := &testDeliverer{hook: func(ctx context.Context, _ mail.Envelope) error {
		close(entered)
		<-release
		return nil
	}}
	srv, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, d)
	idle := dialTLS(t, addr, f.client())
	if err := idle.Noop(); err != nil {
		t.Fatal(err)
	}
	busy := dialTLS(t, addr, f.client())
	sent := make(chan error, 1)
	go func() { sent <- send(busy, "alice@acme.example", []string{"collab@gw.example"}, testBody) }()
	<-entered

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shutdown <- srv.Shutdown(ctx)
	}()
	mailtest.WaitFor(t, "the idle TLS session to be closed", func() bool { return idle.Noop() != nil })
	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("the message in flight over TLS: %v", err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestCertFileReload: new handshakes see a certificate replaced on disk; a
// replacement that does not load keeps the certificate in use and is logged
// as an error once; Reload reads the files again on demand.
func TestCertFileReload(t *testing.T) {
	logs := &logBuffer{}
	f := newTLSFixture(t, logs)
	_, addr := startServer(t, Config{TLSConfig: f.serverConfig()}, &testDeliverer{})
	want := func(serial *big.Int) {
		t.Helper()
		if got := presented(t, addr, f.client()); got.Cmp(serial) != 0 {
			t.Fatalf("server presented serial %v, want %v", got, serial)
		}
	}
	want(f.leaf.Serial)

	renewed := f.ca.Issue(t, "gw.example")
	renewed.Write(t, f.certPath, f.keyPath)
	want(renewed.Serial)

	// A broken certificate file, then a certificate with another's key:
	// the renewed one stays, and each bad change is reported once.
	testutil.WriteFileAtomic(t, f.certPath, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"))
	want(renewed.Serial)
	want(renewed.Serial)
	other := f.ca.Issue(t, "gw.example")
	testutil.WriteFileAtomic(t, f.certPath, other.CertPEM)
	want(renewed.Serial)
	if errs := logged(t, logs, "tls certificate not reloaded, keeping the one in use"); len(errs) != 2 {
		t.Errorf("%d error lines, want one per bad change: %v", len(errs), errs)
	} else if errs[0]["level"] != "ERROR" || !strings.Contains(errs[0]["err"].(string), f.certPath) {
		t.Errorf("error line %v", errs[0])
	}

	// Fixed: the next handshake takes it.
	testutil.WriteFileAtomic(t, f.keyPath, other.KeyPEM)
	want(other.Serial)

	// Reload, as on SIGHUP: unchanged files load again; missing ones are
	// an error and the certificate stays.
	if err := f.cert.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	os.Remove(f.keyPath)
	if err := f.cert.Reload(); err == nil || !strings.Contains(err.Error(), f.keyPath) {
		t.Fatalf("Reload without a key file: %v, want an error naming it", err)
	}
	want(other.Serial)
}

// TestNewCertFile: a pair that does not load is an error that names it.
func TestNewCertFile(t *testing.T) {
	f := newTLSFixture(t, nil)
	other := f.ca.Issue(t, "gw.example")
	dir := t.TempDir()
	mismatched := filepath.Join(dir, "other-key.pem")
	os.WriteFile(mismatched, other.KeyPEM, 0o600)
	for _, tc := range []struct{ name, cert, key, want string }{
		{"missing cert", filepath.Join(dir, "none.pem"), f.keyPath, "none.pem"},
		{"missing key", f.certPath, filepath.Join(dir, "none.pem"), "none.pem"},
		{"key of another certificate", f.certPath, mismatched, "private key does not match public key"},
		{"key for cert", f.keyPath, f.keyPath, "key.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewCertFile(tc.cert, tc.key, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewCertFile: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestScanStartTLS: the reader finds a STARTTLS command however the reads
// cut it, and says where its line starts in the read that ends it.
func TestScanStartTLS(t *testing.T) {
	srv := newTestServer(t, Config{TLSConfig: &tls.Config{}}, &testDeliverer{}, nil)
	for _, tc := range []struct {
		name       string
		reads      []string
		start, end int // in the last read
		args       bool
	}{
		{"alone", []string{"STARTTLS\r\n"}, 0, 10, false},
		{"lower case", []string{"starttls\r\n"}, 0, 10, false},
		{"after a command", []string{"NOOP\r\nSTARTTLS\r\nMAIL"}, 6, 16, false},
		{"split", []string{"NOOP\r\nSTAR", "TTLS\r\nMAIL"}, 0, 6, false},
		{"after a chunk", []string{"BDAT 10\r\n", "STARTTLS\r\nSTARTTLS\r\n"}, 10, 20, false},
		{"parameters", []string{"STARTTLS x\r\n"}, 0, 12, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &trackedConn{s: srv}
			for i, r := range tc.reads {
				res, start, end := c.scan([]byte(r))
				if i < len(tc.reads)-1 {
					if res != scanOK {
						t.Fatalf("read %d: %d, want nothing found", i, res)
					}
					continue
				}
				if res != scanStartTLS || start != tc.start || end != tc.end || hasArgs(c.head) != tc.args {
					t.Fatalf("got %d [%d:%d] args %v, want STARTTLS [%d:%d] args %v", res, start, end, hasArgs(c.head), tc.start, tc.end, tc.args)
				}
			}
		})
	}
	// Over TLS already, or with no certificate, STARTTLS is go-smtp's to
	// answer.
	c := &trackedConn{s: srv, tls: &tls.ConnectionState{}}
	if res, _, _ := c.scan([]byte("STARTTLS\r\n")); res != scanOK {
		t.Errorf("over TLS: %d, want STARTTLS left to go-smtp", res)
	}
	c = &trackedConn{s: newTestServer(t, Config{}, &testDeliverer{}, nil)}
	if res, _, _ := c.scan([]byte("STARTTLS\r\n")); res != scanOK {
		t.Errorf("without TLS: %d, want STARTTLS left to go-smtp", res)
	}
}
