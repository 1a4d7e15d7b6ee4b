package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// testServer is an SMTP server on loopback that keeps every attempt at every
// message and answers as the test says.
type testServer struct {
	addr string

	mu       sync.Mutex
	attempts map[string][][]byte // by Message-ID, the bytes of each attempt
	sessions int
	// session, when set, may refuse the n-th session (from 1) at EHLO.
	session func(n int) error
	// data, when set, answers the attempt-th try (from 1) of a message; it
	// may close c to drop the connection before the reply.
	data func(attempt int, c net.Conn) error
	// bdat and dataCmds count the BDAT and DATA commands that came.
	bdat, dataCmds atomic.Int32
}

// sniffConn counts the BDAT and DATA commands at the start of its reads:
// the client writes each command, and each chunk with its command, in one
// write.
type sniffConn struct {
	net.Conn
	ts *testServer
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	switch {
	case bytes.HasPrefix(p[:n], []byte("BDAT ")):
		c.ts.bdat.Add(1)
	case bytes.HasPrefix(p[:n], []byte("DATA\r\n")):
		c.ts.dataCmds.Add(1)
	}
	return n, err
}

type sniffListener struct {
	net.Listener
	ts *testServer
}

func (l sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, ts: l.ts}, nil
}

func startTestServer(t *testing.T, ts *testServer) *testServer {
	t.Helper()
	ts.attempts = map[string][][]byte{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		ts.sessions++
		n := ts.sessions
		ts.mu.Unlock()
		if ts.session != nil {
			if err := ts.session(n); err != nil {
				return nil, err
			}
		}
		return &testSession{ts: ts, conn: c.Conn()}, nil
	}))
	srv.Domain = "test.localhost"
	go srv.Serve(sniffListener{l, ts})
	t.Cleanup(func() { srv.Close() })
	ts.addr = l.Addr().String()
	return ts
}

type testSession struct {
	ts   *testServer
	conn net.Conn
}

func (*testSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*testSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*testSession) Reset()                               {}
func (*testSession) Logout() error                        { return nil }

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	id := m.Header.Get("Message-ID")
	s.ts.mu.Lock()
	s.ts.attempts[id] = append(s.ts.attempts[id], b)
	n := len(s.ts.attempts[id])
	s.ts.mu.Unlock()
	if s.ts.data != nil {
		return s.ts.data(n, s.conn)
	}
	return nil
}

func testOptions(addr string, mails int) *options {
	return &options{
		addr: addr, gateway: "collab@gw.test", mode: "new", mails: mails, concurrency: 4, size: 2000,
		retry:   retryPolicy{backoff: time.Millisecond, max: 5 * time.Millisecond, tries: 3},
		timeout: 10 * time.Second, wait: 10 * time.Second, helo: "client.test",
		fromDomain: "acme.test", toDomain: "axe.test",
	}
}

