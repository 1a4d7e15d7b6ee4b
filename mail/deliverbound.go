package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// DefaultDeliverTimeout bounds the time one message may take to be
// delivered, over every transport: the longest that RFC 5321 §4.5.3.2.6 lets
// a sender wait for its reply after the end of the data.
const DefaultDeliverTimeout = 10 * time.Minute

// ErrDeliverHung reports a delivery that did not return within a grace
// period after its context's deadline: the transport stopped waiting for it.
var ErrDeliverHung = errors.New("mail: delivery did not return after its deadline")

// deliverPanic is a panic in a Deliverer, recovered and returned as an error.
type deliverPanic struct {
	value any
	stack []byte
}

func (p *deliverPanic) Error() string { return fmt.Sprintf("mail: delivery panicked: %v", p.value) }

// abandoned counts the deliveries that are still running after their
// transport gave up on them, for the log line of the next one.
var abandoned atomic.Int64

// DeliverBounded runs d.Deliver under ctx with a deadline of timeout from
// now. A panic in it is returned as an error. A Deliver that does not return
// within a grace period after the deadline (a tenth of timeout, at most a
// minute) is abandoned: DeliverBounded returns ErrDeliverHung while it runs
// on, so that one message that makes a Deliverer spin cannot stop the
// transport (the SMTP session gets its reply, the IMAP mailbox moves on).
// An abandoned Deliver may still commit later; both transports then see the
// message again, and the Deliverer recognises it as a redelivery. msg must
// stay open until DeliverBounded returns; closing it after an abandon is
// what may end the abandoned Deliver, with a read error.
func DeliverBounded(ctx context.Context, d Deliverer, env Envelope, msg *Spool, timeout time.Duration, log *slog.Logger) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- outcome{err: &deliverPanic{value: v, stack: debug.Stack()}}
			}
		}()
		res, err := d.Deliver(ctx, env, msg)
		done <- outcome{res, err}
	}()
	grace := min(timeout/10, time.Minute)
	select {
	case o := <-done:
		logPanic(log, o.err)
		return o.res, o.err
	case <-ctx.Done():
	}
	// Deliver has been told; give it a moment to wind down.
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case o := <-done:
		logPanic(log, o.err)
		return o.res, o.err
	case <-t.C:
	}
	n := abandoned.Add(1)
	go func() {
		<-done
		abandoned.Add(-1)
	}()
	log.Error("delivery abandoned", "err", ErrDeliverHung, "timeout", timeout, "cause", context.Cause(ctx),
		"abandoned", n)
	return Result{}, ErrDeliverHung
}

// logPanic logs err's stack when it is a recovered panic, so that the line
// saying what became of the message stays short.
func logPanic(log *slog.Logger, err error) {
	var p *deliverPanic
	if errors.As(err, &p) {
		log.Error("delivery panic", "panic", fmt.Sprint(p.value), "stack", string(p.stack))
	}
}
