package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
)

// Config configures the inbound SMTP or LMTP server. Zero fields take
// the defaults given with them.
type Config struct {
	// LMTP makes the server speak LMTP (RFC 2033) instead of SMTP: LHLO in
	// place of EHLO, and one reply per recipient after DATA. For an MTA in
	// front, such as Postfix with transport_maps.
	LMTP            bool
	Hostname        string        // greeting and EHLO name; default DefaultHostname
	MaxMessageBytes int64         // beyond it: 552 5.3.4; 0 means no limit
	MaxRecipients   int           // beyond it: 452 4.5.3; default 50
	WriteTimeout    time.Duration // per reply; default 1 min
	SpoolDir        string        // where bodies are spooled; "" is os.TempDir()
	// MaxPerSenderHour bounds the messages one envelope sender may hand in
	// per hour; beyond it, 451 4.7.1. Default 100; negative: no limit.
	MaxPerSenderHour int

	// Timeouts after RFC 5321 §4.5.3.2; on any, 451 4.4.2 (in a body) or
	// 421 4.4.2 (waiting for a command), and the connection is closed.
	CommandTimeout   time.Duration // waiting for a command line (§4.5.3.2.7); default 5 min
	DataBlockTimeout time.Duration // between two reads of a body (§4.5.3.2.5); default 3 min
	DataTimeout      time.Duration // for a whole body, from the 354 reply (§4.5.3.2.6); default 10 min
	// DeliverTimeout bounds the time one message may take to be delivered:
	// the Deliverer's context has this deadline. Default DefaultDeliverTimeout.
	DeliverTimeout time.Duration

	// MaxConnections caps the connections open at once; beyond it, 421
	// 4.7.0 at connect. MaxConnectionsPerClient caps those from one IP
	// address (an IPv6 /64); it does not apply to LMTP, whose client is the
	// MTA in front. Defaults DefaultMaxConnections and
	// DefaultMaxConnectionsPerClient; negative: no cap.
	MaxConnections          int
	MaxConnectionsPerClient int

	// TLSConfig, when set, makes the SMTP server offer STARTTLS (RFC 3207)
	// with it, on connections that are not TLS yet; its GetCertificate may
	// change the certificate between handshakes (see CertFile). The server
	// keeps the pointer: change the certificate through GetCertificate, not
	// the config in place.
	TLSConfig *tls.Config
	// RequireTLS refuses MAIL before STARTTLS with 530 5.7.0. Without a
	// TLSConfig it refuses every MAIL: a server told to take mail over TLS
	// only takes none rather than plain text.
	//
	// LMTP ignores both: its client is the MTA in front, over a Unix socket
	// or loopback, and LMTP has no STARTTLS.
	RequireTLS bool
}

// Defaults for Config.
const (
	DefaultHostname         = "localhost"
	DefaultMaxRecipients    = 50
	DefaultCommandTimeout   = 5 * time.Minute
	DefaultDataBlockTimeout = 3 * time.Minute
	DefaultDataTimeout      = 10 * time.Minute
	DefaultWriteTimeout     = time.Minute
	DefaultMaxPerSender     = 100
)

// Server is the inbound SMTP or LMTP server: it accepts mail for the
// gateway's domain only, spools each message and hands it to a Deliverer,
// answering 250 only once the Deliverer has made it durable.
type Server struct {
	cfg        Config
	proto      string // "smtp" or "lmtp": the Envelope's Source
	recipients mail.RecipientPolicy
	deliver    mail.Deliverer
	log        *slog.Logger
	smtp       *smtp.Server // the connections as accepted
	limit      *mail.RateLimit

	// Connections that went through STARTTLS are served by a go-smtp server
	// of their own, fed by tlsLn: see trackedConn.startTLS for why go-smtp
	// does not run TLS itself. It is nil without a TLSConfig.
	smtpTLS  *smtp.Server
	tlsLn    *handoffListener
	serveTLS sync.Once

	// hard is handed to every delivery and cancelled only when Shutdown runs
	// out of time: a client hanging up mid-commit must not undo a message
	// once received.
	hard   context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	draining  bool                      // Shutdown has begun
	conns     map[*trackedConn]struct{} // open connections
	connLimit connLimit                 // their counts
}

