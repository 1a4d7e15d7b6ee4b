package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/internal/testutil"
)

// testDataDir is a short temporary directory: the control socket's path must
// fit a sockaddr_un, and t.TempDir paths carry the test's name.
func testDataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startDaemonText runs a gateway in-process on the config text, whose
// [gateway] section this adds. It stops when the test ends.
func startDaemonText(t *testing.T, text string) (*Config, *daemon, error) {
	t.Helper()
	dir := testDataDir(t)
	path := filepath.Join(dir, "turnmail.toml")
	// No admin listener: its default port would be taken by any other
	// daemon running at the time.
	text = fmt.Sprintf("[gateway]\naddress = \"collab@gw.test\"\ndata_dir = %s\n\n[admin]\nlisten = \"\"\n\n%s", strconv.Quote(filepath.Join(dir, "data")), text)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return cfg, nil, err
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
	return cfg, d, nil
}

// TestServeSMTPOff: with smtp.listen = "" the gateway takes its mail over
// LMTP alone, and has no SMTP listener.
func TestServeSMTPOff(t *testing.T) {
	sock := filepath.Join(testDataDir(t), "lmtp.sock")
	cfg, d, err := startDaemonText(t, fmt.Sprintf("[smtp]\nlisten = \"\"\n[lmtp]\nlisten = %q\n", "unix:"+sock))
	if err != nil {
		t.Fatal(err)
	}
	if d.smtpLn != nil || len(d.servers) != 1 {
		t.Fatalf("smtp listener %v and %d servers, want none and LMTP's", d.smtpLn, len(d.servers))
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.SendMail("alice@acme.test", []string{"collab@gw.test"}, strings.NewReader(
		docxMail("alice@acme.test", "bob@axe.test", "collab@gw.test", "Lease", "off1@acme.test", "The lease.", "lease.docx", []byte("lease v1")))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handoff", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)["bob@axe.test"]) == 1 })
}

// TestServeTLSCertErrors: a certificate that does not load stops serve at
// start-up, naming the file.
func TestServeTLSCertErrors(t *testing.T) {
	dir := testDataDir(t)
	ca := testutil.NewCA(t)
	leaf := ca.Issue(t, "gw.test")
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	leaf.Write(t, cert, key)
	other := ca.Issue(t, "gw.test")
	otherKey := filepath.Join(dir, "other-key.pem")
	testutil.WriteFileAtomic(t, otherKey, other.KeyPEM)
	for _, tc := range []struct{ name, cert, key, want string }{
		{"missing", filepath.Join(dir, "none.pem"), key, "none.pem"},
		{"mismatched key", cert, otherKey, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := startDaemonText(t, fmt.Sprintf("[smtp]\nlisten = \"127.0.0.1:0\"\ntls_cert = %q\ntls_key = %q\n", tc.cert, tc.key))
			if err == nil || !strings.Contains(err.Error(), "smtp.tls_cert") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want an smtp.tls_cert error with %q", err, tc.want)
			}
		})
	}
}

// buildTurnmail builds the binary into a temporary directory.
func buildTurnmail(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "turnmail")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a turnmail process and what it logged.
type proc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	log strings.Builder
}

// startProc runs bin with args, and kills it at the end of the test unless
// it has exited.
func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-done
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("turnmail logged:\n%s", p.logged())
		}
	})
	return p
}

func (p *proc) logged() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// count returns how many log lines match re.
func (p *proc) count(re *regexp.Regexp) int {
	return len(re.FindAllString(p.logged(), -1))
}

// TestServeTLSBinary: the built binary with smtp.tls_cert and require_tls,
// driven by go-smtp's client: MAIL before STARTTLS is refused, a start mail
// over TLS is taken, a renewed certificate is presented from the next
// handshake on, SIGHUP reloads without ending the daemon, and a broken
// renewal keeps the certificate in use and is logged as an error.
func TestServeTLSBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildTurnmail(t)
	dir := testDataDir(t)
	ca := testutil.NewCA(t)
	leaf := ca.Issue(t, "gw.test")
	cert, key := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	leaf.Write(t, cert, key)
	config := filepath.Join(dir, "turnmail.toml")
	os.WriteFile(config, []byte(fmt.Sprintf(`[gateway]
address = "collab@gw.test"
data_dir = %q
[smtp]
listen = "127.0.0.1:0"
tls_cert = %q
tls_key = %q
require_tls = true
[admin]
listen = ""
`, filepath.Join(dir, "data"), cert, key)), 0o600)

	p := startProc(t, bin, "serve", "--config", config)
	serving := regexp.MustCompile(`msg="turnmail serving" smtp=(\S+) starttls=true require_tls=true`)
	var addr string
	waitFor(t, "turnmail serving", func() bool {
		if m := serving.FindStringSubmatch(p.logged()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})

	plain, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	err = plain.Mail("alice@acme.test", nil)
	if e, ok := err.(*smtp.SMTPError); !ok || e.Code != 530 || e.EnhancedCode != (smtp.EnhancedCode{5, 7, 0}) {
		t.Fatalf("MAIL before STARTTLS: %v, want 530 5.7.0", err)
	}
	plain.Close()

	// presented returns the serial of the certificate a new handshake sees.
	presented := func() *big.Int {
		t.Helper()
		c, err := smtp.DialStartTLS(addr, ca.ClientConfig("gw.test"))
		if err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
		defer c.Close()
		if err := c.Noop(); err != nil {
			t.Fatalf("NOOP over TLS: %v", err)
		}
		st, _ := c.TLSConnectionState()
		return st.PeerCertificates[0].SerialNumber
	}
	if got := presented(); got.Cmp(leaf.Serial) != 0 {
		t.Fatalf("serial %v, want %v", got, leaf.Serial)
	}

	c, err := smtp.DialStartTLS(addr, ca.ClientConfig("gw.test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("alice@acme.test", []string{"collab@gw.test"}, strings.NewReader(
		docxMail("alice@acme.test", "bob@axe.test", "collab@gw.test", "Lease", "tls1@acme.test", "The lease.", "lease.docx", []byte("lease v1")))); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	c.Close()
	waitFor(t, "the handoff", func() bool {
		return len(outboxMail(t, filepath.Join(dir, "data", "outbox"))["bob@axe.test"]) == 1
	})

	renewed := ca.Issue(t, "gw.test")
	renewed.Write(t, cert, key)
	if got := presented(); got.Cmp(renewed.Serial) != 0 {
		t.Fatalf("after renewal: serial %v, want %v", got, renewed.Serial)
	}

	reloaded := regexp.MustCompile(`msg="tls certificate loaded".* why=reload `)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload on SIGHUP", func() bool { return p.count(reloaded) == 1 })
	if got := presented(); got.Cmp(renewed.Serial) != 0 {
		t.Fatalf("after SIGHUP: serial %v, want %v", got, renewed.Serial)
	}

	testutil.WriteFileAtomic(t, cert, []byte("not a certificate\n"))
	if got := presented(); got.Cmp(renewed.Serial) != 0 {
		t.Fatalf("after a broken renewal: serial %v, want %v", got, renewed.Serial)
	}
	if !regexp.MustCompile(`level=ERROR msg="tls certificate not reloaded, keeping the one in use".* err=.*fullchain.pem`).MatchString(p.logged()) {
		t.Error("no ERROR line about the broken certificate")
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve exited: %v", err)
	}
}
