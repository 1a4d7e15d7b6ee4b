package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is an SMTP server that takes whatever the gateway relays, as its
// smarthost would, and notes each mail's header in a tracker; the bodies are
// read and dropped. It offers no STARTTLS: the gateway must relay to it with
// [outbound] starttls = false.
type sink struct {
	srv *smtp.Server
	l   net.Listener
	t   *tracker
}

var (
	_ smtp.Backend = (*sink)(nil)
	_ smtp.Session = (*sinkSession)(nil)
)

// startSink listens on addr (host:port) and serves until close.
func startSink(addr string, t *tracker) (*sink, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &sink{l: l, t: t}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "turnmail-load.sink"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 5*time.Minute, 5*time.Minute
	s.srv.MaxRecipients = 100
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.unreadable(fmt.Errorf("sink: %w", err))
		}
	}()
	return s, nil
}

// addr is where the sink listens, with the port chosen when addr had 0.
func (s *sink) addr() string { return s.l.Addr().String() }

func (s *sink) close() error { return s.srv.Close() }

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{t: s.t}, nil }

type sinkSession struct{ t *tracker }

func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }

// Data notes the mail once it is all in: "handed to the smarthost" is the
// end of DATA, as for the gateway's own 250.
func (s *sinkSession) Data(r io.Reader) error {
	g, err := readGatewayMail(r, time.Time{})
	if _, cerr := io.Copy(io.Discard, r); cerr != nil {
		return cerr
	}
	if err != nil {
		// Taken anyway: a smarthost does not read headers, and the run
		// reports it.
		s.t.unreadable(fmt.Errorf("sink: %w", err))
		return nil
	}
	g.at = time.Now()
	s.t.add(g)
	return nil
}
