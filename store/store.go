// Package store is turnmail's persistence: one bbolt file holding the
// collaboration model, content-addressed blobs, the Message-ID index, the audit
// of inbound mail, the outbound queue and the scheduler's markers.
//
// # On-disk layout
//
// Buckets, with their keys and values (0x00 is a literal zero byte separating
// the parts of a compound key; cids never contain one):
//
//	meta          "schema" → schema version of the layout, a big-endian uint32
//	              "members" → participants key to go on from (only while Open upgrades a file to schema 3)
//	              "due" → cid to go on from            (only while Open upgrades a file to schema 4)
//	collabs       cid → Collab
//	participants  cid 0x00 pid → Participant
//	turns         cid 0x00 turn → Turn
//	documents     cid 0x00 doc → Document
//	versions      cid 0x00 doc n → Version
//	drafts        cid 0x00 party 'd' doc → Draft       (draft of an existing document)
//	              cid 0x00 party 'n' name → Draft      (draft of a new document)
//	msgids        Message-ID without <> → {collab, dir} (dir "in" or "out"; the thread index)
//	              0x00 sender 0x00 Message-ID → {collab, "in"} (sender lower-case, maybe "": the redelivery check)
//	inbound       id → Inbound                         (id from the bucket's sequence)
//	outbox        id → Outbound                        (id from the bucket's sequence)
//	outboxdue     next try, id → empty                 (index of the queued Outbounds)
//	marks         key → {at}
//	blobs         SHA-256 → manifest
//	chunks        SHA-256 → chunkdata key, offset, length (index of the stored chunks)
//	chunkdata     seq → pack: chunks' bytes back to back (seq from the bucket's sequence)
//	imap          account 0x00 mailbox → UIDVALIDITY, last UID[, UID tried, tries] (owned by the IMAP poller)
//	people        address → Person                     (lower-case; a person's own settings, across collaborations)
//	members       address 0x00 cid 0x00 pid → membership (lower-case; index of the placed participants by address)
//	due           kind time cid → empty                (index of the scheduler's triggers; kind 'h', 'b', 'o', 'w' or 'p')
//	              'P' cid → time                       (the time of the collaboration's 'p' entry)
//	migrating     "chunks" → a schema 1 chunks bucket  (only while Open upgrades a file)
//
// Numbers in keys are big-endian so that bbolt's byte order is numeric order:
// turn, party and version numbers as uint32; participant and document ids
// ("p7", "d3") as the uint32 of their number, so p2 sorts before p10; inbound
// and outbound ids and chunk sequence numbers as uint64. A time in a key is its
// Unix seconds as a uint64 with the sign bit flipped (so times before 1970
// still sort first) followed by its nanoseconds as a uint32. Digests in keys
// are the 32 raw bytes.
//
// Values of collabs, participants, turns, documents, versions, drafts,
// msgids, inbound, outbox, marks and people are one byte, the version of the
// record's encoding (1, unchanged by schemas 2 to 5), followed by the record's JSON:
// its fields in declaration order, named by their JSON tags, times in RFC 3339
// with nanoseconds. Those tags are the file format: golden_test.go pins every
// value described here, byte for byte. An outbox value whose JSON is 1 KiB
// or more is instead the byte 2 followed by that JSON deflated (RFC 1951),
// when that saves a quarter of it (schema 5; the golden file pins the byte
// and the JSON, not compress/flate's output); every value is read in either
// form. An outboxdue value is empty. A
// chunkdata value is a pack, the bytes of one or more chunks back to back,
// up to 64 KiB, or of one larger chunk; a chunk's chunks entry is its pack's 8-byte chunkdata key
// followed by the chunk's offset in the pack and its length, big-endian
// uint32s. An entry of 12 bytes, the key and the length, is a chunk stored
// alone, the whole value, as schemas 2 to 4 stored every chunk (and the
// schema 1 upgrade still does): both are read. A blob
// manifest is compact binary: a version byte (1), the blob's size as a
// uvarint, the chunk count as a uvarint, then per chunk its 32-byte SHA-256
// and its length as a uvarint.
// A members key's address holds no zero byte (PutParticipant refuses one).
// A members value is compact binary: a version byte (1), the participant's
// Added as in a key, its party as a uvarint, then its role and its name,
// each as a uvarint length and the bytes. Every participant placed in a
// party (neither pending nor removed) has exactly one members entry, under
// its address, and no other participant has one: PutParticipant writes or
// deletes it in the same transaction, moving it when the address changes,
// and whatever deletes participants deletes their entries too
// (unindexMember, unindexCollab). The scheduler walks members in address
// order, a bounded batch of people per transaction, instead of reading
// every participant of every collaboration at once.
// A due key is a kind byte, a time as in a key and the cid; its value is
// empty, and a 'P' value is a time as in a key. PutCollab keeps a
// collaboration's entries in line with it in the same transaction: an
// active one has 'h' at its TurnSince (a turn held too long) and, with a
// deadline, 'b' and 'o' at the deadline (the reminders before it and once
// it passed); a wrapped-up one 'w' at its Wrapped (its owner's warning of
// the purge). The scheduler drops an entry once it has sent what it stands
// for, or found it outdated, and PutCollab writes an entry only when what
// it follows changed (the turn's number or TurnSince, the deadline, the
// state or Wrapped), so a dropped entry stays dropped. Once the owner is
// warned the scheduler files the purge, 'p' at the warning, in place of
// 'w' (PutPurgeDue), with the 'P' entry pointing to it, so that a reopen,
// a new wrap-up or PurgeCollab deletes it. The times are the
// collaboration's own, not when its mail is due, which follows from the
// configuration: the scheduler reads each kind from its first entry to now
// shifted by the configured delay, and so visits only what is due; a
// change of configuration moves no entry.
// An imap value is the mailbox's UIDVALIDITY then the highest UID the poller
// has fully handled (delivered, then moved or flagged), big-endian uint32s,
// followed, once a delivery of the next message was tried, by that message's
// UID and the count of tries begun, two more; moving the cursor drops them.
//
// # Blobs
//
// PutBlob cuts content into content-defined chunks (Rabin fingerprints with a
// fixed polynomial, 16 KiB to 256 KiB, about 64 KiB on average) as it streams
// in, so equal stretches of two files, even shifted, are stored once. Content
// that starts with a zip local file header (docx, xlsx, pptx, odt) gets a
// chunk boundary at each member's header and at the central directory, so an
// edit of one member never costs a chunk of another, and, in its deflated XML
// members, at each deflate block, where an edit's changes start. Between
// boundaries it is cut content-defined, in larger chunks (about 190 KiB) in
// the members that are not XML, which versions carry unchanged, and in small
// ones (about 3 KiB) in the deflated XML members, where a light edit often
// leaves its block's bytes before it unchanged. Where a blob
// is cut is no part of the format: a manifest lists its chunks whatever their
// boundaries, and a chunk is any 1 byte to 256 KiB of content, keyed by its
// digest. Chunks are written in transactions of a few MB, then the manifest in
// its own: a crash in between leaves chunks, or a manifest, that nothing
// references, and Sweep removes them.
//
// PurgeCollab deletes one collaboration's records and, in the same
// transaction, the blobs that nothing else references and the chunks that no
// remaining blob uses: a blob or chunk shared with another collaboration
// stays. It runs beside PutBlob, which it never races: what a PutBlob met in
// the last hour is kept, and left to Sweep.
//
// A chunk's bytes are appended to chunkdata under the next sequence number,
// and only its small index entry goes in at a random place in chunks. Keyed by
// digest, as in schema 1, every new chunk landed among stored ones and bbolt
// rewrote the whole leaf around it, two to four chunks, on every insert:
// nearly four times the chunk's size in dirty pages and disk writes. The new
// chunks of one write share packs of up to 64 KiB, in the order they were
// cut (a larger chunk is a pack of its own): bbolt gives a large value pages
// of its own, rounded up to whole pages, half a page lost on average, which
// a pack loses once for all its chunks, and a chunk of deflated XML is some
// 3 KiB.
// Deleting chunks (Sweep, PurgeCollab) deletes a pack with its last live
// chunk and rewrites one left more than a quarter dead with its live chunks
// only, under a new key.
//
// # Schema versions
//
// Version 2 split chunks into the index and chunkdata. Open upgrades a version
// 1 file by moving its chunks bucket under migrating, then moving its chunks
// a few MB per transaction, so the upgrade of a large store needs no more
// memory than PutBlob; an interrupted upgrade goes on at the next Open.
//
// Version 3 added members. Open upgrades a version 2 file (after the step
// above, for a version 1 file) by indexing its placed participants, a few
// thousand participants read per transaction, in key order, keeping the next participants key in meta
// under "members" until the last one is done; an interrupted upgrade goes on
// from there at the next Open.
//
// Version 4 added due. Open upgrades a version 3 file (after the steps
// above, for an older one) by filing its collaborations, a few thousand per
// transaction, in id order, keeping the next id in meta under "due" until
// the last one is done. Every trigger that has passed gets its entry, its
// mail sent or not: the scheduler's first tick finds the markers of those
// sent and drops their entries, once.
//
// Version 5 put chunks in packs and deflated large outbox values. Open
// upgrades a version 4 file (after the steps above, for an older one) by
// recording 5: its chunks, each a value of its own, and its plain records
// are read as they are, and a file that holds packs or deflated records is
// refused by older code, which cannot read them.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/turnmail/turnmail/mail"
)

