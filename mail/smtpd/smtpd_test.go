package smtpd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/tag"
)

// delivery is one message a testDeliverer took.
type delivery struct {
	env  mail.Envelope
	body string
}

// testDeliverer records what it is handed. hook, when set, runs after the
// spool was read and decides the outcome.
type testDeliverer struct {
	hook func(ctx context.Context, env mail.Envelope) error

	mu  sync.Mutex
	got []delivery
}

// newTestServer is a Server of the gateway at gw.example, the Tagger's domain.
func newTestServer(t testing.TB, cfg Config, d mail.Deliverer, log *slog.Logger) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname = "gw.example"
	}
	return NewServer(cfg, newTestTagger(t), d, log)
}

// newTestTagger is the recipient policy of the tests: the real Tagger of a
// gateway at gw.example.
func newTestTagger(t testing.TB) *tag.Tagger {
	t.Helper()
	tg, err := tag.NewTagger("Collab@GW.example", []byte("0123456789abcdef-test-secret"))
	if err != nil {
		t.Fatalf("NewTagger: %v", err)
	}
	return tg
}

func (d *testDeliverer) Deliver(ctx context.Context, env mail.Envelope, msg *mail.Spool) (mail.Result, error) {
	b, err := io.ReadAll(msg.Reader())
	if err != nil {
		return mail.Result{}, err
	}
	if int64(len(b)) != msg.Size() {
		return mail.Result{}, errors.New("spool size mismatch")
	}
	if d.hook != nil {
		if err := d.hook(ctx, env); err != nil {
			return mail.Result{}, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, delivery{env, string(b)})
	return mail.Result{Outcome: "test"}, nil
}

func (d *testDeliverer) deliveries() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.got...)
}

// startServer runs a Server on a loopback port and returns its address. The
// server is shut down at the end of the test unless the test did so.
func startServer(t *testing.T, cfg Config, d mail.Deliverer) (*Server, string) {
	t.Helper()
	srv := newTestServer(t, cfg, d, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv, ln)
	return srv, ln.Addr().String()
}

// serve runs srv on ln until the end of the test, and shuts it down then
// unless the test did so.
func serve(t *testing.T, srv *Server, ln net.Listener) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// send runs one mail transaction on c and returns the first error.
func send(c *smtp.Client, from string, rcpts []string, body string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return err
	}
	return w.Close()
}

// checkReply fails unless err is the SMTP reply code and enhanced code.
func checkReply(t *testing.T, err error, code int, ec smtp.EnhancedCode) *smtp.SMTPError {
	t.Helper()
	var smtpErr *smtp.SMTPError
	if !errors.As(err, &smtpErr) {
		t.Fatalf("got %v, want SMTP reply %d %v", err, code, ec)
	}
	if smtpErr.Code != code || smtpErr.EnhancedCode != ec {
		t.Fatalf("got reply %d %v %q, want %d %v", smtpErr.Code, smtpErr.EnhancedCode, smtpErr.Message, code, ec)
	}
	return smtpErr
}

const testBody = "From: alice@acme.example\r\nSubject: contract\r\n\r\nHello.\r\n.leading dot\r\n"

func TestSMTPAccepts(t *testing.T) {
	tg := newTestTagger(t)
	tagged := tg.Address("k7p2qz", "p1")
	tests := []struct {
		name  string
		from  string
		rcpts []string
		want  []string // envelope recipients delivered
	}{
		{"gateway", "Alice@ACME.example", []string{"collab@gw.example"}, []string{"collab@gw.example"}},
		{"tagged", "alice@acme.example", []string{tagged}, []string{tagged}},
		{"case-folded", "alice@acme.example", []string{"COLLAB@GW.EXAMPLE", strings.ToUpper(tagged)}, []string{"collab@gw.example", tagged}},
		{"null sender", "", []string{tagged}, []string{tagged}},
		// RFC 5321 §4.5.1, in any case. (The bare "<Postmaster>" of §4.1.1.3
		// is refused by go-smtp's parser with 501 before the session sees it.)
		{"postmaster", "alice@acme.example", []string{"PostMaster@GW.example"}, []string{"postmaster@gw.example"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &testDeliverer{}
			_, addr := startServer(t, Config{}, d)
			c := dial(t, addr)
			if err := send(c, tc.from, tc.rcpts, testBody); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := d.deliveries()
			if len(got) != 1 {
				t.Fatalf("%d deliveries, want 1", len(got))
			}
			env := got[0].env
			if got[0].body != testBody {
				t.Errorf("body %q, want %q", got[0].body, testBody)
			}
			if env.From != strings.ToLower(tc.from) || env.Source != "smtp" || env.ID == "" || env.Received.IsZero() {
				t.Errorf("envelope %+v", env)
			}
			if strings.Join(env.Recipients, " ") != strings.Join(tc.want, " ") {
				t.Errorf("recipients %q, want %q", env.Recipients, tc.want)
			}
		})
	}
}