// NewServer returns a Server taking the recipients the policy accepts and
// delivering to d. A nil log discards.
func NewServer(cfg Config, recipients mail.RecipientPolicy, d mail.Deliverer, log *slog.Logger) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = DefaultMaxRecipients
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.DataBlockTimeout <= 0 {
		cfg.DataBlockTimeout = DefaultDataBlockTimeout
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	if cfg.DeliverTimeout <= 0 {
		cfg.DeliverTimeout = mail.DefaultDeliverTimeout
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxConnectionsPerClient == 0 {
		cfg.MaxConnectionsPerClient = DefaultMaxConnectionsPerClient
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxPerSenderHour == 0 {
		cfg.MaxPerSenderHour = DefaultMaxPerSender
	}
	if cfg.LMTP {
		cfg.TLSConfig, cfg.RequireTLS = nil, false
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	proto := "smtp"
	if cfg.LMTP {
		proto = "lmtp"
	}
	// The component names the protocol, so that every line, go-smtp's own
	// included, says which listener it comes from.
	log = log.With("component", proto+"d")
	s := &Server{
		cfg:        cfg,
		proto:      proto,
		recipients: recipients,
		deliver:    d,
		log:        log,
		conns:      make(map[*trackedConn]struct{}),
		limit:      mail.NewRateLimit(cfg.MaxPerSenderHour),
	}
	s.connLimit.total = cfg.MaxConnections
	if !cfg.LMTP {
		s.connLimit.perClient = cfg.MaxConnectionsPerClient
	}
	s.hard, s.cancel = context.WithCancel(context.Background())

	s.smtp = s.newGoSMTP()
	if cfg.TLSConfig != nil {
		// go-smtp advertises STARTTLS when it has a TLSConfig; trackedConn
		// takes the command before go-smtp sees it. One that slips past it
		// (read ahead with a message body, where trackedConn does not look
		// for commands) gets a handshake that fails, never TLS under
		// trackedConn's reading of plain text.
		s.smtp.TLSConfig = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return nil, errors.New("smtpd: STARTTLS pipelined after a message body; send it as a command of its own")
		}}
		s.smtpTLS = s.newGoSMTP()
		s.tlsLn = newHandoffListener()
	}
	return s
}

// newGoSMTP returns a go-smtp server on the Server's backend and settings.
func (s *Server) newGoSMTP() *smtp.Server {
	cfg := &s.cfg
	srv := smtp.NewServer(&backend{s: s})
	srv.LMTP = cfg.LMTP
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	// go-smtp sets ReadTimeout before each command line; a body's reads
	// get theirs from trackedConn.
	srv.ReadTimeout = cfg.CommandTimeout
	// Off: it would fail a long body line as a read error. trackedConn
	// bounds command lines instead.
	srv.MaxLineLength = 0
	srv.WriteTimeout = cfg.WriteTimeout
	// No AUTH is offered: the gateway receives, it does not relay.
	srv.AllowInsecureAuth = false
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	return srv
}

// Serve accepts connections on ln until Shutdown, and then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		ln.Close()
		return nil
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "starttls", s.smtpTLS != nil, "require_tls", s.cfg.RequireTLS)
	if s.smtpTLS != nil {
		s.serveTLS.Do(func() {
			go func() {
				// It returns at Shutdown; anything else is a bug in
				// handoffListener, which only ever reports being closed.
				if err := s.smtpTLS.Serve(s.tlsLn); err != nil {
					s.log.Error("serve tls connections", "err", err)
				}
			}()
		})
	}
	return s.smtp.Serve(&listener{Listener: ln, s: s})
}

