package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// DueKind says what an entry of the due index stands for, and which time of
// its collaboration it is filed under. The times are the collaboration's
// own, not the moments a reminder or a purge is due, which follow from the
// scheduler's configuration: a change of that configuration moves no entry.
type DueKind byte

const (
	// DueHeld is an active collaboration's turn, at its TurnSince: the
	// reminder of a turn held too long.
	DueHeld DueKind = 'h'
	// DueBefore is an active collaboration's deadline, at the deadline:
	// the reminder some time before it.
	DueBefore DueKind = 'b'
	// DueOverdue is an active collaboration's deadline, at the deadline:
	// the reminder once it has passed.
	DueOverdue DueKind = 'o'
	// DueWrapped is a wrapped-up collaboration, at its Wrapped: the
	// owner's warning before its purge.
	DueWrapped DueKind = 'w'
	// DuePurge is a wrapped-up collaboration whose owner was warned, at the
	// warning: the purge. The scheduler writes it (PutPurgeDue), not
	// PutCollab.
	DuePurge DueKind = 'p'
)

// duePurgeOf starts the due key that holds, for a collaboration, the time of
// its DuePurge entry, so that the entry can be found and deleted with the
// collaboration's wrap-up: 'P' cid → time as in a key.
const duePurgeOf = 'P'

// Due is one entry of the due index.
type Due struct {
	Kind   DueKind
	At     time.Time // UTC
	Collab string
}

// duePerTx is how many collaborations one transaction of the upgrade to
// schema 4 indexes. A variable so that a test can see several transactions
// without writing thousands of collaborations.
var duePerTx = 5000

// dueEntryKey is d's key: kind, time as in a key, cid.
func dueEntryKey(d Due) []byte {
	k := make([]byte, 0, 1+12+len(d.Collab))
	k = appendTime(append(k, byte(d.Kind)), d.At)
	return append(k, d.Collab...)
}

// parseDue reads a due key.
func parseDue(k []byte) (Due, error) {
	if len(k) < 1+12+1 {
		return Due{}, fmt.Errorf("due key %q: too short: %w", k, ErrCorrupt)
	}
	return Due{Kind: DueKind(k[0]), At: keyTime(k[1:13]), Collab: string(k[13:])}, nil
}

// keyTime reads a time written by appendTime.
func keyTime(b []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint64(b)^(1<<63)), int64(binary.BigEndian.Uint32(b[8:]))).UTC()
}

// dueOf holds what a collaboration's entries follow: whether it has each
// and its time, and for the turn its number, which a new turn changes even
// if its TurnSince were the old one's.
type dueOf struct {
	held, deadline, wrapped  bool
	turnSince, dl, wrappedAt time.Time
	turn                     int
}

func dueFields(c *Collab) dueOf {
	active := c.State == StateActive
	return dueOf{
		held: active, turnSince: c.TurnSince, turn: c.Turn,
		deadline: active && !c.Deadline.IsZero(), dl: c.Deadline,
		wrapped: c.State == StateWrapped && !c.Wrapped.IsZero(), wrappedAt: c.Wrapped,
	}
}

// indexDue brings the due entries of c in line with it, before c is written:
// those of what changed since the record stored go, and the new ones come.
// What did not change is left as it is, and so an entry the scheduler
// dropped, having sent its reminder, stays dropped: most writes of a
// collaboration (a draft, a comment, a thread) write nothing here.
func indexDue(tx *bbolt.Tx, c *Collab) error {
	var was dueOf
	if prev := tx.Bucket(bucketCollabs).Get([]byte(c.ID)); prev != nil {
		old := new(Collab)
		if err := decode(prev, old); err != nil {
			return err
		}
		was = dueFields(old)
	}
	return moveDue(tx.Bucket(bucketDue), c.ID, was, dueFields(c))
}

// moveDue replaces the due entries of collaboration cid for was by those for
// now, where they differ.
func moveDue(b *bbolt.Bucket, cid string, was, now dueOf) error {
	var del, add []Due
	if was.held != now.held || now.held && (!was.turnSince.Equal(now.turnSince) || was.turn != now.turn) {
		if was.held {
			del = append(del, Due{DueHeld, was.turnSince, cid})
		}
		if now.held {
			add = append(add, Due{DueHeld, now.turnSince, cid})
		}
	}
	if was.deadline != now.deadline || now.deadline && !was.dl.Equal(now.dl) {
		if was.deadline {
			del = append(del, Due{DueBefore, was.dl, cid}, Due{DueOverdue, was.dl, cid})
		}
		if now.deadline {
			add = append(add, Due{DueBefore, now.dl, cid}, Due{DueOverdue, now.dl, cid})
		}
	}
	if was.wrapped != now.wrapped || now.wrapped && !was.wrappedAt.Equal(now.wrappedAt) {
		if was.wrapped {
			del = append(del, Due{DueWrapped, was.wrappedAt, cid})
			if err := dropPurgeDue(b, cid); err != nil {
				return err
			}
		}
		if now.wrapped {
			add = append(add, Due{DueWrapped, now.wrappedAt, cid})
		}
	}
	for _, d := range del {
		if err := b.Delete(dueEntryKey(d)); err != nil {
			return fmt.Errorf("unindex due %c of %s: %w", d.Kind, cid, err)
		}
	}
	for _, d := range add {
		if err := b.Put(dueEntryKey(d), nil); err != nil {
			return fmt.Errorf("index due %c of %s: %w", d.Kind, cid, err)
		}
	}
	return nil
}