func TestSMTPRejectsRecipients(t *testing.T) {
	tg := newTestTagger(t)
	tagged := tg.Address("k7p2qz", "p1")
	forged := strings.Replace(tagged, "k7p2qz", "k7p2qa", 1)
	tests := []struct {
		name string
		rcpt string
		code int
		ec   smtp.EnhancedCode
	}{
		{"foreign", "bob@axe.example", 550, smtp.EnhancedCode{5, 7, 1}},
		{"foreign with our local part", "collab@axe.example", 550, smtp.EnhancedCode{5, 7, 1}},
		{"forged tag", forged, 550, smtp.EnhancedCode{5, 1, 1}},
		{"unknown local", "alice@gw.example", 550, smtp.EnhancedCode{5, 1, 1}},
		{"postmaster elsewhere", "postmaster@axe.example", 550, smtp.EnhancedCode{5, 7, 1}},
	}
	d := &testDeliverer{}
	_, addr := startServer(t, Config{}, d)
	c := dial(t, addr)
	if err := c.Mail("alice@acme.example", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkReply(t, c.Rcpt(tc.rcpt, nil), tc.code, tc.ec)
		})
	}
	// With no recipient accepted there is no DATA. go-smtp answers this itself
	// (502 5.5.1) before the session sees it.
	_, err := c.Data()
	checkReply(t, err, 502, smtp.EnhancedCode{5, 5, 1})
	if got := d.deliveries(); len(got) != 0 {
		t.Errorf("delivered %d messages, want none", len(got))
	}
}

// onlyPolicy accepts one address and refuses the rest with a reply of its
// own: the server answers what the policy says, and knows no tags.
type onlyPolicy string

func (p onlyPolicy) AcceptRecipient(addr string) *mail.Rejection {
	if strings.EqualFold(addr, string(p)) {
		return nil
	}
	return &mail.Rejection{Code: 550, Enhanced: [3]int{5, 1, 2}, Reason: "not here", Detail: "test policy"}
}