// layoutVersion is the schema version recorded in meta: the layout this code
// reads and writes. Open refuses a file with a newer one and upgrades an
// older one. (recordVersion, below, versions the records.)
const layoutVersion = 5

// recordVersion is the version of the model records' encoding, the byte that
// codec.go writes before each record's JSON. Schemas 2 to 5 changed how
// chunks are stored and added indexes, not the records: a file upgraded
// from an older schema keeps its records as they are, so this stays 1.
// deflatedVersion, from schema 5, is the byte before a record's JSON
// deflated: codec.go writes it for large outbox records and reads both.
const (
	recordVersion   = 1
	deflatedVersion = 2
)

// defaultTimeout is how long Open waits for the file lock when Options leaves
// it zero: bbolt itself would wait forever.
const defaultTimeout = 2 * time.Second

var (
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("store: database in use by another process")
	// ErrNewerSchema is returned by Open for a file written by a newer turnmail.
	ErrNewerSchema = errors.New("store: database written by a newer turnmail")
	// ErrCorrupt is returned when stored data does not match its digest or
	// its manifest.
	ErrCorrupt = errors.New("store: corrupt data")
)

var (
	bucketMeta         = []byte("meta")
	bucketCollabs      = []byte("collabs")
	bucketParticipants = []byte("participants")
	bucketTurns        = []byte("turns")
	bucketDocuments    = []byte("documents")
	bucketVersions     = []byte("versions")
	bucketDrafts       = []byte("drafts")
	bucketBlobs        = []byte("blobs")
	bucketChunks       = []byte("chunks")
	bucketChunkData    = []byte("chunkdata")
	bucketMsgIDs       = []byte("msgids")
	bucketInbound      = []byte("inbound")
	bucketOutbox       = []byte("outbox")
	bucketOutboxDue    = []byte("outboxdue")
	bucketMarks        = []byte("marks")
	bucketIMAP         = []byte("imap")
	bucketPeople       = []byte("people")
	bucketMembers      = []byte("members")
	bucketDue          = []byte("due")
	bucketMigrating    = []byte("migrating")

	allBuckets = [][]byte{
		bucketMeta, bucketCollabs, bucketParticipants, bucketTurns, bucketDocuments,
		bucketVersions, bucketDrafts, bucketBlobs, bucketChunks, bucketChunkData,
		bucketMsgIDs, bucketInbound, bucketOutbox, bucketOutboxDue, bucketMarks, bucketIMAP,
		bucketPeople, bucketMembers, bucketDue,
	}

	keySchema      = []byte("schema")
	keyMembersFrom = []byte("members") // in meta, while migrateMembers runs
	keyDueFrom     = []byte("due")     // in meta, while migrateDue runs
)

