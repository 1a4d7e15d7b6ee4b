package main

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// options says what a run does; main.go's flags document each one.
type options struct {
	addr        string // the gateway's SMTP listener, host:port
	gateway     string // the gateway address
	mode        string // "new" or "reply"
	mails       int
	concurrency int
	size        int // attachment bytes
	// collabs is how many collaborations a reply run starts and then takes
	// turns in; 0: enough that no sender hands in more than
	// maxPerSender mails.
	collabs int
	outbox  string // a file-mode gateway's outbox directory to read, or ""
	sink    string // where to run the sink, host:port, or ""
	rate    float64
	retry   retryPolicy
	timeout time.Duration // for each SMTP command
	// dataOnly sends with DATA even where the server offers CHUNKING
	// (--chunking=never).
	dataOnly bool
	// wait bounds how long the timed mails' handoffs may take after the
	// last 250; 0: not at all, the ones not yet seen are missing.
	wait                 time.Duration
	helo                 string
	fromDomain, toDomain string
	seed                 uint64 // 0: a random run
	files                []attachment
	// sinkStarted, when set, is told where the sink listens.
	sinkStarted func(addr string)
}

// setUpWait bounds how long a reply run waits for the gateway's mail about
// the collaborations it starts, at the least: it cannot go on without the
// tagged addresses in it.
const setUpWait = 2 * time.Minute

// maxPerSender is how many mails a reply run has each sender hand in at
// most: half the gateway's default [smtp] max_messages_per_sender_hour.
const maxPerSender = 50

// load runs o: for mode reply first the collaborations (untimed), then the
// timed mails, then the wait for their handoffs.
func load(ctx context.Context, o *options) (*Report, error) {
	if o.mode != "new" && o.mode != "reply" {
		return nil, fmt.Errorf(`mode %q: want "new" or "reply"`, o.mode)
	}
	if o.mode == "reply" && o.outbox == "" && o.sink == "" {
		return nil, errors.New("mode reply reads the tagged addresses back: give --outbox or --sink")
	}
	if o.mails < 1 || o.concurrency < 1 || o.retry.tries < 1 {
		return nil, errors.New("mails, concurrency and tries must be at least 1")
	}
	sc := newScenario(o)

	var t *tracker
	var where []string
	if o.sink != "" || o.outbox != "" {
		t = newTracker()
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	if o.sink != "" {
		s, err := startSink(o.sink, t)
		if err != nil {
			return nil, err
		}
		defer s.close()
		if o.sinkStarted != nil {
			o.sinkStarted(s.addr())
		}
		where = append(where, "sink")
	}
	if o.outbox != "" {
		if err := watchOutbox(watchCtx, o.outbox, 50*time.Millisecond, t); err != nil {
			return nil, err
		}
		where = append(where, "outbox")
	}

	var collabs []*collab
	if o.mode == "reply" {
		var err error
		if collabs, err = setUp(ctx, o, sc, t); err != nil {
			return nil, err
		}
	}
	if t != nil {
		t.mark()
	}
	r := timed(ctx, o, sc, collabs, t)
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if t != nil {
		waitCtx, cancel := context.WithTimeout(ctx, o.wait)
		t.wait(waitCtx, func() bool { return t.missing() == 0 })
		cancel()
		hl, missing := t.latencies()
		h := &HandoffReport{Where: strings.Join(where, " and "), Seen: len(hl), Missing: missing, Latency: percentiles(hl)}
		var first error
		if h.Unreadable, first = t.unreadableCount(); first != nil {
			h.FirstUnread = first.Error()
		}
		r.Handoff = h
	}
	return r, nil
}

// timed hands in the timed mails and reports on them: new collaborations,
// or replies in collabs. With t set, it notes there the handoff each
// accepted mail awaits.
func timed(ctx context.Context, o *options, sc *scenario, collabs []*collab, t *tracker) *Report {
	var (
		mu  sync.Mutex
		lat []time.Duration
		r   = &Report{
			Mode: o.mode, Addr: o.addr, Mails: o.mails, Concurrency: o.concurrency, Bytes: o.size,
			Failures: map[string]int{}, Retries: map[string]int{},
		}
		last time.Time
	)
	if len(o.files) > 0 {
		r.Bytes = len(o.files[0].data)
	}
	record := func(_ int, m *outMail, oc outcome) {
		mu.Lock()
		defer mu.Unlock()
		for _, what := range oc.retried {
			r.Retries[what]++
		}
		last = time.Now()
		if !oc.ok {
			r.Failed++
			r.Failures[oc.failure]++
			return
		}
		r.Accepted++
		if oc.bdat {
			r.BDAT++
		}
		lat = append(lat, oc.latency)
		if t != nil && m.await != "" {
			t.accepted(m.await, oc.accepted)
		}
	}
	var next func(w int) *outMail
	skipped := func(int) int { return 0 }
	if o.mode == "new" {
		var n atomic.Int64
		next = func(int) *outMail {
			i := int(n.Add(1)) - 1
			if i >= o.mails {
				return nil
			}
			return sc.start(i, i)
		}
	} else {
		r.Concurrency = min(o.concurrency, len(collabs))
		next, record, skipped = replies(o, sc, collabs, r.Concurrency, record)
	}

	start := time.Now()
	drive(ctx, o, r.Concurrency, next, record)
	for w := range r.Concurrency {
		if n := skipped(w); n > 0 {
			r.Failed += n
			r.Failures["skipped: an earlier reply in its collaboration failed"] += n
		}
	}
	if !last.IsZero() {
		r.Seconds = last.Sub(start).Seconds()
	}
	if r.Seconds > 0 {
		r.Rate = float64(r.Accepted) / r.Seconds
	}
	r.Latency = percentiles(lat)
	return r
}

func newScenario(o *options) *scenario {
	sc := &scenario{gateway: o.gateway, fromDomain: o.fromDomain, toDomain: o.toDomain, size: o.size, files: o.files}
	// The same seed makes the same mails, byte for byte but for their Date.
	if o.seed != 0 {
		rng := rand.New(rand.NewPCG(o.seed, 0x7475726e6d61696c))
		for i := range sc.key {
			sc.key[i] = byte(rng.Uint32())
		}
	} else {
		crand.Read(sc.key[:])
	}
	sc.run = strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sc.key[:5]))
	return sc
}

