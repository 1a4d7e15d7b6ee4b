package outbound

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
)

// Sender delivers one rendered message. write renders the message into the
// given writer; it may be called again on a later attempt.
//
// A *mail.PermanentError anywhere in the returned error's chain means: do not
// retry (see IsPermanent); any other error is retried. A refusal by the
// receiving server goes in the chain as a *mail.Refusal. Send returns
// promptly when ctx is done, with an error: whether the message got through
// is then unknown, and it is sent again later (at least once, DESIGN §6).
type Sender interface {
	Send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error
}

var (
	_ Sender = (*FileSender)(nil)
	_ Sender = (*SMTPSender)(nil)
)

// IsPermanent reports whether err means a message must not be retried: a
// *mail.PermanentError anywhere in its chain. A reply code alone does not
// say it: a 5xx to EHLO or AUTH is about the session, not the message.
func IsPermanent(err error) bool {
	var pe *mail.PermanentError
	return errors.As(err, &pe)
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

// SMTPSender relays through a smarthost, one message per connection.
//
// Only a 5xx reply to a command about the message (MAIL FROM, RCPT TO, DATA,
// or the end of the data) fails it for good. Everything before that (no
// connection, no greeting or a refusing one, EHLO, STARTTLS, the TLS
// handshake, AUTH) and every timeout is the relay's trouble or this
// gateway's configuration: the message waits for it to be mended instead of
// failing, and its recipient's collaboration hears nothing of it.
//
// The client is written here on net/textproto rather than taken from
// go-smtp: v0.25's Client greets on its own and cannot start TLS after an
// EHLO it did not send itself, so it either says EHLO twice on a plain
// connection (a relay refusing the second failed every message) or EHLOs as
// "localhost". Each step has its own deadline, within the attempt's.
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
	TLSConfig         *tls.Config // nil: ServerName from Addr
	// Timeout bounds one whole attempt, from the dial to the reply to the
	// data. 0 is DefaultTimeout.
	Timeout time.Duration
	// GreetingTimeout bounds the dial, the greeting and each reply before
	// the message is sent (EHLO, STARTTLS and its handshake, AUTH): a
	// smarthost that takes the connection and says nothing must not hold a
	// sender for long. 0 is DefaultGreetingTimeout.
	GreetingTimeout time.Duration
	// CommandTimeout bounds each reply to MAIL, RCPT and DATA; the data and
	// the reply to its end have what is left of Timeout (RFC 5321 §4.5.3.2
	// gives that reply 10 minutes). 0 is DefaultCommandTimeout.
	CommandTimeout time.Duration
}

// Defaults of SMTPSender.
const (
	DefaultTimeout         = 5 * time.Minute
	DefaultGreetingTimeout = 30 * time.Second
	DefaultCommandTimeout  = 2 * time.Minute
)

// maxReply bounds the bytes of one reply read from the smarthost, so that a
// broken one cannot make this process hold an endless line.
const maxReply = 64 << 10

