package imappoll

// The IMAP poller's tests run against go-imap's in-memory server on loopback
// or, with TURNMAIL_TEST_DOVECOT=1, against a real Dovecot at DOVECOT_ADDR
// (default 127.0.0.1:10143) as DOVECOT_USER / DOVECOT_PASS (default
// test@example.com / secret), which ../shared/rig/start-dovecot.sh starts.
// Each test works in mailboxes of its own, so they never see each other's mail.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-message/textproto"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/internal/mailtest"
)

// imapTestPassword is the in-memory server's password, distinctive enough to
// grep the logs for.
const imapTestPassword = "pw-Zq8-s3cret-7Hk"

// imapTestServer is where a test's mailboxes live.
type imapTestServer struct {
	addr, user, pass string
	dovecot          bool
}

// newIMAPTestServer returns Dovecot when TURNMAIL_TEST_DOVECOT=1, else a new
// in-memory server offering caps (nil: IMAP4rev2, which has MOVE, UIDPLUS
// and IDLE). A test that needs other capabilities is skipped on Dovecot.
func newIMAPTestServer(t *testing.T, caps imap.CapSet) *imapTestServer {
	t.Helper()
	switch os.Getenv("TURNMAIL_TEST_DOVECOT") {
	case "", "0":
	case "1":
		if caps != nil {
			t.Skip("needs an in-memory server with other capabilities than Dovecot's")
		}
		return &imapTestServer{
			addr:    imapEnv("DOVECOT_ADDR", "127.0.0.1:10143"),
			user:    imapEnv("DOVECOT_USER", "test@example.com"),
			pass:    imapEnv("DOVECOT_PASS", "secret"),
			dovecot: true,
		}
	default:
		t.Fatal("TURNMAIL_TEST_DOVECOT must be 0 or 1")
	}
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	return &imapTestServer{addr: startIMAPMem(t, caps, nil, false), user: "test-user", pass: imapTestPassword}
}

func imapEnv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// startIMAPMem serves a new in-memory IMAP server on loopback and returns its
// address. With tlsConfig it offers STARTTLS, or speaks TLS from the start
// when implicit.
func startIMAPMem(t *testing.T, caps imap.CapSet, tlsConfig *tls.Config, implicit bool) string {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("test-user", imapTestPassword)
	user.Create("INBOX", nil)
	mem.AddUser(user)
	opts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: tlsConfig == nil,
		Logger:       log.New(io.Discard, "", 0), // cut connections are the point of some tests
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, tlsConfig)
	} else {
		opts.TLSConfig = tlsConfig
	}
	srv := imapserver.New(opts)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// client returns a logged-in client for setting up and checking mailboxes.
func (srv *imapTestServer) client(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(srv.user, srv.pass).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// account creates a mailbox of the test's own and returns an account
// watching it, with done and failed mailboxes the poller is to create. All
// three are deleted when the test ends.
func (srv *imapTestServer) account(t *testing.T, c *imapclient.Client) Account {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	mbox := "tm" + hex.EncodeToString(b[:])
	if err := c.Create(mbox, nil).Wait(); err != nil {
		t.Fatalf("create %s: %v", mbox, err)
	}
	acct := Account{
		Name:          "test:" + mbox,
		Addr:          srv.addr,
		TLS:           "none",
		Username:      srv.user,
		Password:      srv.pass,
		Mailbox:       mbox,
		DoneMailbox:   mbox + "-done",
		FailedMailbox: mbox + "-failed",
		IDLE:          true,
		PollInterval:  time.Hour, // the first pass, IDLE or a test's own setting find mail
		SpoolDir:      t.TempDir(),
	}
	t.Cleanup(func() {
		if srv.dovecot {
			c.Unselect().Wait()
			for _, m := range []string{acct.Mailbox, acct.DoneMailbox, acct.FailedMailbox} {
				c.Delete(m).Wait()
			}
		}
	})
	return acct
}

// imapTestMail returns a small message; header holds further fields.
func imapTestMail(id, header string) []byte {
	return []byte("From: Alice <alice@acme.example>\r\nTo: collab@gw.example\r\n" + header +
		"Message-ID: <" + id + "@test.example>\r\nSubject: " + id + "\r\n\r\nHello from " + id + ".\r\n")
}

// imapAppend appends messages to mbox in order, pipelined.
func imapAppend(t *testing.T, c *imapclient.Client, mbox string, opts *imap.AppendOptions, msgs ...[]byte) {
	t.Helper()
	const batch = 200
	for len(msgs) > 0 {
		n := min(batch, len(msgs))
		cmds := make([]*imapclient.AppendCommand, 0, n)
		for _, m := range msgs[:n] {
			cmd := c.Append(mbox, int64(len(m)), opts)
			cmd.Write(m)
			cmd.Close()
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			if _, err := cmd.Wait(); err != nil {
				t.Fatalf("append to %s: %v", mbox, err)
			}
		}
		msgs = msgs[n:]
	}
}

// imapMessage is a message as the tests see it in a mailbox.
type imapMessage struct {
	uid   imap.UID
	id    string // Message-ID without <>
	flags []imap.Flag
}

// imapContents lists the messages of mbox in UID order.
func imapContents(t *testing.T, c *imapclient.Client, mbox string) []imapMessage {
	t.Helper()
	// While the poller works on the mailbox, the server may announce a flag
	// change of a message before answering the fetch for it: imapclient
	// hands the announcement to the command and the answer elsewhere. Ask
	// again then.
	for range 10 {
		data, err := c.Select(mbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %s: %v", mbox, err)
		}
		if data.NumMessages == 0 {
			return nil
		}
		bufs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true, Flags: true}).Collect()
		if err != nil {
			t.Fatalf("fetch %s: %v", mbox, err)
		}
		var msgs []imapMessage
		for _, b := range bufs {
			if b.Envelope == nil {
				msgs = nil
				break
			}
			msgs = append(msgs, imapMessage{uid: b.UID, id: b.Envelope.MessageID, flags: b.Flags})
		}
		if msgs != nil {
			slices.SortFunc(msgs, func(a, b imapMessage) int { return int(a.uid) - int(b.uid) })
			return msgs
		}
	}
	t.Fatalf("no complete listing of %s", mbox)
	return nil
}

