package store

import (
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// Group commit. A bbolt commit syncs the file twice, and a disk takes a few
// hundred to a few thousand syncs a second: one commit per mail, or per
// chunk flush, makes the disk the limit long before the CPU is. Batch lets
// the writes that arrive while a commit is under way share the next one:
// the first writer to find no commit running leads, and commits in one
// transaction every write queued by then; the others wait for its commit,
// so each still returns only once its write is durable. A lone writer
// waits for nobody (unlike bbolt's own DB.Batch, which waits for a timer
// to fill the batch), and under load a batch holds everything that arrived
// during one commit: the more writers, the fewer syncs each.

// Bounds of one group: bbolt holds a transaction's dirty pages in memory
// until commit, so a group stops growing at maxGroupBytes of declared
// writes (one chunk flush is up to flushBytes) or maxGroupWrites writes.
const (
	maxGroupBytes  = 2 * flushBytes
	maxGroupWrites = 128
	// smallWrite is the weight of a write that declares none: a mail's
	// records and the mail it queues.
	smallWrite = 64 << 10
)

// committer queues the writes of Batch for the leading writer.
type committer struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when writes are done and when the lead is free
	queue   []*groupWrite
	leading bool
}

// groupWrite is one write of a group, and its outcome.
type groupWrite struct {
	fn     func(*bbolt.Tx) error
	weight int

	done     bool // set under committer.mu, once err or panicked is final
	err      error
	panicked any // what fn panicked with, panicked again in its own goroutine
}

// errPanicked stands for a write's panic while its group unwinds.
var errPanicked = errors.New("write panicked")

// Batch runs fn in a write transaction like Update, and returns once that
// transaction has committed, but may share the transaction and its commit
// with the Batch calls of other goroutines. In it fn sees their writes,
// made before its own, as it would had they committed first.
//
// fn may run more than once: when a write that shares its transaction
// fails, the transaction is rolled back, that write gets its error, and the
// others run again. fn must therefore set nothing outside tx that a second
// run does not set afresh. As with Update, do not call the Store's methods
// from inside fn.
func (s *Store) Batch(fn func(tx *Tx) error) error {
	return s.BatchWith(nil, fn)
}

// BatchWith is Batch with the blobs staged in blobs (nil for none) written
// first in fn's transaction, so that fn can read them and reference them,
// and they commit with fn's writes or not at all.
func (s *Store) BatchWith(blobs *BlobBatch, fn func(tx *Tx) error) error {
	weight := smallWrite
	if blobs != nil {
		weight += blobs.size
	}
	return s.write(func(run func(*bbolt.Tx) error) error { return s.batch(weight, run) }, blobs, fn)
}

// batch queues fn, weighing about weight bytes of writes, for the next group
// commit, leading it when no other writer does, and returns fn's outcome.
func (s *Store) batch(weight int, fn func(*bbolt.Tx) error) error {
	c := &s.commits
	w := &groupWrite{fn: fn, weight: weight}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	for !w.done && c.leading {
		c.cond.Wait()
	}
	if !w.done {
		// Lead until this write is done: under load the queue may hold
		// more than one group before it.
		c.leading = true
		for !w.done {
			group := c.take()
			c.mu.Unlock()
			s.commitGroup(group)
			c.mu.Lock()
			for _, g := range group {
				g.done = true
			}
			c.cond.Broadcast()
		}
		c.leading = false
		c.cond.Broadcast() // a waiting writer takes the lead
	}
	c.mu.Unlock()
	if w.panicked != nil {
		panic(w.panicked)
	}
	return w.err
}

// take removes the next group from the queue: at least one write, then
// more while the group stays within its bounds. The caller holds c.mu.
func (c *committer) take() []*groupWrite {
	n, weight := 1, c.queue[0].weight
	for n < len(c.queue) && n < maxGroupWrites && weight+c.queue[n].weight <= maxGroupBytes {
		weight += c.queue[n].weight
		n++
	}
	group := make([]*groupWrite, n)
	copy(group, c.queue)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	return group
}

// commitGroup runs the group's writes in one transaction and sets their
// outcomes. A write that fails or panics gets its own outcome, and the
// transaction is run again without it; a failed commit is every write's.
func (s *Store) commitGroup(group []*groupWrite) {
	for len(group) > 0 {
		failed := -1
		err := s.update(func(tx *bbolt.Tx) error {
			for i, w := range group {
				if err := w.run(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.err = err
			}
			return
		}
		group[failed].err = err
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// run calls the write's fn, turning a panic into errPanicked.
func (w *groupWrite) run(tx *bbolt.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			w.panicked = v
			err = errPanicked
		}
	}()
	return w.fn(tx)
}
