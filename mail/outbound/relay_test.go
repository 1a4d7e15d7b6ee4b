package outbound

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

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/internal/mailtest"
	"github.com/turnmail/turnmail/mail/message"
)

// rawRelay is a smarthost on loopback that speaks SMTP as badly as it is
// told: a greeting ("" for none, ever), and an answer to each command line.
// answer returns the whole reply, lines separated by "\n", or "" for the
// usual one; after a 354 the data is read up to its final ".", whose reply
// answer gives for the line ".". It records the lines it reads.
type rawRelay struct {
	greeting string
	answer   func(n int, line string) string // n counts the lines of one connection, from 1

	mu    sync.Mutex
	lines []string
}

func (r *rawRelay) start(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	var conns sync.Map
	t.Cleanup(func() {
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Go(func() {
				defer c.Close()
				r.serve(textproto.NewConn(c))
			})
		}
	})
	return l.Addr().String()
}

func (r *rawRelay) serve(tc *textproto.Conn) {
	if r.greeting == "" {
		io.Copy(io.Discard, tc.R) // says nothing, until the client hangs up
		return
	}
	say := func(reply string) bool {
		for _, line := range strings.Split(reply, "\n") {
			if tc.PrintfLine("%s", line) != nil {
				return false
			}
		}
		return true
	}
	if !say(r.greeting) {
		return
	}
	for n := 1; ; n++ {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.lines = append(r.lines, line)
		r.mu.Unlock()
		reply := ""
		if r.answer != nil {
			reply = r.answer(n, line)
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		if reply == "" {
			switch verb {
			case "EHLO":
				reply = "250-relay.test\n250 8BITMIME"
			case "DATA":
				reply = "354 go ahead"
			case "QUIT":
				say("221 bye")
				return
			default:
				reply = "250 ok"
			}
		}
		if !say(reply) {
			return
		}
		if verb == "DATA" && strings.HasPrefix(reply, "354") {
			if _, err := tc.ReadDotBytes(); err != nil {
				return
			}
			reply = "250 2.0.0 queued"
			if r.answer != nil {
				if a := r.answer(n, "."); a != "" {
					reply = a
				}
			}
			if !say(reply) {
				return
			}
		}
	}
}

// count returns how many lines sent start with prefix, in any case.
func (r *rawRelay) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.HasPrefix(strings.ToUpper(l), strings.ToUpper(prefix)) {
			n++
		}
	}
	return n
}

// rawSend makes one attempt at a small message through the relay at addr.
func rawSend(ctx context.Context, s SMTPSender, addr string) error {
	s.Addr = addr
	s.HeloName = "gw.example"
	m := testOutgoing("bob@axe.example")
	return s.Send(ctx, "bounces@gw.example", &m, func(w io.Writer) error { return message.WriteMessage(w, &m, mailtest.Blobs{}) })
}

