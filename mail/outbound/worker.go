package outbound

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
)

const (
	// sendTimeout bounds one send whatever the Sender does with its own
	// bounds (SMTPSender has its own, shorter ones).
	sendTimeout = 10 * time.Minute
	// DefaultConcurrency is how many messages a Worker sends at once when
	// Concurrency is not set.
	DefaultConcurrency = 4
	// DefaultPollInterval is how often a Worker looks at the queue when
	// nothing wakes it.
	DefaultPollInterval = 30 * time.Second
)

// Worker drains a Queue: every message due is rendered and sent through
// Sender, up to Concurrency at once, each by one sender only. Success marks
// it sent; a permanent failure (IsPermanent), or the MaxAttempts-th failure,
// marks it failed, logs at error level and calls OnFailed; any other failure
// schedules a retry after Backoff. Retries render the same Outgoing, hence
// the same Message-ID.
//
// Delivery is at least once: a message whose send was interrupted (shutdown,
// a crash between the server's 250 and MarkSent) is sent again, with the
// same Message-ID, by which the receiving side can tell the copies apart.
type Worker struct {
	Queue  mail.Queue
	Blobs  mail.BlobOpener
	Sender Sender
	// EnvFrom is the MAIL FROM of every message, unless ReturnPath is set.
	EnvFrom string
	// ReturnPath, when set, gives the MAIL FROM of message id: an address
	// of its own (VERP), so that a bounce that comes back later says which
	// message it is about.
	ReturnPath func(id uint64) string
	Log        *slog.Logger // nil: slog.Default()
	// Wake, when it receives, makes Run look at the queue at once; nil is
	// allowed.
	Wake <-chan struct{}
	// Drain, once closed, makes Run send what is due and return when it has,
	// without waiting for mail due later: the first phase of a shutdown
	// (the second is cancelling Run's context). nil is allowed.
	Drain <-chan struct{}
	// PollInterval is how often Run looks at the queue when neither Wake nor
	// the next due message wakes it, for mail that another process queued.
	// 0: DefaultPollInterval.
	PollInterval time.Duration
	Concurrency  int // messages sent at once; 0: DefaultConcurrency
	// Backoff is the wait after the attempt-th failed attempt (1-based).
	// nil: 1m, 5m, 15m, 1h, 4h, then 8h each.
	Backoff     func(attempt int) time.Duration
	MaxAttempts int // 0: 20
	// OnFailed, if set, is called after a message is marked failed, e.g. to
	// tell the collaboration's owner. Calls may run concurrently.
	OnFailed func(q mail.QueuedMail, err error)
	Now      func() time.Time // nil: time.Now
}

// DefaultBackoff is the Backoff a Worker uses when none is set.
func DefaultBackoff(attempt int) time.Duration {
	steps := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 4 * time.Hour}
	if attempt >= 1 && attempt <= len(steps) {
		return steps[attempt-1]
	}
	return 8 * time.Hour
}

// Run drains the queue until ctx is done: at once, whenever Wake receives,
// when the earliest message waiting falls due, and every PollInterval. When
// Drain is closed it returns once what is due has been tried. When ctx is
// done it aborts the sends in flight (the SMTPSender closes its
// connection), leaves their messages queued as they were, to be sent again
// at the next start, and returns as soon as the sends have.
func (w *Worker) Run(ctx context.Context) {
	if err := w.loop(ctx, w.Drain); err != nil && ctx.Err() == nil {
		w.log().Error("drain outbound queue", "err", err)
	}
}

// Flush sends everything due now, each message at most once, and returns
// when it has; mail due later is left. ctx ends it as it ends Run. Errors are
// the queue's; delivery failures are recorded in the queue.
func (w *Worker) Flush(ctx context.Context) error {
	now := make(chan struct{})
	close(now)
	return w.loop(ctx, now)
}

