package workflow_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/workflow"
)

// TestRenderedInChromium renders the HTML part of each kind of mail with
// headless Chromium at a phone's width (360 px), checks the text a reader
// sees, and keeps a screenshot of each: in $TURNMAIL_ARTIFACTS when set
// (CI keeps them), else in the test's temporary directory. Without
// Chromium (Debian's chromium package; .ci/run installs it) it skips.
func TestRenderedInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium on PATH (apt-get install chromium); .ci/run installs it")
	}
	out := os.Getenv("TURNMAIL_ARTIFACTS")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	r := newRig(t, rigOptions{summary: weekly, reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour}})
	c := r.start(docx(t, []string{"The parties agree as follows.", "Clause 4: the price is 4.8m."}, "", ""))
	mails := r.newMail()
	tags := tagsOf(t, mails)
	kinds := map[string]*sent{"handoff-start": to(t, mails, bob), "confirm-start": to(t, mails, alice)}
	send := func(from, body string, files ...testFile) []*sent {
		t.Helper()
		r.mustSend(&testMail{from: from, fromName: strings.Split(from, "@")[0], to: []string{tags[from]}, subject: "Re: Services contract",
			msgid: fmt.Sprintf("render-%d@test", len(kinds)), body: body, files: files}, tags[from])
		return r.newMail()
	}
	kinds["draft"] = to(t, send(dave, "My pass at clause 4.", testFile{"contract dave.docx", docx(t, []string{"The parties agree as follows.", "Clause 4: the price is 4.6m."}, "Dave Axe", "")}), bob)
	kinds["comment"] = to(t, send(bob, "Dave, let us wait for their counsel."), dave)
	kinds["reply-status"] = to(t, send(bob, "/deadline 2026-12-20\n/status"), bob)
	mails = send(bob, "Dear Alice,\n\nClause 4 reworded: 4.5m is our last word.", testFile{"contract.docx", docx(t, []string{"The parties agree as follows.", "Clause 4: the price is 4.5m.", "Clause 6: law of Austria."}, "Dave Axe", "Bob Axe")})
	kinds["handoff"], kinds["confirm"] = to(t, mails, alice), to(t, mails, bob)
	kinds["reply-help"] = to(t, send(carol, "/help"), carol)
	for who, m := range r.summaries(monday(1)) {
		if who == alice {
			kinds["summary"] = m
		}
	}
	kinds["binder"] = to(t, send(alice, "/wrapup"), bob)
	_ = c

	want := map[string][]string{
		"handoff-start": {"Your turn on “Services contract”", "contract.docx", "History"},
		"confirm-start": {"Collaboration “Services contract” started"},
		"draft":         {"sent a draft", "Drafts of AXE waiting for its turn"},
		"comment":       {"commented on", "let us wait for their counsel"},
		"reply-status":  {"turn 2 is with AXE", "Party ACME", "Due 2026-12-20"},
		"handoff":       {"Your turn on", "2 paragraphs changed", "4.5m is our last word", "Clause 6: law of Austria."},
		"confirm":       {"You handed turn 2 over to ACME", "Review marks that went to the other side"},
		"reply-help":    {"How to work with the gateway.", "/wrapup"},
		"summary":       {"active collaboration", "Services contract"},
		"binder":        {"is wrapped up", "the final versions"},
	}
	for kind, m := range kinds {
		t.Run(kind, func(t *testing.T) {
			if m == nil || m.msg.HTML == "" {
				t.Fatalf("no HTML part for %s", kind)
			}
			page := filepath.Join(out, kind+".html")
			if err := os.WriteFile(page, []byte(m.msg.HTML), 0o644); err != nil {
				t.Fatal(err)
			}
			text := chromium(t, browser, page, "--dump-dom")
			visible := htmlText(text)
			for _, w := range want[kind] {
				if !strings.Contains(visible, w) {
					t.Errorf("%s as Chromium renders it lacks %q:\n%s", kind, w, visible)
				}
			}
			png := filepath.Join(out, kind+".png")
			chromium(t, browser, page, "--screenshot="+png, "--window-size=360,1600", "--hide-scrollbars")
			if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
				t.Errorf("no screenshot of %s: %v", kind, err)
			}
			t.Logf("%s: %s", kind, png)
		})
	}
}

// chromium runs headless Chromium on page with args and returns what it
// printed.
func chromium(t *testing.T, browser, page string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--no-first-run"}, args...)
	cmd := exec.CommandContext(ctx, browser, append(all, "file://"+page)...)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(b)
}

var tagRe = regexp.MustCompile(`(?s)<[^>]*>`)

// htmlText is the text of a dumped DOM, tags out, entities as Chromium
// writes them (it dumps text with few entities).
func htmlText(dom string) string {
	s := tagRe.ReplaceAllString(dom, " ")
	s = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&nbsp;", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}