// Shutdown stops accepting connections, closes the idle ones, and waits for
// messages in flight until ctx is done. Then it cancels the deliveries still
// running, closes every connection and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	var idle []*trackedConn
	for c := range s.conns {
		if !c.busy {
			// Marked under the lock, so that no DATA can start on it.
			c.closing = true
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}

	servers := []*smtp.Server{s.smtp}
	if s.smtpTLS != nil {
		servers = append(servers, s.smtpTLS)
		// go-smtp closes only the listeners it serves, and its Serve of
		// this one may not have begun yet.
		s.tlsLn.Close()
	}
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() { errs[i] = srv.Shutdown(ctx) })
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil || ctx.Err() == nil {
		// Either every session ended, or closing a listener failed after
		// which go-smtp still waited for them.
		return err
	}
	s.log.Warn("shutdown timed out, cancelling deliveries", "err", err)
	s.cancel()
	for _, srv := range servers {
		srv.Close()
	}
	return ctx.Err()
}

// enterData marks c as receiving a message. It reports false when c is being
// closed by Shutdown.
func (s *Server) enterData(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closing {
		return false
	}
	c.busy = true
	return true
}

// exitData marks c idle again. While draining, no further message is taken on
// it, and its read side is shut so that go-smtp ends the session once the
// reply is written instead of waiting for the client's next command.
func (s *Server) exitData(c *trackedConn) {
	s.mu.Lock()
	c.busy = false
	draining := s.draining
	if draining {
		c.closing = true
	}
	s.mu.Unlock()
	if draining {
		c.closeRead()
	}
}

type backend struct{ s *Server }

var (
	_ smtp.Backend     = (*backend)(nil)
	_ smtp.LMTPSession = (*session)(nil)
)

// NewSession runs at EHLO, HELO or LHLO; go-smtp makes one session per
// connection.
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	// Serve hands go-smtp only trackedConns.
	tc := c.Conn().(*trackedConn)
	id := mail.NewSessionID()
	tc.session = id
	log := b.s.log.With("session", id, "remote", remoteAddr(tc))
	if st := tc.tls; st != nil {
		// After STARTTLS: a session of its own (RFC 3207 §4.2).
		log = log.With("tls", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	}
	log.Info("session", "helo", c.Hostname())
	return &session{s: b.s, conn: tc, id: id, log: log}, nil
}

// remoteAddr names the peer for logs. A Unix socket's peer is usually
// unnamed, and may come without an address at all.
func remoteAddr(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" {
		return a.String()
	}
	return "unix"
}

// session is one SMTP or LMTP connection's state. go-smtp calls its methods
// one at a time: LMTPData runs on a goroutine of its own, but the connection's
// goroutine waits for it.
type session struct {
	s     *Server
	conn  *trackedConn
	id    string
	log   *slog.Logger
	from  string   // MAIL FROM, lower-case; "" for the null sender
	rcpts []string // accepted RCPT TO, as the client wrote them: go-smtp's keys for LMTP statuses
}

// Replies. go-smtp honours only a bare *smtp.SMTPError (GOTCHAS): anything
// else reaches the client as a permanent failure carrying the error's text.
var (
	replyNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such recipient here"}
	replyTooBig     = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too big"}
	replyTempLocal  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary local problem, please try again later"}
	replyTimeout    = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "timeout reading message, closing connection"}
	replyShutdown   = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down, please try again later"}
	replyRate       = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "too many messages from this sender in the last hour, please try again later"}
	// RFC 3207 §4, word for word.
	replyNeedTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
)

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.from = strings.ToLower(from)
	ss.rcpts = nil
	if ss.s.cfg.RequireTLS && ss.conn.tls == nil {
		ss.log.Info("message refused", "from", ss.from, "reason", "tls required")
		return replyNeedTLS
	}
	key := ss.from
	if key == "" && ss.s.cfg.LMTP {
		// Bounces relayed by the MTA in front all come from one peer: it
		// has its own limits, and ours would defer every bounce.
		return nil
	}
	if key == "" {
		// Bounces all come from <>: count them per peer instead.
		key = "<>" + remoteAddr(ss.conn)
		if host, _, err := net.SplitHostPort(remoteAddr(ss.conn)); err == nil {
			key = "<>" + host
		}
	}
	if !ss.s.limit.Allow(key, time.Now()) {
		ss.log.Info("message refused", "from", ss.from, "reason", "sender rate", "max_per_hour", ss.s.limit.Max())
		return replyRate
	}
	ss.log.Debug("mail from", "from", ss.from)
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if rej := ss.s.recipients.AcceptRecipient(to); rej != nil {
		ss.log.Info("rcpt rejected", "rcpt", to, "from", ss.from, "reason", rej.Detail)
		return rejectionReply(rej)
	}
	ss.rcpts = append(ss.rcpts, to)
	ss.log.Debug("rcpt accepted", "rcpt", to)
	return nil
}

// Data receives a message over SMTP: one reply for the whole message.
func (ss *session) Data(r io.Reader) error {
	return ss.receive(r)
}

// LMTPData receives a message over LMTP, which answers once for each accepted
// recipient (RFC 2033 §4.2). One Deliver applies the message for all its
// recipients at once, so each gets the same reply: 250, or the failure.
func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	err := ss.receive(r)
	// Once per RCPT, a repeated one included, under the name go-smtp keeps.
	for _, rcpt := range ss.rcpts {
		status.SetStatus(rcpt, err)
	}
	return err
}

// receive spools the message and delivers it once for all its recipients.
// It returns nil or a bare *smtp.SMTPError (never a nil one in an error: go-smtp
// would take it for a reply).
func (ss *session) receive(r io.Reader) (err error) {
	if !ss.s.enterData(ss.conn) {
		return ss.hangUp(replyShutdown)
	}
	defer ss.s.exitData(ss.conn)
	defer func() {
		if v := recover(); v != nil {
			ss.log.Error("data panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			io.Copy(io.Discard, r)
			err = ss.tempLocal()
		}
	}()

	spool, err := mail.NewSpool(ss.s.cfg.SpoolDir, r, ss.s.cfg.MaxMessageBytes)
	if err != nil {
		return ss.spoolFailed(r, err)
	}
	defer spool.Close()

	env := mail.Envelope{
		ID:         ss.id,
		Source:     ss.s.proto,
		From:       ss.from,
		Recipients: make([]string, len(ss.rcpts)),
		Received:   time.Now(),
	}
	for i, rcpt := range ss.rcpts {
		env.Recipients[i] = strings.ToLower(rcpt)
	}
	res, err := mail.DeliverBounded(ss.s.hard, ss.s.deliver, env, spool, ss.s.cfg.DeliverTimeout, ss.log)
	var rej *mail.Rejection
	switch {
	case errors.As(err, &rej):
		reply := rejectionReply(rej)
		ss.log.Info("message rejected", "from", ss.from, "size", spool.Size(), "digest", spool.Digest(),
			"code", reply.Code, "enhanced", fmt.Sprintf("%d.%d.%d", reply.EnhancedCode[0], reply.EnhancedCode[1], reply.EnhancedCode[2]),
			"reason", reply.Message)
		return reply
	case err != nil:
		ss.log.Error("deliver", "err", err, "from", ss.from, "size", spool.Size(), "digest", spool.Digest(),
			"timed_out", errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mail.ErrDeliverHung))
		return ss.tempLocal()
	}
	ss.log.Info("message accepted", "from", ss.from, "rcpts", len(env.Recipients), "size", spool.Size(),
		"digest", spool.Digest(), "outcome", res.Outcome)
	return nil
}

// tempLocal is the reply for a failure of ours that a retry may cure. It
// names the session, so that the operator can find the log lines behind a
// sender's bounce.
func (ss *session) tempLocal() *smtp.SMTPError {
	reply := *replyTempLocal
	reply.Message = fmt.Sprintf("temporary local problem (session %s), please try again later", ss.id)
	return &reply
}

