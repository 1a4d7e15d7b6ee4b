package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// gatewayMail is one mail the gateway sent, as the sink received it or its
// file outbox holds it: the headers a run needs to follow its collaborations.
type gatewayMail struct {
	kind    string // X-Turnmail-Kind: "handoff", "confirm", …
	collab  string // X-Turnmail-Collab
	to      string // the To address, lower-case
	replyTo string // the Reply-To address: the recipient's tagged address
	at      time.Time
}

// readGatewayMail reads the header of one gateway mail. at is when it was
// handed over.
func readGatewayMail(r io.Reader, at time.Time) (*gatewayMail, error) {
	h, err := textproto.NewReader(bufio.NewReader(r)).ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	g := &gatewayMail{kind: h.Get("X-Turnmail-Kind"), collab: h.Get("X-Turnmail-Collab"), at: at}
	if v := h.Get("To"); v != "" {
		a, err := mail.ParseAddress(v)
		if err != nil {
			return nil, fmt.Errorf("to %q: %w", v, err)
		}
		g.to = strings.ToLower(a.Address)
	}
	if v := h.Get("Reply-To"); v != "" {
		a, err := mail.ParseAddress(v)
		if err != nil {
			return nil, fmt.Errorf("reply-to %q: %w", v, err)
		}
		g.replyTo = a.Address
	}
	return g, nil
}

// tracker matches the mails a run hands in to the handoffs they cause, and
// reads the tagged addresses back.
//
// A mail's handoff is recognised by its recipient (To) and X-Turnmail-Kind:
// handoff. Every address of a run is its own (see scenario), and within a
// collaboration the replies go one after the other, so the k-th handoff to
// an address answers the k-th awaited mail to it: the gateway hands a
// collaboration's mail over in the order it queued it. The handoffs do not
// carry the reply's Message-ID (their In-Reply-To is the last mail the
// gateway sent the recipient), so there is nothing finer to match by.
type tracker struct {
	mu       sync.Mutex
	byTo     map[string][]*gatewayMail // every mail seen, by recipient, in arrival order
	handoffs map[string]int            // handoffs seen, by recipient
	before   map[string]int            // of those, the ones seen before the timed mails
	waits    map[string][]time.Time    // the timed mails' 250s, by the recipient awaited
	awaited  int                       // timed mails awaiting a handoff
	matched  int                       // of those, the ones whose handoff came
	problems int                       // gateway mail that could not be read
	problem1 error                     // the first of them
	change   chan struct{}             // closed and replaced whenever a mail arrives
}

func newTracker() *tracker {
	return &tracker{
		byTo: map[string][]*gatewayMail{}, handoffs: map[string]int{}, before: map[string]int{},
		waits: map[string][]time.Time{}, change: make(chan struct{}),
	}
}

func (t *tracker) add(g *gatewayMail) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byTo[g.to] = append(t.byTo[g.to], g)
	if g.kind == "handoff" {
		t.handoffs[g.to]++
		if t.handoffs[g.to]-t.before[g.to] <= len(t.waits[g.to]) {
			t.matched++
		}
	}
	close(t.change)
	t.change = make(chan struct{})
}

// unreadable counts gateway mail that could not be read: the run reports
// it, and the handoffs it held as missing.
func (t *tracker) unreadable(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.problems++; t.problem1 == nil {
		t.problem1 = err
	}
}

// unreadableCount says how much gateway mail could not be read, and the
// first error.
func (t *tracker) unreadableCount() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.problems, t.problem1
}

// mark notes the handoffs seen so far: the ones the timed mails cause come
// after them. It is called before the first timed mail.
func (t *tracker) mark() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for to, n := range t.handoffs {
		t.before[to] = n
	}
}

// accepted records that a timed mail awaiting a handoff to addr got its 250
// at.
func (t *tracker) accepted(addr string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waits[addr] = append(t.waits[addr], at)
	t.awaited++
	if len(t.waits[addr]) <= t.handoffs[addr]-t.before[addr] {
		t.matched++
	}
}

// missing says how many timed mails still await their handoff.
func (t *tracker) missing() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.awaited - t.matched
}

// find returns the first mail to addr that match accepts, or nil.
func (t *tracker) find(addr string, match func(*gatewayMail) bool) *gatewayMail {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range t.byTo[addr] {
		if match(g) {
			return g
		}
	}
	return nil
}

// wait calls done whenever a mail arrives until it returns true, and
// returns false when ctx ends first.
func (t *tracker) wait(ctx context.Context, done func() bool) bool {
	for {
		t.mu.Lock()
		ch := t.change
		t.mu.Unlock()
		if done() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// latencies pairs every timed mail with its handoff and returns the delays
// from the 250 to the handoff, and how many handoffs are still missing.
func (t *tracker) latencies() (lat []time.Duration, missing int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for addr, accepted := range t.waits {
		var handoffs []*gatewayMail
		for _, g := range t.byTo[addr] {
			if g.kind == "handoff" {
				handoffs = append(handoffs, g)
			}
		}
		handoffs = handoffs[min(t.before[addr], len(handoffs)):]
		for i, at := range accepted {
			if i >= len(handoffs) {
				missing++
				continue
			}
			// The gateway can hand the handoff over before its 250 reaches
			// the client: both follow the same commit. That is no delay.
			lat = append(lat, max(0, handoffs[i].at.Sub(at)))
		}
	}
	return lat, missing
}

// watchOutbox reads the .eml files a file-mode gateway writes to dir into t,
// every interval until ctx ends, each file once. A file's time is its
// modification time: when the gateway wrote it. Files already there when it
// starts are read too, since an operator's outbox may hold the mail of an
// earlier run: the run's own addresses keep them apart.
func watchOutbox(ctx context.Context, dir string, interval time.Duration, t *tracker) error {
	seen := map[string]bool{}
	scan := func() error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		for _, e := range entries {
			name := e.Name()
			// The gateway writes to .tmp-* and renames into place.
			if seen[name] || !strings.HasSuffix(name, ".eml") || strings.HasPrefix(name, ".") {
				continue
			}
			seen[name] = true
			g, err := readOutboxFile(filepath.Join(dir, name))
			if err != nil {
				t.unreadable(err)
				continue
			}
			t.add(g)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := scan(); err != nil {
		return err
	}
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := scan(); err != nil {
					t.unreadable(err)
				}
			}
		}
	}()
	return nil
}

func readOutboxFile(path string) (*gatewayMail, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	g, err := readGatewayMail(f, fi.ModTime())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}