// A temporary refusal, or a connection lost before the reply, is tried
// again with the same message, byte for byte, until it is taken.
func TestRetryTemporary(t *testing.T) {
	const mails = 12
	for _, tc := range []struct {
		name    string
		ts      *testServer
		tries   int // attempts each message should take
		retries map[string]int
	}{
		{
			name: "451 at the end of DATA",
			ts: &testServer{data: func(attempt int, _ net.Conn) error {
				if attempt == 1 {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again (session x1)"}
				}
				return nil
			}},
			tries: 2, retries: map[string]int{"451 4.3.0": mails},
		},
		{
			name: "connection lost before the 250",
			ts: &testServer{data: func(attempt int, c net.Conn) error {
				if attempt == 1 {
					c.Close()
				}
				return nil
			}},
			tries: 2, retries: map[string]int{"connection": mails},
		},
		{
			name: "451 to EHLO",
			ts: &testServer{session: func(n int) error {
				if n == 1 {
					return errors.New("not now")
				}
				return nil
			}},
			tries: 1, retries: map[string]int{"451 4.0.0": 1},
		},
	} {
		for _, dataOnly := range []bool{false, true} {
			tc.ts = &testServer{session: tc.ts.session, data: tc.ts.data}
			t.Run(fmt.Sprintf("%s, data only %v", tc.name, dataOnly), func(t *testing.T) {
				ts := startTestServer(t, tc.ts)
				o := testOptions(ts.addr, mails)
				o.dataOnly = dataOnly
				r, err := load(t.Context(), o)
				if err != nil {
					t.Fatal(err)
				}
				if bdat := r.BDAT == r.Accepted && ts.bdat.Load() > 0 && ts.dataCmds.Load() == 0; bdat == dataOnly {
					t.Errorf("data only %v: %d of %d accepted with BDAT; the server saw %d BDAT, %d DATA",
						dataOnly, r.BDAT, r.Accepted, ts.bdat.Load(), ts.dataCmds.Load())
				}
				if r.Accepted != mails || r.Failed != 0 {
					t.Errorf("accepted %d, failed %d (%v); want %d, 0", r.Accepted, r.Failed, r.Failures, mails)
				}
				if !maps.Equal(r.Retries, tc.retries) {
					t.Errorf("retries %v; want %v", r.Retries, tc.retries)
				}
				ts.mu.Lock()
				defer ts.mu.Unlock()
				if len(ts.attempts) != mails {
					t.Fatalf("%d messages arrived; want %d", len(ts.attempts), mails)
				}
				for id, tries := range ts.attempts {
					if len(tries) != tc.tries {
						t.Errorf("%s: %d attempts; want %d", id, len(tries), tc.tries)
					}
					for i, b := range tries[1:] {
						if !bytes.Equal(b, tries[0]) {
							t.Errorf("%s: attempt %d differs from the first", id, i+2)
						}
					}
				}
			})
		}
	}
}

// A 5xx is a failure, counted by its code, and never tried again.
func TestPermanentFailure(t *testing.T) {
	const mails = 5
	ts := startTestServer(t, &testServer{data: func(int, net.Conn) error {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "no"}
	}})
	r, err := load(t.Context(), testOptions(ts.addr, mails))
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != 0 || r.Failed != mails || r.Failures["554 5.7.1"] != mails || len(r.Retries) != 0 {
		t.Errorf("accepted %d, failed %d, failures %v, retries %v; want 0, %d, 554 5.7.1: %d, none",
			r.Accepted, r.Failed, r.Failures, r.Retries, mails, mails)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for id, tries := range ts.attempts {
		if len(tries) != 1 {
			t.Errorf("%s: %d attempts; want 1", id, len(tries))
		}
	}
}

// A message that keeps getting 4xx fails after its last try, with the code
// it last got.
func TestRetriesRunOut(t *testing.T) {
	ts := startTestServer(t, &testServer{data: func(int, net.Conn) error {
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "full"}
	}})
	o := testOptions(ts.addr, 2)
	r, err := load(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 2 || r.Failures["452 4.3.1"] != 2 || r.Retries["452 4.3.1"] != 2*(o.retry.tries-1) {
		t.Errorf("failed %d, failures %v, retries %v", r.Failed, r.Failures, r.Retries)
	}
}

