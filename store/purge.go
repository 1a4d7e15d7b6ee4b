package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// PurgeReport says what PurgeCollab did.
type PurgeReport struct {
	Purged bool // the collaboration was deleted; false when due said no, or it was gone
	Blobs  int  // its blobs deleted, nothing else using them
	Chunks int  // chunks deleted with those blobs
	Kept   int  // its blobs kept: something else uses them, or a PutBlob met them lately
}

// purgedDetail replaces the detail of the audit records of a purged
// collaboration, which may quote what it held (a comment's first line).
const purgedDetail = "collaboration purged"

// PurgeCollab deletes collaboration cid and everything that is its own, in
// one write transaction, if due, called first in that transaction with the
// collaboration as stored, says so: the collab record (and its due
// entries), participants (and their members entries), turns, documents, versions and drafts; the Message-ID index entries that lead to
// it; its queued and sent mail; its link from the audit of inbound mail,
// along with the kept raw message and what else of the mail's content the
// record holds (subject, detail; a held mail becomes dropped, as it can no
// longer be applied); then the blobs and chunks that nothing left
// references. Either all of it happens or none. An unknown cid is no error:
// the report says nothing was purged.
//
// Unlike Sweep it may run while mail comes in. PutBlob returns a blob that
// nothing references until the Update of the mail that carried it, and skips
// the chunks already stored; a blob or chunk that a PutBlob met within the
// last hour (by Options.Now) is therefore kept, and becomes Sweep's if
// nothing references it after all.
func (s *Store) PurgeCollab(cid string, due func(tx *Tx, c *Collab) (bool, error)) (PurgeReport, error) {
	prefix, err := cidKey(cid)
	if err != nil {
		return PurgeReport{}, fmt.Errorf("purge: %w", err)
	}
	// Exclusive through the commit: a PutBlob that looks a digest up either
	// did so before, and its digest is fresh, or does so after, and finds
	// it gone.
	s.guard.purging.Lock()
	defer s.guard.purging.Unlock()
	var rep PurgeReport
	err = s.update(func(btx *bbolt.Tx) error {
		rep = PurgeReport{}
		tx := &Tx{tx: btx}
		c, err := tx.Collab(cid)
		if errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if ok, err := due(tx, c); err != nil || !ok {
			return err
		}
		blobs, err := purgeRecords(btx, cid, prefix)
		if err != nil {
			return err
		}
		rep.Purged = true
		return s.purgeBlobs(btx, blobs, &rep)
	})
	if err != nil {
		return PurgeReport{}, fmt.Errorf("purge collaboration %s: %w", cid, err)
	}
	return rep, nil
}