// Options configure Open. A nil *Options is the same as a zero Options.
type Options struct {
	// Timeout is how long Open waits for the file lock; 0 means 2s.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock, for inspection while no
	// writer runs. Every write fails.
	ReadOnly bool
	// Fault, when set, is called at the start of every write transaction
	// (Update, PutBlob's writes, queue marks, Sweep, PurgeCollab); a non-nil
	// error fails that transaction. It exists so tests can inject store
	// failures.
	Fault func() error
	// Now is the clock by which a blob that PutBlob met lately is kept from
	// PurgeCollab; nil means time.Now. Tests that purge "months later" on a
	// clock of their own set it to that clock.
	Now func() time.Time
}

// Store is an open turnmail database. It is safe for concurrent use.
type Store struct {
	db       *bbolt.DB
	fault    func() error
	enqueued chan struct{}
	writers  sync.Pool // of *blobWriter
	guard    blobGuard
	commits  committer // the writes of Batch, group-committed
}

var (
	_ mail.Queue      = (*Store)(nil)
	_ mail.BlobWriter = (*Store)(nil)
	_ mail.BlobOpener = (*Store)(nil)
)

// Open opens the database at path, creating it, its parent directory and its
// buckets when missing (unless read-only), and upgrading a file written by an
// older turnmail. It fails with ErrLocked when another process holds the file
// past the timeout, and with ErrNewerSchema for a file written by a newer
// turnmail. A read-only Open cannot upgrade, so it refuses an older file.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create store directory: %w", err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	} else if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, fault: o.Fault, enqueued: make(chan struct{}, 1)}
	s.commits.cond.L = &s.commits.mu
	s.guard.now = o.Now
	if s.guard.now == nil {
		s.guard.now = time.Now
	}
	if o.ReadOnly {
		err = db.View(checkSchema)
	} else {
		err = s.upgrade()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// upgrade sets up a new file, or brings an existing one to layoutVersion.
func (s *Store) upgrade() error {
	var version uint32
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		version, err = initSchema(tx)
		return err
	})
	if err != nil {
		return err
	}
	if version == 1 {
		if err := s.migrateChunks(); err != nil {
			return fmt.Errorf("upgrade schema 1 to 2: %w", err)
		}
		version = 2
	}
	if version == 2 {
		if err := s.migrateMembers(); err != nil {
			return fmt.Errorf("upgrade schema 2 to 3: %w", err)
		}
		version = 3
	}
	if version == 3 {
		if err := s.migrateDue(); err != nil {
			return fmt.Errorf("upgrade schema 3 to 4: %w", err)
		}
		version = 4
	}
	if version == 4 {
		// Schema 5 reads schema 4's chunks and records as they are: only
		// an older turnmail, which cannot read packs or deflated records,
		// needs to be told.
		err := s.update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, 5))
		})
		if err != nil {
			return fmt.Errorf("upgrade schema 4 to 5: %w", err)
		}
	}
	return nil
}

