package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"go.etcd.io/bbolt"
)

// Sweep deletes the blobs that nothing references, then the chunks that no
// remaining blob uses, index entry and data, and returns how many of each it
// deleted. A blob is referenced by a Version, a Draft, an Inbound's Raw, or an
// attachment of a queued Outbound (sent and failed ones no longer need
// theirs).
//
// Sweep must run while nothing else writes, at daemon start: a blob that a
// concurrent PutBlob is writing, or that was put but not yet referenced by
// the Update meant to reference it, would be deleted. It runs in one write
// transaction, so it either completes or changes nothing.
func (s *Store) Sweep() (blobs, chunks int, err error) {
	err = s.update(func(tx *bbolt.Tx) error {
		used, err := referencedBlobs(tx)
		if err != nil {
			return err
		}
		var dead [][]byte
		keep := make(map[[sha256.Size]byte]bool)
		c := tx.Bucket(bucketBlobs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !used[string(k)] {
				dead = append(dead, bytes.Clone(k))
				continue
			}
			var m manifest
			if err := m.decode(v); err != nil {
				// Without its chunk list no chunk can be known to be unused.
				return fmt.Errorf("blob %x: %w", k, err)
			}
			for _, ref := range m.chunks {
				keep[ref.sum] = true
			}
		}
		if err := deleteKeys(tx.Bucket(bucketBlobs), dead); err != nil {
			return err
		}
		blobs = len(dead)

		dead = dead[:0]
		index, data := chunkBuckets(tx)
		c = index.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) == sha256.Size && keep[[sha256.Size]byte(k)] {
				continue
			}
			dead = append(dead, bytes.Clone(k))
		}
		chunks, err = dropChunks(index, data, dead)
		if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sweep blobs: %w", err)
	}
	return blobs, chunks, nil
}

// referencedBlobs returns the raw digests, as strings, of every referenced
// blob.
func referencedBlobs(tx *bbolt.Tx) (map[string]bool, error) {
	used := make(map[string]bool)
	use := func(digest string) {
		if sum, err := hex.DecodeString(digest); err == nil {
			used[string(sum)] = true
		}
	}
	err := scan(tx.Bucket(bucketVersions), nil, func(v *Version) error {
		use(v.Blob.Digest)
		return nil
	})
	if err == nil {
		err = scan(tx.Bucket(bucketDrafts), nil, func(d *Draft) error {
			use(d.Blob.Digest)
			return nil
		})
	}
	if err == nil {
		err = scan(tx.Bucket(bucketInbound), nil, func(in *Inbound) error {
			use(in.Raw)
			return nil
		})
	}
	if err == nil {
		err = scan(tx.Bucket(bucketOutbox), nil, func(o *Outbound) error {
			if o.State == OutboundQueued {
				for _, a := range o.Msg.Attachments {
					use(a.Blob.Digest)
				}
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("find referenced blobs: %w", err)
	}
	return used, nil
}
