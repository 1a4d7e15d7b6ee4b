package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The control socket lets the commands other than serve run while serve
// holds the database (bbolt allows one process at a time). A command run from
// the shell that finds the database locked sends its command line to serve,
// which runs it on its own store and engine and streams back the output.
//
// Protocol: the client sends one JSON line, ctlRequest. The server answers
// with frames: a type byte, a 4-byte big-endian payload length, the payload.
// Type 'o' is standard output, 'e' standard error, 'x' the exit code (payload:
// 4-byte big-endian) and ends the exchange.

const (
	ctlSocket = "ctl.sock"

	frameStdout = 'o'
	frameStderr = 'e'
	frameExit   = 'x'

	// maxFrame bounds a frame's payload, so a client never holds more.
	maxFrame = 64 << 10
	// maxCtlRequest bounds the request line.
	maxCtlRequest = 1 << 20
	// ctlRequestTimeout bounds the wait for the request line.
	ctlRequestTimeout = 10 * time.Second
	// maxSocketPath is the longest path a unix socket can have on every
	// platform we run on (sun_path holds 104 bytes on BSDs, 108 on Linux).
	maxSocketPath = 103
)

// ctlRequest is the one line a client sends.
type ctlRequest struct {
	Args []string `json:"args"` // the command line, command name first
	Cwd  string   `json:"cwd"`  // the client's working directory
}

func ctlPath(cfg *Config) string {
	return filepath.Join(cfg.Gateway.DataDir, ctlSocket)
}

// listenCtl listens on the control socket in the data directory, removing a
// socket file left by a serve that died. Call it only while holding the
// store, which proves that no other serve uses the socket.
func listenCtl(cfg *Config) (net.Listener, error) {
	path := ctlPath(cfg)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, at most %d fit: use a shorter data_dir", path, len(path), maxSocketPath)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	// The data directory is private already (the store creates it 0700);
	// this keeps the socket so where the directory was made by hand.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	return ln, nil
}

// serveCtl runs the commands that arrive on ln on a's store and engine, each
// connection in its own goroutine, until ctx is done. It closes ln and
// returns once the running commands have finished.
func serveCtl(ctx context.Context, ln net.Listener, a *app) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var connID atomic.Uint64
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: let it pass.
			a.log.Error("accept control connection", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		log := a.log.With("ctl", connID.Add(1))
		wg.Go(func() {
			defer conn.Close()
			handleCtl(ctx, conn, a, log)
		})
	}
}

// handleCtl runs the one command of a control connection.
func handleCtl(ctx context.Context, conn net.Conn, a *app, log *slog.Logger) {
	bw := bufio.NewWriter(conn)
	stdout := &frameWriter{w: bw, typ: frameStdout}
	stderr := &frameWriter{w: bw, typ: frameStderr}
	code := 1
	defer func() {
		if x := recover(); x != nil {
			log.Error("control command panicked", "panic", x, "stack", string(debug.Stack()))
			fmt.Fprintln(stderr, "turnmail: internal error, see the log of turnmail serve")
			code = 1
		}
		exit := &frameWriter{w: bw, typ: frameExit}
		exit.Write(binary.BigEndian.AppendUint32(nil, uint32(code)))
		if err := bw.Flush(); err != nil {
			log.Debug("control reply", "err", err)
		}
	}()

	conn.SetReadDeadline(time.Now().Add(ctlRequestTimeout))
	// Shutting down must not wait for a client that never sends its request
	// or stops reading its reply.
	stop := context.AfterFunc(ctx, func() {
		conn.SetReadDeadline(time.Now())
		conn.SetWriteDeadline(time.Now().Add(time.Second))
	})
	defer stop()
	line, err := bufio.NewReader(io.LimitReader(conn, maxCtlRequest)).ReadBytes('\n')
	if err != nil {
		log.Debug("read control request", "err", err)
		fmt.Fprintf(stderr, "turnmail: read request: %v\n", err)
		return
	}
	var req ctlRequest
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintf(stderr, "turnmail: parse request: %v\n", err)
		return
	}
	if len(req.Args) == 0 || !filepath.IsAbs(req.Cwd) {
		fmt.Fprintln(stderr, "turnmail: request needs a command and an absolute working directory")
		code = 2
		return
	}
	c := lookup(req.Args[0])
	if c == nil {
		fmt.Fprintf(stderr, "turnmail: unknown command %q\n", req.Args[0])
		code = 2
		return
	}
	log.Info("control command", "args", req.Args)
	ca := &app{cfg: a.cfg, log: a.log, st: a.st, engine: a.engine, stdout: stdout, cwd: req.Cwd}
	code = report(c.name, c.run(ctx, ca, req.Args[1:]), stdout, stderr)
}

// frameWriter writes everything as frames of one type.
type frameWriter struct {
	w   io.Writer
	typ byte
}

func (f *frameWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		chunk := p[:min(len(p), maxFrame)]
		var hdr [5]byte
		hdr[0] = f.typ
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(chunk)))
		if _, err := f.w.Write(hdr[:]); err != nil {
			return n, err
		}
		if _, err := f.w.Write(chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// forwardCtl runs the command line args (command name first) in the serve
// that listens on cfg's control socket, copying its output to stdout and
// stderr, and returns the command's exit code.
func forwardCtl(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) (exitCode int, err error) {
	path := ctlPath(cfg)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return 1, fmt.Errorf("the database is in use and no control socket at %s: is another turnmail running?", path)
	} else if err != nil {
		return 1, fmt.Errorf("connect to control socket: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	cwd, err := os.Getwd()
	if err != nil {
		return 1, fmt.Errorf("working directory: %w", err)
	}
	req, err := json.Marshal(ctlRequest{Args: args, Cwd: cwd})
	if err != nil {
		return 1, fmt.Errorf("encode control request: %w", err)
	}
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return 1, fmt.Errorf("send control request: %w", err)
	}

	br := bufio.NewReader(conn)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return 1, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return 1, errors.New("control connection closed before the command finished")
			}
			return 1, fmt.Errorf("read control reply: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > maxFrame {
			return 1, fmt.Errorf("control reply frame of %d bytes, at most %d allowed", n, maxFrame)
		}
		var w io.Writer
		switch hdr[0] {
		case frameStdout:
			w = stdout
		case frameStderr:
			w = stderr
		case frameExit:
			var code [4]byte
			if n != 4 {
				return 1, fmt.Errorf("control reply: exit frame of %d bytes", n)
			}
			if _, err := io.ReadFull(br, code[:]); err != nil {
				return 1, fmt.Errorf("read control reply: %w", err)
			}
			return int(binary.BigEndian.Uint32(code[:])), nil
		default:
			return 1, fmt.Errorf("control reply: unknown frame type %q", hdr[0])
		}
		if _, err := io.CopyN(w, br, int64(n)); err != nil {
			return 1, fmt.Errorf("copy control reply: %w", err)
		}
	}
}
