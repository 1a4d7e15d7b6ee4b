package workflow_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/mail/smtpd"
	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// rig is a gateway under test: a real bbolt store in a temp dir, the engine,
// and turnmail's SMTP server on a loopback port.
type rig struct {
	t      testing.TB
	path   string // the bbolt file
	cfg    workflow.Config
	st     *store.Store
	eng    *workflow.Engine
	tag    *tag.Tagger
	addr   string
	fault  *faultSwitch
	seen   uint64 // highest outbound id already returned by newMail
	clock  time.Time
	clockM sync.Mutex
}

// faultSwitch fails the store's next write transactions while on.
type faultSwitch struct {
	mu     sync.Mutex
	on     bool
	failed int // write transactions failed so far
	txs    int // write transactions begun so far
}

func (f *faultSwitch) set(on bool) { f.mu.Lock(); f.on = on; f.mu.Unlock() }
func (f *faultSwitch) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txs++
	if f.on {
		f.failed++
		return errors.New("injected store failure")
	}
	return nil
}

type rigOptions struct {
	outOfTurn string
	allowed   []string
	maxBytes  int64
	// The scheduler's settings, as workflow.Config has them.
	summary        workflow.SummaryConfig
	reminders      workflow.ReminderConfig
	retention      workflow.RetentionConfig
	unsubscribeURL func(address string) string
	maxAttach      int64     // workflow.Config.MaxAttachmentBytes
	clock          time.Time // the engine's clock before its first reading; zero: 2026-11-02 09:00 UTC
	// The [security] settings; trusted defaults to mx.gw.test, the
	// authserv-id of the MTA the tests pretend stands in front.
	trusted         []string
	unauthenticated string
}

// trustedMX is the authserv-id the rig trusts by default.
const trustedMX = "mx.gw.test"

// dmarcPass is the Authentication-Results field the trusted MTA adds for a
// mail from domain that passes DMARC.
func dmarcPass(domain string) string {
	return "Authentication-Results: " + trustedMX + "; spf=pass smtp.mailfrom=" + domain + "; dmarc=pass header.from=" + domain
}

func newRig(t testing.TB, opts rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, path: filepath.Join(t.TempDir(), "turnmail.db"), fault: &faultSwitch{}, clock: opts.clock}
	if r.clock.IsZero() {
		r.clock = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	}
	// The store's clock is the engine's, so that a purge "months later"
	// finds the blobs as old as the rig's mail made them.
	st, err := store.Open(r.path, &store.Options{Fault: r.fault.check, Now: r.peek})
	if err != nil {
		t.Fatal(err)
	}
	r.st = st
	r.tag, err = tag.NewTagger("collab@gw.test", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, nil))
	}
	if opts.trusted == nil {
		opts.trusted = []string{trustedMX}
	}
	r.cfg = workflow.Config{OutOfTurn: opts.outOfTurn, AllowedSenders: opts.allowed, Now: r.now, Summary: opts.summary, Reminders: opts.reminders, Retention: opts.retention, UnsubscribeURL: opts.unsubscribeURL, MaxAttachmentBytes: opts.maxAttach,
		TrustedAuthservIDs: opts.trusted, Unauthenticated: opts.unauthenticated}
	eng := workflow.New(st, r.tag, r.cfg, log)
	r.eng = eng
	if opts.maxBytes == 0 {
		opts.maxBytes = 10 << 20
	}
	srv := smtpd.NewServer(smtpd.Config{MaxMessageBytes: opts.maxBytes, SpoolDir: t.TempDir(), MaxPerSenderHour: -1}, r.tag, eng, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		st.Close()
	})
	return r
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// now is the engine's clock: an hour later at every call, so turns have
// distinct times.
func (r *rig) now() time.Time {
	r.clockM.Lock()
	defer r.clockM.Unlock()
	r.clock = r.clock.Add(time.Hour)
	return r.clock
}

// peek reads the engine's clock without moving it.
func (r *rig) peek() time.Time {
	r.clockM.Lock()
	defer r.clockM.Unlock()
	return r.clock
}

// setClock makes t the engine's next reading of its clock.
func (r *rig) setClock(t time.Time) {
	r.clockM.Lock()
	defer r.clockM.Unlock()
	r.clock = t.Add(-time.Hour) // now adds the hour back
}

// send delivers raw over SMTP with go-smtp's client and returns the server's
// answer to DATA (nil for 250), or to the first RCPT it refuses.
func (r *rig) send(from string, rcpts []string, raw []byte) error {
	return r.sendStream(from, rcpts, func(w io.Writer) error {
		_, err := w.Write(raw)
		return err
	})
}

