package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/internal/mailtest"
	"github.com/turnmail/turnmail/mail/message"
)

// outReceived is one message accepted by an outBackend.
type outReceived struct {
	from, to string
	user     string // authenticated as
	tls      bool
	data     []byte
}

// outBackend is a smarthost that records what it accepts and the commands
// it was sent. mail, rcpt and data, when set, answer MAIL FROM, RCPT TO and
// the end of the data; user and password, when set, are required.
type outBackend struct {
	user, password string
	insecureAuth   bool // offer AUTH without TLS
	mail           func(from string) error
	rcpt           func(to string) error
	data           func() error

	mu       sync.Mutex
	msgs     []outReceived
	commands []string // the client's lines outside DATA, from the server's debug log
}

// Write takes go-smtp's debug log of the traffic, both ways.
func (be *outBackend) Write(p []byte) (int, error) {
	be.mu.Lock()
	defer be.mu.Unlock()
	for _, line := range strings.Split(string(p), "\r\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "EHLO" || f[0] == "HELO" || f[0] == "STARTTLS" || f[0] == "MAIL" || f[0] == "RCPT") {
			be.commands = append(be.commands, f[0])
		}
	}
	return len(p), nil
}

// count returns how often the client sent command.
func (be *outBackend) count(command string) int {
	be.mu.Lock()
	defer be.mu.Unlock()
	n := 0
	for _, c := range be.commands {
		if c == command {
			n++
		}
	}
	return n
}

func (be *outBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &outSession{be: be, conn: c}, nil
}

func (be *outBackend) received() []outReceived {
	be.mu.Lock()
	defer be.mu.Unlock()
	return append([]outReceived(nil), be.msgs...)
}

type outSession struct {
	be   *outBackend
	conn *smtp.Conn
	cur  outReceived
}

var _ smtp.AuthSession = (*outSession)(nil)

func (s *outSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *outSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.be.user || password != s.be.password {
			return smtp.ErrAuthFailed
		}
		s.cur.user = username
		return nil
	}), nil
}

func (s *outSession) Mail(from string, opts *smtp.MailOptions) error {
	if s.be.user != "" && s.cur.user == "" {
		return smtp.ErrAuthRequired
	}
	if s.be.mail != nil {
		if err := s.be.mail(from); err != nil {
			return err
		}
	}
	s.cur.from = from
	return nil
}

func (s *outSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.be.rcpt != nil {
		if err := s.be.rcpt(to); err != nil {
			return err
		}
	}
	s.cur.to = to
	return nil
}

func (s *outSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.be.data != nil {
		if err := s.be.data(); err != nil {
			return err
		}
	}
	s.cur.data = data
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, s.cur)
	s.be.mu.Unlock()
	return nil
}

func (s *outSession) Reset()        { s.cur = outReceived{user: s.cur.user} }
func (s *outSession) Logout() error { return nil }

// startSmarthost runs be on 127.0.0.1:0, with STARTTLS when cfg is set, and
// returns its address.
func startSmarthost(t *testing.T, be *outBackend, cfg *tls.Config) string {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "smarthost.test"
	srv.TLSConfig = cfg
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.Debug = be
	srv.AllowInsecureAuth = be.insecureAuth
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func TestSMTPSender(t *testing.T) {
	serverTLS, clientTLS := mailtest.SelfSigned(t)
	reject := func(code int) func(string) error {
		return func(string) error {
			return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "no"}
		}
	}
	rejectData := func(code int) func() error {
		return func() error { return reject(code)("") }
	}
	tests := []struct {
		name      string
		be        *outBackend
		serverTLS *tls.Config
		sender    SMTPSender
		write     func(io.Writer) error // nil: WriteMessage
		wantErr   string                // "" for success; else a substring
		permanent bool
		refusal   string // the *mail.Refusal in the error, if one is wanted
		ehlo      int    // EHLOs wanted, 0 for any
	}{
		// One EHLO on a plain connection, two around STARTTLS (RFC 3207 §4.2).
		{name: "plain relay", be: &outBackend{}, ehlo: 1},
		{name: "opportunistic starttls", be: &outBackend{}, serverTLS: serverTLS,
			sender: SMTPSender{TLSConfig: clientTLS}, ehlo: 2},
		{name: "starttls and auth", be: &outBackend{user: "gw", password: "s3cret"}, serverTLS: serverTLS,
			sender: SMTPSender{StartTLS: true, Username: "gw", Password: "s3cret", TLSConfig: clientTLS}, ehlo: 2},
		{name: "auth on loopback without tls", be: &outBackend{user: "gw", password: "s3cret", insecureAuth: true},
			sender: SMTPSender{Username: "gw", Password: "s3cret", AllowInsecureAuth: true}, ehlo: 1},
		// A refused AUTH is about our password, not the message.
		{name: "wrong password", be: &outBackend{user: "gw", password: "s3cret"}, serverTLS: serverTLS,
			sender:  SMTPSender{StartTLS: true, Username: "gw", Password: "nope", TLSConfig: clientTLS},
			wantErr: "auth as gw: 535"},
		{name: "untrusted certificate", be: &outBackend{}, serverTLS: serverTLS,
			wantErr: "certificate"},
		{name: "starttls required, not offered", be: &outBackend{},
			sender: SMTPSender{StartTLS: true}, wantErr: "STARTTLS"},
		{name: "no credentials in clear", be: &outBackend{user: "gw", password: "s3cret"},
			sender: SMTPSender{Username: "gw", Password: "s3cret"}, wantErr: "without tls"},
		{name: "550 on rcpt", be: &outBackend{rcpt: reject(550)}, wantErr: "rcpt to: 550", permanent: true, refusal: "550 5.1.1 no"},
		{name: "451 on rcpt", be: &outBackend{rcpt: reject(451)}, wantErr: "rcpt to: 451", refusal: "451 4.1.1 no"},
		{name: "553 on mail from", be: &outBackend{mail: reject(553)}, wantErr: "mail from: 553", permanent: true, refusal: "553 5.1.1 no"},
		{name: "554 at the end of data", be: &outBackend{data: rejectData(554)}, wantErr: "end of data: 554", permanent: true, refusal: "554 5.1.1 no"},
		{name: "452 at the end of data", be: &outBackend{data: rejectData(452)}, wantErr: "end of data: 452", refusal: "452 4.1.1 no"},
		{name: "render fails mid-data", be: &outBackend{},
			write: func(w io.Writer) error {
				io.WriteString(w, "Subject: half\r\n\r\nhalf a mess")
				return errors.New("blob store gone")
			},
			wantErr: "blob store gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.sender
			s.Addr = startSmarthost(t, tc.be, tc.serverTLS)
			s.HeloName = "gw.example"
			m := testOutgoing("bob@axe.example")
			write := tc.write
			if write == nil {
				write = func(w io.Writer) error { return message.WriteMessage(w, &m, mailtest.Blobs{}) }
			}
			err := s.Send(context.Background(), "bounces@gw.example", &m, write)
			got := tc.be.received()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
				}
				if IsPermanent(err) != tc.permanent {
					t.Errorf("IsPermanent(%v) = %v", err, !tc.permanent)
				}
				var ref *mail.Refusal
				if got := errors.As(err, &ref); got != (tc.refusal != "") || got && ref.Error() != tc.refusal {
					t.Errorf("refusal in %v: %v, want %q", err, ref, tc.refusal)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "bm9wZQ") {
					t.Errorf("error shows the password: %v", err)
				}
				if len(got) != 0 {
					t.Errorf("smarthost accepted %d messages", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("smarthost has %d messages", len(got))
			}
			r := got[0]
			if r.from != "bounces@gw.example" || r.to != "bob@axe.example" || r.user != tc.be.user {
				t.Errorf("envelope %q → %q as %q", r.from, r.to, r.user)
			}
			if r.tls != (tc.serverTLS != nil) {
				t.Errorf("tls = %v", r.tls)
			}
			checkMessageID(t, r.data, m.MessageID)
			if n := tc.be.count("EHLO"); tc.ehlo != 0 && n != tc.ehlo {
				t.Errorf("client sent EHLO %d times, want %d", n, tc.ehlo)
			}
		})
	}
}

func TestSMTPSenderConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := SMTPSender{Addr: addr}
	m := testOutgoing("bob@axe.example")
	err = s.Send(context.Background(), "", &m, func(w io.Writer) error { return message.WriteMessage(w, &m, mailtest.Blobs{}) })
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a temporary error", err)
	}
}

// checkMessageID fails unless raw parses and carries Message-ID id.
func checkMessageID(t *testing.T, raw []byte, id string) {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse delivered message: %v", err)
	}
	if got, _ := mr.Header.MessageID(); got != id {
		t.Errorf("Message-ID = %q, want %q", got, id)
	}
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("x"), false},
		{&mail.PermanentError{Err: errors.New("x")}, true},
		{fmt.Errorf("rcpt to: %w", &mail.PermanentError{Err: &mail.Refusal{Code: 550}}), true},
		{errors.Join(errors.New("a"), &mail.PermanentError{Err: errors.New("x")}), true},
		// A code alone says nothing: a 5xx to EHLO is about the session.
		{&smtp.SMTPError{Code: 550}, false},
		{&mail.Refusal{Code: 550}, false},
		{context.DeadlineExceeded, false},
	}
	for _, tc := range tests {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestFileSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	s := &FileSender{Dir: dir}
	send := func(m *mail.Outgoing) error {
		t.Helper()
		return s.Send(context.Background(), "", m, func(w io.Writer) error { return message.WriteMessage(w, m, mailtest.Blobs{}) })
	}
	list := func() []string {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}

	m := testOutgoing("bob@axe.example")
	for range 2 {
		if err := send(&m); err != nil {
			t.Fatal(err)
		}
	}
	names := list()
	if len(names) != 1 || !regexp.MustCompile(`^20250314T082653Z-[0-9a-f]{12}\.eml$`).MatchString(names[0]) {
		t.Fatalf("outbox holds %q, want one file named for the date and Message-ID", names)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("outbox dir mode %v, %v", fi.Mode(), err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	checkMessageID(t, raw, m.MessageID)
	mr, _ := gomail.CreateReader(bytes.NewReader(raw))
	if to, err := mr.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "bob@axe.example" {
		t.Errorf("To = %v, %v", to, err)
	}

	// Without a Date the message is stamped when sent, and a retry still
	// finds the file of the first attempt.
	undated := testOutgoing("carol@axe.example")
	undated.Date = time.Time{}
	for range 2 {
		if err := send(&undated); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(list()); n != 2 {
		t.Errorf("outbox holds %d files after a dated and an undated message, want 2", n)
	}

	// A failed render leaves nothing behind.
	broken := testOutgoing("dave@axe.example")
	broken.Attachments = []mail.OutgoingAttachment{{Filename: "a.pdf", Blob: mail.Blob{Digest: "missing"}}}
	if err := send(&broken); err == nil {
		t.Fatal("send with a missing blob succeeded")
	}
	if names := list(); len(names) != 2 {
		t.Errorf("outbox after a failed write: %q", names)
	}
}
