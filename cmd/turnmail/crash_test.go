package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/turnmail/turnmail/store"
)

var (
	crashLong = flag.Bool("crash.long", false, "TestCrash kills the daemon 200 times rather than 20, in some 10 minutes: go test ./cmd/turnmail -run Crash -timeout 30m -crash.long (TURNMAIL_CRASH_KILLS sets any number)")
	// The race detector makes the daemon some ten times slower: a tenth of
	// the mail between two kills, which is what the test is about. The
	// unit tests run the same code with it.
	crashRace = flag.Bool("crash.race", false, "TestCrash builds the daemon with -race, and fails on a race it reports")
)

// crashClients is how many clients mail the daemon at once.
const crashClients = 8

// crashKills is how many times TestCrash kills the daemon: 20, enough to
// land in every phase of a delivery in about a minute, so that CI runs it;
// 200 with -crash.long; TURNMAIL_CRASH_KILLS overrides both.
func crashKills(t *testing.T) int {
	if s := os.Getenv("TURNMAIL_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TURNMAIL_CRASH_KILLS=%q: want a positive number", s)
		}
		return n
	}
	if *crashLong {
		return 200
	}
	return 20
}

// TestCrash proves the README's reliability promises on the real binary: it
// runs `turnmail serve` relaying to a go-smtp smarthost on loopback, mails it
// from 8 clients that retry as an MTA does (new collaborations, and replies
// through the tagged addresses in the handoffs the smarthost receives,
// ending turns or not), and kills it with SIGKILL at random moments,
// starting it again on the same data directory each time. Then, with the
// queue drained, every mail answered 250 must have been applied exactly
// once and in whole, every outbound mail queued must have reached the
// smarthost (a copy sent twice with the same Message-ID, between the
// smarthost's 250 and the commit that records it, is counted, not failed:
// the README promises at least once), and bbolt must find the file
// consistent.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test runs the daemon for about a minute under load")
	}
	kills := crashKills(t)
	// Not t.TempDir: the control socket's path must fit a sockaddr_un.
	dir, err := os.MkdirTemp("", "tmcrash")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := buildCrashDaemon(t, dir, *crashRace)

	sink := &crashSink{}
	sinkAddr, err := sink.start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.srv.Close() })

	smtpAddr := freeAddr(t)
	dataDir := filepath.Join(dir, "data")
	configPath := filepath.Join(dir, "turnmail.toml")
	// The per-sender limit is raised: each client is one owner, and sends
	// far more than 100 mails an hour.
	config := fmt.Sprintf(`[gateway]
address = "collab@gw.crash.test"
data_dir = %q

[smtp]
listen = %q
max_messages_per_sender_hour = 1000000

[outbound]
mode = "smtp"
smarthost = %q
starttls = false

[admin]
listen = ""
`, dataDir, smtpAddr, sinkAddr)
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	d := &crashDaemon{t: t, bin: bin, config: configPath, smtpAddr: smtpAddr, logPath: filepath.Join(dir, "serve.log")}
	t.Cleanup(d.kill)
	begin := time.Now()
	d.start()

	load := &crashLoad{addr: smtpAddr, sink: sink, tempfails: map[string]int{}, ending: make(chan struct{})}
	stop, stopLoad := context.WithCancel(context.Background())
	abort, abortLoad := context.WithCancel(context.Background())
	var clients sync.WaitGroup
	// Cleanups run last first: the clients stop before the daemon is killed.
	t.Cleanup(func() {
		abortLoad()
		clients.Wait()
	})
	for i := range crashClients {
		clients.Go(func() { load.run(stop, abort, i) })
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for range kills {
		// Into the load, once this run has taken a mail, however slow the
		// machine, so that every run makes progress.
		waitAccepted := func() {
			n := load.accepted.Load()
			for load.accepted.Load() == n && time.Since(d.started) < time.Minute {
				time.Sleep(5 * time.Millisecond)
			}
		}
		switch rng.IntN(5) {
		case 0:
			// Early: during the start-up sweep, the first tick, the
			// sends of what the last run left queued.
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		case 1, 2:
			// While a mail is being applied: just before its commit or
			// between the commit and the 250, when the client must send
			// it again and the daemon must know it.
			waitAccepted()
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
			select {
			case <-load.ending:
			case <-time.After(10 * time.Second):
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		default:
			waitAccepted()
			time.Sleep(time.Duration(rng.IntN(4000)) * time.Millisecond)
		}
		d.kill()
		d.start()
	}
	// The daemon stays up now: every client finishes the mail it is on.
	time.Sleep(time.Second)
	stopLoad()
	finished := make(chan struct{})
	go func() { clients.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(3 * time.Minute):
		abortLoad()
		<-finished
		t.Errorf("clients still without a final answer 3 minutes after the load stopped\n%s", d.tail(40))
	}
	loadTime := time.Since(begin)

	dbPath := filepath.Join(dataDir, dbFile)
	queued := d.drain(sink, dbPath)
	drainTime := time.Since(begin) - loadTime
	f := checkCrash(t, d, load, sink, dbPath)
	f.kills, f.loadTime, f.drainTime, f.total = kills, loadTime, drainTime, time.Since(begin)
	// A mail committed whose 250 a kill cut off comes again, and the daemon
	// says so: the runs where exactly once was put to the test.
	f.redelivered = d.logCount(`msg="duplicate message ignored"`)
	// A kill between a blob's chunks and its manifest, or before the mail's
	// commit, leaves chunks that nothing references, swept at the next start.
	f.swept = d.logCount(`msg="swept unreferenced data"`)
	if queued > 0 {
		t.Errorf("%d outbound mail still queued after the drain", queued)
	}
	for _, line := range d.logProblems() {
		t.Errorf("daemon log: %s", line)
	}
	report := f.String()
	t.Log(report)
	if testing.Verbose() {
		fmt.Println(report)
	}
}

// freeAddr returns a loopback address that nothing listens on, with a port
// below the kernel's ephemeral range: the daemon must come back on the same
// port after every kill, and a port from that range could meanwhile be
// handed to another test's listener on port 0.
func freeAddr(t *testing.T) string {
	t.Helper()
	low := 32768 // Linux's default start of the range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		fmt.Sscan(string(b), &low)
	}
	if low > 11000 {
		for range 100 {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(low-10000)))
			if err == nil {
				addr := ln.Addr().String()
				ln.Close()
				return addr
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// drain lets the daemon send what the load queued: until `turnmail queue`
// lists nothing queued and the smarthost has heard nothing for a second,
// then SIGTERM, then a look at the queue in the store; while mail is left
// queued (one in flight at the SIGTERM), again. It returns how many are
// left after five minutes, with the daemon stopped.
func (d *crashDaemon) drain(sink *crashSink, dbPath string) int {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		for time.Now().Before(deadline) {
			out, err := d.cli("queue", "--json")
			if err != nil {
				d.t.Fatal(err)
			}
			var list []queueEntry
			if err := json.Unmarshal(out, &list); err != nil {
				d.t.Fatalf("queue --json: %v", err)
			}
			if !slices.ContainsFunc(list, func(e queueEntry) bool { return e.State == store.OutboundQueued }) && sink.quiet(time.Second) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		d.stop()
		n, err := queuedOutbound(dbPath)
		if err != nil {
			d.t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		d.start()
	}
}
