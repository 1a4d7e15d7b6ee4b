package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestTooLargeToAttach: a file over [outbound] max_attachment_bytes is not
// attached; the handoff says so and gives a signed link that downloads it
// from the gateway's HTTP listener, and nothing else.
func TestTooLargeToAttach(t *testing.T) {
	cfg, _, d := startTestDaemon(t, "[outbound]\nmax_attachment_bytes = 1000\n\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://gw.test/\"\n")
	big := bytes.Repeat([]byte("the big annex "), 200) // 2,800 bytes
	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Annex", "big1@acme.test", "The annex.", "annex.pdf", big))
	waitFor(t, "the start mails", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)) == 2 })
	h := outboxMail(t, cfg.Outbound.Dir)["bob@axe.test"][0]
	if len(h.Attachments) != 0 {
		t.Fatalf("the handoff attaches %d files over the bound", len(h.Attachments))
	}
	if !strings.Contains(h.Text, "Files too large to attach") || !strings.Contains(h.Text, "annex (v1).pdf (2.7 KB) is over this mail's 1000 B") {
		t.Fatalf("the handoff does not say what was left out:\n%s", h.Text)
	}
	link := regexp.MustCompile(`https://gw\.test/download/\S+`).FindString(h.Text)
	if link == "" || !strings.Contains(h.HTML, `href="`+link+`"`) {
		t.Fatalf("no download link (as a link in the HTML too):\n%s", h.Text)
	}
	local := "http://" + d.httpLn.Addr().String() + strings.TrimPrefix(link, "https://gw.test")
	resp, err := http.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, big) || !strings.Contains(resp.Header.Get("Content-Disposition"), "annex (v1).pdf") {
		t.Fatalf("GET %s: %d, %d bytes, %q", local, resp.StatusCode, len(got), resp.Header.Get("Content-Disposition"))
	}
	// A token changed anywhere opens nothing.
	i := strings.Index(local, "/download/") + len("/download/") + 2
	forged := local[:i] + string(rune(local[i])^1) + local[i+1:]
	if resp, err := http.Get(forged); err != nil || resp.StatusCode != 404 {
		t.Fatalf("a forged link: %v %v", resp, err)
	}
}