// imapHasFlag reports whether m has flag f; flags are case-insensitive
// (RFC 9051 §2.3.2), and servers do change their case.
func imapHasFlag(m imapMessage, f imap.Flag) bool {
	return slices.ContainsFunc(m.flags, func(g imap.Flag) bool { return strings.EqualFold(string(f), string(g)) })
}

// imapIDs returns the Message-IDs of msgs.
func imapIDs(msgs []imapMessage) []string {
	var ids []string
	for _, m := range msgs {
		ids = append(ids, strings.TrimSuffix(m.id, "@test.example"))
	}
	return ids
}

// waitContents waits until mbox holds exactly the messages want, by id.
func waitContents(t *testing.T, c *imapclient.Client, mbox string, want ...string) []imapMessage {
	t.Helper()
	var msgs []imapMessage
	mailtest.WaitFor(t, fmt.Sprintf("%s to hold %q", mbox, want), func() bool {
		msgs = imapContents(t, c, mbox)
		return slices.Equal(imapIDs(msgs), want)
	})
	return msgs
}

// imapDelivery is one call of imapRecorder.Deliver.
type imapDelivery struct {
	env    mail.Envelope
	id     string // Message-ID without <> and the test domain
	digest string
	size   int64
	err    error
}

// imapRecorder is a Deliverer that records what it is given. It fails the
// first fail[id] deliveries of a message, and says the ones in unprocessable
// could not be applied.
type imapRecorder struct {
	mu            sync.Mutex
	calls         []imapDelivery
	fail          map[string]int
	unprocessable map[string]bool
	// hooks decide every delivery of a message: set before the poller
	// runs, called without the lock.
	hooks  map[string]func(ctx context.Context) error
	notify chan struct{}
}

var errIMAPTestStore = errors.New("store unavailable")

func newIMAPRecorder() *imapRecorder {
	return &imapRecorder{fail: map[string]int{}, unprocessable: map[string]bool{}, hooks: map[string]func(context.Context) error{},
		notify: make(chan struct{}, 1)}
}

func (r *imapRecorder) Deliver(ctx context.Context, env mail.Envelope, msg *mail.Spool) (mail.Result, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(msg.Reader()))
	if err != nil {
		return mail.Result{}, err
	}
	d := imapDelivery{
		env:    env,
		id:     strings.TrimSuffix(strings.Trim(h.Get("Message-Id"), "<>"), "@test.example"),
		digest: msg.Digest(),
		size:   msg.Size(),
	}
	if hook := r.hooks[d.id]; hook != nil {
		d.err = hook(ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[d.id] > 0 {
		r.fail[d.id]--
		d.err = errIMAPTestStore
	}
	r.calls = append(r.calls, d)
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return mail.Result{Outcome: "recorded", Unprocessable: r.unprocessable[d.id]}, d.err
}

// delivered returns the successful deliveries, in order.
func (r *imapRecorder) delivered() []imapDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ok []imapDelivery
	for _, d := range r.calls {
		if d.err == nil {
			ok = append(ok, d)
		}
	}
	return ok
}

// ids returns the ids of the successful deliveries, in order.
func (r *imapRecorder) ids() []string {
	var ids []string
	for _, d := range r.delivered() {
		ids = append(ids, d.id)
	}
	return ids
}