// indexEach builds an index of an upgrade from every record of bucket:
// fn indexes one, perTx of them a transaction, so that the upgrade of a
// large store needs no large transaction. Meta keeps under from the key it
// goes on from, so that an upgrade interrupted goes on at the next Open;
// the last transaction sets the schema to schema.
func (s *Store) indexEach(bucket, from []byte, perTx int, schema uint32, fn func(tx *bbolt.Tx, k, v []byte) error) error {
	for done := false; !done; {
		err := s.update(func(tx *bbolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if key := meta.Get(from); key != nil {
				k, v = c.Seek(key)
			}
			for n := 0; k != nil && n < perTx; k, v = c.Next() {
				n++
				if err := fn(tx, k, v); err != nil {
					return err
				}
			}
			if k != nil {
				return meta.Put(from, bytes.Clone(k))
			}
			done = true
			if err := meta.Delete(from); err != nil {
				return err
			}
			return meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, schema))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// initSchema records the schema version of a new file, or checks that of an
// existing one, creates the buckets missing, and returns the version found.
// For a version 1 file it starts the upgrade that migrateChunks finishes: the
// chunks bucket moves under migrating, out of the way of its successor. For
// a version 1 or 2 file the members bucket it creates stays empty until
// migrateMembers fills it, and for a version 1 to 3 file the due bucket
// until migrateDue does.
func initSchema(tx *bbolt.Tx) (uint32, error) {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return 0, fmt.Errorf("create bucket %s: %w", bucketMeta, err)
	}
	version := uint32(layoutVersion)
	if meta.Get(keySchema) == nil {
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, version)); err != nil {
			return 0, err
		}
	} else if version, err = readSchema(tx); err != nil {
		return 0, err
	}
	if version == 1 && tx.Bucket(bucketMigrating) == nil {
		migrating, err := tx.CreateBucket(bucketMigrating)
		if err != nil {
			return 0, fmt.Errorf("create bucket %s: %w", bucketMigrating, err)
		}
		if err := tx.MoveBucket(bucketChunks, nil, migrating); err != nil {
			return 0, fmt.Errorf("move schema 1 chunks aside: %w", err)
		}
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return 0, fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return version, nil
}

