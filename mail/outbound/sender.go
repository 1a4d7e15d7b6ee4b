package outbound

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
)

// Sender delivers one rendered message. write renders the message into the
// given writer; it may be called again on a later attempt.
//
// A *mail.PermanentError, or an *smtp.SMTPError with a 5xx code, anywhere in the
// returned error's chain means: do not retry (see IsPermanent).
type Sender interface {
	Send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error
}

var (
	_ Sender = (*FileSender)(nil)
	_ Sender = (*SMTPSender)(nil)
)

// IsPermanent reports whether err means a message must not be retried: a
// *mail.PermanentError or an *smtp.SMTPError with a 5xx code anywhere in its chain.
func IsPermanent(err error) bool {
	var pe *mail.PermanentError
	if errors.As(err, &pe) {
		return true
	}
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500
}

// FileSender writes each message as one .eml file in Dir, for running without
// a smarthost and for inspection.
//
// The file name is "<UTC date>-<hash of Message-ID>.eml" with the message's
// Date, so the same message always lands on the same name: a retry after a
// crash between the rename and MarkSent overwrites instead of duplicating.
type FileSender struct {
	Dir string
}

// Send writes the message to a temporary file in Dir, syncs it and renames it
// into place, so Dir never holds a partial message.
func (s *FileSender) Send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create outbox dir: %w", err)
	}
	name, err := s.fileName(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("create outbox file: %w", err)
	}
	tmp := f.Name()
	err = writeSynced(f, write)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.Dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write outbox file %s: %w", name, err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(s.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fileName is the final name of m's file. A message without a Date (rendered
// with the time of sending) reuses the name of an earlier attempt if any.
func (s *FileSender) fileName(m *mail.Outgoing) (string, error) {
	sum := sha256.Sum256([]byte(m.MessageID))
	suffix := "-" + hex.EncodeToString(sum[:6]) + ".eml"
	date := m.Date
	if date.IsZero() {
		matches, err := filepath.Glob(filepath.Join(s.Dir, "*"+suffix))
		if err != nil {
			return "", fmt.Errorf("find outbox file: %w", err)
		}
		if len(matches) > 0 {
			return filepath.Base(matches[0]), nil
		}
		date = time.Now()
	}
	return date.UTC().Format("20060102T150405Z") + suffix, nil
}

func writeSynced(f *os.File, write func(io.Writer) error) error {
	bw := bufio.NewWriter(f)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SMTPSender relays through a smarthost.
//
// TLS and authentication failures are problems of this gateway's
// configuration, not of the message: they are never permanent, so that fixing
// the configuration delivers the queue instead of failing it.
type SMTPSender struct {
	Addr     string // host:port
	HeloName string // "" is "localhost"
	Username string // "" skips AUTH
	Password string
	// StartTLS requires STARTTLS; without it STARTTLS is still used when the
	// server offers it.
	StartTLS bool
	// AllowInsecureAuth permits AUTH PLAIN without TLS (a relay on loopback).
	AllowInsecureAuth bool
	TLSConfig         *tls.Config   // nil: ServerName from Addr
	Timeout           time.Duration // whole attempt; 0 = 2 minutes
}

// Send makes one delivery attempt: connect, EHLO, STARTTLS, AUTH PLAIN, MAIL,
// RCPT to m.To, DATA streamed from write, QUIT.
func (s *SMTPSender) Send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("connect to smarthost %s: %w", s.Addr, err)
	}
	// go-smtp resets the connection's deadline around every command, so the
	// attempt is bounded by closing the connection when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}

	err = s.session(ctx, conn, envFrom, m, write)
	conn.Close()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("smtp to %s: %w (%v)", s.Addr, ctx.Err(), err)
	}
	if err != nil {
		return fmt.Errorf("smtp to %s: %w", s.Addr, err)
	}
	return nil
}

func (s *SMTPSender) session(ctx context.Context, conn net.Conn, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error {
	helo := s.HeloName
	if helo == "" {
		helo = "localhost"
	}
	conn, isTLS, err := s.startTLS(ctx, conn, helo)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	if dl, ok := ctx.Deadline(); ok {
		c.CommandTimeout = time.Until(dl)
		c.SubmissionTimeout = time.Until(dl)
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if s.Username != "" {
		if !isTLS && !s.AllowInsecureAuth {
			return errors.New("mail: refusing to send smtp credentials without tls")
		}
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			// %v: a 535 is about our password, not this message.
			return fmt.Errorf("auth as %s: %v", s.Username, err)
		}
	}
	if err := c.Mail(envFrom, nil); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(m.To.Addr, nil); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	wc, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := write(wc); err != nil {
		// Return without closing wc: its final "." would make the server
		// accept a truncated message. Dropping the connection aborts it.
		return fmt.Errorf("render message: %w", err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The message is accepted; a failing QUIT must not cause a resend.
	c.Quit()
	return nil
}

// startTLS reads the greeting, sends EHLO and, when the server offers it,
// STARTTLS. go-smtp v0.25.1 only starts TLS from a Client it greets as
// "localhost" itself, so this first exchange is done here, and the returned
// connection replays a greeting for the smtp.Client that takes over.
func (s *SMTPSender) startTLS(ctx context.Context, conn net.Conn, helo string) (net.Conn, bool, error) {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, false, fmt.Errorf("smarthost address %q: %w", s.Addr, err)
	}
	tc := textproto.NewConn(conn)
	if _, _, err := tc.ReadResponse(220); err != nil {
		return nil, false, fmt.Errorf("greeting: %w", smtpError(err))
	}
	offered := false
	if err := tc.PrintfLine("EHLO %s", helo); err != nil {
		return nil, false, fmt.Errorf("ehlo: %w", err)
	}
	_, msg, err := tc.ReadResponse(250)
	var pe *textproto.Error
	if err != nil && !errors.As(err, &pe) {
		return nil, false, fmt.Errorf("ehlo: %w", err)
	}
	if err == nil {
		for _, line := range strings.Split(msg, "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], "STARTTLS") {
				offered = true
			}
		}
	}
	greeting := strings.NewReader("220 " + host + " ESMTP\r\n")
	if !offered {
		if s.StartTLS {
			return nil, false, errors.New("mail: smarthost does not offer STARTTLS")
		}
		return &replayConn{Conn: conn, r: io.MultiReader(greeting, tc.R)}, false, nil
	}
	if err := tc.PrintfLine("STARTTLS"); err != nil {
		return nil, false, fmt.Errorf("starttls: %w", err)
	}
	if _, _, err := tc.ReadResponse(220); err != nil {
		return nil, false, fmt.Errorf("starttls: %w", smtpError(err))
	}
	// Anything the server sent before the handshake was not protected by it
	// and must not be read as if it were (STARTTLS command injection).
	if tc.R.Buffered() > 0 {
		return nil, false, errors.New("mail: smarthost sent data before the tls handshake")
	}
	cfg := s.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tlsConn := tls.Client(conn, cfg)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return nil, false, fmt.Errorf("tls handshake: %w", err)
	}
	return &replayConn{Conn: tlsConn, r: io.MultiReader(greeting, tlsConn)}, true, nil
}

// smtpError turns a reply error of the first exchange into the *smtp.SMTPError
// go-smtp would have returned, so IsPermanent sees its code.
func smtpError(err error) error {
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return &smtp.SMTPError{Code: pe.Code, Message: pe.Msg}
	}
	return err
}

// replayConn reads from r instead of the connection itself.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }
