package imappoll

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/turnmail/turnmail/mail"
)

// The poller's bounds. A reply may take imapReplyTimeout to start and the
// same again between two reads of a message being fetched; IDLE is restarted
// well inside the 30 minutes after which RFC 2177 §3 lets a server log the
// client off.
const (
	imapDialTimeout  = 30 * time.Second
	imapReplyTimeout = 2 * time.Minute
	imapIdleMax      = 25 * time.Minute
	imapMinBackoff   = time.Second
	imapMaxBackoff   = 5 * time.Minute
	// imapMaxTries is how many deliveries of one message may fail (an error,
	// a panic, a timeout, or a process that died in it) before the message
	// goes to the failed mailbox instead of blocking those behind it.
	imapMaxTries = 3
)

var (
	// errIMAPHung reports that the watchdog closed a connection whose server
	// stopped answering.
	errIMAPHung = errors.New("mail: imap server did not answer in time")
	// errIMAPClosed reports a connection that ended while the poller waited
	// for new mail.
	errIMAPClosed = errors.New("mail: imap connection closed")
)

// Account is one mailbox to watch.
type Account struct {
	Name               string      // stable id for logs and the cursor key, e.g. "user@imap.example.com:993"
	Addr               string      // host:port
	TLS                string      // "implicit", "starttls" or "none"
	TLSConfig          *tls.Config // nil: ServerName from Addr
	Username, Password string      // the password never reaches a log line
	// The mailboxes, "/" separating hierarchy levels whatever the server's
	// delimiter (see serverName). The done and failed ones are created when
	// missing.
	Mailbox         string        // "" = INBOX
	DoneMailbox     string        // "" = leave handled messages, flagged $TurnmailDone
	FailedMailbox   string        // "" = leave failed messages, flagged $TurnmailFailed
	IDLE            bool          // use IDLE when the server offers it
	PollInterval    time.Duration // UID SEARCH at least this often, also while idling; 0 = 1 minute
	MaxMessageBytes int64         // bigger messages go to FailedMailbox unread; 0 = no limit
	SpoolDir        string        // for NewSpool; "" = the system's
	// MaxPerSenderHour bounds the messages one sender (Return-Path) may
	// have applied per hour, as the SMTP server does; the rest go to
	// FailedMailbox. 0 = no limit.
	MaxPerSenderHour int
	// DeliverTimeout bounds one delivery: the Deliverer's context has this
	// deadline, and a delivery past it counts as a failed try. 0 =
	// DefaultDeliverTimeout.
	DeliverTimeout time.Duration
}

// LogValue keeps the password out of log lines that include the account.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", a.Name), slog.String("addr", a.Addr),
		slog.String("tls", a.TLS), slog.String("username", a.Username), slog.String("mailbox", a.Mailbox))
}

// Cursor remembers, per account and mailbox, the UIDVALIDITY and the
// highest UID fully handled (delivered, then moved or flagged), and how many
// tries at delivering the message after it have begun. Each Set is durable
// when it returns.
type Cursor interface {
	// IMAPCursor returns zeros when nothing was recorded.
	IMAPCursor(account, mailbox string) (uidValidity, lastUID uint32, err error)
	// SetIMAPCursor records the cursor, and forgets the tries.
	SetIMAPCursor(account, mailbox string, uidValidity, lastUID uint32) error
	// IMAPTries returns the count SetIMAPTries last recorded for uid under
	// uidValidity; 0 when the last count was for another message, or was
	// forgotten by SetIMAPCursor since.
	IMAPTries(account, mailbox string, uidValidity, uid uint32) (int, error)
	// SetIMAPTries records how many tries at delivering uid have begun. One
	// count is kept per mailbox: the poller tries one message at a time.
	SetIMAPTries(account, mailbox string, uidValidity, uid uint32, tries int) error
}

// Poller feeds the messages of one IMAP mailbox to a Deliverer, each once:
// in UID order, fetched without setting \Seen, moved (or flagged) only after
// Deliver returned nil, and the cursor advanced only after that. A kill at any
// point at worst delivers a message again, which the Deliverer recognises by
// its Message-ID or digest.
//
// A message Deliver refuses with a *Rejection goes to the failed mailbox at
// once. One whose delivery keeps failing (an error, a panic, the delivery
// deadline) goes there after imapMaxTries, so that it does not block the
// mailbox for good. Each try is recorded in the cursor before it begins, so
// that a message which killed or hung the process counts too, across
// restarts.
type Poller struct {
	acct    Account
	d       mail.Deliverer
	cur     Cursor
	log     *slog.Logger
	timeout time.Duration // imapReplyTimeout; shorter in tests
	backoff time.Duration // imapMinBackoff; shorter in tests
	limit   *mail.RateLimit
}