// sendStream is send with the message written by write as it goes, so that
// a large message need not exist in memory on the client side.
func (r *rig) sendStream(from string, rcpts []string, write func(io.Writer) error) error {
	c, err := smtp.Dial(r.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// mustSend sends m from its From to rcpts and fails the test on anything but 250.
func (r *rig) mustSend(m *testMail, rcpts ...string) {
	r.t.Helper()
	if err := r.send(m.from, rcpts, m.bytes()); err != nil {
		r.t.Fatalf("send %q: %v", m.subject, err)
	}
}

// sent is one queued outbound mail, rendered and parsed back as a mail
// client would see it.
type sent struct {
	kind string
	out  *store.Outbound
	msg  *message.Message
	raw  string
	atts map[string][]byte // attachment filename → bytes
}

// newMail returns the outbound mail queued since the last call, rendered
// through mail.WriteMessage and parsed back.
func (r *rig) newMail() []*sent {
	r.t.Helper()
	var outs []*store.Outbound
	err := r.st.View(func(tx *store.Tx) error {
		return tx.Outbounds(func(o *store.Outbound) error {
			if o.ID > r.seen {
				outs = append(outs, o)
			}
			return nil
		})
	})
	if err != nil {
		r.t.Fatal(err)
	}
	var res []*sent
	for _, o := range outs {
		r.seen = max(r.seen, o.ID)
		var buf bytes.Buffer
		if err := message.WriteMessage(&buf, &o.Msg, r.st); err != nil {
			r.t.Fatalf("render outbound %d: %v", o.ID, err)
		}
		msg, err := message.Parse(bytes.NewReader(buf.Bytes()), r.st, nil)
		if err != nil {
			r.t.Fatalf("parse outbound %d back: %v", o.ID, err)
		}
		s := &sent{kind: o.Kind, out: o, msg: msg, raw: buf.String(), atts: map[string][]byte{}}
		for _, a := range msg.Attachments {
			s.atts[a.Filename] = r.blob(a.Blob.Digest)
		}
		res = append(res, s)
	}
	return res
}

func (r *rig) blob(digest string) []byte {
	r.t.Helper()
	rc, err := r.st.OpenBlob(digest)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// to picks the mail sent to addr; it fails the test unless exactly one was.
func to(t testing.TB, mails []*sent, addr string) *sent {
	t.Helper()
	var found []*sent
	for _, m := range mails {
		if m.out.Msg.To.Addr == addr {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want 1 mail to %s, got %d (of %s)", addr, len(found), describe(mails))
	}
	return found[0]
}

func describe(mails []*sent) string {
	var s []string
	for _, m := range mails {
		s = append(s, m.kind+"→"+m.out.Msg.To.Addr)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// recipients lists who got mail, sorted by send order.
func recipients(mails []*sent) []string {
	var s []string
	for _, m := range mails {
		s = append(s, m.out.Msg.To.Addr)
	}
	return s
}

// collab returns the only collaboration, or the one with id.
func (r *rig) collab() *store.Collab {
	r.t.Helper()
	var cs []*store.Collab
	if err := r.st.View(func(tx *store.Tx) (err error) { cs, err = tx.Collabs(); return err }); err != nil {
		r.t.Fatal(err)
	}
	if len(cs) != 1 {
		r.t.Fatalf("want 1 collaboration, got %d", len(cs))
	}
	return cs[0]
}

func (r *rig) turns(cid string) []*store.Turn {
	r.t.Helper()
	var ts []*store.Turn
	if err := r.st.View(func(tx *store.Tx) (err error) { ts, err = tx.Turns(cid); return err }); err != nil {
		r.t.Fatal(err)
	}
	return ts
}

// versions returns the versions of the collaboration's document named name.
func (r *rig) versions(cid, name string) []*store.Version {
	r.t.Helper()
	var vs []*store.Version
	err := r.st.View(func(tx *store.Tx) error {
		docs, err := tx.Documents(cid)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.Name == name {
				vs, err = tx.Versions(cid, d.ID)
				return err
			}
		}
		return fmt.Errorf("no document %q", name)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return vs
}

func (r *rig) inbound() []*store.Inbound {
	r.t.Helper()
	var ins []*store.Inbound
	err := r.st.View(func(tx *store.Tx) error {
		return tx.Inbounds(func(in *store.Inbound) error { ins = append(ins, in); return nil })
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return ins
}

// testMail builds a mail as a mail client would send it.
type testMail struct {
	from, subject, msgid string
	fromName             string
	to, cc               []string
	inReplyTo            string
	references           []string
	body                 string
	extra                []string // further header lines
	files                []testFile
}

type testFile struct {
	name string
	data []byte
}

func (m *testMail) bytes() []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	from := m.from
	if m.fromName != "" {
		from = fmt.Sprintf("%s <%s>", m.fromName, m.from)
	}
	w("From: %s", from)
	if len(m.to) > 0 {
		w("To: %s", strings.Join(m.to, ", "))
	}
	if len(m.cc) > 0 {
		w("Cc: %s", strings.Join(m.cc, ", "))
	}
	w("Subject: %s", m.subject)
	w("Date: Mon, 02 Nov 2026 10:00:00 +0100")
	if m.msgid != "" {
		w("Message-ID: <%s>", m.msgid)
	}
	if m.inReplyTo != "" {
		w("In-Reply-To: <%s>", m.inReplyTo)
	}
	if len(m.references) > 0 {
		w("References: <%s>", strings.Join(m.references, "> <"))
	}
	for _, h := range m.extra {
		w("%s", h)
	}
	w("MIME-Version: 1.0")
	body := strings.ReplaceAll(m.body, "\n", "\r\n")
	if len(m.files) == 0 {
		w("Content-Type: text/plain; charset=utf-8")
		w("")
		b.WriteString(body + "\r\n")
		return b.Bytes()
	}
	w("Content-Type: multipart/mixed; boundary=\"b1\"")
	w("")
	w("--b1")
	w("Content-Type: text/plain; charset=utf-8")
	w("")
	b.WriteString(body + "\r\n")
	for _, f := range m.files {
		w("--b1")
		w("Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document")
		w("Content-Disposition: attachment; filename=\"%s\"", f.name)
		w("Content-Transfer-Encoding: base64")
		w("")
		enc := base64.StdEncoding.EncodeToString(f.data)
		for len(enc) > 76 {
			w("%s", enc[:76])
			enc = enc[76:]
		}
		w("%s", enc)
	}
	w("--b1--")
	return b.Bytes()
}

// fileData is deterministic content standing in for a document's state.
func fileData(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// smtpCode extracts the reply code and enhanced code of an SMTP error.
func smtpCode(t testing.TB, err error) (int, smtp.EnhancedCode) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("want an SMTP error, got %v", err)
	}
	return se.Code, se.EnhancedCode
}