// purgeRecords deletes the records of collaboration cid and returns the
// digests of the blobs they referenced.
func purgeRecords(tx *bbolt.Tx, cid string, prefix []byte) (map[string]bool, error) {
	blobs := map[string]bool{}
	err := scan(tx.Bucket(bucketVersions), prefix, func(v *Version) error {
		blobs[v.Blob.Digest] = true
		return nil
	})
	if err == nil {
		err = scan(tx.Bucket(bucketDrafts), prefix, func(d *Draft) error {
			blobs[d.Blob.Digest] = true
			return nil
		})
	}
	if err == nil {
		err = unindexCollab(tx, prefix)
	}
	if err == nil {
		err = unindexDue(tx, cid)
	}
	if err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bucketParticipants, bucketTurns, bucketDocuments, bucketVersions, bucketDrafts} {
		if err := deletePrefix(tx.Bucket(name), prefix); err != nil {
			return nil, fmt.Errorf("delete %s: %w", name, err)
		}
	}
	if err := tx.Bucket(bucketCollabs).Delete([]byte(cid)); err != nil {
		return nil, fmt.Errorf("delete collab: %w", err)
	}

	// The thread index and the redelivery check, both in msgids.
	var dead [][]byte
	c := tx.Bucket(bucketMsgIDs).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var r msgIDRecord
		if err := decode(v, &r); err != nil {
			return nil, fmt.Errorf("message-id %q: %w", k, err)
		}
		if r.Collab == cid {
			dead = append(dead, bytes.Clone(k))
		}
	}
	if err := deleteKeys(tx.Bucket(bucketMsgIDs), dead); err != nil {
		return nil, fmt.Errorf("delete message-ids: %w", err)
	}

	// The audit stays, without the collaboration or its content. Records
	// are rewritten after the scan: a Put under a cursor can make it skip.
	var audit []*Inbound
	err = scan(tx.Bucket(bucketInbound), nil, func(in *Inbound) error {
		if in.Collab == cid {
			audit = append(audit, in)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, in := range audit {
		if in.Raw != "" {
			blobs[in.Raw] = true
		}
		in.Collab, in.Raw, in.Subject, in.Detail, in.Confirmer, in.Confirm = "", "", "", purgedDetail, "", ""
		if in.Outcome == OutcomeHeld {
			in.Outcome = OutcomeDropped
		}
		if err := put(tx.Bucket(bucketInbound), u64Key(in.ID), in); err != nil {
			return nil, fmt.Errorf("inbound %d: %w", in.ID, err)
		}
	}

	// Its mail, sent or not: the text of every note is in it. A queued one
	// that the outbound worker holds at this moment still goes out; the
	// worker's mark then finds no record, and says so in the log.
	dead, due := dead[:0], [][]byte(nil)
	err = scan(tx.Bucket(bucketOutbox), nil, func(o *Outbound) error {
		if o.Collab != cid {
			return nil
		}
		for _, a := range o.Msg.Attachments {
			blobs[a.Blob.Digest] = true
		}
		dead = append(dead, u64Key(o.ID))
		if o.State == OutboundQueued {
			due = append(due, dueKey(o.NextTry, o.ID))
		}
		return nil
	})
	if err == nil {
		err = deleteKeys(tx.Bucket(bucketOutbox), dead)
	}
	if err == nil {
		err = deleteKeys(tx.Bucket(bucketOutboxDue), due)
	}
	if err != nil {
		return nil, fmt.Errorf("delete outbound mail: %w", err)
	}
	return blobs, nil
}

// purgeBlobs deletes those of blobs (hex digests) that nothing references
// any more and no PutBlob met lately, then those of their chunks that no
// remaining blob uses.
func (s *Store) purgeBlobs(tx *bbolt.Tx, blobs map[string]bool, rep *PurgeReport) error {
	used, err := referencedBlobs(tx)
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketBlobs)
	chunks := map[[sha256.Size]byte]bool{}
	for _, digest := range slices.Sorted(maps.Keys(blobs)) {
		sum, err := hex.DecodeString(digest)
		if err != nil || len(sum) != sha256.Size {
			continue // no blob can have it
		}
		data := b.Get(sum)
		switch {
		case data == nil:
			continue
		case used[string(sum)] || s.guard.fresh([sha256.Size]byte(sum)):
			rep.Kept++
			continue
		}
		var m manifest
		if err := m.decode(data); err != nil {
			return fmt.Errorf("blob %s: %w", digest, err)
		}
		for _, ref := range m.chunks {
			chunks[ref.sum] = true
		}
		if err := b.Delete(sum); err != nil {
			return fmt.Errorf("delete blob %s: %w", digest, err)
		}
		rep.Blobs++
	}
	if len(chunks) == 0 {
		return nil
	}
	// A chunk is shared by every blob whose content holds it, whichever
	// collaboration that blob belongs to.
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var m manifest
		if err := m.decode(v); err != nil {
			// Without its chunk list no chunk can be known to be unused.
			return fmt.Errorf("blob %x: %w", k, err)
		}
		for _, ref := range m.chunks {
			delete(chunks, ref.sum)
		}
	}
	var dead [][]byte
	for sum := range chunks {
		if !s.guard.fresh(sum) {
			dead = append(dead, sum[:])
		}
	}
	index, data := chunkBuckets(tx)
	n, err := dropChunks(index, data, dead)
	if err != nil {
		return err
	}
	rep.Chunks += n
	return nil
}

// freshFor is how long a digest that PutBlob met stays safe from a purge:
// longer than a delivery may take from its PutBlob to its commit (ten
// minutes), by a wide margin.
const freshFor = time.Hour

// blobGuard keeps PurgeCollab from deleting a blob or chunk that a PutBlob
// counts on: one it found stored and so did not write, or one it is about
// to return for an Update to reference.
type blobGuard struct {
	purging sync.RWMutex // shared while PutBlob looks a digest up; exclusive through a purge
	now     func() time.Time

	mu     sync.Mutex
	met    map[[sha256.Size]byte]time.Time // digests PutBlob looked up, and when
	pruned int                             // len(met) after its last pruning
}

// lookup records that a PutBlob met digest sum, then runs find (its check
// whether sum is stored), so that no purge comes between the two.
func (g *blobGuard) lookup(sum [sha256.Size]byte, find func() error) error {
	g.purging.RLock()
	defer g.purging.RUnlock()
	now := g.now()
	g.mu.Lock()
	if g.met == nil {
		g.met = map[[sha256.Size]byte]time.Time{}
	}
	g.met[sum] = now
	// Pruned whenever it has doubled: amortised, and bounded by what an
	// hour of mail brings.
	if len(g.met) >= 2*g.pruned+1024 {
		for k, at := range g.met {
			if now.Sub(at) > freshFor {
				delete(g.met, k)
			}
		}
		g.pruned = len(g.met)
	}
	g.mu.Unlock()
	return find()
}

// fresh reports whether a PutBlob met sum within freshFor.
func (g *blobGuard) fresh(sum [sha256.Size]byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.met[sum]
	return ok && g.now().Sub(at) <= freshFor
}
