package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
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

// MarkKeys calls fn with the key of every marker that starts with prefix,
// in key order, until fn returns false: a family of markers (a person's
// summaries, a week apart) in one seek, where looking for each one it may
// hold would take one for each.
func (tx *Tx) MarkKeys(prefix string, fn func(key string) (more bool)) {
	p := []byte(prefix)
	c := tx.bucket(bucketMarks).Cursor()
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if !fn(string(k)) {
			return
		}
	}
}

// MarkedAt reports whether the marker key is set, and the time MarkOnce
// recorded with it.
func (tx *Tx) MarkedAt(key string) (time.Time, bool, error) {
	m, err := get[markRecord](tx.bucket(bucketMarks), []byte(key))
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, false, nil
	} else if err != nil {
		return time.Time{}, false, fmt.Errorf("mark %q: %w", key, err)
	}
	return m.At, true, nil
}

// PruneMarks deletes the markers under prefix set before before, and says
// how many. Only markers whose meaning has a horizon may go: a marker that
// keeps something from happening again forever must stay.
func (tx *Tx) PruneMarks(prefix string, before time.Time) (int, error) {
	b := tx.bucket(bucketMarks)
	var dead [][]byte
	err := scanKeys(b, []byte(prefix), func(k []byte, m *markRecord) {
		if m.At.Before(before) {
			dead = append(dead, bytes.Clone(k))
		}
	})
	if err != nil {
		return 0, fmt.Errorf("prune marks %q: %w", prefix, err)
	}
	if err := deleteKeys(b, dead); err != nil {
		return 0, fmt.Errorf("prune marks %q: %w", prefix, err)
	}
	return len(dead), nil
}

// scanKeys calls fn with the key and record of every marker under prefix.
func scanKeys(b *bbolt.Bucket, prefix []byte, fn func([]byte, *markRecord)) error {
	c := b.Cursor()
	for k, data := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, data = c.Next() {
		m := new(markRecord)
		if err := decode(data, m); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		fn(k, m)
	}
	return nil
}
