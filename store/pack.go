package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"go.etcd.io/bbolt"
)

const (
	// chunkLocSize is the size of a schema 2 chunk index entry: its
	// chunkdata key, then its length; the chunk is the whole value.
	chunkLocSize = 8 + 4
	// packLocSize is the size of a packed chunk's index entry: its pack's
	// chunkdata key, its offset in the pack, then its length.
	packLocSize = 8 + 4 + 4

	// packBytes bounds a pack: the new chunks of one write are appended
	// to chunkdata in packs of up to 64 KiB (a larger chunk is a pack of
	// its own), not one value each. bbolt
	// stores a value larger than about a quarter of a page in pages of its
	// own, rounded up to whole 4 KiB pages: half a page lost on average,
	// where a chunk of deflated XML is some 3 KiB. Larger packs would lose
	// less, but cost more on every write: bbolt keeps up to four values in
	// a leaf, and appending to chunkdata rewrites its last leaf, with the
	// previous writes' last packs. At 64 KiB a write costs what it did with
	// a chunk a value (TestPutBlobPageAllocation: 1.09 times the content in
	// pages; BenchmarkIngestReply: the same bytes allocated a mail); at
	// 256 KiB the 20 docx versions take 45 KB less (of 7.7 MB), and a
	// write 1.19 times its content, a reply 25% more bytes allocated.
	packBytes = 64 << 10
)

// chunkLoc is where a chunk's bytes are: in the chunkdata value under key,
// from off, n bytes. A schema 2 entry has the whole value, off 0.
type chunkLoc struct {
	key    []byte
	off, n uint32
	packed bool // the entry is a packed one: the value may hold other chunks
}

// parseLoc decodes a chunk index entry, of either size. The key is only
// valid as long as the entry is.
func parseLoc(v []byte) (chunkLoc, bool) {
	switch len(v) {
	case chunkLocSize:
		return chunkLoc{key: v[:8], n: binary.BigEndian.Uint32(v[8:])}, true
	case packLocSize:
		return chunkLoc{key: v[:8], off: binary.BigEndian.Uint32(v[8:]), n: binary.BigEndian.Uint32(v[12:]), packed: true}, true
	}
	return chunkLoc{}, false
}

// packLoc encodes a packed chunk's index entry.
func packLoc(key []byte, off, n int) []byte {
	loc := append(make([]byte, 0, packLocSize), key...)
	loc = binary.BigEndian.AppendUint32(loc, uint32(off))
	return binary.BigEndian.AppendUint32(loc, uint32(n))
}

// chunkBuckets returns the chunk index and the chunk data of a write
// transaction.
func chunkBuckets(tx *bbolt.Tx) (index, data *bbolt.Bucket) {
	data = tx.Bucket(bucketChunkData)
	// Keys only grow, so full pages never need room for an insert.
	data.FillPercent = 1.0
	return tx.Bucket(bucketChunks), data
}

// putPack appends chunks, which lie back to back in buf, to data as one
// pack under the next sequence number, and indexes each by its digest.
// bbolt keeps buf and the digests until the transaction commits: the caller
// must not change them before.
func putPack(index, data *bbolt.Bucket, buf []byte, chunks []pendingChunk) error {
	seq, err := data.NextSequence()
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	key := u64Key(seq)
	start := chunks[0].off
	last := chunks[len(chunks)-1]
	if err := data.Put(key, buf[start:last.off+last.n]); err != nil {
		return fmt.Errorf("pack %d: %w", seq, err)
	}
	for i := range chunks {
		c := &chunks[i]
		if err := index.Put(c.sum[:], packLoc(key, c.off-start, c.n)); err != nil {
			return fmt.Errorf("chunk %x: %w", c.sum, err)
		}
	}
	return nil
}

// dropChunks deletes the chunks whose index keys are given, their index
// entries and their bytes. A schema 2 chunk's value goes with it. A pack
// goes with its last live chunk; one left more than a quarter dead is
// rewritten with only its live chunks, under a new key, so that what
// purges and sweeps free is freed, give or take a quarter of a pack, even
// where the chunks of several blobs share one. It returns how many of keys
// had an index entry.
//
// Finding a pack's live chunks takes a pass over the index, once per call
// and only when a pack was touched: Sweep and PurgeCollab, the callers,
// read every manifest anyway.
func dropChunks(index, data *bbolt.Bucket, keys [][]byte) (int, error) {
	touched := map[string]bool{} // keys of the packs that lost a chunk
	n := 0
	for _, k := range keys {
		v := index.Get(k)
		if v == nil {
			continue
		}
		n++
		if loc, ok := parseLoc(v); ok && loc.packed {
			touched[string(loc.key)] = true
		} else if ok {
			if err := data.Delete(bytes.Clone(loc.key)); err != nil {
				return 0, fmt.Errorf("delete chunk %x data: %w", k, err)
			}
		}
		if err := index.Delete(k); err != nil {
			return 0, fmt.Errorf("delete chunk %x: %w", k, err)
		}
	}
	if len(touched) == 0 {
		return n, nil
	}
	type liveChunk struct {
		sum    []byte
		off, n uint32
	}
	live := map[string][]liveChunk{}
	err := index.ForEach(func(k, v []byte) error {
		if loc, ok := parseLoc(v); ok && loc.packed && touched[string(loc.key)] {
			live[string(loc.key)] = append(live[string(loc.key)], liveChunk{bytes.Clone(k), loc.off, loc.n})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, key := range slices.Sorted(maps.Keys(touched)) {
		chunks := live[key]
		pack := data.Get([]byte(key))
		var size int
		for _, c := range chunks {
			size += int(c.n)
		}
		if len(chunks) > 0 && 4*size >= 3*len(pack) {
			continue
		}
		// An entry past the pack's end reads as corrupt, and would read as
		// missing, or as other bytes, from a rewritten pack: keep it as it is.
		if slices.ContainsFunc(chunks, func(c liveChunk) bool { return uint64(c.off)+uint64(c.n) > uint64(len(pack)) }) {
			continue
		}
		if len(chunks) > 0 {
			seq, err := data.NextSequence()
			if err != nil {
				return 0, fmt.Errorf("repack %x: %w", key, err)
			}
			newKey := u64Key(seq)
			buf := make([]byte, 0, size)
			for _, c := range chunks {
				if err := index.Put(c.sum, packLoc(newKey, len(buf), int(c.n))); err != nil {
					return 0, fmt.Errorf("repack %x: chunk %x: %w", key, c.sum, err)
				}
				buf = append(buf, pack[c.off:c.off+c.n]...)
			}
			if err := data.Put(newKey, buf); err != nil {
				return 0, fmt.Errorf("repack %x: %w", key, err)
			}
		}
		if err := data.Delete([]byte(key)); err != nil {
			return 0, fmt.Errorf("delete pack %x: %w", key, err)
		}
	}
	return n, nil
}
