package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

// Outbound states.
const (
	OutboundQueued  = "queued"  // waiting for its next attempt
	OutboundSent    = "sent"    // accepted by the smarthost or written to the outbox folder
	OutboundFailed  = "failed"  // given up
	OutboundDropped = "dropped" // given up by an operator (turnmail queue drop)
)

// Enqueue adds a message to the outbound queue, assigning o.ID, setting
// o.State to queued and, when zero, o.NextTry to o.Created. The Update that
// commits it signals Enqueued.
func (tx *Tx) Enqueue(o *Outbound) error {
	b := tx.bucket(bucketOutbox)
	id, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("enqueue outbound: %w", err)
	}
	o.ID = id
	o.State = OutboundQueued
	if o.NextTry.IsZero() {
		o.NextTry = o.Created
	}
	if err := putOutbound(tx.tx, o); err != nil {
		return fmt.Errorf("enqueue outbound %d: %w", id, err)
	}
	tx.enqueued = true
	return nil
}

// Outbounds calls fn with every outbound message, whatever its state, in
// ascending ID, stopping at the first error, which it returns.
func (tx *Tx) Outbounds(fn func(*Outbound) error) error {
	return scan(tx.bucket(bucketOutbox), nil, fn)
}

// Outbound returns one outbound message, or ErrNotFound.
func (tx *Tx) Outbound(id uint64) (*Outbound, error) {
	o, err := get[Outbound](tx.bucket(bucketOutbox), u64Key(id))
	if err != nil {
		return nil, fmt.Errorf("outbound %d: %w", id, err)
	}
	return o, nil
}

// Bounce records in tx that message id came back undelivered after the
// smarthost took it (a delivery status notification to its bounce
// address): a sent or queued message becomes failed, with reason as its last
// error, and Bounce returns it and true. A failed or dropped one stays as it
// is, and Bounce returns it and false: its failure was told already.
func (tx *Tx) Bounce(id uint64, at time.Time, reason string) (*Outbound, bool, error) {
	o, err := tx.Outbound(id)
	if err != nil {
		return nil, false, err
	}
	if o.State != OutboundSent && o.State != OutboundQueued {
		return o, false, nil
	}
	if err := unindex(tx.tx, o); err != nil {
		return nil, false, fmt.Errorf("bounce outbound %d: %w", id, err)
	}
	o.State, o.Done, o.LastError = OutboundFailed, at, reason
	if err := putOutbound(tx.tx, o); err != nil {
		return nil, false, fmt.Errorf("bounce outbound %d: %w", id, err)
	}
	return o, true, nil
}

