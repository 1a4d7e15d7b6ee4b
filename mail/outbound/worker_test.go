package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/internal/mailtest"
	"github.com/turnmail/turnmail/mail/message"
)

// outItem is one message in an outQueue.
type outItem struct {
	q      mail.QueuedMail
	next   time.Time
	state  string // "queued", "sent", "failed"
	reason string
}

// outQueue is an in-memory Queue.
type outQueue struct {
	mu    sync.Mutex
	items map[uint64]*outItem
}

func (q *outQueue) add(m mail.Outgoing, next time.Time) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.items == nil {
		q.items = make(map[uint64]*outItem)
	}
	id := uint64(len(q.items) + 1)
	q.items[id] = &outItem{q: mail.QueuedMail{ID: id, Msg: m}, next: next, state: "queued"}
	return id
}

func (q *outQueue) get(id uint64) outItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.items[id]
}

func (q *outQueue) Due(now time.Time, limit int) ([]mail.QueuedMail, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []mail.QueuedMail
	for _, it := range q.items {
		if it.state == "queued" && !it.next.After(now) {
			due = append(due, it.q)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].ID < due[j].ID })
	return due[:min(limit, len(due))], nil
}

func (q *outQueue) NextDue(after time.Time) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	for _, it := range q.items {
		if it.state == "queued" && it.next.After(after) && (next.IsZero() || it.next.Before(next)) {
			next = it.next
		}
	}
	return next, !next.IsZero(), nil
}

func (q *outQueue) mark(id uint64, state string, next time.Time, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok || it.state != "queued" {
		return errors.New("not queued")
	}
	it.state, it.next, it.reason = state, next, reason
	if state != "sent" {
		it.q.Attempts++
	}
	return nil
}

func (q *outQueue) MarkSent(id uint64, at time.Time) error { return q.mark(id, "sent", at, "") }
func (q *outQueue) MarkRetry(id uint64, next time.Time, reason string) error {
	return q.mark(id, "queued", next, reason)
}
func (q *outQueue) MarkFailed(id uint64, at time.Time, reason string) error {
	return q.mark(id, "failed", at, reason)
}

// outSenderFunc is a Sender made of a function.
type outSenderFunc func(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error

func (f outSenderFunc) Send(ctx context.Context, envFrom string, m *mail.Outgoing, write func(io.Writer) error) error {
	return f(ctx, envFrom, m, write)
}

// testClock is an injectable Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestWorker returns a Worker relaying through a smarthost running be,
// with a fake clock, a minute per failed attempt as backoff, and its log.
func newTestWorker(t *testing.T, be *outBackend) (*Worker, *outQueue, *testClock, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	clock := &testClock{t: time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)}
	q := &outQueue{}
	w := &Worker{
		Queue:   q,
		Blobs:   mailtest.Blobs{},
		Sender:  &SMTPSender{Addr: startSmarthost(t, be, nil), HeloName: "gw.example"},
		EnvFrom: "bounces@gw.example",
		Log:     slog.New(slog.NewTextHandler(&logs, nil)),
		Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute },
		Now:     clock.Now,
	}
	return w, q, clock, &logs
}

func flush(t *testing.T, w *Worker) {
	t.Helper()
	if err := w.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestWorkerSendsDue(t *testing.T) {
	be := &outBackend{}
	w, q, clock, _ := newTestWorker(t, be)
	a := q.add(testOutgoing("a@axe.example"), clock.Now())
	b := q.add(testOutgoing("b@axe.example"), clock.Now().Add(-time.Hour))
	later := q.add(testOutgoing("c@axe.example"), clock.Now().Add(time.Hour))
	flush(t, w)

	for _, id := range []uint64{a, b} {
		if it := q.get(id); it.state != "sent" {
			t.Errorf("message %d is %s", id, it.state)
		}
	}
	if it := q.get(later); it.state != "queued" {
		t.Errorf("message not yet due is %s", it.state)
	}
	var to []string
	for _, r := range be.received() {
		to = append(to, r.to)
		if r.from != "bounces@gw.example" {
			t.Errorf("MAIL FROM %q", r.from)
		}
	}
	sort.Strings(to)
	if strings.Join(to, " ") != "a@axe.example b@axe.example" {
		t.Errorf("delivered to %q", to)
	}
}

// TestWorkerReturnPath: each message goes out with its own MAIL FROM.
func TestWorkerReturnPath(t *testing.T) {
	be := &outBackend{}
	w, q, clock, _ := newTestWorker(t, be)
	w.ReturnPath = func(id uint64) string { return fmt.Sprintf("collab+b.%d@gw.example", id) }
	a := q.add(testOutgoing("a@axe.example"), clock.Now())
	b := q.add(testOutgoing("b@axe.example"), clock.Now())
	flush(t, w)
	from := map[string]string{}
	for _, r := range be.received() {
		from[r.to] = r.from
	}
	want := map[string]string{"a@axe.example": fmt.Sprintf("collab+b.%d@gw.example", a), "b@axe.example": fmt.Sprintf("collab+b.%d@gw.example", b)}
	if !reflect.DeepEqual(from, want) {
		t.Errorf("MAIL FROM by recipient: %v, want %v", from, want)
	}
}

func TestWorkerRetries(t *testing.T) {
	var mu sync.Mutex
	fails := 1
	be := &outBackend{rcpt: func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}}
	w, q, clock, _ := newTestWorker(t, be)
	m := testOutgoing("bob@axe.example")
	id := q.add(m, clock.Now())

	flush(t, w)
	it := q.get(id)
	if it.state != "queued" || it.q.Attempts != 1 || !it.next.Equal(clock.Now().Add(time.Minute)) || !strings.Contains(it.reason, "451") {
		t.Fatalf("after a 451: %+v", it)
	}
	flush(t, w) // not due yet
	if n := len(be.received()); n != 0 {
		t.Fatalf("sent %d before the backoff passed", n)
	}

	clock.Advance(time.Minute)
	flush(t, w)
	if it := q.get(id); it.state != "sent" {
		t.Fatalf("after the backoff: %+v", it)
	}
	got := be.received()
	if len(got) != 1 {
		t.Fatalf("smarthost has %d messages", len(got))
	}
	checkMessageID(t, got[0].data, m.MessageID)
}

