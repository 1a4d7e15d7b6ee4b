package store

import (
	"errors"
	"fmt"
	"time"
)

// markRecord is the value of the marks bucket.
type markRecord struct {
	At time.Time `json:"at"`
}

// MarkOnce sets the marker key, recording at, and reports whether this was the
// first time. The scheduler sets a marker in the same transaction that queues
// a summary or reminder, so each goes out once even across restarts.
func (tx *Tx) MarkOnce(key string, at time.Time) (first bool, err error) {
	if key == "" {
		return false, errors.New("mark: empty key")
	}
	b := tx.bucket(bucketMarks)
	if b.Get([]byte(key)) != nil {
		return false, nil
	}
	if err := put(b, []byte(key), &markRecord{At: at}); err != nil {
		return false, fmt.Errorf("mark %s: %w", key, err)
	}
	return true, nil
}

// Marked reports whether the marker key is set. It lets a scheduler tick
// skip what is done in a read transaction; only MarkOnce decides.
func (tx *Tx) Marked(key string) bool {
	return tx.bucket(bucketMarks).Get([]byte(key)) != nil
}
