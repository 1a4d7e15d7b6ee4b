package store

import (
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// QueueStats says how many outbound mails wait to be sent (queued or
// retrying) and when the oldest of them was queued (zero when none), from
// the due index: its size is the queue's, not the outbox's history.
func (s *Store) QueueStats() (depth int, oldest time.Time, err error) {
	err = s.View(func(tx *Tx) error {
		c := tx.bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			depth++
			if len(k) < 8 {
				continue
			}
			// The key ends in the id, the outbox's key.
			o, err := get[Outbound](tx.bucket(bucketOutbox), k[len(k)-8:])
			if err != nil {
				continue // the index is checked where it is used; a count needs no more
			}
			if oldest.IsZero() || o.Created.Before(oldest) {
				oldest = o.Created
			}
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("queue stats: %w", err)
	}
	return depth, oldest, nil
}

// FileSize is the size of the database file as bbolt sees it.
func (s *Store) FileSize() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Size()
		return nil
	})
	return n, err
}

// Writable reports whether a write transaction commits: the file is not
// locked out, full or read-only.
func (s *Store) Writable() error {
	return s.Update(func(*Tx) error { return nil })
}