// A canceled run stops waiting between attempts.
func TestCanceledDuringBackoff(t *testing.T) {
	ts := startTestServer(t, &testServer{data: func(int, net.Conn) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "later"}
	}})
	o := testOptions(ts.addr, 1)
	o.retry = retryPolicy{backoff: time.Hour, max: time.Hour, tries: 3}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := load(ctx, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v; want the deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestInWireForm(t *testing.T) {
	for in, want := range map[string]bool{
		"a\r\n": true, "\r\n": true, "a\r\n\r\nb.c.\r\n": true,
		"": false, "a": false, "a\r\nb": false, "a\r": false,
		".a\r\n": false, "a\r\n.b\r\n": false, "a\r\n.\r\n": false,
		"a\nb\r\n": false, "\n": false, "a\rb\r\n": false, "a\r\r\n": false,
	} {
		if got := inWireForm([]byte(in)); got != want {
			t.Errorf("inWireForm(%q) = %v; want %v", in, got, want)
		}
	}
}

// A mail in wire form goes to the server as it is; one that is not (a line
// that starts with a dot, a bare LF: a run's mail can have them only from
// --to-domain, which goes into To alone) goes through go-smtp's data
// writer, which stuffs the dot and adds the CR. Either way the server gets
// the mail it would have from go-smtp alone.
func TestDeliverData(t *testing.T) {
	ts := startTestServer(t, &testServer{})
	o := testOptions(ts.addr, 1)
	o.seed = 11
	plain := newScenario(o).start(0, 0)
	o.toDomain = "axe.test>\r\n.dot\nX-Bare: <lf"
	odd := newScenario(o).start(1, 1)
	if !plain.wire || odd.wire {
		t.Fatalf("wire form: %v and %v; want true and false", plain.wire, odd.wire)
	}
	dotted := &outMail{from: "a@acme.test", rcpt: []string{"collab@gw.test"}, msgID: "<dotted@acme.test>",
		data: []byte("Message-ID: <dotted@acme.test>\r\n\r\n.\r\n..x\r\nbare\nlf\r\nend")}
	for _, dataOnly := range []bool{false, true} {
		ts.mu.Lock()
		clear(ts.attempts)
		ts.mu.Unlock()
		bdat0, data0 := ts.bdat.Load(), ts.dataCmds.Load()
		c := &smtpConn{addr: ts.addr, helo: o.helo, timeout: o.timeout, dataOnly: dataOnly}
		for _, m := range []*outMail{plain, dotted} {
			want := bytes.ReplaceAll(bytes.ReplaceAll(m.data, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
			if !bytes.HasSuffix(want, []byte("\r\n")) {
				want = append(want, "\r\n"...)
			}
			if oc := c.deliver(t.Context(), m, o.retry); !oc.ok {
				t.Fatalf("%s: %v", m.msgID, oc.err)
			}
			ts.mu.Lock()
			got := ts.attempts[m.msgID]
			ts.mu.Unlock()
			if len(got) != 1 || !bytes.Equal(got[0], want) {
				t.Errorf("%s, data only %v: the server got %.200q\nwant %.200q", m.msgID, dataOnly, got, want)
			}
		}
		c.close()
		if bdat, data := ts.bdat.Load()-bdat0, ts.dataCmds.Load()-data0; dataOnly && (bdat != 0 || data != 2) || !dataOnly && (bdat != 2 || data != 0) {
			t.Errorf("data only %v: %d BDAT and %d DATA commands", dataOnly, bdat, data)
		}
	}
}

func TestReadReply(t *testing.T) {
	for in, want := range map[string]string{
		"250 2.0.0 OK: queued\r\n":                 "",
		"250-first\r\n250 last\r\n":                "",
		"451 4.3.0 try again (session x1)\r\n":     "451 4.3.0 try again (session x1)",
		"554-5.7.1 no\r\n554 5.7.1 not at all\r\n": "554 5.7.1 no\n5.7.1 not at all",
		"452 too full\r\n":                         "452 too full",
		"421 4.4.2 bye\r\n":                        "421 4.4.2 bye",
		"250 OK\r\n250 more\r\n":                   "malformed",
		"250-a\r\n251 b\r\n":                       "malformed",
		"2x0 no\r\n":                               "malformed",
		"25\r\n":                                   "malformed",
		"250 cut off":                              "EOF",
	} {
		err := readReply(strings.NewReader(in))
		got := ""
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se):
			got = fmt.Sprintf("%d %s", se.Code, se.Message)
			if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != (smtp.EnhancedCode{}) {
				e := se.EnhancedCode
				got = fmt.Sprintf("%d %d.%d.%d %s", se.Code, e[0], e[1], e[2], se.Message)
			}
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			got = "EOF"
		case err != nil && strings.Contains(err.Error(), "malformed"):
			got = "malformed"
		case err != nil:
			got = err.Error()
		}
		if got != want {
			t.Errorf("readReply(%q) = %q; want %q", in, got, want)
		}
	}
}