// Outbound returns one outbound message, or ErrNotFound.
func (s *Store) Outbound(id uint64) (*Outbound, error) {
	var o *Outbound
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		o, err = get[Outbound](tx.Bucket(bucketOutbox), u64Key(id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("outbound %d: %w", id, err)
	}
	return o, nil
}

// Due returns up to limit queued messages whose NextTry is at or before now,
// ordered by NextTry, then ID. A limit of 0 or less means no limit.
func (s *Store) Due(now time.Time, limit int) ([]mail.QueuedMail, error) {
	end := dueKey(now, math.MaxUint64)
	var due []mail.QueuedMail
	err := s.db.View(func(tx *bbolt.Tx) error {
		outbox := tx.Bucket(bucketOutbox)
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end) <= 0; k, _ = c.Next() {
			if limit > 0 && len(due) == limit {
				break
			}
			id := binary.BigEndian.Uint64(k[len(k)-8:])
			o, err := get[Outbound](outbox, u64Key(id))
			if err != nil {
				return fmt.Errorf("outbound %d: %w", id, err)
			}
			due = append(due, mail.QueuedMail{ID: o.ID, Attempts: o.Attempts, Collab: o.Collab, Kind: o.Kind, Msg: o.Msg})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due outbound: %w", err)
	}
	return due, nil
}

// NextDue returns the earliest NextTry of a queued message that is after
// t, and false when none is: when the outbound worker must wake next.
func (s *Store) NextDue(after time.Time) (time.Time, bool, error) {
	var next time.Time
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		// The due index orders by NextTry: the first key past every entry
		// at t is the answer.
		c := tx.Bucket(bucketOutboxDue).Cursor()
		past := dueKey(after, math.MaxUint64)
		k, _ := c.Seek(past)
		if bytes.Equal(k, past) {
			k, _ = c.Next()
		}
		if k != nil {
			next, ok = timeOfDueKey(k), true
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due outbound: %w", err)
	}
	return next, ok, nil
}

// MarkSent records that a queued message was delivered.
func (s *Store) MarkSent(id uint64, at time.Time) error {
	return s.mark(id, func(o *Outbound) {
		o.State = OutboundSent
		o.Done = at
	})
}

// MarkRetry records a failed attempt at a queued message and when to try
// again.
func (s *Store) MarkRetry(id uint64, next time.Time, reason string) error {
	return s.mark(id, func(o *Outbound) {
		o.Attempts++
		o.NextTry = next
		o.LastError = reason
	})
}

// MarkFailed records a last failed attempt at a queued message: it is not
// tried again.
func (s *Store) MarkFailed(id uint64, at time.Time, reason string) error {
	return s.mark(id, func(o *Outbound) {
		o.Attempts++
		o.State = OutboundFailed
		o.Done = at
		o.LastError = reason
	})
}

// RetryOutbound makes a queued or failed message due at now, or at once if
// it was due already, and returns it as it is now. A failed message keeps
// its attempts: one that had used them all gets one more.
func (s *Store) RetryOutbound(id uint64, now time.Time) (*Outbound, error) {
	o, err := s.change(id, retriable, func(o *Outbound) { retry(o, now) })
	if err != nil {
		return nil, fmt.Errorf("retry outbound %d: %w", id, err)
	}
	s.signalEnqueued()
	return o, nil
}

// RetryOutbounds makes every failed message, and every queued one waiting
// past now, due at now, in one transaction, and returns how many it changed.
func (s *Store) RetryOutbounds(now time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bbolt.Tx) error {
		n = 0
		var changed []*Outbound
		err := scan(tx.Bucket(bucketOutbox), nil, func(o *Outbound) error {
			if retriable(o) == nil && (o.State == OutboundFailed || o.NextTry.After(now)) {
				changed = append(changed, o)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, o := range changed {
			if err := unindex(tx, o); err != nil {
				return err
			}
			retry(o, now)
			if err := putOutbound(tx, o); err != nil {
				return err
			}
		}
		n = len(changed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retry outbound mail: %w", err)
	}
	if n > 0 {
		s.signalEnqueued()
	}
	return n, nil
}

// DropOutbound gives up on a queued or failed message for an operator: its
// state becomes dropped and it is never tried again; the record stays. A
// message being sent at that moment may still go out.
func (s *Store) DropOutbound(id uint64, at time.Time) (*Outbound, error) {
	o, err := s.change(id, retriable, func(o *Outbound) {
		o.State, o.Done = OutboundDropped, at
	})
	if err != nil {
		return nil, fmt.Errorf("drop outbound %d: %w", id, err)
	}
	return o, nil
}

// retriable is nil for a message an operator may retry or drop: a queued
// or failed one.
func retriable(o *Outbound) error {
	if o.State != OutboundQueued && o.State != OutboundFailed {
		return fmt.Errorf("state is %s, not %s or %s", o.State, OutboundQueued, OutboundFailed)
	}
	return nil
}

// retry makes o due at now, or keeps it due as it was.
func retry(o *Outbound, now time.Time) {
	if o.State != OutboundQueued || o.NextTry.After(now) {
		o.NextTry = now
	}
	o.State, o.Done = OutboundQueued, time.Time{}
}

// signalEnqueued wakes the worker, as a committed Enqueue does.
func (s *Store) signalEnqueued() {
	select {
	case s.enqueued <- struct{}{}:
	default:
	}
}

// mark changes a queued message in a short write (see change). Marking
// one that is no longer queued is an error: its outcome is already recorded.
func (s *Store) mark(id uint64, change func(*Outbound)) error {
	_, err := s.change(id, func(o *Outbound) error {
		if o.State != OutboundQueued {
			return fmt.Errorf("state is %s, not %s", o.State, OutboundQueued)
		}
		return nil
	}, change)
	if err != nil {
		return fmt.Errorf("mark outbound %d: %w", id, err)
	}
	return nil
}

// change applies change to message id in a short write, group-committed
// (see Batch), if check allows it, keeping the due index, and returns the
// message as it is now.
func (s *Store) change(id uint64, check func(*Outbound) error, change func(*Outbound)) (*Outbound, error) {
	var o *Outbound
	err := s.batch(smallWrite, func(tx *bbolt.Tx) error {
		var err error
		if o, err = get[Outbound](tx.Bucket(bucketOutbox), u64Key(id)); err != nil {
			return err
		}
		if err := check(o); err != nil {
			return err
		}
		if err := unindex(tx, o); err != nil {
			return err
		}
		change(o)
		return putOutbound(tx, o)
	})
	return o, err
}

// unindex removes o's entry from the due index, if it has one.
func unindex(tx *bbolt.Tx, o *Outbound) error {
	if o.State != OutboundQueued {
		return nil
	}
	return tx.Bucket(bucketOutboxDue).Delete(dueKey(o.NextTry, o.ID))
}

// putOutbound writes o and, while it is queued, its entry in the due index.
func putOutbound(tx *bbolt.Tx, o *Outbound) error {
	if err := putDeflated(tx.Bucket(bucketOutbox), u64Key(o.ID), o); err != nil {
		return err
	}
	if o.State != OutboundQueued {
		return nil
	}
	return tx.Bucket(bucketOutboxDue).Put(dueKey(o.NextTry, o.ID), []byte{})
}

// dueKey is the due index's key: NextTry, then ID.
func dueKey(next time.Time, id uint64) []byte {
	return binary.BigEndian.AppendUint64(appendTime(make([]byte, 0, 20), next), id)
}

// timeOfDueKey is the NextTry of a due index key.
func timeOfDueKey(k []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(k[8:12]))).UTC()
}