// wait waits until n deliveries succeeded, for at most within.
// waitProgress waits for n deliveries, failing only when none came for
// stall: a throughput test must not fail a slow machine, only a stuck poller.
func (r *imapRecorder) waitProgress(t *testing.T, n int, stall time.Duration) {
	t.Helper()
	timer := time.NewTimer(stall)
	defer timer.Stop()
	for len(r.delivered()) < n {
		select {
		case <-r.notify:
			timer.Reset(stall)
		case <-timer.C:
			t.Fatalf("%d deliveries, and none for %v, want %d", len(r.delivered()), stall, n)
		}
	}
}

func (r *imapRecorder) wait(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for len(r.delivered()) < n {
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("%d deliveries after %v, want %d: %q", len(r.delivered()), within, n, r.ids())
		}
	}
}

// imapMemCursor is an Cursor in memory, with the store's semantics.
type imapMemCursor struct {
	mu sync.Mutex
	m  map[string][4]uint32 // UIDVALIDITY, last UID, UID tried, tries
}

func newIMAPMemCursor() *imapMemCursor { return &imapMemCursor{m: map[string][4]uint32{}} }

func (c *imapMemCursor) IMAPCursor(account, mailbox string) (uint32, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[account+"\x00"+mailbox]
	return v[0], v[1], nil
}

func (c *imapMemCursor) SetIMAPCursor(account, mailbox string, uidValidity, lastUID uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[account+"\x00"+mailbox] = [4]uint32{uidValidity, lastUID}
	return nil
}

func (c *imapMemCursor) IMAPTries(account, mailbox string, uidValidity, uid uint32) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[account+"\x00"+mailbox]
	if v[0] != uidValidity || v[2] != uid {
		return 0, nil
	}
	return int(v[3]), nil
}

func (c *imapMemCursor) SetIMAPTries(account, mailbox string, uidValidity, uid uint32, tries int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[account+"\x00"+mailbox]
	if v[0] != uidValidity {
		v = [4]uint32{uidValidity}
	}
	v[2], v[3] = uid, uint32(tries)
	c.m[account+"\x00"+mailbox] = v
	return nil
}

// waitCursor waits until the cursor of acct's mailbox is at uid, and
// returns its UIDVALIDITY.
func waitCursor(t *testing.T, cur Cursor, acct Account, uid uint32) (validity uint32) {
	t.Helper()
	mailtest.WaitFor(t, fmt.Sprintf("the cursor at UID %d", uid), func() bool {
		var last uint32
		validity, last, _ = cur.IMAPCursor(acct.Name, acct.Mailbox)
		return last == uid
	})
	return validity
}

// imapLogs collects a poller's log lines.
type imapLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *imapLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *imapLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger returns a logger writing to l, shown when the test fails.
func (l *imapLogs) logger(t *testing.T) *slog.Logger {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("poller log:\n%s", l)
		}
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runPoller runs p until the returned stop is called or the test ends.
func runPoller(t *testing.T, p *Poller) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return stop
}

func TestIMAPOldMessagesAndRestart(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	imapAppend(t, c, acct.Mailbox, nil,
		imapTestMail("m1", "Return-Path: <bounces@acme.example>\r\n"),
		imapTestMail("m2", "Return-Path: <>\r\n"),
		imapTestMail("m3", ""))
	rec, cur := newIMAPRecorder(), newIMAPMemCursor()
	stop := runPoller(t, NewPoller(acct, rec, cur, nil))
	rec.wait(t, 3, 10*time.Second)
	waitContents(t, c, acct.Mailbox)
	done := waitContents(t, c, acct.DoneMailbox, "m1", "m2", "m3")
	for _, m := range done {
		if slices.Contains(m.flags, imap.FlagSeen) {
			t.Errorf("%s is \\Seen: fetched without PEEK", m.id)
		}
	}
	for i, d := range rec.delivered() {
		if d.env.Source != "imap" || d.env.ID == "" || len(d.env.Recipients) != 0 || d.env.Received.IsZero() {
			t.Errorf("envelope of %s: %+v", d.id, d.env)
		}
		if want := []string{"bounces@acme.example", "", ""}[i]; d.env.From != want {
			t.Errorf("envelope From of %s = %q, want %q", d.id, d.env.From, want)
		}
	}
	stop()

	// Mail that arrives while the poller is stopped is handled at the next
	// Run, and only that mail: the cursor remembers the rest.
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("m4", ""), imapTestMail("m5", ""))
	runPoller(t, NewPoller(acct, rec, cur, nil))
	rec.wait(t, 5, 10*time.Second)
	waitContents(t, c, acct.DoneMailbox, "m1", "m2", "m3", "m4", "m5")
	if got := rec.ids(); !slices.Equal(got, []string{"m1", "m2", "m3", "m4", "m5"}) {
		t.Errorf("delivered %q, want each once in UID order", got)
	}
	waitCursor(t, cur, acct, 5)
}