// loop is Run and Flush. Once drain is closed, each message is tried at
// most once more, so that a retry due at once cannot keep it going.
func (w *Worker) loop(ctx context.Context, drain <-chan struct{}) error {
	n := w.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	interval := w.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	// inflight holds the messages being sent: the one claim on each, so no
	// two senders of this process ever send one message.
	inflight := make(map[uint64]bool, n)
	done := make(chan uint64, n)
	var senders sync.WaitGroup
	defer senders.Wait()
	var tried map[uint64]bool // once draining
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if tried == nil && closed(drain) {
			tried = make(map[uint64]bool)
			drain = nil
		}
		var due []mail.QueuedMail
		if len(inflight) < n {
			var err error
			// The messages in flight are due too: ask for enough besides.
			due, err = w.Queue.Due(w.now(), len(inflight)+n)
			if err != nil && tried != nil && len(inflight) == 0 {
				return fmt.Errorf("list due outbound mail: %w", err)
			} else if err != nil {
				w.log().Error("list due outbound mail", "err", err)
			}
		}
		for _, q := range due {
			if len(inflight) == n {
				break
			}
			if inflight[q.ID] || tried[q.ID] {
				continue
			}
			if tried != nil {
				tried[q.ID] = true
			}
			inflight[q.ID] = true
			senders.Go(func() {
				defer func() { done <- q.ID }()
				w.deliverRecovered(ctx, q)
			})
		}
		if tried != nil && len(inflight) == 0 {
			return nil
		}

		// Sleep until something can be done: a sender is free, mail was
		// queued, or the earliest waiting message falls due.
		wake := w.Wake
		if tried != nil {
			wake = nil // draining: what is due has been taken
		} else {
			wait := interval
			if next, ok, err := w.Queue.NextDue(w.now()); err != nil {
				w.log().Error("find next due outbound mail", "err", err)
			} else if ok {
				wait = min(wait, max(next.Sub(w.now()), 0))
			}
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			// The sends see ctx too and return promptly.
			return ctx.Err()
		case id := <-done:
			delete(inflight, id)
		case <-wake:
		case <-drain:
		case <-timer.C:
		}
		// Every sender that finished meanwhile frees its claim.
		for more := true; more; {
			select {
			case id := <-done:
				delete(inflight, id)
			default:
				more = false
			}
		}
	}
}

func closed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// deliver makes one attempt at q and records the outcome. An attempt cut
// short because ctx is done is not recorded: the message stays as it was,
// due, and is sent at the next start.
func (w *Worker) deliver(ctx context.Context, q mail.QueuedMail) error {
	log := w.log().With("outbox_id", q.ID, "collab", q.Collab, "message_id", q.Msg.MessageID, "to", q.Msg.To.Addr)
	err := w.send(ctx, q)
	now := w.now()
	if err == nil {
		log.Info("outbound mail sent", "attempt", q.Attempts+1)
		if err := w.Queue.MarkSent(q.ID, now); err != nil {
			return fmt.Errorf("mark outbound %d sent: %w", q.ID, err)
		}
		return nil
	}
	if ctx.Err() != nil && !IsPermanent(err) {
		log.Info("outbound mail interrupted, stays queued", "err", err)
		return nil
	}

	attempt := q.Attempts + 1
	max := w.MaxAttempts
	if max <= 0 {
		max = 20
	}
	if !IsPermanent(err) && attempt < max {
		backoff := w.Backoff
		if backoff == nil {
			backoff = DefaultBackoff
		}
		next := now.Add(backoff(attempt))
		log.Warn("outbound mail deferred", "err", err, "attempt", attempt, "next", next)
		if err := w.Queue.MarkRetry(q.ID, next, err.Error()); err != nil {
			return fmt.Errorf("mark outbound %d for retry: %w", q.ID, err)
		}
		return nil
	}

	if !IsPermanent(err) {
		err = &mail.PermanentError{Err: fmt.Errorf("gave up after %d attempts: %w", attempt, err)}
	}
	log.Error("outbound mail failed", "err", err, "attempt", attempt)
	if err := w.Queue.MarkFailed(q.ID, now, err.Error()); err != nil {
		return fmt.Errorf("mark outbound %d failed: %w", q.ID, err)
	}
	if w.OnFailed != nil {
		w.OnFailed(q, err)
	}
	return nil
}

// deliverRecovered is deliver with its queue errors logged and a panic past
// the send (in OnFailed, say, or the Queue) recovered and logged with its
// stack: it costs that message's bookkeeping, not the worker, and the next
// message goes on.
func (w *Worker) deliverRecovered(ctx context.Context, q mail.QueuedMail) {
	defer func() {
		if r := recover(); r != nil {
			w.log().Error("outbound panic", "panic", r, "outbox_id", q.ID, "stack", string(debug.Stack()))
		}
	}()
	if err := w.deliver(ctx, q); err != nil {
		w.log().Error("record outbound attempt", "err", err, "outbox_id", q.ID)
	}
}

// send renders and sends q's message, within sendTimeout and until ctx is
// done. A panic counts as a failure worth retrying.
func (w *Worker) send(ctx context.Context, q mail.QueuedMail) (err error) {
	m := &q.Msg
	envFrom := w.EnvFrom
	if w.ReturnPath != nil {
		envFrom = w.ReturnPath(q.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			w.log().Error("panic in outbound send", "panic", r, "message_id", m.MessageID, "stack", string(debug.Stack()))
			err = fmt.Errorf("mail: panic in send: %v", r)
		}
	}()
	return w.Sender.Send(ctx, envFrom, m, func(wr io.Writer) error {
		return message.WriteMessage(wr, m, w.Blobs)
	})
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}