func TestSMTPRecipientPolicy(t *testing.T) {
	d := &testDeliverer{}
	logs := &logBuffer{}
	srv := NewServer(Config{Hostname: "gw.example"}, onlyPolicy("inbox@other.example"),
		d, slog.New(slog.NewJSONHandler(logs, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv, ln)
	c := dial(t, ln.Addr().String())
	if err := c.Mail("alice@acme.example", nil); err != nil {
		t.Fatal(err)
	}
	reply := checkReply(t, c.Rcpt("collab@gw.example", nil), 550, smtp.EnhancedCode{5, 1, 2})
	if reply.Message != "not here" {
		t.Errorf("reply %q, want the policy's reason", reply.Message)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "alice@acme.example", []string{"Inbox@Other.example"}, testBody); err != nil {
		t.Fatalf("the accepted recipient: %v", err)
	}
	if got := d.deliveries(); len(got) != 1 || got[0].env.Recipients[0] != "inbox@other.example" {
		t.Errorf("deliveries %+v", got)
	}
	if l := logged(t, logs, "rcpt rejected"); len(l) != 1 || l[0]["reason"] != "test policy" {
		t.Errorf("rejection log %v, want the policy's detail", l)
	}
}

func TestSMTPTooManyRecipients(t *testing.T) {
	_, addr := startServer(t, Config{MaxRecipients: 2}, &testDeliverer{})
	c := dial(t, addr)
	err := send(c, "alice@acme.example", []string{"collab@gw.example", "collab@gw.example", "collab@gw.example"}, testBody)
	checkReply(t, err, 452, smtp.EnhancedCode{4, 5, 3})
}

// TestSMTPSenderRate: one sender beyond its hourly count gets 451 4.7.1,
// others go on; bounces (null sender) are counted per peer.
func TestSMTPSenderRate(t *testing.T) {
	d := &testDeliverer{}
	_, addr := startServer(t, Config{MaxPerSenderHour: 2}, d)
	c := dial(t, addr)
	for range 2 {
		if err := send(c, "flood@x.example", []string{"collab@gw.example"}, testBody); err != nil {
			t.Fatal(err)
		}
	}
	checkReply(t, send(c, "FLOOD@x.example", []string{"collab@gw.example"}, testBody), 451, smtp.EnhancedCode{4, 7, 1})
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "other@x.example", []string{"collab@gw.example"}, testBody); err != nil {
		t.Fatalf("another sender was refused: %v", err)
	}
	for range 2 {
		if err := send(c, "", []string{"collab@gw.example"}, testBody); err != nil {
			t.Fatal(err)
		}
	}
	checkReply(t, send(c, "", []string{"collab@gw.example"}, testBody), 451, smtp.EnhancedCode{4, 7, 1})
	if got := len(d.deliveries()); got != 5 {
		t.Errorf("%d deliveries, want 5", got)
	}
}

func TestSMTPTooBig(t *testing.T) {
	d := &testDeliverer{}
	_, addr := startServer(t, Config{MaxMessageBytes: 1024}, d)
	c := dial(t, addr)
	big := testBody + strings.Repeat("0123456789abcdef\r\n", 1000)
	checkReply(t, send(c, "alice@acme.example", []string{"collab@gw.example"}, big), 552, smtp.EnhancedCode{5, 3, 4})
	if got := d.deliveries(); len(got) != 0 {
		t.Fatalf("delivered %d messages, want none", len(got))
	}
	// The rest of the big body was consumed: the connection takes the next
	// message as usual.
	if err := send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody); err != nil {
		t.Fatalf("send after too big: %v", err)
	}
	if got := d.deliveries(); len(got) != 1 || got[0].body != testBody {
		t.Fatalf("deliveries after too big: %+v", got)
	}
}

func TestSMTPDeliverFails(t *testing.T) {
	const internal = "store: bbolt write /var/lib/turnmail/secret.db: disk on fire"
	tests := []struct {
		name string
		hook func(context.Context, mail.Envelope) error
	}{
		{"error", func(context.Context, mail.Envelope) error { return errors.New(internal) }},
		{"wrapped smtp error", func(context.Context, mail.Envelope) error {
			return errors.Join(errors.New(internal), &smtp.SMTPError{Code: 250, Message: internal})
		}},
		{"panic", func(context.Context, mail.Envelope) error { panic(internal) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &testDeliverer{hook: tc.hook}
			_, addr := startServer(t, Config{}, d)
			c := dial(t, addr)
			smtpErr := checkReply(t, send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody), 451, smtp.EnhancedCode{4, 3, 0})
			for _, leak := range []string{"bbolt", "secret", "fire", "store"} {
				if strings.Contains(smtpErr.Message, leak) {
					t.Errorf("reply %q leaks %q", smtpErr.Message, leak)
				}
			}
			// The session survives for a retry.
			if err := c.Noop(); err != nil {
				t.Errorf("NOOP after failed delivery: %v", err)
			}
		})
	}
}

func TestSMTPShutdownWaitsForData(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	deliverCtxErr := make(chan error, 1)
	d := &testDeliverer{hook: func(ctx context.Context, env mail.Envelope) error {
		close(entered)
		<-release
		deliverCtxErr <- ctx.Err()
		return nil
	}}
	srv, addr := startServer(t, Config{}, d)

	// An idle session must not hold up the shutdown.
	idle := dial(t, addr)
	if err := idle.Hello("idle.example"); err != nil {
		t.Fatal(err)
	}

	c := dial(t, addr)
	sent := make(chan error, 1)
	go func() { sent <- send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody) }()
	<-entered

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shutdown <- srv.Shutdown(ctx)
	}()

	// Shutdown has begun once the listener refuses connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a delivery in flight", err)
	case err := <-sent:
		t.Fatalf("send returned %v before the delivery finished", err)
	default:
	}

	close(release)
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-deliverCtxErr; err != nil {
		t.Errorf("delivery context cancelled by a graceful shutdown: %v", err)
	}
	if got := d.deliveries(); len(got) != 1 || got[0].body != testBody {
		t.Fatalf("deliveries: %+v", got)
	}
	if err := idle.Noop(); err == nil {
		t.Error("idle session still open after Shutdown")
	}
}