func TestIMAPNewMail(t *testing.T) {
	tests := []struct {
		name string
		idle bool
		poll time.Duration
	}{
		// With IDLE the server's push alone must bring the message: the
		// poll interval is far beyond the test's deadline.
		{"idle", true, time.Hour},
		{"poll", false, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIMAPTestServer(t, nil)
			c := srv.client(t)
			acct := srv.account(t, c)
			acct.IDLE, acct.PollInterval = tt.idle, tt.poll
			var logs imapLogs
			rec := newIMAPRecorder()
			runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), logs.logger(t)))
			for i, id := range []string{"n1", "n2"} {
				if tt.idle {
					// A message that arrives just before IDLE starts may wait
					// for the next poll (GOTCHAS): this test is about the push.
					mailtest.WaitFor(t, "the poller to idle", func() bool { return strings.Count(logs.String(), "imap idling") > i })
				}
				imapAppend(t, c, acct.Mailbox, nil, imapTestMail(id, ""))
				rec.wait(t, i+1, 10*time.Second)
			}
			waitContents(t, c, acct.DoneMailbox, "n1", "n2")
			if tt.idle && strings.Contains(logs.String(), "imap session ended") {
				t.Errorf("the session did not last:\n%s", logs.String())
			}
		})
	}
}

func TestIMAPUIDValidityChange(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("v1", ""), imapTestMail("v2", ""))
	rec, cur := newIMAPRecorder(), newIMAPMemCursor()
	stop := runPoller(t, NewPoller(acct, rec, cur, nil))
	rec.wait(t, 2, 10*time.Second)
	waitContents(t, c, acct.DoneMailbox, "v1", "v2")
	validity := waitCursor(t, cur, acct, 2)
	stop()

	// The recreated mailbox numbers its messages from 1 again, below the
	// cursor's last UID: only the new UIDVALIDITY tells the poller.
	c.Unselect().Wait()
	if err := c.Delete(acct.Mailbox).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(acct.Mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("v3", ""))
	runPoller(t, NewPoller(acct, rec, cur, nil))
	rec.wait(t, 3, 10*time.Second)
	waitContents(t, c, acct.DoneMailbox, "v1", "v2", "v3")
	if got := rec.ids(); !slices.Equal(got, []string{"v1", "v2", "v3"}) {
		t.Errorf("delivered %q", got)
	}
	if newValidity := waitCursor(t, cur, acct, 1); newValidity == validity {
		t.Errorf("UIDVALIDITY %d unchanged by recreating the mailbox", validity)
	}
}

// imapProxy forwards connections to an IMAP server, counting the bytes the
// server sends. With cutAfter above zero it cuts the first connection once
// the server has sent that many bytes on it.
type imapProxy struct {
	addr     string
	target   string
	cutAfter int64

	mu    sync.Mutex
	down  int64 // bytes from the server, all connections
	cut   bool
	conns int
}

func startIMAPProxy(t *testing.T, target string, cutAfter int64) *imapProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &imapProxy{addr: ln.Addr().String(), target: target, cutAfter: cutAfter}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(client)
		}
	}()
	return p
}

func (p *imapProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	p.mu.Lock()
	p.conns++
	first := p.conns == 1
	p.mu.Unlock()
	go func() {
		io.Copy(server, client)
		server.Close()
	}()
	var sent int64
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if first && p.cutAfter > 0 && sent+int64(n) > p.cutAfter {
			n = int(p.cutAfter - sent)
			client.Write(buf[:n])
			p.count(int64(n), true)
			return
		}
		if _, werr := client.Write(buf[:n]); werr != nil {
			return
		}
		sent += int64(n)
		p.count(int64(n), false)
		if err != nil {
			return
		}
	}
}

func (p *imapProxy) count(n int64, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down += n
	p.cut = p.cut || cut
}

func (p *imapProxy) stats() (down int64, cut bool, conns int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down, p.cut, p.conns
}

// imapBigMail writes a message of exactly size bytes (at least 1 KB), whose
// Message-ID is id, to w.
func imapBigMail(w io.Writer, id string, size int64) error {
	head := imapTestMail(id, "")
	bw := bufio.NewWriter(w)
	bw.Write(head)
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	n := size - int64(len(head))
	for ; n > 2*int64(len(line)); n -= int64(len(line)) {
		bw.WriteString(line)
	}
	bw.WriteString(strings.Repeat("x", int(n)-2) + "\r\n")
	return bw.Flush()
}