func TestWorkerFails(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		maxAttempts int
		flushes     int
	}{
		{"550 at once", 550, 0, 1},
		{"451 until MaxAttempts", 451, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &outBackend{rcpt: func(string) error {
				return &smtp.SMTPError{Code: tc.code, EnhancedCode: smtp.EnhancedCode{tc.code / 100, 1, 1}, Message: "no such user"}
			}}
			w, q, clock, logs := newTestWorker(t, be)
			w.MaxAttempts = tc.maxAttempts
			var failed []mail.QueuedMail
			var failErr error
			w.OnFailed = func(q mail.QueuedMail, err error) {
				failed = append(failed, q)
				failErr = err
			}
			id := q.add(testOutgoing("nobody@axe.example"), clock.Now())
			for i := range tc.flushes {
				if i > 0 && len(failed) > 0 {
					t.Fatalf("failed after %d attempts", i)
				}
				flush(t, w)
				clock.Advance(time.Hour)
			}
			it := q.get(id)
			if it.state != "failed" || it.q.Attempts != tc.flushes || !strings.Contains(it.reason, "no such user") {
				t.Errorf("queue holds %+v", it)
			}
			if len(failed) != 1 || failed[0].ID != id || !IsPermanent(failErr) {
				t.Errorf("OnFailed got %v, %v", failed, failErr)
			}
			if !strings.Contains(logs.String(), `level=ERROR msg="outbound mail failed"`) {
				t.Errorf("no error log line in\n%s", logs)
			}
		})
	}
}

func TestWorkerRecoversPanic(t *testing.T) {
	w, q, clock, logs := newTestWorker(t, &outBackend{})
	w.Sender = outSenderFunc(func(context.Context, string, *mail.Outgoing, func(io.Writer) error) error {
		panic("boom")
	})
	id := q.add(testOutgoing("bob@axe.example"), clock.Now())
	flush(t, w)
	if it := q.get(id); it.state != "queued" || it.q.Attempts != 1 || !strings.Contains(it.reason, "boom") {
		t.Errorf("after a panic: %+v", it)
	}
	if !strings.Contains(logs.String(), "panic in outbound send") {
		t.Errorf("panic not logged:\n%s", logs)
	}
}

func TestWorkerRecoversPanicAfterSend(t *testing.T) {
	w, q, clock, logs := newTestWorker(t, &outBackend{})
	w.Sender = outSenderFunc(func(_ context.Context, _ string, m *mail.Outgoing, _ func(io.Writer) error) error {
		if m.To.Addr == "nobody@axe.example" {
			return &mail.PermanentError{Err: errors.New("550 no such user")}
		}
		return nil
	})
	w.OnFailed = func(mail.QueuedMail, error) { panic("boom") }
	failed := q.add(testOutgoing("nobody@axe.example"), clock.Now().Add(-time.Minute))
	next := q.add(testOutgoing("bob@axe.example"), clock.Now())
	flush(t, w)
	if it := q.get(failed); it.state != "failed" {
		t.Errorf("message whose OnFailed panicked: %+v", it)
	}
	if it := q.get(next); it.state != "sent" {
		t.Errorf("message after the panic: %+v", it)
	}
	if !strings.Contains(logs.String(), `msg="outbound panic" panic=boom`) || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
}

// testOutgoing is a small handoff-like message to one recipient.
func testOutgoing(to string) mail.Outgoing {
	return mail.Outgoing{
		MessageID: message.NewMessageID("gw.example"),
		Date:      time.Date(2025, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600)),
		From:      mail.Address{Name: "Alice Smith (via turnmail)", Addr: "collab@gw.example"},
		To:        mail.Address{Name: "Bob", Addr: to},
		Subject:   "Services Agreement [tm:k7p2qz]",
		Text:      "Your turn.\n",
	}
}