func TestSMTPShutdownHardStop(t *testing.T) {
	entered := make(chan struct{})
	d := &testDeliverer{hook: func(ctx context.Context, env mail.Envelope) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}}
	srv, addr := startServer(t, Config{}, d)
	c := dial(t, addr)
	sent := make(chan error, 1)
	go func() { sent <- send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody) }()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with an expired context: %v, want context.Canceled", err)
	}
	// The delivery saw the cancellation and returned; the client never got 250.
	if err := <-sent; err == nil {
		t.Fatal("send succeeded after a hard stop")
	}
	if got := d.deliveries(); len(got) != 0 {
		t.Fatalf("delivered %d messages, want none", len(got))
	}
}

// startServerLog is startServer with a logger writing JSON lines to logs.
func startServerLog(t *testing.T, cfg Config, d mail.Deliverer, logs *logBuffer) (*Server, string) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := newTestServer(t, cfg, d, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv, ln)
	return srv, ln.Addr().String()
}

// logged returns the log lines with message msg.
func logged(t *testing.T, logs *logBuffer, msg string) []map[string]any {
	t.Helper()
	var found []map[string]any
	for _, line := range logs.lines(t) {
		if line["msg"] == msg {
			found = append(found, line)
		}
	}
	return found
}

// testRejections are what a Deliverer may refuse a message with, and the
// reply each must give.
var testRejections = []struct {
	name string
	err  error
	code int
	ec   smtp.EnhancedCode
	msg  string
}{
	{"limit", &mail.Rejection{Code: 552, Enhanced: [3]int{5, 3, 4}, Reason: "the message has more than 500 parts"}, 552, smtp.EnhancedCode{5, 3, 4}, "the message has more than 500 parts"},
	{"content", &mail.Rejection{Code: 554, Enhanced: [3]int{5, 6, 0}, Reason: "the MIME structure cannot be read"}, 554, smtp.EnhancedCode{5, 6, 0}, "the MIME structure cannot be read"},
	{"wrapped", fmt.Errorf("apply: %w", &mail.Rejection{Code: 552, Enhanced: [3]int{5, 3, 4}, Reason: "header too big"}), 552, smtp.EnhancedCode{5, 3, 4}, "header too big"},
	// A Rejection is for good: a code that is not says so anyway.
	{"not permanent", &mail.Rejection{Code: 451, Enhanced: [3]int{4, 3, 0}, Reason: "odd"}, 554, smtp.EnhancedCode{5, 0, 0}, "odd"},
	{"reply injection", &mail.Rejection{Code: 554, Enhanced: [3]int{5, 6, 0}, Reason: "bad\r\n250 2.0.0 ok"}, 554, smtp.EnhancedCode{5, 6, 0}, "bad 250 2.0.0 ok"},
	{"no reason", &mail.Rejection{Code: 552, Enhanced: [3]int{5, 3, 4}}, 552, smtp.EnhancedCode{5, 3, 4}, "message refused"},
}

// TestSMTPRejection: a Deliverer's Rejection is answered after DATA with its
// codes and reason, never a 451, and logged at info; the session goes on.
func TestSMTPRejection(t *testing.T) {
	for _, tc := range testRejections {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			d := &testDeliverer{hook: func(context.Context, mail.Envelope) error { return tc.err }}
			_, addr := startServerLog(t, Config{}, d, logs)
			c := dial(t, addr)
			reply := checkReply(t, send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody), tc.code, tc.ec)
			if reply.Message != tc.msg {
				t.Errorf("reply text %q, want %q", reply.Message, tc.msg)
			}
			if err := c.Noop(); err != nil {
				t.Errorf("NOOP after a rejection: %v", err)
			}
			lines := logged(t, logs, "message rejected")
			if len(lines) != 1 || lines[0]["level"] != "INFO" || lines[0]["reason"] != tc.msg || lines[0]["session"] == nil {
				t.Errorf("log lines for the rejection: %v", lines)
			}
		})
	}
}

