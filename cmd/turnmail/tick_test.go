package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail/message"
)

// nextSlot is the first Monday 08:00 UTC at least a week after t: a slot
// that everyone who joined at t is due at.
func nextSlot(t time.Time) time.Time {
	t = t.UTC().AddDate(0, 0, 7)
	d := time.Date(t.Year(), t.Month(), t.Day(), 8, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Monday || d.Before(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func summaries(t *testing.T, dir string) map[string]*message.Message {
	t.Helper()
	got := map[string]*message.Message{}
	for addr, msgs := range outboxMail(t, dir) {
		for _, m := range msgs {
			if strings.HasPrefix(m.Subject, "Weekly summary") {
				if got[addr] != nil {
					t.Errorf("two weekly summaries to %s", addr)
				}
				got[addr] = m
			}
		}
	}
	return got
}

// TestTickWhileServing: `turnmail tick --now` on the data of a running serve
// goes through its control socket, and what it queues goes out through the
// daemon's outbound worker, once however often it runs.
func TestTickWhileServing(t *testing.T) {
	cfg, configPath, d := startTestDaemon(t, "")
	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Lease", "t1@acme.test", "The lease.", "lease.docx", []byte("v1")))
	waitFor(t, "the start mails", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)) == 2 })

	slot := nextSlot(time.Now()).Format(time.RFC3339)
	code, out, errOut := runCLI(t, "tick", "--config", configPath, "--now", slot)
	if code != 0 || !strings.Contains(out, "queued 2 weekly summaries") {
		t.Fatalf("tick: %d %q %q", code, out, errOut)
	}
	waitFor(t, "two weekly summaries", func() bool { return len(summaries(t, cfg.Outbound.Dir)) == 2 })
	if code, out, _ := runCLI(t, "tick", "--config", configPath, "--now", slot); code != 0 || !strings.Contains(out, "queued 0 weekly summaries") {
		t.Errorf("a second tick at the same slot: %q", out)
	}
	s := summaries(t, cfg.Outbound.Dir)["bob@axe.test"]
	if !strings.Contains(s.Text, "Lease [tm:") || !strings.Contains(s.Text, "waiting on you") {
		t.Errorf("bob's summary:\n%s", s.Text)
	}
	if code, _, errOut := runCLI(t, "tick", "--config", configPath, "--now", "monday"); code != 2 || !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("a bad --now: %d %q", code, errOut)
	}
}

// TestOneClickUnsubscribe: RFC 8058. The summary names an HTTPS URL and
// List-Unsubscribe-Post; a GET only shows the button, a POST turns the
// person's summaries off; a forged token is refused.
func TestOneClickUnsubscribe(t *testing.T) {
	cfg, configPath, d := startTestDaemon(t, "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://gw.test/\"\n")
	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Lease", "u1@acme.test", "The lease.", "lease.docx", []byte("v1")))
	waitFor(t, "the start mails", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)) == 2 })

	slot := nextSlot(time.Now())
	runCLI(t, "tick", "--config", configPath, "--now", slot.Format(time.RFC3339))
	waitFor(t, "two weekly summaries", func() bool { return len(summaries(t, cfg.Outbound.Dir)) == 2 })
	raw := rawSummary(t, cfg.Outbound.Dir, "alice@acme.test")
	if !strings.Contains(raw, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Fatalf("no List-Unsubscribe-Post in:\n%s", raw[:600])
	}
	i := strings.Index(raw, "<https://gw.test/unsubscribe/")
	if i < 0 {
		t.Fatal("no one-click URL in List-Unsubscribe")
	}
	link, _, _ := strings.Cut(raw[i+1:], ">")
	local := "http://" + d.httpLn.Addr().String() + strings.TrimPrefix(link, "https://gw.test")

	resp, err := http.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<form method=\"post\">") {
		t.Fatalf("GET: %d %s", resp.StatusCode, page)
	}
	if resp, err := http.Post(local+"x", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); err != nil || resp.StatusCode != 404 {
		t.Fatalf("a forged token: %v %v", resp, err)
	}
	resp, err = http.PostForm(local, url.Values{"List-Unsubscribe": {"One-Click"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()

	code, out, _ := runCLI(t, "tick", "--config", configPath, "--now", slot.AddDate(0, 0, 7).Format(time.RFC3339))
	if code != 0 || !strings.Contains(out, "queued 1 weekly summaries") {
		t.Errorf("the week after alice unsubscribed: %q", out)
	}
}

// rawSummary returns the raw weekly summary sent to addr.
func rawSummary(t *testing.T, dir, addr string) string {
	t.Helper()
	for _, f := range outboxFiles(t, dir) {
		to, _, _ := strings.Cut(f[strings.Index(f, "\nTo: ")+1:], "\r\n")
		if strings.Contains(f, "Subject: Weekly summary") && strings.Contains(to, "<"+addr+">") {
			return f
		}
	}
	t.Fatalf("no weekly summary to %s", addr)
	return ""
}
