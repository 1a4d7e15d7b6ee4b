package mail

import (
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// delivery is one message a testDeliverer took.
type delivery struct {
	env  Envelope
	body string
}

// testDeliverer records what it is handed. hook, when set, runs after the
// spool was read and decides the outcome.
type testDeliverer struct {
	hook func(ctx context.Context, env Envelope) error

	mu  sync.Mutex
	got []delivery
}

func (d *testDeliverer) Deliver(ctx context.Context, env Envelope, msg *Spool) (Result, error) {
	b, err := io.ReadAll(msg.Reader())
	if err != nil {
		return Result{}, err
	}
	if int64(len(b)) != msg.Size() {
		return Result{}, errors.New("spool size mismatch")
	}
	if d.hook != nil {
		if err := d.hook(ctx, env); err != nil {
			return Result{}, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, delivery{env, string(b)})
	return Result{Outcome: "test"}, nil
}

func (d *testDeliverer) deliveries() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.got...)
}

// startServer runs a Server on a loopback port and returns its address. The
// server is shut down at the end of the test unless the test did so.
func startServer(t *testing.T, cfg ServerConfig, d Deliverer) (*Server, string) {
	t.Helper()
	srv := NewServer(cfg, newTestTagger(t), d, nil)
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &testDeliverer{}
			_, addr := startServer(t, ServerConfig{}, d)
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
		{"unknown local", "postmaster@gw.example", 550, smtp.EnhancedCode{5, 1, 1}},
	}
	d := &testDeliverer{}
	_, addr := startServer(t, ServerConfig{}, d)
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

func TestSMTPTooManyRecipients(t *testing.T) {
	_, addr := startServer(t, ServerConfig{MaxRecipients: 2}, &testDeliverer{})
	c := dial(t, addr)
	err := send(c, "alice@acme.example", []string{"collab@gw.example", "collab@gw.example", "collab@gw.example"}, testBody)
	checkReply(t, err, 452, smtp.EnhancedCode{4, 5, 3})
}

// TestSMTPSenderRate: one sender beyond its hourly count gets 451 4.7.1,
// others go on; bounces (null sender) are counted per peer.
func TestSMTPSenderRate(t *testing.T) {
	d := &testDeliverer{}
	_, addr := startServer(t, ServerConfig{MaxPerSenderHour: 2}, d)
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
	_, addr := startServer(t, ServerConfig{MaxMessageBytes: 1024}, d)
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
		hook func(context.Context, Envelope) error
	}{
		{"error", func(context.Context, Envelope) error { return errors.New(internal) }},
		{"wrapped smtp error", func(context.Context, Envelope) error {
			return errors.Join(errors.New(internal), &smtp.SMTPError{Code: 250, Message: internal})
		}},
		{"panic", func(context.Context, Envelope) error { panic(internal) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &testDeliverer{hook: tc.hook}
			_, addr := startServer(t, ServerConfig{}, d)
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

func TestSMTPReadTimeoutInData(t *testing.T) {
	d := &testDeliverer{}
	_, addr := startServer(t, ServerConfig{ReadTimeout: 300 * time.Millisecond}, d)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	tc := textproto.NewConn(nc)
	step := func(cmd string, code int) {
		t.Helper()
		if cmd != "" {
			if err := tc.PrintfLine("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := tc.ReadResponse(code); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
	}
	step("", 220)
	step("EHLO client.example", 250)
	step("MAIL FROM:<alice@acme.example>", 250)
	step("RCPT TO:<collab@gw.example>", 250)
	step("DATA", 354)
	// Half a message, then silence.
	if err := tc.PrintfLine("Subject: half"); err != nil {
		t.Fatal(err)
	}
	_, msg, err := tc.ReadResponse(250)
	var protoErr *textproto.Error
	if !errors.As(err, &protoErr) || protoErr.Code != 451 || !strings.HasPrefix(msg, "4.4.2 ") {
		t.Fatalf("reply after stalled DATA: %v", err)
	}
	// The server hangs up rather than reading the rest of the body as commands.
	if _, err := tc.ReadLine(); err != io.EOF {
		t.Fatalf("after the timeout reply: %v, want EOF", err)
	}
	if got := d.deliveries(); len(got) != 0 {
		t.Fatalf("delivered %d messages, want none", len(got))
	}
}

func TestSMTPShutdownWaitsForData(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	deliverCtxErr := make(chan error, 1)
	d := &testDeliverer{hook: func(ctx context.Context, env Envelope) error {
		close(entered)
		<-release
		deliverCtxErr <- ctx.Err()
		return nil
	}}
	srv, addr := startServer(t, ServerConfig{}, d)

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
	d := &testDeliverer{hook: func(ctx context.Context, env Envelope) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}}
	srv, addr := startServer(t, ServerConfig{}, d)
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