// TestSMTPLongLines: body lines of any length are taken as they are (as
// Postfix does), never answered 4xx; the size limit still holds, and so does
// the bound on command lines.
func TestSMTPLongLines(t *testing.T) {
	raw := make([]byte, 300<<10)
	rand.Read(raw)
	b64 := base64.StdEncoding.EncodeToString(raw)
	head := "From: alice@acme.example\r\nSubject: long lines\r\n"
	tests := []struct{ name, body string }{
		{"one octet over go-smtp's default", head + "\r\n" + strings.Repeat("a", 2001) + "\r\n"},
		{"HTML on one line (Outlook, English)", head + "Content-Type: text/html\r\n\r\n<html><body>" +
			strings.Repeat("<p style=\"margin:0\">Please find the contract attached.</p>", 400) + "</body></html>\r\n"},
		{"base64 without breaks", head + "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n"},
		{"unfolded header", head + "References: " + strings.Repeat("<a.b.c@mail.example> ", 500) + "\r\n\r\nHi.\r\n"},
		// Dot-stuffed lines around long ones stay as they were.
		{"dots after a long line", head + "\r\n" + strings.Repeat("x", 4095) + "\r\n.\r\n..\r\n." + strings.Repeat("y", 5000) + "\r\n"},
		{"no final line break", head + "\r\n" + strings.Repeat("z", 70000)},
	}
	d := &testDeliverer{}
	_, addr := startServer(t, Config{MaxMessageBytes: 1 << 20}, d)
	c := dial(t, addr)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := send(c, "alice@acme.example", []string{"collab@gw.example"}, tc.body); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := d.deliveries()
			if len(got) != i+1 {
				t.Fatalf("%d deliveries, want %d", len(got), i+1)
			}
			want := tc.body
			if !strings.HasSuffix(want, "\r\n") {
				want += "\r\n" // the client ends the data on a line of its own
			}
			if body := got[i].body; body != want {
				t.Errorf("body of %d octets arrived as %d octets, changed", len(want), len(body))
			}
		})
	}

	t.Run("over the size limit", func(t *testing.T) {
		d := &testDeliverer{}
		_, addr := startServer(t, Config{MaxMessageBytes: 64 << 10}, d)
		c := dial(t, addr)
		checkReply(t, send(c, "alice@acme.example", []string{"collab@gw.example"}, head+"\r\n"+b64+"\r\n"), 552, smtp.EnhancedCode{5, 3, 4})
		if err := send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody); err != nil {
			t.Fatalf("send after too big: %v", err)
		}
		if got := d.deliveries(); len(got) != 1 || got[0].body != testBody {
			t.Fatalf("deliveries: %d", len(got))
		}
	})

	t.Run("command line", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		rc.step("NOOP "+strings.Repeat("x", maxCommandLine-len("NOOP ")), 250)
		if err := rc.PrintfLine("NOOP %s", strings.Repeat("x", maxCommandLine)); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := rc.ReadResponse(500); err != nil || !strings.HasPrefix(msg, "5.4.0 ") {
			t.Fatalf("a command line over the bound: %q %v, want 500 5.4.0", msg, err)
		}
		// Closed: EOF, or a reset for the unread rest of the line.
		if line, err := rc.ReadLine(); err == nil {
			t.Fatalf("after 500: %q, want the connection closed", line)
		}
	})
}

// TestSMTPLongLinesBDAT: CHUNKING (RFC 3030) carries long lines too, and the
// command after a chunk is read as a command.
func TestSMTPLongLinesBDAT(t *testing.T) {
	d := &testDeliverer{}
	_, addr := startServer(t, Config{}, d)
	rc := dialRaw(t, addr)
	if msg := rc.step("EHLO client.example", 250); !strings.Contains(msg, "CHUNKING") {
		t.Fatalf("EHLO: %q", msg)
	}
	rc.step("MAIL FROM:<alice@acme.example>", 250)
	rc.step("RCPT TO:<collab@gw.example>", 250)
	chunks := []string{
		"From: alice@acme.example\r\nSubject: bdat\r\n\r\n" + strings.Repeat("a", 3000),
		strings.Repeat("b", 5000) + "\r\nNOOP " + strings.Repeat("c", 3000) + "\r\n",
	}
	for i, chunk := range chunks {
		last := ""
		if i == len(chunks)-1 {
			last = " LAST"
		}
		if _, err := fmt.Fprintf(rc.W, "BDAT %d%s\r\n%s", len(chunk), last, chunk); err != nil {
			t.Fatal(err)
		}
		if err := rc.W.Flush(); err != nil {
			t.Fatal(err)
		}
		rc.step("", 250)
	}
	rc.step("NOOP", 250)
	if got := d.deliveries(); len(got) != 1 || got[0].body != chunks[0]+chunks[1] {
		t.Fatalf("deliveries: %d", len(got))
	}
}