// TestSMTPSenderEHLOOnce is the relay of issue 10 that refuses a second
// EHLO: a plain session says EHLO once, and the message goes through.
func TestSMTPSenderEHLOOnce(t *testing.T) {
	r := &rawRelay{greeting: "220 relay.test ESMTP", answer: func(n int, line string) string {
		if strings.HasPrefix(line, "EHLO") && n > 1 {
			return "503 5.5.1 EHLO already said"
		}
		return ""
	}}
	if err := rawSend(context.Background(), SMTPSender{}, r.start(t)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := r.count("EHLO"); n != 1 {
		t.Errorf("EHLO sent %d times", n)
	}
	if n := r.count("MAIL FROM:<bounces@gw.example>"); n != 1 {
		t.Errorf("MAIL FROM sent %d times: %q", n, r.lines)
	}
}

// TestSMTPSenderRelayTrouble: whatever goes wrong before MAIL FROM, and
// every timeout, is the relay's trouble: temporary, and no *mail.Refusal
// that a report to a person could quote.
func TestSMTPSenderRelayTrouble(t *testing.T) {
	short := SMTPSender{GreetingTimeout: 300 * time.Millisecond, CommandTimeout: 300 * time.Millisecond, Timeout: 2 * time.Second}
	tests := []struct {
		name    string
		relay   *rawRelay
		sender  SMTPSender
		wantErr string
	}{
		{"never greets", &rawRelay{}, short, "greeting: no reply within 300ms"},
		{"greets 554", &rawRelay{greeting: "554 5.3.2 no service here"}, short, "greeting: 554 5.3.2 no service here"},
		{"greets 421", &rawRelay{greeting: "421 4.3.2 shutting down"}, short, "greeting: 421"},
		{"refuses EHLO", &rawRelay{greeting: "220 relay.test", answer: func(_ int, line string) string {
			if strings.HasPrefix(line, "EHLO") {
				return "554 5.7.1 not you"
			}
			return ""
		}}, short, "ehlo: 554 5.7.1 not you"},
		{"knows no EHLO, refuses HELO", &rawRelay{greeting: "220 relay.test", answer: func(_ int, line string) string {
			switch {
			case strings.HasPrefix(line, "EHLO"):
				return "502 5.5.2 what?"
			case strings.HasPrefix(line, "HELO"):
				return "550 5.7.1 not you either"
			}
			return ""
		}}, short, "helo: 550 5.7.1 not you either"},
		{"never answers EHLO", &rawRelay{greeting: "220 relay.test", answer: func(_ int, line string) string {
			if strings.HasPrefix(line, "EHLO") {
				time.Sleep(time.Second)
			}
			return ""
		}}, short, "ehlo: no reply within 300ms"},
		{"refuses STARTTLS", &rawRelay{greeting: "220 relay.test", answer: func(_ int, line string) string {
			switch line {
			case "STARTTLS":
				return "554 5.7.0 TLS not available"
			}
			if strings.HasPrefix(line, "EHLO") {
				return "250-relay.test\n250 STARTTLS"
			}
			return ""
		}}, short, "starttls: 554 5.7.0 TLS not available"},
		{"refuses AUTH", &rawRelay{greeting: "220 relay.test", answer: func(_ int, line string) string {
			switch {
			case strings.HasPrefix(line, "EHLO"):
				return "250-relay.test\n250 AUTH PLAIN LOGIN"
			case strings.HasPrefix(line, "AUTH"):
				return "535 5.7.8 authentication credentials invalid"
			}
			return ""
		}}, SMTPSender{Username: "gw", Password: "s3cret", AllowInsecureAuth: true, GreetingTimeout: time.Second},
			"auth as gw: 535 5.7.8"},
		{"offers no AUTH", &rawRelay{greeting: "220 relay.test"},
			SMTPSender{Username: "gw", Password: "s3cret", AllowInsecureAuth: true}, "does not offer AUTH PLAIN"},
		{"never answers the data", &rawRelay{greeting: "220 relay.test", answer: func(_ int, line string) string {
			if line == "." {
				time.Sleep(3 * time.Second)
			}
			return ""
		}}, short, "end of data: no reply before the attempt's deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := rawSend(context.Background(), tc.sender, tc.relay.start(t))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
			}
			if IsPermanent(err) {
				t.Errorf("IsPermanent(%v)", err)
			}
			var ref *mail.Refusal
			if errors.As(err, &ref) {
				t.Errorf("the relay's trouble passes for the recipient's refusal %q", ref)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
			// Generous: what matters is that no 2-minute default applies.
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("attempt took %v", d)
			}
		})
	}
}

// TestSMTPSenderCancel: a send waiting on a relay that never greets returns
// as soon as its context is done, with the context's error.
func TestSMTPSenderCancel(t *testing.T) {
	addr := (&rawRelay{}).start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rawSend(ctx, SMTPSender{GreetingTimeout: time.Hour, Timeout: time.Hour}, addr) }()
	time.Sleep(50 * time.Millisecond) // let it connect; if not, it fails all the same
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || IsPermanent(err) {
			t.Errorf("err = %v, want a temporary one wrapping context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send did not return after cancel")
	}
}
