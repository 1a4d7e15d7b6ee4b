package store

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Stats says how much content the store holds and what it costs on disk.
// Its JSON is the output of turnmail stats --json.
type Stats struct {
	// Versions is the number of document versions, and LogicalBytes the
	// sum of their blobs' sizes, a blob counted once per version that
	// references it: what the documents would take stored one file each.
	Versions     int   `json:"versions"`
	LogicalBytes int64 `json:"logical_bytes"`
	// Blobs is the number of stored blobs (versions, drafts, raw mail,
	// whether referenced or left for Sweep), and BlobBytes the sum of their
	// sizes, each counted once.
	Blobs     int   `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`
	// Chunks is the number of stored chunks, and ChunkBytes the sum of
	// their lengths: the blobs' content after dedupe.
	Chunks     int   `json:"chunks"`
	ChunkBytes int64 `json:"chunk_bytes"`
	// FileBytes is the size of the database file's pages that hold data:
	// the B+tree pages of every bucket (chunk data, indexes, records) and
	// the two meta pages. Free pages, which later writes reuse, the
	// freelist and what bbolt allocated past the end are not counted.
	FileBytes int64 `json:"file_bytes"`
	// FileSize is the file's high-water mark: the pages of FileBytes, the
	// free pages among them and the freelist. The file on disk can be
	// longer, by what bbolt allocated ahead.
	FileSize int64 `json:"file_size"`
}

// Stats counts what the store holds, in one read transaction. It reads every
// version, manifest and chunk index entry, and visits every page of the
// file, so it takes time in proportion to the store's size.
func (s *Store) Stats() (*Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bbolt.Tx) error {
		err := scan(tx.Bucket(bucketVersions), nil, func(v *Version) error {
			st.Versions++
			st.LogicalBytes += v.Blob.Size
			return nil
		})
		if err != nil {
			return fmt.Errorf("versions: %w", err)
		}
		err = tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
			size, err := manifestSize(v)
			if err != nil {
				return fmt.Errorf("blob %x: %w", k, err)
			}
			st.Blobs++
			st.BlobBytes += size
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketChunks).ForEach(func(k, loc []byte) error {
			l, ok := parseLoc(loc)
			if !ok {
				return fmt.Errorf("chunk %x: index entry of %d bytes: %w", k, len(loc), ErrCorrupt)
			}
			st.Chunks++
			st.ChunkBytes += int64(l.n)
			return nil
		})
		if err != nil {
			return err
		}
		// The root bucket's pages, and with them every bucket's.
		pages := tx.Cursor().Bucket().Stats()
		const metaPages = 2
		st.FileBytes = int64(pages.BranchAlloc+pages.LeafAlloc) + metaPages*int64(s.db.Info().PageSize)
		st.FileSize = tx.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store stats: %w", err)
	}
	return &st, nil
}

// manifestSize returns the blob size an encoded manifest records, reading
// only its head.
func manifestSize(b []byte) (int64, error) {
	if len(b) == 0 || b[0] != manifestVersion {
		return 0, fmt.Errorf("manifest: %w", ErrCorrupt)
	}
	size, n := binary.Uvarint(b[1:])
	if n <= 0 || size > 1<<63-1 {
		return 0, fmt.Errorf("manifest: %w", ErrCorrupt)
	}
	return int64(size), nil
}
