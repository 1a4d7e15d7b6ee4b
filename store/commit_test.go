package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// putMark writes key in the marks bucket, a write any test can check.
func putMark(tx *Tx, key string) error {
	return tx.tx.Bucket(bucketMarks).Put([]byte(key), []byte{1})
}

// marked reports which of keys the store holds.
func marked(t *testing.T, s *Store, keys ...string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := s.View(func(tx *Tx) error {
		for _, k := range keys {
			got[k] = tx.tx.Bucket(bucketMarks).Get([]byte(k)) != nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// holdBatch starts a Batch that leads and blocks inside its transaction
// until the returned release is called, so that the writes queued
// meanwhile form one group behind it.
func holdBatch(t *testing.T, s *Store) (release func()) {
	t.Helper()
	inside, hold := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Batch(func(tx *Tx) error {
			close(inside)
			<-hold
			return putMark(tx, "first")
		})
	}()
	<-inside
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Errorf("first batch: %v", err)
		}
	}
}

// waitQueued waits until n writes wait for the next group.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.commits.mu.Lock()
		queued := len(s.commits.queue)
		s.commits.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatchGroupsWrites: the writes that arrive while a commit is under way
// share the next transaction, and each Batch returns once its write is in.
func TestBatchGroupsWrites(t *testing.T) {
	var txs atomic.Int32
	s, _ := openTest(t, &Options{Fault: func() error { txs.Add(1); return nil }})
	release := holdBatch(t, s)
	const writers = 50
	var wg sync.WaitGroup
	errs := make([]error, writers)
	keys := make([]string, writers)
	for i := range writers {
		keys[i] = fmt.Sprintf("k%d", i)
		wg.Go(func() {
			errs[i] = s.Batch(func(tx *Tx) error { return putMark(tx, keys[i]) })
		})
	}
	waitQueued(t, s, writers)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	for k, ok := range marked(t, s, append(keys, "first")...) {
		if !ok {
			t.Errorf("%s not written", k)
		}
	}
	if n := txs.Load(); n != 2 {
		t.Errorf("%d transactions for 1+%d writes, want 2: the first, then one group", n, writers)
	}
}

// TestBatchFailureIsOwn: a write that fails gets its error and leaves
// nothing; the writes of its group run again and commit.
func TestBatchFailureIsOwn(t *testing.T) {
	s, _ := openTest(t, nil)
	release := holdBatch(t, s)
	errBad := errors.New("bad write")
	var runs [3]atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			errs[i] = s.Batch(func(tx *Tx) error {
				runs[i].Add(1)
				if err := putMark(tx, fmt.Sprintf("k%d", i)); err != nil {
					return err
				}
				if i == 1 {
					return errBad
				}
				return nil
			})
		})
		waitQueued(t, s, i+1) // in this order in the group
	}
	release()
	wg.Wait()
	if !errors.Is(errs[1], errBad) || errs[0] != nil || errs[2] != nil {
		t.Fatalf("errors %v, want only the second to fail", errs)
	}
	want := map[string]bool{"k0": true, "k1": false, "k2": true}
	if got := marked(t, s, "k0", "k1", "k2"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("written %v, want %v", got, want)
	}
	// k0 ran before the failure and again after it; k2 only after it.
	if r0, r1, r2 := runs[0].Load(), runs[1].Load(), runs[2].Load(); r0 != 2 || r1 != 1 || r2 != 1 {
		t.Errorf("runs %d %d %d, want 2 1 1", r0, r1, r2)
	}
}

// TestBatchPanicIsOwn: a write that panics panics in its own goroutine,
// not the leader's, and the rest of its group commits.
func TestBatchPanicIsOwn(t *testing.T) {
	s, _ := openTest(t, nil)
	release := holdBatch(t, s)
	var wg sync.WaitGroup
	var recovered any
	var okErr error
	wg.Go(func() {
		defer func() { recovered = recover() }()
		s.Batch(func(tx *Tx) error { panic("boom") })
	})
	waitQueued(t, s, 1)
	wg.Go(func() { okErr = s.Batch(func(tx *Tx) error { return putMark(tx, "after") }) })
	waitQueued(t, s, 2)
	release()
	wg.Wait()
	if recovered != "boom" {
		t.Errorf("recovered %v, want the write's own panic", recovered)
	}
	if okErr != nil || !marked(t, s, "after")["after"] {
		t.Errorf("the other write: %v, written %v", okErr, marked(t, s, "after"))
	}
}

// TestBatchCommitFailure: when the group's transaction fails, every write
// of it fails, and none is left half done.
func TestBatchCommitFailure(t *testing.T) {
	var fail atomic.Bool
	s, _ := openTest(t, &Options{Fault: func() error {
		if fail.Load() {
			return errors.New("disk gone")
		}
		return nil
	}})
	release := holdBatch(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() { errs[i] = s.Batch(func(tx *Tx) error { return putMark(tx, fmt.Sprintf("k%d", i)) }) })
	}
	waitQueued(t, s, 3)
	fail.Store(true)
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d succeeded on a failing disk", i)
		}
	}
	for k, ok := range marked(t, s, "k0", "k1", "k2") {
		if ok {
			t.Errorf("%s written by a failed group", k)
		}
	}
}

// TestBatchGroupBounds: a group stops at maxGroupBytes of declared writes,
// so chunk flushes never pile up in one transaction's memory.
func TestBatchGroupBounds(t *testing.T) {
	c := &committer{}
	for range 5 {
		c.queue = append(c.queue, &groupWrite{weight: flushBytes})
	}
	if g := c.take(); len(g) != 2 {
		t.Errorf("took %d flushes of flushBytes, want 2", len(g))
	}
	c.queue = c.queue[:0]
	c.queue = append(c.queue, &groupWrite{weight: 3 * maxGroupBytes}, &groupWrite{weight: 1})
	if g := c.take(); len(g) != 1 {
		t.Errorf("took %d writes after an oversized one, want it alone", len(g))
	}
	c.queue = c.queue[:0]
	for range maxGroupWrites + 10 {
		c.queue = append(c.queue, &groupWrite{weight: 1})
	}
	if g := c.take(); len(g) != maxGroupWrites || len(c.queue) != 10 {
		t.Errorf("took %d of %d small writes, %d left", len(g), maxGroupWrites+10, len(c.queue))
	}
}
