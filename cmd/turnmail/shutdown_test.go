package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/turnmail/turnmail/store"
)

// TestShutdownSilentSmarthost: SIGTERM while the smarthost takes connections
// and never says a word (each send would wait 30 s for its greeting). serve
// stops within its drain bound, and the mail it was sending stays queued,
// neither failed nor counted as an attempt. The drain bound is shortened to
// keep the test quick; the daemon without the bound hung for minutes.
func TestShutdownSilentSmarthost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	dir, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	configPath := filepath.Join(dir, "turnmail.toml")
	text := fmt.Sprintf("[gateway]\naddress = \"collab@gw.test\"\ndata_dir = %s\n\n[smtp]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"\"\n\n"+
		"[outbound]\nmode = \"smtp\"\nsmarthost = %q\nstarttls = false\n",
		strconv.Quote(filepath.Join(dir, "data")), ln.Addr().String())
	if err := os.WriteFile(configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	d.drainTimeout = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.wait(ctx) }()

	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("alice@acme.test", "bob@axe.test", "collab@gw.test", "Contract", "start@acme.test", "Our draft.", "contract.docx", []byte("v1")))
	select {
	case <-accepted:
	case <-time.After(20 * time.Second):
		t.Fatal("the worker never connected to the smarthost")
	}
	cancel() // what SIGTERM does (signal.NotifyContext in main)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s of SIGTERM, with a drain bound of 2 s")
	}

	st, err := store.Open(filepath.Join(cfg.Gateway.DataDir, dbFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	err = st.View(func(tx *store.Tx) error {
		return tx.Outbounds(func(o *store.Outbound) error {
			n++
			if o.State != store.OutboundQueued || o.Attempts != 0 {
				t.Errorf("outbound %d to %s after the shutdown: state %s, %d attempts, %q", o.ID, o.Msg.To.Addr, o.State, o.Attempts, o.LastError)
			}
			return nil
		})
	})
	if err != nil || n == 0 {
		t.Errorf("queue holds %d messages, %v", n, err)
	}
}

// TestShutdownLongCommand: SIGTERM while a control command is inside a
// long write transaction (a sweep or purge of a large store, say), which no
// cancellation can stop half way. serve stops within its drain bound and
// the grace after it, without closing the store, which would wait for the
// transaction; the store is whole for the next start. Without the grace,
// serve waited for the command however long it took.
func TestShutdownLongCommand(t *testing.T) {
	cfg, _ := testConfig(t, "[outbound]\nmode = \"file\"\n")
	d, err := startDaemon(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	inside := make(chan struct{})
	d.bg.Go(func() {
		d.st.Update(func(*store.Tx) error {
			close(inside)
			<-release
			return nil
		})
	})
	<-inside
	d.drainTimeout, d.grace = time.Second, time.Second
	start := time.Now()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // what SIGTERM does
	go func() { done <- d.wait(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve waited for the command, 30 s past SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	close(release)
	if err := d.st.Close(); err != nil {
		t.Errorf("close the store after the command: %v", err)
	}
}
