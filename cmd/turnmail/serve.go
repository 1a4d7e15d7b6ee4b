package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/turnmail/turnmail/mail/imappoll"
	"github.com/turnmail/turnmail/mail/outbound"
	"github.com/turnmail/turnmail/mail/smtpd"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// drainTimeout bounds how long SIGTERM waits for SMTP sessions in flight and
// the mail they queued before cutting them off: the whole shutdown takes
// little more, whatever the smarthost does (systemd's default stop timeout
// is 90 s).
const drainTimeout = 30 * time.Second

// backgroundGrace bounds the wait, once the drain is over, for control
// commands and the scheduled jobs to stop. They stop at their next check of
// the context, but one step (a long write transaction) may take a while;
// past the grace serve exits without closing the store, which for bbolt is
// a kill -9: every commit is whole, so nothing committed is lost. With
// drainTimeout, it stays within the unit's TimeoutStopSec (60 s).
const backgroundGrace = 10 * time.Second

// tickInterval is how often serve runs the scheduled jobs. A slot is met
// within it; the markers make running more often harmless.
const tickInterval = time.Minute

// runServe runs the gateway until ctx is done.
func runServe(ctx context.Context, cfg *Config, log *slog.Logger) error {
	d, err := startDaemon(cfg, log)
	if err != nil {
		return err
	}
	return d.wait(ctx)
}

// daemon is a running gateway: the ways mail comes in (SMTP, LMTP, IMAP
// pollers), the outbound worker and the control socket, over one store.
type daemon struct {
	log      *slog.Logger
	st       *store.Store
	smtpLn   net.Listener    // nil with smtp.listen = ""
	cert     *smtpd.CertFile // nil without smtp.tls_cert
	servers  []*smtpd.Server // SMTP and LMTP, as configured
	serveErr chan error
	worker   *outbound.Worker
	// drainWorker, closed, makes the worker send what is due and stop;
	// stopWorker cuts its sends; workerDone is closed when it has stopped.
	drainWorker  chan struct{}
	stopWorker   context.CancelFunc
	workerDone   chan struct{}
	drainTimeout time.Duration // drainTimeout, but for tests
	grace        time.Duration // backgroundGrace, but for tests

	httpLn      net.Listener // nil without [http] listen
	stopHTTP    func(context.Context) error
	adminLn     net.Listener // nil without [admin] listen
	stopAdmin   func(context.Context) error
	health      *health
	stopPollers context.CancelFunc
	pollers     sync.WaitGroup
	stopBg      context.CancelFunc
	bg          sync.WaitGroup
}