// Send makes one delivery attempt: connect, EHLO, STARTTLS, AUTH PLAIN, MAIL,
// RCPT to m.To, DATA streamed from write, QUIT.
func (s *SMTPSender) Send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error {
	attempt, cancel := context.WithTimeout(ctx, or(s.Timeout, DefaultTimeout))
	defer cancel()
	err := s.send(attempt, envFrom, m, write)
	if err != nil && ctx.Err() != nil && !IsPermanent(err) {
		// Whatever failed, it failed because the attempt was called off.
		err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	if err != nil {
		return fmt.Errorf("smtp to %s: %w", s.Addr, err)
	}
	return nil
}

func (s *SMTPSender) send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error {
	// Addresses come from mail and the store: one holding a line break
	// would smuggle in a command.
	for _, a := range []string{envFrom, m.To.Addr} {
		if strings.ContainsAny(a, "\r\n<>") {
			return &mail.PermanentError{Err: fmt.Errorf("address %q cannot be sent over smtp", a)}
		}
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smarthost address %q: %w", s.Addr, err)
	}
	greeting := or(s.GreetingTimeout, DefaultGreetingTimeout)
	d := net.Dialer{Timeout: greeting}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Deadlines bound each step; closing the connection when ctx ends
	// (shutdown, or the attempt's own bound) ends whatever step is running.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	c := newConv(conn, deadline)

	if err := c.expect(greeting, 220, "greeting", ""); err != nil {
		return err
	}
	helo := s.HeloName
	if helo == "" {
		helo = "localhost"
	}
	ext, err := c.hello(greeting, helo)
	if err != nil {
		return err
	}
	isTLS := false
	if _, offered := ext["STARTTLS"]; offered || s.StartTLS {
		if !offered {
			return errors.New("mail: smarthost does not offer STARTTLS")
		}
		if err := c.expect(greeting, 220, "starttls", "STARTTLS"); err != nil {
			return err
		}
		// Anything the server sent before the handshake was not protected
		// by it and must not be read as if it were (STARTTLS command
		// injection, RFC 3207 §5).
		if c.text.R.Buffered() > 0 {
			return errors.New("mail: smarthost sent data before the tls handshake")
		}
		cfg := s.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tlsConn := tls.Client(conn, cfg)
		c.step(greeting)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", c.timeout(err, greeting))
		}
		c = newConv(tlsConn, deadline)
		isTLS = true
		// The extensions said in the clear may have been forged, and the
		// server forgets the session: ask again (RFC 3207 §4.2).
		if ext, err = c.hello(greeting, helo); err != nil {
			return err
		}
	}
	if s.Username != "" {
		if !isTLS && !s.AllowInsecureAuth {
			return errors.New("mail: refusing to send smtp credentials without tls")
		}
		if !slices.ContainsFunc(strings.Fields(ext["AUTH"]), func(m string) bool { return strings.EqualFold(m, "PLAIN") }) {
			return errors.New("mail: smarthost does not offer AUTH PLAIN")
		}
		resp := base64.StdEncoding.EncodeToString([]byte("\x00" + s.Username + "\x00" + s.Password))
		// The command holds the password: errors name the user only.
		if err := c.expect(greeting, 235, "auth as "+s.Username, "AUTH PLAIN "+resp); err != nil {
			return err
		}
	}

	cmd := or(s.CommandTimeout, DefaultCommandTimeout)
	mailCmd := "MAIL FROM:<" + envFrom + ">"
	if _, ok := ext["SMTPUTF8"]; ok && !isASCII(envFrom+m.To.Addr) {
		mailCmd += " SMTPUTF8"
	}
	if err := c.message(cmd, 250, "mail from", mailCmd); err != nil {
		return err
	}
	if err := c.message(cmd, 250, "rcpt to", "RCPT TO:<"+m.To.Addr+">"); err != nil {
		return err
	}
	if err := c.message(cmd, 354, "data", "DATA"); err != nil {
		return err
	}
	c.step(0) // the data has what is left of the attempt
	// A handoff's attachments go out 64 KiB a write, not textproto's 4 KiB:
	// a sixteenth of the syscalls here, and of the wake-ups at the relay.
	dw := &dataWriter{w: bufio.NewWriterSize(c.text.W, 64<<10)}
	if err := write(dw); err != nil {
		// Return without closing dw: its final "." would make the server
		// accept a truncated message. Dropping the connection aborts it.
		return fmt.Errorf("render message: %w", err)
	}
	err = dw.Close()
	if err == nil {
		err = c.text.W.Flush()
	}
	if err != nil {
		return fmt.Errorf("data: %w", c.timeout(err, 0))
	}
	if err := c.message(0, 250, "end of data", ""); err != nil {
		return err
	}
	// The message is accepted; a failing QUIT must not cause a resend.
	c.step(5 * time.Second)
	c.text.PrintfLine("QUIT")
	return nil
}

// conv is one SMTP conversation on conn, whose whole attempt ends at
// deadline.
type conv struct {
	conn     net.Conn
	text     *textproto.Conn
	limit    *io.LimitedReader
	deadline time.Time
}