// NewPoller returns a Poller for acct. A nil log discards.
func NewPoller(acct Account, d mail.Deliverer, cur Cursor, log *slog.Logger) *Poller {
	if acct.Mailbox == "" {
		acct.Mailbox = "INBOX"
	}
	if acct.PollInterval <= 0 {
		acct.PollInterval = time.Minute
	}
	if acct.DeliverTimeout <= 0 {
		acct.DeliverTimeout = mail.DefaultDeliverTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{acct: acct, d: d, cur: cur, log: log.With("account", acct.Name), timeout: imapReplyTimeout,
		backoff: imapMinBackoff, limit: mail.NewRateLimit(acct.MaxPerSenderHour)}
}

// Run watches the mailbox until ctx is done, reconnecting with backoff (1s
// doubling to 5 min, back to 1s after a session that completed a pass) on
// any connection, protocol or delivery error. A refusal of the account's
// setup (login, a mailbox to select or create) is logged as an error with
// the server's words, and retried with the same backoff. Run one at a time
// per Poller.
func (p *Poller) Run(ctx context.Context) {
	backoff := p.backoff
	for {
		id := mail.NewSessionID()
		log := p.log.With("session", id)
		healthy, err := p.session(ctx, id, log)
		if ctx.Err() != nil {
			return
		}
		if healthy {
			backoff = p.backoff
		}
		var setup *setupError
		if errors.As(err, &setup) {
			// Reconnecting will not cure it; the operator must. Still
			// retried, with the backoff, for a server that is only being
			// set up.
			log.Error("imap setup refused", "err", err, "server_said", serverSaid(err), "retry_in", backoff)
		} else {
			log.Warn("imap session ended", "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, imapMaxBackoff)
	}
}

// session runs one connection: it reports whether it completed at least one
// pass over the mailbox, and why it ended.
func (p *Poller) session(ctx context.Context, id string, log *slog.Logger) (healthy bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			log.Error("panic in imap session", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	s, err := p.connect(ctx, id, log)
	if err != nil {
		return false, err
	}
	defer s.close()
	return s.watch(ctx)
}

// imapSession is one logged-in connection with the mailbox selected.
type imapSession struct {
	p        *Poller
	id       string // the connection's, on its log lines and envelopes
	log      *slog.Logger
	c        *imapclient.Client
	dog      *watchdog
	stop     func() bool   // undoes the context.AfterFunc that closes the connection
	wake     chan struct{} // new mail announced by the server; holds one signal
	caps     imap.CapSet
	validity uint32 // UIDVALIDITY of the selected mailbox
	last     uint32 // highest UID handled

	// The account's mailboxes as this server spells them (see serverName),
	// and its hierarchy delimiter. The cursor keeps the configured name.
	mailbox, done, failed string
	delim                 rune
}

// connect dials, logs in, makes sure the done and failed mailboxes exist and
// selects the mailbox.
func (p *Poller) connect(ctx context.Context, id string, log *slog.Logger) (*imapSession, error) {
	raw, err := (&net.Dialer{Timeout: imapDialTimeout}).DialContext(ctx, "tcp", p.acct.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", p.acct.Addr, err)
	}
	s := &imapSession{p: p, id: id, log: log, dog: newWatchdog(raw), wake: make(chan struct{}, 1)}
	// Closing the socket is what unblocks imapclient, whatever it waits for.
	s.stop = context.AfterFunc(ctx, func() { raw.Close() })
	opts := &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		// Called on the client's reader goroutine: no command may be issued
		// here, only a signal left for the watch loop.
		Mailbox: func(data *imapclient.UnilateralDataMailbox) {
			if data.NumMessages != nil {
				select {
				case s.wake <- struct{}{}:
				default:
				}
			}
		},
	}}
	if err := s.open(ctx, raw, opts); err != nil {
		s.close()
		raw.Close()
		return nil, err
	}
	return s, nil
}

// open runs the connection from TLS to SELECT.
func (s *imapSession) open(ctx context.Context, raw net.Conn, opts *imapclient.Options) error {
	acct := &s.p.acct
	err := s.do("connect", func() error {
		switch acct.TLS {
		case "implicit":
			cfg := s.p.tlsConfig()
			if cfg.NextProtos == nil {
				cfg.NextProtos = []string{"imap"}
			}
			tc := tls.Client(raw, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				return fmt.Errorf("tls handshake: %w", err)
			}
			s.c = imapclient.New(tc, opts)
		case "starttls":
			opts.TLSConfig = s.p.tlsConfig()
			c, err := imapclient.NewStartTLS(raw, opts)
			if err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			s.c = c
		case "none":
			s.c = imapclient.New(raw, opts)
		default:
			return fmt.Errorf("unknown tls mode %q", acct.TLS)
		}
		return s.c.WaitGreeting()
	})
	if err != nil {
		return err
	}
	err = s.do("login as "+acct.Username, func() error {
		if s.c.Caps().Has(imap.CapLoginDisabled) {
			return s.c.Authenticate(sasl.NewPlainClient("", acct.Username, acct.Password))
		}
		return s.c.Login(acct.Username, acct.Password).Wait()
	})
	if err != nil {
		return refused(err)
	}
	if err := s.do("capability", func() error {
		if s.caps = s.c.Caps(); s.caps == nil {
			return errors.New("no capabilities")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := s.resolveMailboxes(); err != nil {
		return err
	}
	if err := s.ensureMailbox(mailboxWhat("done_mailbox", acct.DoneMailbox, s.done), s.done); err != nil {
		return err
	}
	if err := s.ensureMailbox(mailboxWhat("failed_mailbox", acct.FailedMailbox, s.failed), s.failed); err != nil {
		return err
	}
	var data *imap.SelectData
	err = s.do("select "+mailboxWhat("mailbox", acct.Mailbox, s.mailbox), func() (err error) {
		data, err = s.c.Select(s.mailbox, nil).Wait()
		return err
	})
	if err != nil {
		return refused(err)
	}
	return s.loadCursor(data.UIDValidity)
}

// ensureMailbox creates a mailbox unless name is empty or it exists. Servers
// say "exists" in their own words, so a failed CREATE is checked by STATUS.
// A CREATE the server refuses, of a mailbox that is not there either, is a
// setupError: the name is one the server will not have.
func (s *imapSession) ensureMailbox(what, name string) error {
	if name == "" {
		return nil
	}
	createErr := s.do("create "+what, func() error { return s.c.Create(name, nil).Wait() })
	if createErr == nil {
		s.log.Info("imap mailbox created", "mailbox", name)
		return nil
	}
	err := s.do("status "+what, func() error {
		_, err := s.c.Status(name, &imap.StatusOptions{UIDValidity: true}).Wait()
		return err
	})
	if err != nil {
		return refused(createErr)
	}
	return nil
}

// loadCursor sets where this session starts. A changed UIDVALIDITY makes
// every stored UID meaningless (RFC 9051 §2.3.1.1): start over from the first
// message, relying on the Deliverer's Message-ID dedupe for those seen before.
func (s *imapSession) loadCursor(validity uint32) error {
	acct := &s.p.acct
	stored, last, err := s.p.cur.IMAPCursor(acct.Name, acct.Mailbox)
	if err != nil {
		return fmt.Errorf("load imap cursor: %w", err)
	}
	s.validity = validity
	if stored == validity {
		s.last = last
		return nil
	}
	if stored != 0 {
		s.log.Warn("imap uidvalidity changed, starting over", "mailbox", acct.Mailbox, "was", stored, "now", validity)
	}
	if err := s.p.cur.SetIMAPCursor(acct.Name, acct.Mailbox, validity, 0); err != nil {
		return fmt.Errorf("reset imap cursor: %w", err)
	}
	return nil
}

// tlsConfig returns the account's TLS configuration with a ServerName.
func (p *Poller) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if p.acct.TLSConfig != nil {
		cfg = p.acct.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(p.acct.Addr); err == nil {
			cfg.ServerName = host
		}
	}
	return cfg
}

// do runs one exchange with the server under the watchdog.
func (s *imapSession) do(what string, fn func() error) error {
	s.dog.arm(s.p.timeout)
	err := fn()
	s.dog.disarm()
	if err != nil {
		if s.dog.fired.Load() {
			err = errIMAPHung
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// close ends the session. The connection may already be gone.
func (s *imapSession) close() {
	s.stop()
	s.dog.disarm()
	if s.c != nil {
		s.c.Close()
	}
}

// watchdog closes a connection whose server went silent: imapclient sets no
// deadline while it waits for a reply to start (GOTCHAS), so without it a hung
// server would hang the poller for good.
type watchdog struct {
	t     *time.Timer
	fired atomic.Bool
}

func newWatchdog(conn net.Conn) *watchdog {
	w := &watchdog{}
	w.t = time.AfterFunc(time.Hour, func() {
		w.fired.Store(true)
		conn.Close()
	})
	w.t.Stop()
	return w
}

// arm gives the server d from now; arm again to extend on progress.
func (w *watchdog) arm(d time.Duration) { w.t.Reset(d) }

func (w *watchdog) disarm() { w.t.Stop() }