// startDaemon opens the store and starts serving. On error everything it
// started is stopped again.
func startDaemon(cfg *Config, log *slog.Logger) (_ *daemon, err error) {
	if err := cfg.checkOpen(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Gateway.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	dbPath := filepath.Join(cfg.Gateway.DataDir, dbFile)
	st, err := store.Open(dbPath, nil)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%s is in use: is another turnmail serve running on this data directory?", dbPath)
	} else if err != nil {
		return nil, err
	}
	d := &daemon{log: log, st: st, serveErr: make(chan error, 2), drainTimeout: drainTimeout, grace: backgroundGrace}
	var listeners []net.Listener
	defer func() {
		if err != nil {
			for _, ln := range listeners {
				ln.Close()
			}
			d.close()
		}
	}()
	// Nothing else writes yet: the one moment Sweep may run (see its contract).
	if blobs, chunks, err := st.Sweep(); err != nil {
		return nil, fmt.Errorf("sweep unreferenced blobs: %w", err)
	} else if blobs+chunks > 0 {
		log.Info("swept unreferenced data", "blobs", blobs, "chunks", chunks)
	}
	engine, tagger, err := newEngine(cfg, st, log)
	if err != nil {
		return nil, err
	}
	sender, where, err := newSender(cfg)
	if err != nil {
		return nil, err
	}
	m := newMetrics(st)
	sender = m.sender(sender)
	inlet := m.deliverer(engine)
	d.health = &health{st: st, now: time.Now}
	d.drainWorker = make(chan struct{})
	d.worker = &outbound.Worker{
		Queue: st, Blobs: st, Sender: sender, ReturnPath: tagger.BounceAddress, Log: log.With("component", "outbound"),
		Wake: st.Enqueued(), Drain: d.drainWorker, Concurrency: cfg.Outbound.Concurrency, OnFailed: engine.DeliveryFailed,
	}
	// Mail beyond what spools hold in memory (mail.SpoolMemoryBytes, within
	// mail.SpoolBudgetBytes for all) spills to the data directory's disk, not
	// to /tmp, which may be RAM.
	spoolDir := filepath.Join(cfg.Gateway.DataDir, "spool")
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}

	ctlLn, err := listenCtl(cfg)
	if err != nil {
		return nil, err
	}
	listeners = append(listeners, ctlLn)
	serverCfg := smtpd.Config{
		Hostname: tagger.Domain(), MaxMessageBytes: cfg.SMTP.MaxMessageBytes, MaxPerSenderHour: cfg.SMTP.MaxPerSenderHour, SpoolDir: spoolDir,
		MaxConnections: cfg.SMTP.MaxConnections, MaxConnectionsPerClient: cfg.SMTP.MaxConnectionsPerClient,
	}
	inlets := map[*smtpd.Server]net.Listener{}
	if cfg.SMTP.Listen != "" {
		smtpCfg := serverCfg
		if cfg.SMTP.TLSCert != "" {
			if d.cert, err = smtpd.NewCertFile(cfg.SMTP.TLSCert, cfg.SMTP.TLSKey, log); err != nil {
				return nil, fmt.Errorf("smtp.tls_cert: %w", err)
			}
			smtpCfg.TLSConfig = &tls.Config{GetCertificate: d.cert.GetCertificate}
		}
		smtpCfg.RequireTLS = cfg.SMTP.RequireTLS
		if d.smtpLn, err = net.Listen("tcp", cfg.SMTP.Listen); err != nil {
			return nil, fmt.Errorf("smtp listen: %w", err)
		}
		listeners = append(listeners, d.smtpLn)
		smtpServer := smtpd.NewServer(smtpCfg, tagger, inlet, log)
		d.servers = append(d.servers, smtpServer)
		inlets[smtpServer] = d.smtpLn
	}
	if cfg.LMTP.Listen != "" {
		ln, err := smtpd.ListenLMTP(cfg.LMTP.Listen)
		if err != nil {
			return nil, fmt.Errorf("lmtp listen: %w", err)
		}
		listeners = append(listeners, ln)
		lmtpCfg := serverCfg
		lmtpCfg.LMTP = true
		lmtpd := smtpd.NewServer(lmtpCfg, tagger, inlet, log)
		d.servers = append(d.servers, lmtpd)
		inlets[lmtpd] = ln
	}

	// The worker and the control socket have their own contexts: they keep
	// running while the inlets drain, so mail caused by the last messages
	// still goes out.
	workerCtx, stopWorker := context.WithCancel(context.Background())
	d.stopWorker, d.workerDone = stopWorker, make(chan struct{})
	go func() {
		defer close(d.workerDone)
		d.worker.Run(workerCtx)
	}()
	bgCtx, cancel := context.WithCancel(context.Background())
	d.stopBg = cancel
	d.bg.Go(func() {
		serveCtl(bgCtx, ctlLn, &app{cfg: cfg, log: log.With("component", "ctl"), st: st, engine: engine})
	})
	d.bg.Go(func() { runTicks(bgCtx, engine, log, tickInterval) })
	// Caught from here on, before anything could send it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	d.bg.Go(func() { reloadOnHangup(bgCtx, hup, d.cert, log) })
	for srv, ln := range inlets {
		go func() {
			err := srv.Serve(ln)
			d.health.down.Add(1)
			d.serveErr <- err
		}()
	}
	if cfg.Admin.Listen != "" {
		if d.adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			return nil, fmt.Errorf("admin listen: %w", err)
		}
		d.stopAdmin = startAdmin(d.adminLn, d.health, m, cfg.Admin.Pprof, log.With("component", "admin"))
	}
	if cfg.HTTP.Listen != "" {
		if d.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return nil, fmt.Errorf("http listen: %w", err)
		}
		d.stopHTTP = startHTTP(d.httpLn, &unsubscribeHandler{tagger: tagger, engine: engine, log: log.With("component", "http")})
	}
	pollCtx, stopPollers := context.WithCancel(context.Background())
	d.stopPollers = stopPollers
	for _, a := range cfg.IMAP.Watch {
		p := imappoll.NewPoller(imappoll.Account{
			Name: a.Username + "@" + a.Addr, Addr: a.Addr, TLS: a.TLS, Username: a.Username, Password: a.Password,
			Mailbox: a.Mailbox, DoneMailbox: a.DoneMailbox, FailedMailbox: a.FailedMailbox,
			IDLE: *a.IDLE, PollInterval: a.PollInterval.Duration,
			MaxMessageBytes: cfg.SMTP.MaxMessageBytes, MaxPerSenderHour: cfg.SMTP.MaxPerSenderHour, SpoolDir: spoolDir,
		}, inlet, st, log)
		d.pollers.Go(func() { p.Run(pollCtx) })
	}

	smtpAddr := "off"
	if d.smtpLn != nil {
		smtpAddr = d.smtpLn.Addr().String()
	}
	log.Info("turnmail serving",
		"smtp", smtpAddr, "starttls", d.cert != nil, "require_tls", cfg.SMTP.RequireTLS,
		"lmtp", cfg.LMTP.Listen, "imap_accounts", len(cfg.IMAP.Watch),
		"gateway", tagger.Gateway(), "data", cfg.Gateway.DataDir, "outbound", where, "control", ctlPath(cfg))
	if d.smtpLn != nil {
		log.Info("to start a collaboration, mail someone with a file attached and cc the gateway",
			"example", fmt.Sprintf("swaks --server %s --from alice@acme.test --to %s --header 'To: bob@axe.test' --header 'Cc: %s' --attach-name contract.docx --attach @contract.docx",
				d.smtpLn.Addr(), tagger.Gateway(), tagger.Gateway()))
	}
	return d, nil
}