func newConv(conn net.Conn, deadline time.Time) *conv {
	limit := &io.LimitedReader{R: conn}
	rwc := struct {
		io.Reader
		io.Writer
		io.Closer
	}{limit, conn, conn}
	return &conv{conn: conn, text: textproto.NewConn(rwc), limit: limit, deadline: deadline}
}

// step sets the deadline of the next step to d from now, or to the
// attempt's end if that comes first (d 0: the attempt's end).
func (c *conv) step(d time.Duration) {
	dl := c.deadline
	if until := time.Now().Add(d); d > 0 && until.Before(dl) {
		dl = until
	}
	c.conn.SetDeadline(dl)
	c.limit.N = maxReply
}

// timeout says "no reply within d" for a step that ran out of time.
func (c *conv) timeout(err error, d time.Duration) error {
	// At the attempt's end the connection is also closed: either may come
	// first.
	over := !time.Now().Before(c.deadline)
	if !errors.Is(err, os.ErrDeadlineExceeded) && !(over && errors.Is(err, net.ErrClosed)) {
		return err
	}
	if d == 0 || time.Now().Add(time.Second).After(c.deadline) {
		return errors.New("no reply before the attempt's deadline")
	}
	return fmt.Errorf("no reply within %v", d)
}

// do sends line (none when "") and reads the reply, within d. A reply with
// another code than want is a *reply.
func (c *conv) do(d time.Duration, want int, line string) (string, error) {
	c.step(d)
	if line != "" {
		if err := c.text.PrintfLine("%s", line); err != nil {
			return "", c.timeout(err, d)
		}
	}
	code, msg, err := c.text.ReadResponse(want)
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return "", &reply{code: code, text: strings.ReplaceAll(msg, "\n", " ")}
	}
	if err != nil {
		return "", c.timeout(err, d)
	}
	return msg, nil
}

// expect runs a command of the session: any failure is temporary.
func (c *conv) expect(d time.Duration, want int, what, line string) error {
	if _, err := c.do(d, want, line); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// message runs a command about the message: the server's refusal is a
// *mail.Refusal, for good when it is a 5xx.
func (c *conv) message(d time.Duration, want int, what, line string) error {
	_, err := c.do(d, want, line)
	var r *reply
	if errors.As(err, &r) {
		ref := r.refusal()
		if r.code >= 500 {
			return &mail.PermanentError{Err: fmt.Errorf("%s: %w", what, ref)}
		}
		return fmt.Errorf("%s: %w", what, ref)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// hello says EHLO, or HELO to a server that does not know EHLO (RFC 5321
// §3.2), and returns the extensions offered, upper-case keyword → parameters.
func (c *conv) hello(d time.Duration, name string) (map[string]string, error) {
	msg, err := c.do(d, 250, "EHLO "+name)
	var r *reply
	if errors.As(err, &r) && (r.code == 500 || r.code == 502) {
		if _, err := c.do(d, 250, "HELO "+name); err != nil {
			return nil, fmt.Errorf("helo: %w", err)
		}
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ehlo: %w", err)
	}
	ext := map[string]string{}
	lines := strings.Split(msg, "\n")
	for _, line := range lines[1:] {
		kw, params, _ := strings.Cut(strings.TrimSpace(line), " ")
		ext[strings.ToUpper(kw)] = params
	}
	return ext, nil
}

// reply is a reply with another code than the one expected.
type reply struct {
	code int
	text string // with its enhanced status code, if any
}

func (r *reply) Error() string { return fmt.Sprintf("%d %s", r.code, r.text) }

// refusal splits off the enhanced status code (RFC 2034) the text starts
// with, if it has one.
func (r *reply) refusal() *mail.Refusal {
	ref := &mail.Refusal{Code: r.code, Text: r.text}
	if first, rest, ok := strings.Cut(r.text, " "); ok && isEnhanced(first, r.code) {
		ref.Enhanced, ref.Text = first, rest
	}
	return ref
}

// isEnhanced reports whether s is an RFC 3463 status code of the class of
// the reply code.
func isEnhanced(s string, code int) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(code/100) {
		return false
	}
	for _, p := range parts[1:] {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 999 {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// or is d, or def when d is zero or less.
func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
