package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startCtl opens the fixture's store and serves the control socket on it, as
// serve does, until the test ends.
func startCtl(t *testing.T, env *testEnv) *app {
	t.Helper()
	st := openTestStore(t, env.cfg)
	a := &app{cfg: env.cfg, log: slog.New(slog.DiscardHandler), st: st}
	ln, err := listenCtl(env.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		serveCtl(ctx, ln, a)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return a
}

func TestCtlList(t *testing.T) {
	env := newTestEnv(t)
	a := startCtl(t, env)

	var direct bytes.Buffer
	da := &app{cfg: a.cfg, log: a.log, st: a.st, stdout: &direct}
	if err := runList(context.Background(), da, []string{"--json"}); err != nil {
		t.Fatal(err)
	}

	// From the shell: the store is locked, so the command goes over the
	// socket.
	code, out, errs := runCLI(t, "list", "--json", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out != direct.String() {
		t.Errorf("forwarded list --json:\n%s\ndirect:\n%s", out, direct.String())
	}
	if !strings.Contains(out, fixtureID) {
		t.Errorf("list --json does not hold the collaboration:\n%s", out)
	}
}

func TestCtlErrors(t *testing.T) {
	env := newTestEnv(t)
	startCtl(t, env)
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"show", "--config", env.configPath}, 2, "wrong number of arguments: want 1, got 0"},
		{[]string{"show", "--config", env.configPath, "nosuch"}, 1, `turnmail show: no collaboration "nosuch"`},
	}
	for _, tt := range tests {
		code, _, errs := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.stderr) {
			t.Errorf("turnmail %q: exit %d, stderr %q; want exit %d, %q", tt.args, code, errs, tt.code, tt.stderr)
		}
	}

	// An unknown command never reaches a command's code.
	var out, errb bytes.Buffer
	code, err := forwardCtl(context.Background(), env.cfg, []string{"serve"}, &out, &errb)
	if err != nil || code != 2 || !strings.Contains(errb.String(), `unknown command "serve"`) {
		t.Errorf("forward serve: %d, %v, %q", code, err, errb.String())
	}
}

// TestCtlExport runs export over the socket with a relative directory: it is
// taken from the client's working directory, not the server's.
func TestCtlExport(t *testing.T) {
	env := newTestEnv(t)
	startCtl(t, env)
	cwd := t.TempDir()
	t.Chdir(cwd)
	code, _, errs := runCLI(t, "export", "--config", env.configPath, fixtureID, "out")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := os.ReadFile(filepath.Join(cwd, "out", "contract.docx", "v1-contract.docx"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, v1Bytes) {
		t.Errorf("exported v1 holds %q, want %q", got, v1Bytes)
	}
}

// TestCtlNoSocket: the store is locked and nobody listens.
func TestCtlNoSocket(t *testing.T) {
	env := newTestEnv(t)
	openTestStore(t, env.cfg)
	code, _, errs := runCLI(t, "list", "--config", env.configPath)
	want := "the database is in use and no control socket at " + ctlPath(env.cfg) + ": is another turnmail running?"
	if code != 1 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, errs, want)
	}
}

// TestCtlLargeOutput sends output larger than a frame.
func TestCtlLargeOutput(t *testing.T) {
	var wire bytes.Buffer
	big := bytes.Repeat([]byte("0123456789abcdef"), maxFrame/16*2+7)
	fw := &frameWriter{w: &wire, typ: frameStdout}
	if n, err := fw.Write(big); err != nil || n != len(big) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	(&frameWriter{w: &wire, typ: frameExit}).Write(binary.BigEndian.AppendUint32(nil, 3))

	// A fake server that answers with the recorded frames.
	cfg := fakeCtlServer(t, func(conn net.Conn) { conn.Write(wire.Bytes()) })
	var out, errb bytes.Buffer
	code, err := forwardCtl(context.Background(), cfg, []string{"list"}, &out, &errb)
	if err != nil || code != 3 {
		t.Fatalf("forwardCtl: %d, %v", code, err)
	}
	if !bytes.Equal(out.Bytes(), big) {
		t.Errorf("got %d bytes of output, want %d", out.Len(), len(big))
	}
}

// TestCtlCut: a server that hangs up before the exit frame is an error, not
// success.
func TestCtlCut(t *testing.T) {
	cfg := fakeCtlServer(t, func(conn net.Conn) {
		(&frameWriter{w: conn, typ: frameStdout}).Write([]byte("partial"))
	})
	var out, errb bytes.Buffer
	code, err := forwardCtl(context.Background(), cfg, []string{"list"}, &out, &errb)
	if err == nil || code != 1 {
		t.Errorf("forwardCtl: %d, %v; want an error", code, err)
	}
}

// TestListenCtl: a stale socket file is replaced, the socket is private, and
// serveCtl returns once its context ends.
func TestListenCtl(t *testing.T) {
	dir, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := &Config{Gateway: GatewayConfig{DataDir: dir}}
	if err := os.WriteFile(ctlPath(cfg), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := listenCtl(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(ctlPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with 0600", fi.Mode())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		serveCtl(ctx, ln, &app{cfg: cfg, log: slog.New(slog.DiscardHandler)})
		close(done)
	}()
	// A client that never sends its request must not hold up the end.
	conn, err := net.Dial("unix", ctlPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel()
	select {
	case <-done:
	case <-time.After(ctlRequestTimeout / 2):
		t.Fatal("serveCtl did not return after its context ended")
	}

	long := &Config{Gateway: GatewayConfig{DataDir: "/" + strings.Repeat("d", 120)}}
	if _, err := listenCtl(long); err == nil || !strings.Contains(err.Error(), "use a shorter data_dir") {
		t.Errorf("long socket path: %v", err)
	}
}

// fakeCtlServer listens on the control socket of a new data directory and,
// for one connection, reads the request line and lets answer write the
// reply before hanging up.
func fakeCtlServer(t *testing.T, answer func(net.Conn)) *Config {
	t.Helper()
	dir, err := os.MkdirTemp("", "tm") // short: socket paths must fit a sockaddr_un
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := &Config{Gateway: GatewayConfig{DataDir: dir}}
	ln, err := net.Listen("unix", ctlPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		bufio.NewReader(conn).ReadBytes('\n')
		answer(conn)
	}()
	return cfg
}