// imapAppendBig appends a message of size bytes, streamed, and returns its
// SHA-256.
func imapAppendBig(t *testing.T, c *imapclient.Client, mbox, id string, size int64) string {
	t.Helper()
	h := sha256.New()
	cmd := c.Append(mbox, size, nil)
	if err := imapBigMail(io.MultiWriter(cmd, h), id, size); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append %s: %v", id, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestIMAPConnectionCutMidFetch(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	const size = 1 << 20
	digest := imapAppendBig(t, c, acct.Mailbox, "big", size)
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("after", ""))
	// Everything before the body (greeting, login, select, search, size)
	// is a few KB: the cut falls well inside the message.
	proxy := startIMAPProxy(t, srv.addr, size/3)
	acct.Addr = proxy.addr
	var logs imapLogs
	rec := newIMAPRecorder()
	runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), logs.logger(t)))
	rec.wait(t, 2, 20*time.Second)
	waitContents(t, c, acct.DoneMailbox, "big", "after")
	if _, cut, conns := proxy.stats(); !cut || conns < 2 {
		t.Fatalf("proxy cut %v, %d connections: the test did not test a reconnect", cut, conns)
	}
	got := rec.delivered()
	if ids := rec.ids(); !slices.Equal(ids, []string{"big", "after"}) {
		t.Fatalf("delivered %q, want big once, then after", ids)
	}
	if got[0].digest != digest || got[0].size != size {
		t.Errorf("big delivered as %d bytes %s, want %d bytes %s", got[0].size, got[0].digest, size, digest)
	}
	if !strings.Contains(logs.String(), "imap session ended") {
		t.Errorf("the cut was not logged:\n%s", logs.String())
	}
}

func TestIMAPDeliverError(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("e1", ""), imapTestMail("e2", ""))
	rec := newIMAPRecorder()
	rec.fail["e1"] = 1
	runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), nil))
	rec.wait(t, 2, 20*time.Second)
	waitContents(t, c, acct.DoneMailbox, "e1", "e2")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var calls []string
	for _, d := range rec.calls {
		calls = append(calls, fmt.Sprintf("%s:%v", d.id, d.err))
	}
	// e2 waits for e1: the cursor never passes a message not handled.
	want := []string{"e1:" + errIMAPTestStore.Error(), "e1:<nil>", "e2:<nil>"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
}

func TestIMAPFailedMailbox(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	acct.MaxMessageBytes = 64 << 10
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("ok", ""), imapTestMail("bad", ""))
	imapAppendBig(t, c, acct.Mailbox, "huge", 1<<20)
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("last", ""))
	proxy := startIMAPProxy(t, srv.addr, 0)
	acct.Addr = proxy.addr
	rec := newIMAPRecorder()
	rec.unprocessable["bad"] = true
	runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), nil))
	rec.wait(t, 3, 10*time.Second)
	waitContents(t, c, acct.FailedMailbox, "bad", "huge")
	waitContents(t, c, acct.DoneMailbox, "ok", "last")
	if got := rec.ids(); !slices.Equal(got, []string{"ok", "bad", "last"}) {
		t.Errorf("delivered %q: the message over MaxMessageBytes must not be", got)
	}
	if down, _, _ := proxy.stats(); down >= 1<<20 {
		t.Errorf("the server sent %d bytes: the message over MaxMessageBytes was fetched", down)
	}
}

// TestIMAPSenderRate: the per-sender hourly limit of the SMTP server holds
// for a watched mailbox too; the messages over it are filed as failed.
func TestIMAPSenderRate(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	acct.MaxPerSenderHour = 2
	flood := "Return-Path: <flood@x.example>\r\n"
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("f1", flood), imapTestMail("f2", flood), imapTestMail("f3", flood),
		imapTestMail("other", "Return-Path: <other@x.example>\r\n"))
	rec := newIMAPRecorder()
	runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), nil))
	rec.wait(t, 3, 10*time.Second)
	waitContents(t, c, acct.FailedMailbox, "f3")
	waitContents(t, c, acct.DoneMailbox, "f1", "f2", "other")
	if got := rec.ids(); !slices.Equal(got, []string{"f1", "f2", "other"}) {
		t.Errorf("delivered %q", got)
	}
}