func TestWorkerRun(t *testing.T) {
	be := &outBackend{}
	w, q, clock, _ := newTestWorker(t, be)
	wake := make(chan struct{}, 1)
	w.Wake = wake
	w.PollInterval = time.Hour // only Wake and the first pass can find mail

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()

	first := q.add(testOutgoing("a@axe.example"), clock.Now())
	wake <- struct{}{}
	mailtest.WaitFor(t, "the first message", func() bool { return q.get(first).state == "sent" })
	second := q.add(testOutgoing("b@axe.example"), clock.Now())
	wake <- struct{}{}
	mailtest.WaitFor(t, "the second message", func() bool { return q.get(second).state == "sent" })

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestWorkerAbortsInFlight: cancelling Run aborts the send in flight, on a
// relay that never greets, and leaves its message queued as it was.
func TestWorkerAbortsInFlight(t *testing.T) {
	w, q, clock, _ := newTestWorker(t, &outBackend{})
	relay := &rawRelay{} // accepts, never greets
	w.Sender = &SMTPSender{Addr: relay.start(t), GreetingTimeout: time.Hour, Timeout: time.Hour}
	var sending sync.WaitGroup
	sending.Add(1)
	inner := w.Sender
	w.Sender = outSenderFunc(func(ctx context.Context, from string, m *mail.Outgoing, write func(io.Writer) error) error {
		sending.Done()
		return inner.Send(ctx, from, m, write)
	})
	id := q.add(testOutgoing("bob@axe.example"), clock.Now())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()
	sending.Wait()
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if it := q.get(id); it.state != "queued" || it.q.Attempts != 0 || !it.next.Equal(clock.Now()) {
		t.Errorf("message in flight at shutdown: %+v", it)
	}
}

// TestWorkerDrain: once Drain is closed, Run sends what is due, leaves what
// is due later, and returns.
func TestWorkerDrain(t *testing.T) {
	be := &outBackend{}
	w, q, clock, _ := newTestWorker(t, be)
	drain := make(chan struct{})
	w.Drain = drain
	w.PollInterval = time.Hour
	now := q.add(testOutgoing("a@axe.example"), clock.Now())
	later := q.add(testOutgoing("b@axe.example"), clock.Now().Add(time.Hour))
	close(drain)
	done := make(chan struct{})
	go func() {
		w.Run(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after Drain")
	}
	if it := q.get(now); it.state != "sent" {
		t.Errorf("message due: %+v", it)
	}
	if it := q.get(later); it.state != "queued" || it.q.Attempts != 0 {
		t.Errorf("message due later: %+v", it)
	}
}

// TestWorkerConcurrency: Concurrency senders at once and no more, each
// message sent once, through a real smarthost that holds the first messages
// until four are in its hands.
func TestWorkerConcurrency(t *testing.T) {
	const senders, messages = 4, 12
	var mu sync.Mutex
	active, most := 0, 0
	full := make(chan struct{}) // closed when the first senders are all in
	var fill sync.Once
	be := &outBackend{data: func() error {
		mu.Lock()
		active++
		most = max(most, active)
		if active == senders {
			fill.Do(func() { close(full) })
		}
		mu.Unlock()
		// One sender at a time would wait here in vain, and most would
		// say so.
		select {
		case <-full:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		active--
		mu.Unlock()
		return nil
	}}
	w, q, clock, _ := newTestWorker(t, be)
	w.Concurrency = senders
	var ids []uint64
	for i := range messages {
		ids = append(ids, q.add(testOutgoing(fmt.Sprintf("p%d@axe.example", i)), clock.Now()))
	}
	flush(t, w)
	for _, id := range ids {
		if it := q.get(id); it.state != "sent" {
			t.Errorf("message %d: %+v", id, it)
		}
	}
	got := be.received()
	seen := map[string]int{}
	for _, r := range got {
		seen[r.to]++
	}
	if len(got) != messages || len(seen) != messages {
		t.Errorf("smarthost got %d messages for %d recipients, want %d each once", len(got), len(seen), messages)
	}
	if most != senders {
		t.Errorf("at most %d messages at once in the smarthost, want %d", most, senders)
	}
}

// TestWorkerWakesOnTime: a retry falls due long before the next poll, and
// Run sends it then, without a Wake.
func TestWorkerWakesOnTime(t *testing.T) {
	var mu sync.Mutex
	fails := 1
	be := &outBackend{rcpt: func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}}
	w, q, _, _ := newTestWorker(t, be)
	w.Now = nil // the real clock: the timer is what is tested
	w.PollInterval = time.Hour
	w.Backoff = func(int) time.Duration { return 200 * time.Millisecond }
	id := q.add(testOutgoing("bob@axe.example"), time.Now())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	mailtest.WaitFor(t, "the retry", func() bool { return q.get(id).state == "sent" })
	if it := q.get(id); it.q.Attempts != 1 {
		t.Errorf("after the retry: %+v", it)
	}
}