// dropPurgeDue deletes collaboration cid's DuePurge entry, if it has one.
func dropPurgeDue(b *bbolt.Bucket, cid string) error {
	of := append([]byte{duePurgeOf}, cid...)
	at := b.Get(of)
	if at == nil {
		return nil
	}
	if len(at) != 12 {
		return fmt.Errorf("due key %q: value %x: %w", of, at, ErrCorrupt)
	}
	if err := b.Delete(dueEntryKey(Due{DuePurge, keyTime(at), cid})); err != nil {
		return fmt.Errorf("unindex purge of %s: %w", cid, err)
	}
	if err := b.Delete(of); err != nil {
		return fmt.Errorf("unindex purge of %s: %w", cid, err)
	}
	return nil
}

// unindexDue deletes every due entry of collaboration cid, before its
// record is deleted.
func unindexDue(tx *bbolt.Tx, cid string) error {
	b := tx.Bucket(bucketDue)
	if prev := tx.Bucket(bucketCollabs).Get([]byte(cid)); prev != nil {
		old := new(Collab)
		if err := decode(prev, old); err != nil {
			return err
		}
		if err := moveDue(b, cid, dueFields(old), dueOf{}); err != nil {
			return err
		}
	}
	return dropPurgeDue(b, cid)
}

// DueUntil returns up to limit entries of kind whose time is at or before
// until, in the index's order (time, then collaboration id), from the one
// after after (from the first when after.Collab is ""): a walk over the
// entries due, in bounded batches, each in a transaction of its own, goes
// on after the last entry of the one before, whichever of them its
// transactions dropped.
func (tx *Tx) DueUntil(kind DueKind, after Due, until time.Time, limit int) ([]Due, error) {
	c := tx.bucket(bucketDue).Cursor()
	end := appendTime([]byte{byte(kind)}, until)
	var k []byte
	if after.Collab == "" {
		k, _ = c.Seek([]byte{byte(kind)})
	} else {
		after.Kind = kind
		ak := dueEntryKey(after)
		if k, _ = c.Seek(ak); bytes.Equal(k, ak) {
			k, _ = c.Next()
		}
	}
	var out []Due
	// A key is at or before until when its kind and time, its first 13
	// bytes, are at most end.
	for ; k != nil && len(out) < limit && len(k) > 13 && bytes.Compare(k[:13], end) <= 0; k, _ = c.Next() {
		d, err := parseDue(k)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// HasDue reports whether the entry d is in the due index.
func (tx *Tx) HasDue(d Due) bool {
	// Not Get: an entry's value is empty, and a Get in the transaction that
	// put it returns nil for it, as for no entry.
	k := dueEntryKey(d)
	got, _ := tx.bucket(bucketDue).Cursor().Seek(k)
	return bytes.Equal(got, k)
}

// DropDue deletes the entry d from the due index: the scheduler has done
// what it stood for, or found it outdated. A PutCollab that leaves what the
// entry follows as it was does not write it again.
func (tx *Tx) DropDue(d Due) error {
	b := tx.bucket(bucketDue)
	if d.Kind == DuePurge {
		of := append([]byte{duePurgeOf}, d.Collab...)
		if at := b.Get(of); at != nil && bytes.Equal(at, appendTime(nil, d.At)) {
			if err := b.Delete(of); err != nil {
				return fmt.Errorf("drop due %c of %s: %w", d.Kind, d.Collab, err)
			}
		}
	}
	if err := b.Delete(dueEntryKey(d)); err != nil {
		return fmt.Errorf("drop due %c of %s: %w", d.Kind, d.Collab, err)
	}
	return nil
}

// PutPurgeDue files wrapped-up collaboration cid's purge under warned, when
// its owner was warned, in place of any it had: the scheduler drops the
// DueWrapped entry in the same transaction. A PutCollab that reopens the
// collaboration, or wraps it up again, deletes it.
func (tx *Tx) PutPurgeDue(cid string, warned time.Time) error {
	if _, err := cidKey(cid); err != nil {
		return fmt.Errorf("index purge: %w", err)
	}
	b := tx.bucket(bucketDue)
	if err := dropPurgeDue(b, cid); err != nil {
		return err
	}
	if err := b.Put(dueEntryKey(Due{DuePurge, warned, cid}), nil); err != nil {
		return fmt.Errorf("index purge of %s: %w", cid, err)
	}
	if err := b.Put(append([]byte{duePurgeOf}, cid...), appendTime(nil, warned)); err != nil {
		return fmt.Errorf("index purge of %s: %w", cid, err)
	}
	return nil
}

// migrateDue finishes the upgrade of a schema 3 file: it builds the due
// index from the collaborations, duePerTx a transaction. Every reminder
// whose trigger passed gets its entry, sent or not: the scheduler finds the
// marker of one sent and drops the entry, once.
func (s *Store) migrateDue() error {
	err := s.indexEach(bucketCollabs, keyDueFrom, duePerTx, 4, func(tx *bbolt.Tx, k, v []byte) error {
		co := new(Collab)
		if err := decode(v, co); err != nil {
			return fmt.Errorf("collaboration %q: %w", k, err)
		}
		return moveDue(tx.Bucket(bucketDue), string(k), dueOf{}, dueFields(co))
	})
	if err != nil {
		return fmt.Errorf("index due times: %w", err)
	}
	return nil
}