func TestIMAPFiling(t *testing.T) {
	rev1 := imap.CapSet{imap.CapIMAP4rev1: {}}
	tests := []struct {
		name       string
		caps       imap.CapSet
		noMailbox  bool
		wantMoved  bool
		wantFlagOn bool
	}{
		{"move", nil, false, true, false},
		{"uidplus without move", imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}, false, true, false},
		{"neither move nor uidplus", rev1, false, false, true},
		{"no done mailbox", nil, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newIMAPTestServer(t, tt.caps)
			c := srv.client(t)
			acct := srv.account(t, c)
			if tt.noMailbox {
				acct.DoneMailbox, acct.FailedMailbox = "", ""
			}
			// A message someone else marked \Deleted is none of the
			// poller's business: no EXPUNGE of the poller's may remove it.
			imapAppend(t, c, acct.Mailbox, nil, imapTestMail("f1", ""))
			imapAppend(t, c, acct.Mailbox, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDeleted}}, imapTestMail("deleted", ""))
			imapAppend(t, c, acct.Mailbox, nil, imapTestMail("f2", ""))
			rec, cur := newIMAPRecorder(), newIMAPMemCursor()
			rec.unprocessable["f2"] = true
			stop := runPoller(t, NewPoller(acct, rec, cur, nil))
			rec.wait(t, 2, 10*time.Second)
			if tt.wantMoved {
				waitContents(t, c, acct.DoneMailbox, "f1")
				waitContents(t, c, acct.FailedMailbox, "f2")
				waitContents(t, c, acct.Mailbox, "deleted")
			} else {
				mailtest.WaitFor(t, "f2 flagged", func() bool {
					msgs := imapContents(t, c, acct.Mailbox)
					return len(msgs) == 3 && imapHasFlag(msgs[2], imapKeywordFailed)
				})
				msgs := waitContents(t, c, acct.Mailbox, "f1", "deleted", "f2")
				if !imapHasFlag(msgs[0], imapKeywordDone) || imapHasFlag(msgs[0], imapKeywordFailed) {
					t.Errorf("f1 flags %v", msgs[0].flags)
				}
			}
			stop()

			// Flagged messages stay handled even when the cursor is lost.
			imapAppend(t, c, acct.Mailbox, nil, imapTestMail("f3", ""))
			runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), nil))
			rec.wait(t, 3, 10*time.Second)
			if got := rec.ids(); !slices.Equal(got, []string{"f1", "f2", "f3"}) {
				t.Errorf("delivered %q", got)
			}
		})
	}
}

func TestIMAPTLS(t *testing.T) {
	if os.Getenv("TURNMAIL_TEST_DOVECOT") == "1" {
		t.Skip("the Dovecot rig speaks plain text only")
	}
	serverTLS, clientTLS := mailtest.SelfSigned(t)
	for _, mode := range []string{"implicit", "starttls"} {
		t.Run(mode, func(t *testing.T) {
			addr := startIMAPMem(t, imap.CapSet{imap.CapIMAP4rev2: {}}, serverTLS, mode == "implicit")
			c, err := imapclient.DialInsecure(addr, nil)
			if mode == "implicit" {
				c, err = imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: clientTLS})
			} else if err == nil {
				c.Close()
				c, err = imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: clientTLS})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := c.Login("test-user", imapTestPassword).Wait(); err != nil {
				t.Fatal(err)
			}
			imapAppend(t, c, "INBOX", nil, imapTestMail("tls", ""))
			rec := newIMAPRecorder()
			runPoller(t, NewPoller(Account{
				Name: "tls", Addr: addr, TLS: mode, TLSConfig: clientTLS,
				Username: "test-user", Password: imapTestPassword, SpoolDir: t.TempDir(),
			}, rec, newIMAPMemCursor(), nil))
			rec.wait(t, 1, 10*time.Second)
		})
	}
}

// TestIMAPSilentServer: a server that stops answering is given up on
// after the reply timeout, and the poller connects again.
func TestIMAPSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	accepted := 0
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			mu.Unlock()
			go func() {
				defer conn.Close()
				io.WriteString(conn, "* OK [CAPABILITY IMAP4rev1] hello\r\n")
				io.Copy(io.Discard, conn)
			}()
		}
	}()
	var logs imapLogs
	p := NewPoller(Account{Name: "silent", Addr: ln.Addr().String(), TLS: "none", Username: "u", Password: imapTestPassword},
		newIMAPRecorder(), newIMAPMemCursor(), logs.logger(t))
	p.timeout = 100 * time.Millisecond
	runPoller(t, p)
	mailtest.WaitFor(t, "a second connection", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return accepted >= 2
	})
	if !strings.Contains(logs.String(), errIMAPHung.Error()) {
		t.Errorf("the hang was not logged:\n%s", logs.String())
	}
}

func TestIMAPCredentialsNotLogged(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("c1", ""))
	var logs imapLogs
	log := logs.logger(t)

	wrong := acct
	wrong.Password = "wrong-Zq8-s3cret"
	log.Info("starting", "account", wrong)
	stop := runPoller(t, NewPoller(wrong, newIMAPRecorder(), newIMAPMemCursor(), log))
	mailtest.WaitFor(t, "the failed login to be logged", func() bool { return strings.Contains(logs.String(), "imap setup refused") })
	stop()

	cur := newIMAPMemCursor()
	runPoller(t, NewPoller(acct, newIMAPRecorder(), cur, log))
	waitCursor(t, cur, acct, 1)
	// The message's line comes just after the cursor moves.
	mailtest.WaitFor(t, "the message to be logged", func() bool { return strings.Contains(logs.String(), "imap message") })
	out := logs.String()
	for _, pw := range []string{acct.Password, wrong.Password} {
		if strings.Contains(out, pw) {
			t.Errorf("password %q in the logs:\n%s", pw, out)
		}
	}
	if !strings.Contains(out, "imap message") || !strings.Contains(out, "login as "+acct.Username) {
		t.Errorf("logs lack the message line or the failed login:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if !strings.Contains(line, " session=") {
			t.Errorf("no connection id on %s", line)
		}
	}
}

