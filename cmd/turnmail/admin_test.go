package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// TestAdmin: /healthz answers 200 with status ok, and 503 with the reason
// when the outbound queue has stopped moving; /metrics holds the counters
// of what came in and the queue; pprof is served when asked for.
func TestAdmin(t *testing.T) {
	cfg, _, d := startTestDaemon(t, "")
	base := "http://" + d.adminLn.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/healthz")
	var rep healthReport
	if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil || rep.Status != "ok" || rep.Store != "ok" {
		t.Fatalf("/healthz: %d %s", code, body)
	}

	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Lease", "adm1@acme.test", "The lease.", "lease.docx", []byte("v1")))
	waitFor(t, "the start mails", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)) == 2 })
	// Counted when the smarthost took them, marked sent just after: wait
	// for both.
	waitFor(t, "the deliveries counted and marked", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `turnmail_outbound_deliveries_total{result="sent"} 2`) &&
			strings.Contains(m, "turnmail_outbound_queue_depth 0")
	})
	_, m := get("/metrics")
	for _, want := range []string{
		`turnmail_inbound_total{outcome="started",source="smtp"} 1`,
		`turnmail_smtp_replies_total{code="250",proto="smtp"} 1`,
		"turnmail_outbound_queue_depth 0",
		"turnmail_accept_seconds_count{source=\"smtp\"} 1",
		"turnmail_store_bytes",
		"go_goroutines",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get("/debug/pprof/"); code != 200 {
		t.Errorf("pprof: %d", code)
	}

	// A mail queued three hours ago and still waiting: the relay is not
	// taking mail, and the health check says so.
	err := d.st.Update(func(tx *store.Tx) error {
		return tx.Enqueue(&store.Outbound{Kind: "handoff", Created: time.Now().Add(-3 * time.Hour), NextTry: time.Now().Add(time.Hour),
			Msg: mail.Outgoing{MessageID: "stuck@gw.test", To: mail.Address{Addr: "bob@axe.test"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body = get("/healthz")
	if err := json.Unmarshal([]byte(body), &rep); code != 503 || err != nil || rep.Status != "fail" || !strings.Contains(rep.Reason, "oldest outbound mail has waited 3h") || rep.QueueDepth != 1 {
		t.Fatalf("/healthz with a stuck queue: %d %s", code, body)
	}
	if _, m := get("/metrics"); !strings.Contains(m, "turnmail_outbound_queue_depth 1") {
		t.Error("/metrics does not count the waiting mail")
	}
}
