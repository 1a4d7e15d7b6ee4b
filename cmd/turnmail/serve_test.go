package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
)

// startTestDaemon runs a gateway as `serve` would, on a loopback port, with
// the [outbound] section given. It stops when the test ends.
func startTestDaemon(t *testing.T, outbound string) (*Config, string, *daemon) {
	t.Helper()
	cfg, configPath := testConfig(t, outbound)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	d, err := startDaemon(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.wait(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return cfg, configPath, d
}

// testConfig writes and loads the configuration of a test daemon: SMTP and
// admin on loopback ports of their own, outbound as given.
func testConfig(t *testing.T, outbound string) (*Config, string) {
	t.Helper()
	// Not t.TempDir: the control socket's path must fit a sockaddr_un (about
	// 100 bytes), and test names make t.TempDir paths long.
	dir, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	configPath := filepath.Join(dir, "turnmail.toml")
	text := fmt.Sprintf("[gateway]\naddress = \"collab@gw.test\"\ndata_dir = %s\n\n[smtp]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\npprof = true\n\n%s\n",
		strconv.Quote(filepath.Join(dir, "data")), outbound)
	if err := os.WriteFile(configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, configPath
}

// sendMail delivers raw to the daemon with go-smtp's client.
func sendMail(t *testing.T, addr, from string, rcpts []string, raw string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, rcpts, strings.NewReader(raw)); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func docxMail(from, to, cc, subject, msgid, body, filename string, data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	hdr := "From: " + from + "\r\nTo: " + to + "\r\n"
	if cc != "" {
		hdr += "Cc: " + cc + "\r\n"
	}
	return hdr + "Subject: " + subject + "\r\nMessage-ID: <" + msgid + ">\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body +
		"\r\n--zz\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"" + filename +
		"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n--zz--\r\n"
}

// waitFor polls until cond holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outboxFiles reads every .eml file in dir.
func outboxFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// outboxMail parses every .eml file in dir, keyed by its one To address.
func outboxMail(t *testing.T, dir string) map[string][]*message.Message {
	t.Helper()
	got := map[string][]*message.Message{}
	for _, f := range outboxFiles(t, dir) {
		m, err := message.Parse(strings.NewReader(f), discardBlobs{}, nil)
		if err != nil {
			t.Fatalf("parse outbox mail: %v", err)
		}
		if len(m.To) != 1 {
			t.Fatalf("%s has %d To addresses, want one", f, len(m.To))
		}
		got[m.To[0].Addr] = append(got[m.To[0].Addr], m)
	}
	return got
}

// discardBlobs hashes attachment content without keeping it.
type discardBlobs struct{}

func (discardBlobs) PutBlob(r io.Reader) (mail.Blob, error) {
	n, err := io.Copy(io.Discard, r)
	return mail.Blob{Digest: fmt.Sprint(n), Size: n}, err
}

// TestServeEndToEnd runs the daemon with the file outbox: start by cc, the
// reply with the edited file, and the CLI on the same data while it runs.
func TestServeEndToEnd(t *testing.T) {
	cfg, configPath, d := startTestDaemon(t, "")
	addr := d.smtpLn.Addr().String()
	outbox := cfg.Outbound.Dir

	sendMail(t, addr, "alice@acme.test", []string{"collab@gw.test"},
		docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Contract", "s1@acme.test", "Our draft.", "contract.docx", []byte("version one")))
	waitFor(t, "the handoff and the confirmation", func() bool { return len(outboxMail(t, outbox)) == 2 })
	got := outboxMail(t, outbox)
	h := got["bob@axe.test"][0]
	if !strings.HasPrefix(h.Subject, "Re: Contract") || len(h.Attachments) != 1 || h.Attachments[0].Filename != "contract (v1).docx" {
		t.Fatalf("bob's handoff: %q %+v", h.Subject, h.Attachments)
	}
	tag := h.ReplyTo[0].Addr

	sendMail(t, addr, "bob@axe.test", []string{tag},
		docxMail("Bob <bob@axe.test>", tag, "", "Re: "+h.Subject, "b1@axe.test", "Clause 4 changed.\r\n\r\nOn Monday Alice wrote:\r\n> Our draft.", "contract v2 - AXE.docx", []byte("version two")))
	waitFor(t, "alice's handoff", func() bool { return len(outboxMail(t, outbox)["alice@acme.test"]) == 2 })
	var ah *message.Message
	for _, m := range outboxMail(t, outbox)["alice@acme.test"] {
		if strings.HasPrefix(m.Text, "Your turn on") {
			ah = m
		}
	}
	if ah == nil || len(ah.Attachments) != 1 || ah.Attachments[0].Filename != "contract (v2).docx" || !strings.Contains(ah.Text, "Clause 4 changed.") {
		t.Fatalf("alice's handoff: %+v", ah)
	}

	// The CLI on the same data while serve runs: over the control socket.
	code, out, errOut := runCLI(t, "list", "--config", configPath, "--json")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errOut)
	}
	var list []struct {
		ID, Subject, State string
		Turn               struct {
			Number int
			Party  string
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("list --json %q: %v", out, err)
	}
	if l := list[0]; l.State != "active" || l.Turn.Number != 3 || l.Turn.Party != "ACME" {
		t.Errorf("list: %+v", l)
	}
	code, out, errOut = runCLI(t, "show", "--config", configPath, "--json", list[0].ID)
	if code != 0 {
		t.Fatalf("show: %d %s", code, errOut)
	}
	var show struct {
		Documents []struct {
			Name     string
			Versions []struct {
				Number   int
				Filename string
				Author   string
			}
		}
		Turns []struct {
			Number  int
			EndedBy string `json:"ended_by"`
			Note    string
		}
	}
	if err := json.Unmarshal([]byte(out), &show); err != nil {
		t.Fatal(err)
	}
	if len(show.Documents) != 1 || len(show.Documents[0].Versions) != 2 || show.Documents[0].Versions[1].Author != "bob@axe.test" ||
		len(show.Turns) != 2 || show.Turns[1].Note != "Clause 4 changed." || show.Turns[1].EndedBy != "bob@axe.test" {
		t.Errorf("show --json: %s", out)
	}
	exportDir := filepath.Join(t.TempDir(), "export")
	if code, _, errOut := runCLI(t, "export", "--config", configPath, list[0].ID, exportDir); code != 0 {
		t.Fatalf("export: %d %s", code, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(exportDir, "contract.docx", "v2-contract v2 - AXE.docx")); err != nil || string(b) != "version two" {
		t.Errorf("exported v2: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(exportDir, "history.md")); err != nil {
		t.Error(err)
	}
}

// capture is a smarthost: a go-smtp server that records what it is given.
type capture struct {
	mu   sync.Mutex
	msgs []captured
}

type captured struct {
	from string
	to   []string
	data []byte
}

func (c *capture) NewSession(*smtp.Conn) (smtp.Session, error) { return &captureSession{c: c}, nil }

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.msgs...)
}

type captureSession struct {
	c   *capture
	cur captured
}

func (s *captureSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.from = from; return nil }
func (s *captureSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *captureSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.c.mu.Lock()
	s.c.msgs = append(s.c.msgs, s.cur)
	s.c.mu.Unlock()
	s.cur = captured{}
	return nil
}
func (s *captureSession) Reset()        { s.cur = captured{} }
func (s *captureSession) Logout() error { return nil }

// TestServeSmarthost: outbound mail goes to a real SMTP server on loopback,
// one message per recipient, each MAIL FROM a bounce address of its own.
func TestServeSmarthost(t *testing.T) {
	c := &capture{}
	srv := smtp.NewServer(c)
	srv.Domain = "smarthost.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	_, _, d := startTestDaemon(t, fmt.Sprintf("[outbound]\nmode = \"smtp\"\nsmarthost = %q\nstarttls = false\n", ln.Addr().String()))
	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("alice@acme.test", "bob@axe.test, carol@acme.test", "collab@gw.test", "Policy", "p1@acme.test", "Please review.", "policy.odt", []byte("the policy")))
	waitFor(t, "three relayed messages", func() bool { return len(c.all()) == 3 })
	seen, froms := map[string]bool{}, map[string]bool{}
	for _, m := range c.all() {
		if !strings.HasPrefix(m.from, "collab+b.") || !strings.HasSuffix(m.from, "@gw.test") || froms[m.from] || len(m.to) != 1 {
			t.Errorf("envelope %s → %v", m.from, m.to)
		}
		froms[m.from] = true
		seen[m.to[0]] = true
		if !bytes.Contains(m.data, []byte("Auto-Submitted: auto-generated")) || !bytes.Contains(m.data, []byte("To: "+m.to[0])) && !bytes.Contains(m.data, []byte("<"+m.to[0]+">")) {
			t.Errorf("message to %s:\n%s", m.to[0], m.data[:min(len(m.data), 600)])
		}
	}
	for _, a := range []string{"alice@acme.test", "bob@axe.test", "carol@acme.test"} {
		if !seen[a] {
			t.Errorf("nothing relayed to %s", a)
		}
	}
}