// wait serves until ctx is done, then shuts down in two phases: stop taking
// mail in and let what is in flight finish within drainTimeout, then cut.
func (d *daemon) wait(ctx context.Context) error {
	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-d.serveErr:
		serveErr = fmt.Errorf("smtp server: %w", err)
	}
	d.log.Info("shutting down: no new mail taken in, draining")
	drainCtx, cancel := context.WithTimeout(context.Background(), d.drainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range d.servers {
		wg.Go(func() {
			if err := srv.Shutdown(drainCtx); err != nil {
				d.log.Warn("sessions cut off at shutdown", "err", err)
			}
		})
	}
	if d.stopHTTP != nil {
		wg.Go(func() {
			if err := d.stopHTTP(drainCtx); err != nil {
				d.log.Warn("http requests cut off at shutdown", "err", err)
			}
		})
	}
	// Pollers stop at once, closing their connection: a message delivered
	// but not yet moved is recognised as a duplicate and moved at the next
	// start, so nothing is lost or applied twice.
	d.stopPollers()
	wg.Go(d.pollers.Wait)
	wg.Wait()
	// The worker sends what the last messages queued, within what is left
	// of the bound; then the sends still in flight are cut (a smarthost that
	// never answers must not hold the shutdown), and their mail stays
	// queued for the next start.
	close(d.drainWorker)
	select {
	case <-d.workerDone:
	case <-drainCtx.Done():
		d.log.Warn("outbound sends cut off at shutdown, their mail stays queued")
	}
	d.close()
	d.log.Info("stopped")
	return serveErr
}

// close stops what still runs and closes the store. What runs stops at its
// next check of its context, but one step (a long write transaction, or a
// write waiting for one) may take a while: past d.grace, close returns
// without closing the store, which would wait for it too.
func (d *daemon) close() {
	if d.stopAdmin != nil {
		// Last: /healthz and /metrics watch the drain too.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		d.stopAdmin(ctx)
		cancel()
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if d.stopPollers != nil {
			d.stopPollers()
			d.pollers.Wait()
		}
		if d.stopWorker != nil {
			d.stopWorker()
			<-d.workerDone
		}
		if d.stopBg != nil { // the control socket and the scheduled jobs
			d.stopBg()
			d.bg.Wait()
		}
	}()
	select {
	case <-stopped:
	case <-time.After(d.grace):
		d.log.Error("a control command, scheduled job or write is still running: stopping without closing the store", "waited", d.grace)
		return
	}
	if err := d.st.Close(); err != nil {
		d.log.Error("close store", "err", err)
	}
}

// reloadOnHangup reads the SMTP certificate again on each SIGHUP on hup,
// which signal.Notify feeds, until ctx is done (systemctl reload; a renewal hook). serve takes SIGHUP whether or
// not it has a certificate: its default would end the daemon, which is never
// what an operator reloading it means.
func reloadOnHangup(ctx context.Context, hup chan os.Signal, cert *smtpd.CertFile, log *slog.Logger) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if cert == nil {
			log.Info("SIGHUP: nothing to reload (no smtp.tls_cert)")
			continue
		}
		// Reload logs what it loaded, or why not.
		cert.Reload()
	}
}

// runTicks runs the scheduled jobs at start and then every interval until
// ctx is done.
func runTicks(ctx context.Context, engine *workflow.Engine, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		tickOnce(ctx, engine, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tickOnce runs the scheduled jobs once. A panic in them is recovered and
// logged with its stack, so that one bad tick does not stop the schedule:
// the next tick tries again.
func tickOnce(ctx context.Context, engine *workflow.Engine, log *slog.Logger) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("tick panic", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if _, err := engine.Tick(ctx, time.Now()); err != nil && ctx.Err() == nil {
		log.Error("scheduled jobs", "err", err)
	}
}

// newSender builds the outbound sender the configuration asks for, and says
// where mail goes for the startup log.
func newSender(cfg *Config) (outbound.Sender, string, error) {
	switch cfg.Outbound.Mode {
	case OutboundSMTP:
		host, _, err := net.SplitHostPort(cfg.Outbound.Smarthost)
		if err != nil {
			return nil, "", fmt.Errorf("outbound smarthost %q: %w", cfg.Outbound.Smarthost, err)
		}
		return &outbound.SMTPSender{
			Addr: cfg.Outbound.Smarthost, HeloName: hostnameOr(host), Username: cfg.Outbound.Username,
			Password: cfg.Outbound.Password, StartTLS: cfg.Outbound.StartTLS, Timeout: cfg.Outbound.Timeout.Duration,
		}, "smtp://" + cfg.Outbound.Smarthost, nil
	default:
		return &outbound.FileSender{Dir: cfg.Outbound.Dir}, cfg.Outbound.Dir, nil
	}
}

// hostnameOr is this machine's name for EHLO, or fallback.
func hostnameOr(fallback string) string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return fallback
}