// checkSchema refuses a file this code cannot read as it is.
func checkSchema(tx *bbolt.Tx) error {
	version, err := readSchema(tx)
	if err != nil {
		return err
	}
	if version < layoutVersion {
		return fmt.Errorf("schema version %d needs upgrading to %d: open it once for writing", version, layoutVersion)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bucket %s missing", name)
		}
	}
	return nil
}

// readSchema returns the file's schema version, refusing a newer one.
func readSchema(tx *bbolt.Tx) (uint32, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, errors.New("not a turnmail store: no meta bucket")
	}
	v := meta.Get(keySchema)
	if len(v) != 4 {
		return 0, errors.New("not a turnmail store: no schema version")
	}
	n := binary.BigEndian.Uint32(v)
	if n > layoutVersion {
		return 0, fmt.Errorf("schema version %d, this turnmail reads up to %d: %w", n, layoutVersion, ErrNewerSchema)
	}
	return n, nil
}

// Close closes the database. Readers returned by OpenBlob fail afterwards.
func (s *Store) Close() error {
	return s.db.Close()
}

// Update runs fn in a write transaction, committed when fn returns nil and
// rolled back otherwise. It has its transaction to itself (Batch shares
// one), and fn runs once. Only one write transaction runs at a time; do not
// call Update, View or the Store's other methods from inside fn.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.write(s.update, nil, fn)
}

// write runs fn in the write transaction commit gives it, after writing
// the blobs staged in blobs (nil for none), and wakes the outbound worker
// once that transaction has committed, if fn queued mail in it.
func (s *Store) write(commit func(func(*bbolt.Tx) error) error, blobs *BlobBatch, fn func(tx *Tx) error) error {
	var enqueued bool
	err := commit(func(btx *bbolt.Tx) error {
		enqueued = false // fn may run again (Batch)
		if blobs != nil {
			if err := blobs.write(btx); err != nil {
				return err
			}
		}
		tx := &Tx{tx: btx}
		if err := fn(tx); err != nil {
			return err
		}
		enqueued = tx.enqueued
		return nil
	})
	if err == nil && enqueued {
		s.signalEnqueued()
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *bbolt.Tx) error {
		return fn(&Tx{tx: btx})
	})
}

// Enqueued is signalled after every committed Update that called Enqueue, so
// the outbound worker can wake at once. The channel holds at most one signal:
// a receiver must drain everything Due when woken.
func (s *Store) Enqueued() <-chan struct{} {
	return s.enqueued
}

// update is every write transaction of the store, a group's included: it
// gives Options.Fault its chance to fail the transaction first.
func (s *Store) update(fn func(tx *bbolt.Tx) error) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if s.fault != nil {
			if err := s.fault(); err != nil {
				return fmt.Errorf("injected fault: %w", err)
			}
		}
		return fn(tx)
	})
}
