package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashDaemon is the built binary running `turnmail serve` on one data
// directory, started again after every kill. All its runs write to one log
// file, each run headed by a line of its own.
type crashDaemon struct {
	t        *testing.T
	bin      string
	config   string
	smtpAddr string
	logPath  string

	runs    int
	started time.Time // when the current run began listening
	cmd     *exec.Cmd
	exited  chan error // receives once when the run ends
}

// buildCrashDaemon builds this package's binary into dir and returns its path,
// with -race when race is set. The test skips when there is no go tool to
// build with.
func buildCrashDaemon(t *testing.T, dir string, race bool) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		goTool, err = exec.LookPath(filepath.Join(os.Getenv("GOROOT"), "bin", "go"))
	}
	if err != nil {
		t.Skipf("no go tool to build turnmail with (%v): the crash test runs the real binary", err)
	}
	bin := filepath.Join(dir, "turnmail")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// start runs serve and waits until its SMTP listener answers. A run that
// exits before that fails the test: the daemon must come back up on
// whatever a kill left.
func (d *crashDaemon) start() {
	d.t.Helper()
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	d.runs++
	fmt.Fprintf(logf, "=== run %d at %s\n", d.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(d.bin, "serve", "--config", d.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close() // the child has its own copy
	if err != nil {
		d.t.Fatal(err)
	}
	d.cmd, d.exited = cmd, make(chan error, 1)
	go func() { d.exited <- cmd.Wait() }()

	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-d.exited:
			d.cmd = nil
			d.t.Fatalf("serve run %d exited before listening: %v\n%s", d.runs, err, d.tail(40))
		default:
		}
		if c, err := net.DialTimeout("tcp", d.smtpAddr, time.Second); err == nil {
			c.Close()
			d.started = time.Now()
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("serve run %d not listening on %s after a minute\n%s", d.runs, d.smtpAddr, d.tail(40))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill ends the run with SIGKILL, as a power cut or the OOM killer would,
// and waits for it to be gone.
func (d *crashDaemon) kill() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	d.cmd = nil
}

// stop ends the run with SIGTERM, which sends what is queued before it
// exits, and fails the test unless it exits cleanly.
func (d *crashDaemon) stop() {
	d.t.Helper()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		d.cmd = nil
		if err != nil {
			d.t.Errorf("serve run %d after SIGTERM: %v\n%s", d.runs, err, d.tail(40))
		}
	case <-time.After(2 * time.Minute):
		d.kill()
		d.t.Errorf("serve run %d did not exit within 2 minutes of SIGTERM\n%s", d.runs, d.tail(40))
	}
}

// tail is the last n lines of the daemon's log.
func (d *crashDaemon) tail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logProblems returns the log lines that a healthy run never writes: a
// panic, a race the race detector saw, an error.
func (d *crashDaemon) logProblems() []string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return []string{err.Error()}
	}
	var bad []string
	for line := range bytes.Lines(b) {
		s := string(bytes.TrimSpace(line))
		if strings.Contains(s, "WARNING: DATA RACE") || strings.HasPrefix(s, "panic:") || strings.Contains(s, "level=ERROR") {
			bad = append(bad, s)
		}
	}
	return bad
}

// logCount counts the log lines holding s.
func (d *crashDaemon) logCount(s string) int {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		d.t.Error(err)
	}
	return bytes.Count(b, []byte(s))
}

// cli runs a turnmail command on the test's configuration and returns its
// standard output.
func (d *crashDaemon) cli(args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(d.bin, append(args, "--config", d.config)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.Join(fmt.Errorf("turnmail %s: %w", strings.Join(args, " "), err), errors.New(stderr.String()))
	}
	return stdout.Bytes(), nil
}