// imapHeapPeak samples the heap until the returned func is called, which
// returns the peak growth over the heap in use now.
func imapHeapPeak() func() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		top := base
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- top - base
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				top = max(top, ms.HeapAlloc)
			}
		}
	}()
	return func() uint64 {
		close(stop)
		return <-peak
	}
}

// TestIMAPLargeMessage streams a 30 MB message through the poller. Against
// the in-memory server the heap also holds the server's copies of it; against
// Dovecot it is the poller's alone, and must stay far below the message.
func TestIMAPLargeMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("30 MB message")
	}
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	const size = 30 << 20
	digest := imapAppendBig(t, c, acct.Mailbox, "huge", size)
	rec := newIMAPRecorder()
	peak := imapHeapPeak()
	runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), nil))
	rec.wait(t, 1, time.Minute)
	growth := peak()
	waitContents(t, c, acct.DoneMailbox, "huge")
	if d := rec.delivered()[0]; d.digest != digest || d.size != size {
		t.Errorf("delivered %d bytes %s, want %d bytes %s", d.size, d.digest, size, digest)
	}
	t.Logf("30 MiB message: peak heap growth %.1f MiB (dovecot %v)", float64(growth)/(1<<20), srv.dovecot)
	if srv.dovecot && growth > 8<<20 {
		t.Errorf("heap grew by %d bytes for a %d byte message", growth, size)
	}
}

// TestIMAPManyOldMessages: 5,000 messages waiting when the poller first
// connects are each handled once, in order, in bounded memory.
func TestIMAPManyOldMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 messages")
	}
	const n = 5000
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	msgs := make([][]byte, n)
	want := make([]string, n)
	for i := range msgs {
		want[i] = fmt.Sprintf("old%05d", i)
		msgs[i] = imapTestMail(want[i], "")
	}
	start := time.Now()
	imapAppend(t, c, acct.Mailbox, nil, msgs...)
	appended := time.Since(start)
	rec := newIMAPRecorder()
	peak := imapHeapPeak()
	start = time.Now()
	runPoller(t, NewPoller(acct, rec, newIMAPMemCursor(), nil))
	// However long it takes on a busy machine (Dovecot under -race on a
	// loaded CI host did 4,771 in five minutes), as long as it keeps going.
	rec.waitProgress(t, n, time.Minute)
	took := time.Since(start)
	growth := peak()
	if got := rec.ids(); !slices.Equal(got, want) {
		t.Errorf("delivered %d messages, want %d once each in UID order", len(got), n)
	}
	mailtest.WaitFor(t, "the mailbox to empty", func() bool {
		data, err := c.Status(acct.Mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		return err == nil && *data.NumMessages == 0
	})
	t.Logf("%d messages: appended in %v, handled in %v (%.0f/s), peak heap growth %.1f MiB (dovecot %v)",
		n, appended.Round(time.Millisecond), took.Round(time.Millisecond), n/took.Seconds(), float64(growth)/(1<<20), srv.dovecot)
	if srv.dovecot && growth > 16<<20 {
		t.Errorf("heap grew by %d bytes", growth)
	}
}

// imapCalls returns the ids of every delivery tried, failed ones included,
// in order.
func (r *imapRecorder) callIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, d := range r.calls {
		ids = append(ids, d.id)
	}
	return ids
}

// TestIMAPRejection: a message the Deliverer refuses for good goes to the
// failed mailbox at once, and the one behind it is delivered.
func TestIMAPRejection(t *testing.T) {
	srv := newIMAPTestServer(t, nil)
	c := srv.client(t)
	acct := srv.account(t, c)
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("r1", ""), imapTestMail("ok", ""))
	rec := newIMAPRecorder()
	rec.hooks["r1"] = func(context.Context) error {
		return fmt.Errorf("apply: %w", &mail.Rejection{Code: 552, Enhanced: [3]int{5, 3, 4}, Reason: "the message has more than 500 parts"})
	}
	logs := &imapLogs{}
	cur := newIMAPMemCursor()
	last := imapContents(t, c, acct.Mailbox)[1].uid
	runPoller(t, NewPoller(acct, rec, cur, logs.logger(t)))
	waitCursor(t, cur, acct, uint32(last))
	waitContents(t, c, acct.FailedMailbox, "r1")
	waitContents(t, c, acct.DoneMailbox, "ok")
	if got := rec.callIDs(); !slices.Equal(got, []string{"r1", "ok"}) {
		t.Errorf("deliveries %q: a rejected message is not tried again", got)
	}
	if !strings.Contains(logs.String(), "imap message rejected") {
		t.Errorf("the rejection was not logged:\n%s", logs)
	}
}

