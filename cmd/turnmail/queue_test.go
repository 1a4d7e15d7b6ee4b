package main

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// queueJSON runs turnmail queue --json and decodes it, the field names
// checked as well.
func queueJSON(t *testing.T, configPath string) []queueEntry {
	t.Helper()
	code, out, errs := runCLI(t, "queue", "--json", "--config", configPath)
	if code != 0 {
		t.Fatalf("queue --json: exit %d: %s", code, errs)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("queue --json: %v\n%s", err, out)
	}
	// The names are a stable interface (issue 10).
	for _, e := range raw {
		for _, k := range []string{"id", "to", "kind", "state", "attempts", "next_attempt", "last_error"} {
			if _, ok := e[k]; !ok {
				t.Errorf("queue --json entry without %q: %v", k, e)
			}
		}
	}
	var list []queueEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

// TestQueue: list, retry and drop on the data directory, serve not running.
func TestQueue(t *testing.T) {
	env := newTestEnv(t)
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	st := openTestStore(t, env.cfg)
	err := st.Update(func(tx *store.Tx) error {
		for _, to := range []string{"bob@axe.com", "carol@acme.com", "dave@axe.com", "erin@axe.com"} {
			o := &store.Outbound{Collab: fixtureID, Kind: "handoff", Created: t0, NextTry: next,
				Msg: mail.Outgoing{MessageID: to + ".id@gw", To: mail.Address{Addr: to}, Subject: "Your turn: Services agreement"}}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRetry(1, next, "451 4.2.2 mailbox full"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(2, t1, "smtp to 127.0.0.1:25: rcpt to: 550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkSent(3, t1); err != nil {
		t.Fatal(err)
	}
	st.Close()

	list := queueJSON(t, env.configPath)
	if len(list) != 3 {
		t.Fatalf("queue lists %d messages, want the queued and the failed ones: %+v", len(list), list)
	}
	if e := list[0]; e.ID != 1 || e.To != "bob@axe.com" || e.Kind != "handoff" || e.State != "queued" || e.Attempts != 1 ||
		e.NextAttempt == nil || !e.NextAttempt.Equal(next) || e.LastError != "451 4.2.2 mailbox full" || e.Collab != fixtureID {
		t.Errorf("queued entry: %+v", e)
	}
	if e := list[1]; e.ID != 2 || e.State != "failed" || e.NextAttempt != nil || !strings.Contains(e.LastError, "550 5.1.1") {
		t.Errorf("failed entry: %+v", e)
	}
	if list[2].ID != 4 {
		t.Errorf("third entry: %+v, want outbound 4", list[2])
	}

	code, out, errs := runCLI(t, "queue", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("queue: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID  STATE   ATTEMPTS  NEXT ATTEMPT") {
		t.Fatalf("queue:\n%s", out)
	}
	// Aligned: every column starts where its heading does.
	col := strings.Index(lines[0], "TO")
	for _, l := range lines[1:] {
		if !strings.HasSuffix(strings.TrimRight(l[:col], " "), "handoff") || !strings.Contains(l[col:], "@") {
			t.Errorf("line not aligned under TO at %d: %q", col, l)
		}
	}
	if !strings.Contains(lines[2], "failed") || !strings.Contains(lines[2], "  -  ") {
		t.Errorf("failed line: %q", lines[2])
	}

	code, out, errs = runCLI(t, "queue", "retry", "2", "--config", env.configPath)
	if code != 0 || out != "outbound 2 to carol@acme.com: queued, due now\n" {
		t.Fatalf("retry: exit %d: %q %s", code, out, errs)
	}
	code, out, errs = runCLI(t, "queue", "drop", "--config", env.configPath, "4")
	if code != 0 || out != "outbound 4 to erin@axe.com: dropped\n" {
		t.Fatalf("drop: exit %d: %q %s", code, out, errs)
	}
	list = queueJSON(t, env.configPath)
	if len(list) != 2 || list[1].ID != 2 || list[1].State != "queued" || list[1].NextAttempt == nil || !list[1].NextAttempt.Before(next) {
		t.Errorf("after retry and drop: %+v", list)
	}
	code, out, errs = runCLI(t, "queue", "retry", "--all", "--config", env.configPath)
	if code != 0 || out != "1 messages due now\n" {
		t.Errorf("retry --all: exit %d: %q %s", code, out, errs)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"queue", "retry"}, 2, "retry takes one ID, or --all"},
		{[]string{"queue", "retry", "1", "--all"}, 2, "retry takes one ID, or --all"},
		{[]string{"queue", "drop"}, 2, "drop takes one ID"},
		{[]string{"queue", "drop", "--all"}, 2, "drop takes one ID"},
		{[]string{"queue", "drop", "x"}, 2, `outbound ID "x" is not a number`},
		{[]string{"queue", "flush"}, 2, `unknown queue command "flush"`},
		{[]string{"queue", "retry", "--json", "1"}, 2, "--json is for the list"},
		{[]string{"queue", "retry", "99"}, 1, "no outbound message 99"},
		{[]string{"queue", "drop", "3"}, 1, "state is sent"},
	} {
		code, _, errs := runCLI(t, append(tc.args, "--config", env.configPath)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

// TestQueueWhileServing: mail the smarthost deferred is listed through the
// running daemon's control socket, and queue retry --all sends it at once,
// an hour before its next attempt.
func TestQueueWhileServing(t *testing.T) {
	c := &capture{}
	var accept atomic.Bool
	srv := smtp.NewServer(&deferringBackend{capture: c, accept: &accept})
	srv.Domain = "smarthost.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	_, configPath, d := startTestDaemon(t, fmt.Sprintf("[outbound]\nmode = \"smtp\"\nsmarthost = %q\nstarttls = false\n", ln.Addr().String()))
	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("alice@acme.test", "bob@axe.test", "collab@gw.test", "Contract", "start@acme.test", "Our draft.", "contract.docx", []byte("v1")))
	var list []queueEntry
	waitFor(t, "two deferred messages", func() bool {
		list = queueJSON(t, configPath)
		return len(list) == 2 && list[0].Attempts == 1 && list[1].Attempts == 1
	})
	var to []string
	for _, e := range list {
		to = append(to, e.To)
		if e.State != "queued" || e.NextAttempt == nil || time.Until(*e.NextAttempt) < 30*time.Second || !strings.Contains(e.LastError, "451 4.2.1") {
			t.Errorf("deferred: %+v", e)
		}
	}
	slices.Sort(to)
	if !reflect.DeepEqual(to, []string{"alice@acme.test", "bob@axe.test"}) {
		t.Errorf("queued for %v", to)
	}

	accept.Store(true)
	code, out, errs := runCLI(t, "queue", "retry", "--all", "--config", configPath)
	if code != 0 || out != "2 messages due now\n" {
		t.Fatalf("retry --all: exit %d: %q %s", code, out, errs)
	}
	waitFor(t, "the retried messages at the smarthost", func() bool { return len(c.all()) == 2 })
	waitFor(t, "an empty queue", func() bool { return len(queueJSON(t, configPath)) == 0 })
}

// deferringBackend is a capture that answers RCPT with 451 until accept.
type deferringBackend struct {
	*capture
	accept *atomic.Bool
}

func (b *deferringBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &deferringSession{captureSession{c: b.capture}, b.accept}, nil
}

type deferringSession struct {
	captureSession
	accept *atomic.Bool
}

func (s *deferringSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if !s.accept.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "greylisted, try later"}
	}
	return s.captureSession.Rcpt(to, opts)
}