// rejectionReply turns a Deliverer's Rejection into the reply that refuses
// the message for good. It holds to what a permanent reply must be (RFC 5321
// §4.2.1, RFC 3463 §3: a 5xx code with a 5.x.x status), whatever the
// Rejection says, and keeps the reason on one line of printable text: it ends
// up in a bounce.
func rejectionReply(r *mail.Rejection) *smtp.SMTPError {
	code, ec := r.Code, smtp.EnhancedCode(r.Enhanced)
	if code < 500 || code > 599 {
		code = 554
	}
	if ec[0] != 5 || ec[1] < 0 || ec[1] > 999 || ec[2] < 0 || ec[2] > 999 {
		ec = smtp.EnhancedCode{5, 0, 0}
	}
	reason := strings.Join(strings.FieldsFunc(r.Reason, func(c rune) bool {
		return c < ' ' || c == 0x7f || c == ' '
	}), " ")
	if reason == "" {
		reason = "message refused"
	}
	const maxReason = 400 // well inside the 512 octets of a reply line (RFC 5321 §4.5.3.1.5)
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: reason}
}

// hangUp answers reply, once for each recipient over LMTP, and closes the
// connection.
func (ss *session) hangUp(reply *smtp.SMTPError) *smtp.SMTPError {
	if ss.s.cfg.LMTP {
		return ss.conn.hangUp(reply, ss.rcpts)
	}
	return ss.conn.hangUp(reply, nil)
}

// spoolFailed answers a body that could not be spooled.
func (ss *session) spoolFailed(r io.Reader, err error) error {
	var netErr net.Error
	switch {
	case errors.Is(err, mail.ErrTooBig) || errors.Is(err, smtp.ErrDataTooLarge):
		// go-smtp discards the rest of the body itself: r stops at the limit.
		ss.log.Info("message rejected", "from", ss.from, "reason", "too big", "max_bytes", ss.s.cfg.MaxMessageBytes)
		return replyTooBig
	case errors.As(err, &netErr) && netErr.Timeout():
		what, d := ss.conn.dataTimeout()
		ss.log.Info("message rejected", "from", ss.from, "reason", what+" timeout", "timeout", d)
		return ss.hangUp(replyTimeout)
	default:
		// The client went away, or the spool could not be written.
		ss.log.Warn("spool message", "err", err, "from", ss.from)
		io.Copy(io.Discard, r)
		return ss.tempLocal()
	}
}

func (ss *session) Reset() {
	ss.from = ""
	ss.rcpts = nil
}

func (ss *session) Logout() error {
	ss.log.Debug("session end")
	return nil
}

// ListenLMTP listens on addr, written as the [lmtp] listen key is:
// "unix:/path/to/socket" for a Unix socket, or "host:port" for TCP.
//
// The socket gets mode 0660 whatever the umask: connecting to a Unix socket
// takes write permission on it, and whoever can connect hands the gateway mail
// as the trusted MTA in front would, so only the owner and its group (which
// Postfix's user joins) may. A missing parent directory is created with mode
// 0750 for the same reason. A socket left behind by a process that died is
// removed first; one that something still answers on, or a file of another
// kind, is an error rather than something to delete.
func ListenLMTP(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("lmtp listen address %q: want unix:/path or host:port: %w", addr, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("lmtp listen: %w", err)
		}
		return ln, nil
	}
	if path == "" {
		return nil, fmt.Errorf("lmtp listen address %q: want unix:/path or host:port", addr)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create lmtp socket directory: %w", err)
		}
		if err := os.Chmod(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create lmtp socket directory: %w", err)
		}
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("lmtp listen: %w", err)
	}
	// After bind, as the umask cannot be narrowed for one socket alone (it is
	// the process's); until then the umask's mode holds.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("set lmtp socket mode: %w", err)
	}
	return ln, nil
}

// removeStaleSocket removes the socket at path unless a server answers on
// it. Nothing there is fine.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lmtp socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("lmtp socket %s: exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("lmtp socket %s: in use by another process", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale lmtp socket: %w", err)
	}
	return nil
}