// TestIMAPGivesUp: a message whose delivery keeps failing, in any way, goes
// to the failed mailbox after imapMaxTries, each try logged, and no longer
// blocks the one behind it.
func TestIMAPGivesUp(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name string
		hook func(ctx context.Context) error
	}{
		{"error", func(context.Context) error { return errIMAPTestStore }},
		{"panic", func(context.Context) error { panic("boom") }},
		{"deadline", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{"hang", func(context.Context) error { <-release; return errors.New("released") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newIMAPTestServer(t, nil)
			c := srv.client(t)
			acct := srv.account(t, c)
			acct.DeliverTimeout = 200 * time.Millisecond
			imapAppend(t, c, acct.Mailbox, nil, imapTestMail("stuck", ""), imapTestMail("next", ""))
			rec := newIMAPRecorder()
			rec.hooks["stuck"] = tc.hook
			logs := &imapLogs{}
			cur := newIMAPMemCursor()
			last := imapContents(t, c, acct.Mailbox)[1].uid
			p := NewPoller(acct, rec, cur, logs.logger(t))
			p.backoff = 10 * time.Millisecond
			runPoller(t, p)
			waitCursor(t, cur, acct, uint32(last))
			waitContents(t, c, acct.FailedMailbox, "stuck")
			waitContents(t, c, acct.DoneMailbox, "next")
			if got := rec.ids(); !slices.Equal(got, []string{"next"}) {
				t.Errorf("delivered %q, want only next", got)
			}
			// Each try is logged: the recorder cannot see those that
			// panicked or hung.
			for try := 1; try <= imapMaxTries+1; try++ {
				logged := strings.Contains(logs.String(), fmt.Sprintf("try=%d max_tries=%d", try, imapMaxTries))
				if logged != (try <= imapMaxTries) {
					t.Errorf("try %d logged: %v", try, logged)
				}
			}
		})
	}
}

// TestIMAPTriesAcrossRestarts: tries that never ended (the process died or
// was killed while a delivery hung) count too, after a restart; and a try
// cut short by stopping the poller does not.
func TestIMAPTriesAcrossRestarts(t *testing.T) {
	tests := []struct {
		name      string
		died      int  // tries begun by earlier processes
		delivered bool // the next try is made, and succeeds
	}{
		{"died once", 1, true},
		{"died twice", imapMaxTries - 1, true},
		{"died every time", imapMaxTries, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIMAPTestServer(t, nil)
			c := srv.client(t)
			acct := srv.account(t, c)
			imapAppend(t, c, acct.Mailbox, nil, imapTestMail("killer", ""), imapTestMail("next", ""))
			st, err := c.Status(acct.Mailbox, &imap.StatusOptions{UIDValidity: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			msgs := imapContents(t, c, acct.Mailbox)
			first, last := msgs[0].uid, msgs[1].uid
			cur := newIMAPMemCursor()
			cur.SetIMAPCursor(acct.Name, acct.Mailbox, st.UIDValidity, uint32(first)-1)
			cur.SetIMAPTries(acct.Name, acct.Mailbox, st.UIDValidity, uint32(first), tc.died)
			rec := newIMAPRecorder()
			runPoller(t, NewPoller(acct, rec, cur, nil))
			waitCursor(t, cur, acct, uint32(last))
			if tc.delivered {
				waitContents(t, c, acct.DoneMailbox, "killer", "next")
				if got := rec.callIDs(); !slices.Equal(got, []string{"killer", "next"}) {
					t.Errorf("deliveries %q", got)
				}
				return
			}
			waitContents(t, c, acct.FailedMailbox, "killer")
			waitContents(t, c, acct.DoneMailbox, "next")
			if got := rec.callIDs(); !slices.Equal(got, []string{"next"}) {
				t.Errorf("deliveries %q: a message given up is not tried again", got)
			}
		})
	}

	t.Run("stopped mid-delivery", func(t *testing.T) {
		srv := newIMAPTestServer(t, nil)
		c := srv.client(t)
		acct := srv.account(t, c)
		imapAppend(t, c, acct.Mailbox, nil, imapTestMail("slow", ""))
		uid := imapContents(t, c, acct.Mailbox)[0].uid
		started := make(chan struct{})
		rec := newIMAPRecorder()
		rec.hooks["slow"] = func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}
		cur := newIMAPMemCursor()
		stop := runPoller(t, NewPoller(acct, rec, cur, nil))
		<-started
		stop()
		validity, _, _ := cur.IMAPCursor(acct.Name, acct.Mailbox)
		if n, _ := cur.IMAPTries(acct.Name, acct.Mailbox, validity, uint32(uid)); n != 0 {
			t.Errorf("%d tries counted for a delivery stopped from outside", n)
		}
	})
}