// TestSMTPTimeouts: RFC 5321 §4.5.3.2's bounds, each alone.
func TestSMTPTimeouts(t *testing.T) {
	const short = 300 * time.Millisecond
	tests := []struct {
		name    string
		cfg     Config
		trickle bool   // keep sending body lines, rather than fall silent
		inData  bool   // fall silent (or trickle) after DATA, not after EHLO
		code    int    // the reply, then the server hangs up; 250: no timeout
		ec      string // its enhanced code
		reason  string // the log's, for a body
	}{
		{"command", Config{CommandTimeout: short}, false, false, 421, "4.4.2", ""},
		{"data block", Config{DataBlockTimeout: short}, false, true, 451, "4.4.2", "data block timeout"},
		{"data termination", Config{DataTimeout: 2 * short}, true, true, 451, "4.4.2", "data termination timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			d := &testDeliverer{}
			_, addr := startServerLog(t, tc.cfg, d, logs)
			rc := dialRaw(t, addr)
			rc.step("EHLO client.example", 250)
			if tc.inData {
				rc.step("MAIL FROM:<alice@acme.example>", 250)
				rc.step("RCPT TO:<collab@gw.example>", 250)
				rc.step("DATA", 354)
				if err := rc.PrintfLine("Subject: stalled"); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			defer close(stop)
			if tc.trickle {
				go trickle(rc, stop)
			}
			_, msg, err := rc.ReadResponse(250)
			var protoErr *textproto.Error
			if !errors.As(err, &protoErr) || protoErr.Code != tc.code || !strings.HasPrefix(msg, tc.ec+" ") {
				t.Fatalf("reply: %v, want %d %s", err, tc.code, tc.ec)
			}
			// Closed: EOF, or a reset when the client was still sending.
			if line, err := rc.ReadLine(); err == nil {
				t.Fatalf("after the timeout reply: %q, want the connection closed", line)
			}
			if got := d.deliveries(); len(got) != 0 {
				t.Fatalf("delivered %d messages, want none", len(got))
			}
			if tc.reason != "" {
				if lines := logged(t, logs, "message rejected"); len(lines) != 1 || lines[0]["reason"] != tc.reason {
					t.Errorf("log lines: %v", lines)
				}
			}
		})
	}

	// A slow body that keeps coming outlasts the command timeout many times
	// over, and the data block timeout twice: each read renews the latter,
	// and the former does not apply to a body (it did, go-smtp #196). The
	// data block timeout is a second rather than short, so that a loaded
	// machine stalling the sender for a moment does not end the body.
	t.Run("slow body", func(t *testing.T) {
		d := &testDeliverer{}
		_, addr := startServer(t, Config{CommandTimeout: short, DataBlockTimeout: time.Second}, d)
		rc := dialRaw(t, addr)
		rc.step("EHLO client.example", 250)
		rc.step("MAIL FROM:<alice@acme.example>", 250)
		rc.step("RCPT TO:<collab@gw.example>", 250)
		rc.step("DATA", 354)
		tick := time.NewTicker(short / 30)
		defer tick.Stop()
		for range 240 { // about eight times short, or more on a busy machine
			<-tick.C
			if err := rc.PrintfLine("a slow line"); err != nil {
				t.Fatal(err)
			}
		}
		rc.step(".", 250)
		if got := d.deliveries(); len(got) != 1 {
			t.Fatalf("delivered %d messages, want 1", len(got))
		}
	})
}