// setUp starts the collaborations of a reply run and reads back, from the
// gateway's mail, each one's id and both leaders' tagged addresses.
func setUp(ctx context.Context, o *options, sc *scenario, t *tracker) ([]*collab, error) {
	m := o.collabs
	if m == 0 {
		// Each collaboration's replies are split between its two leaders.
		m = max(o.concurrency, (o.mails+2*maxPerSender-1)/(2*maxPerSender))
	}
	collabs := make([]*collab, m)
	var n atomic.Int64
	var mu sync.Mutex
	var failed []string
	drive(ctx, o, min(o.concurrency, m), func(int) *outMail {
		i := int(n.Add(1)) - 1
		if i >= m {
			return nil
		}
		return sc.start(i, i)
	}, func(_ int, om *outMail, oc outcome) {
		if !oc.ok {
			mu.Lock()
			failed = append(failed, fmt.Sprintf("%s: %s", om.msgID, oc.failure))
			mu.Unlock()
		}
	})
	if len(failed) > 0 {
		return nil, fmt.Errorf("start collaborations: %d of %d failed, %s", len(failed), m, failed[0])
	}
	for i := range collabs {
		owner, other := sc.people(i)
		collabs[i] = &collab{n: i, owner: owner, other: other, tags: map[string]string{}}
	}
	found := func() bool {
		for _, c := range collabs {
			if c.id == "" {
				h := t.find(c.other, func(g *gatewayMail) bool { return g.kind == "handoff" && g.collab != "" && g.replyTo != "" })
				if h == nil {
					return false
				}
				c.id, c.tags[c.other] = h.collab, h.replyTo
			}
			if c.tags[c.owner] == "" {
				g := t.find(c.owner, func(g *gatewayMail) bool { return g.collab == c.id && g.replyTo != "" })
				if g == nil {
					return false
				}
				c.tags[c.owner] = g.replyTo
			}
		}
		return true
	}
	wait := max(o.wait, setUpWait)
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if t.wait(waitCtx, found) {
		return collabs, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, c := range collabs {
		to := c.other
		if c.id != "" {
			to = c.owner
		}
		if c.id == "" || c.tags[c.owner] == "" {
			return nil, fmt.Errorf("collaboration %d: no mail from the gateway to %s within %s: does its mail go to --outbox or --sink?",
				c.n, to, wait)
		}
	}
	return collabs, nil
}

// replies returns the timed mails of a reply run for conc clients: reply k
// goes to collaboration k mod len(collabs), in round k / len(collabs), and
// each collaboration belongs to one client, so that its replies go one after
// the other, each to a turn the one before handed over. A failed reply
// leaves its collaboration out of step (the turn did not move), so its later
// replies are not sent: skipped counts them. The returned done wraps record
// to note the failures.
func replies(o *options, sc *scenario, collabs []*collab, conc int, record func(int, *outMail, outcome)) (
	next func(w int) *outMail, done func(int, *outMail, outcome), skipped func(w int) int,
) {
	type client struct {
		k       int     // the next reply to look at
		cur     *collab // the collaboration of the mail last handed out
		broken  map[*collab]bool
		skipped int
	}
	clients := make([]*client, conc)
	for w := range clients {
		clients[w] = &client{broken: map[*collab]bool{}}
	}
	next = func(w int) *outMail {
		cl := clients[w]
		for ; cl.k < o.mails; cl.k++ {
			k := cl.k
			c := collabs[k%len(collabs)]
			if c.n%conc != w {
				continue
			}
			if cl.broken[c] {
				cl.skipped++
				continue
			}
			cl.k++
			cl.cur = c
			return sc.reply(c, k/len(collabs), len(collabs)+k)
		}
		return nil
	}
	done = func(w int, m *outMail, oc outcome) {
		if !oc.ok {
			clients[w].broken[clients[w].cur] = true
		}
		record(w, m, oc)
	}
	return next, done, func(w int) int { return clients[w].skipped }
}

// drive hands in the mails next returns, from conc clients at once, each
// with its own connection, until next returns nil for every client, and
// passes each outcome to done. next(w) and done for client w's mails are
// called from client w's goroutine only. A mail's data is given to another
// once done returns: done must not keep it. With o.rate set, the mails start
// at most that many a second, all clients together.
func drive(ctx context.Context, o *options, conc int, next func(w int) *outMail, done func(int, *outMail, outcome)) {
	var slot atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			c := &smtpConn{addr: o.addr, helo: o.helo, timeout: o.timeout, dataOnly: o.dataOnly}
			defer c.close()
			for ctx.Err() == nil {
				m := next(w)
				if m == nil {
					return
				}
				if o.rate > 0 {
					at := start.Add(time.Duration(float64(slot.Add(1)-1) / o.rate * float64(time.Second)))
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Until(at)):
					}
				}
				done(w, m, c.deliver(ctx, m, o.retry))
				m.release()
			}
		})
	}
	wg.Wait()
}
