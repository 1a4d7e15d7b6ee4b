package outbound

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
)

const (
	// sendTimeout bounds one send, also the one still in flight at shutdown:
	// it runs on its own context so that shutdown finishes it rather than
	// abandoning it half-written.
	sendTimeout = 5 * time.Minute
	// dueBatch is how many due messages one Queue.Due call returns.
	dueBatch = 50
)

// Worker drains a Queue: every message due is rendered and sent through
// Sender. Success marks it sent; a permanent failure (IsPermanent), or the
// MaxAttempts-th failure, marks it failed, logs at error level and calls
// OnFailed; any other failure schedules a retry after Backoff. Retries render
// the same Outgoing, hence the same Message-ID.
type Worker struct {
	Queue   mail.Queue
	Blobs   mail.BlobOpener
	Sender  Sender
	EnvFrom string       // MAIL FROM of every message
	Log     *slog.Logger // nil: slog.Default()
	// Wake, when it receives, makes Run look at the queue at once; nil is
	// allowed.
	Wake         <-chan struct{}
	PollInterval time.Duration // 0: 30 seconds
	// Backoff is the wait after the attempt-th failed attempt (1-based).
	// nil: 1m, 5m, 15m, 1h, 4h, then 8h each.
	Backoff     func(attempt int) time.Duration
	MaxAttempts int // 0: 20
	// OnFailed, if set, is called after a message is marked failed, e.g. to
	// tell the collaboration's owner.
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

// Run drains the queue whenever Wake receives and every PollInterval, until
// ctx is done. The message in flight when ctx ends is finished first.
func (w *Worker) Run(ctx context.Context) {
	interval := w.PollInterval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.Wake:
		case <-timer.C:
		}
		if err := w.Flush(ctx); err != nil && ctx.Err() == nil {
			w.log().Error("drain outbound queue", "err", err)
		}
		timer.Reset(interval)
	}
}

// Flush sends everything due now once and returns. It stops taking messages
// when ctx is done (returning ctx's error) but finishes the one in flight.
// Errors are the queue's; delivery failures are recorded in the queue.
func (w *Worker) Flush(ctx context.Context) error {
	seen := make(map[uint64]bool)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		due, err := w.Queue.Due(w.now(), dueBatch)
		if err != nil {
			return fmt.Errorf("list due outbound mail: %w", err)
		}
		progress := false
		for _, q := range due {
			if err := ctx.Err(); err != nil {
				return err
			}
			// A retry due again at once (a zero Backoff) waits for the next Flush.
			if seen[q.ID] {
				continue
			}
			seen[q.ID] = true
			progress = true
			if err := w.deliverRecovered(ctx, q); err != nil {
				return err
			}
		}
		if !progress || len(due) < dueBatch {
			return nil
		}
	}
}

// deliver makes one attempt at q and records the outcome. It returns only
// the queue's errors.
func (w *Worker) deliver(ctx context.Context, q mail.QueuedMail) error {
	log := w.log().With("outbox_id", q.ID, "message_id", q.Msg.MessageID, "to", q.Msg.To.Addr)
	err := w.send(ctx, &q.Msg)
	now := w.now()
	if err == nil {
		log.Info("outbound mail sent", "attempt", q.Attempts+1)
		if err := w.Queue.MarkSent(q.ID, now); err != nil {
			return fmt.Errorf("mark outbound %d sent: %w", q.ID, err)
		}
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

// deliverRecovered is deliver with a panic past the send (in OnFailed, say,
// or the Queue) recovered and logged with its stack: it costs that message's
// bookkeeping, not the worker, and the next message goes on.
func (w *Worker) deliverRecovered(ctx context.Context, q mail.QueuedMail) (err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log().Error("outbound panic", "panic", r, "outbox_id", q.ID, "stack", string(debug.Stack()))
			err = nil
		}
	}()
	return w.deliver(ctx, q)
}

// send renders and sends m on a context of its own, bounded by sendTimeout,
// that outlives ctx. A panic counts as a failure worth retrying.
func (w *Worker) send(ctx context.Context, m *mail.Outgoing) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			w.log().Error("panic in outbound send", "panic", r, "message_id", m.MessageID, "stack", string(debug.Stack()))
			err = fmt.Errorf("mail: panic in send: %v", r)
		}
	}()
	return w.Sender.Send(ctx, w.EnvFrom, m, func(wr io.Writer) error {
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