// trickle writes a body line to rc every few milliseconds until stop or a
// write fails.
func trickle(rc rawConn, stop <-chan struct{}) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := rc.PrintfLine("more"); err != nil {
				return
			}
		}
	}
}

// TestSMTPDeliverTimeout: a delivery gets a context with a deadline; one that
// outlives it is answered 451 naming the session, whether it gives up or
// never returns.
func TestSMTPDeliverTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name string
		hook func(ctx context.Context, env mail.Envelope) error
	}{
		{"gives up at the deadline", func(ctx context.Context, env mail.Envelope) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			<-ctx.Done()
			return fmt.Errorf("apply: %w", ctx.Err())
		}},
		{"never returns", func(ctx context.Context, env mail.Envelope) error {
			<-release
			return errors.New("released")
		}},
		{"panics", func(ctx context.Context, env mail.Envelope) error { panic("boom") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &testDeliverer{hook: tc.hook}
			_, addr := startServer(t, Config{DeliverTimeout: 300 * time.Millisecond}, d)
			c := dial(t, addr)
			reply := checkReply(t, send(c, "alice@acme.example", []string{"collab@gw.example"}, testBody), 451, smtp.EnhancedCode{4, 3, 0})
			if !strings.Contains(reply.Message, "session ") {
				t.Errorf("reply %q does not name the session", reply.Message)
			}
			if err := c.Noop(); err != nil {
				t.Errorf("NOOP after a failed delivery: %v", err)
			}
		})
	}
}

// BenchmarkSMTPLongLine sends an 8 MiB body on one line: B/op shows that
// no line is held in memory whole (the spool takes it as it comes).
func BenchmarkSMTPLongLine(b *testing.B) {
	tg, err := tag.NewTagger("collab@gw.example", []byte("0123456789abcdef-test-secret"))
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(Config{SpoolDir: b.TempDir()}, tg, discardDeliverer{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	c, err := smtp.Dial(ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// Bytes, not a string: io.WriteString would copy it on every send.
	body := []byte("Subject: one line\r\n\r\n" + strings.Repeat("A", 8<<20) + "\r\n")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Mail("alice@acme.example", nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Rcpt("collab@gw.example", nil); err != nil {
			b.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// discardDeliverer takes every message and keeps nothing.
type discardDeliverer struct{}

func (discardDeliverer) Deliver(context.Context, mail.Envelope, *mail.Spool) (mail.Result, error) {
	return mail.Result{Outcome: "discarded"}, nil
}

// TestSMTPSpoolSizes sends messages on both sides of the spool's memory
// threshold, by DATA and by BDAT, on one connection: each arrives whole, the
// ones held in memory as the ones spilled to a file.
func TestSMTPSpoolSizes(t *testing.T) {
	d := &testDeliverer{}
	_, addr := startServer(t, Config{SpoolDir: t.TempDir(), MaxMessageBytes: 8 << 20}, d)
	var bodies []string
	for _, n := range []int{0, mail.SpoolMemoryBytes - 100, mail.SpoolMemoryBytes + 100, 3 << 20} {
		line := "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef\r\n"
		bodies = append(bodies, testBody+strings.Repeat(line, n/len(line)))
	}
	c := dial(t, addr)
	for _, body := range bodies {
		if err := send(c, "alice@acme.example", []string{"collab@gw.example"}, body); err != nil {
			t.Fatalf("DATA of %d bytes: %v", len(body), err)
		}
	}
	rc := dialRaw(t, addr)
	rc.step("EHLO client.example", 250)
	for _, body := range bodies {
		rc.step("MAIL FROM:<alice@acme.example>", 250)
		rc.step("RCPT TO:<collab@gw.example>", 250)
		if _, err := fmt.Fprintf(rc.W, "BDAT %d LAST\r\n%s", len(body), body); err != nil {
			t.Fatal(err)
		}
		if err := rc.W.Flush(); err != nil {
			t.Fatal(err)
		}
		rc.step("", 250)
	}
	got := d.deliveries()
	if len(got) != 2*len(bodies) {
		t.Fatalf("%d deliveries, want %d", len(got), 2*len(bodies))
	}
	for i, g := range got {
		if want := bodies[i%len(bodies)]; g.body != want {
			t.Errorf("delivery %d: %d bytes, want %d", i, len(g.body), len(want))
		}
	}
}
