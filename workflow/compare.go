package workflow

import (
	"context"
	"time"

	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow/changes"
)

// Bounds of saying what changed. Comparing reads both versions whole, and a
// large document takes seconds: past a bound the mail says "too large to
// compare" and goes out as it is. The comparisons are made before the write
// transaction that hands the turn over (precompare), so that other mails
// commit meanwhile; only one the rules did not foresee is made inside it,
// within the same bounds.
const (
	compareBudget = 3 * time.Second // for all the documents of one mail
	compareEach   = 2 * time.Second // for one document
	compareBytes  = 32 << 20        // the largest version compared
)

// comparison is what changes says of one new version: the summary against
// the version before it, or the markup of a new document.
type comparison struct {
	sum    *changes.Summary
	markup *changes.Markup
	err    error // the version could not be read as its format says
}

// compareKey names one comparison: the document's name (its format), the
// digest of the version compared against ("" for a new document) and of
// the new one. A comparison depends on nothing else, so one made earlier
// holds wherever the same two versions are compared.
type compareKey struct {
	name, older, newer string
}

// blobOpener opens a blob for reading at random: a transaction's BlobAt,
// or a BlobBatch's for a mail's attachments not yet stored.
type blobOpener func(digest string) (*store.BlobAt, error)

// compare says what changed in each new version of ch, against the version
// before it (what the receiving party last had), by document id. It takes
// what precompare, or an earlier run of apply, found for the same two
// versions, and compares in tx only the rest.
func (d *delivery) compare(tx *store.Tx, ch []stored) map[string]*comparison {
	var ctx context.Context
	out := map[string]*comparison{}
	for _, x := range ch {
		if x.unchanged || x.twice {
			continue
		}
		if _, ok := changes.FormatOf(x.doc.Name); !ok {
			continue
		}
		key := compareKey{name: x.doc.Name, newer: x.v.Blob.Digest}
		if x.prev != nil {
			key.older = x.prev.Blob.Digest
		}
		c := d.compared[key]
		if c == nil {
			if ctx == nil {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(context.Background(), compareBudget)
				defer cancel()
			}
			c = d.compareOne(ctx, tx.BlobAt, key)
		}
		out[x.doc.ID] = c
		if c.err == nil && c.sum != nil && c.sum.TooLarge {
			d.logAfterCommit("document not compared", "collab", d.in.Collab, "document", x.doc.Name, "reason", c.sum.Reason)
		}
	}
	return out
}

// compareOne makes the comparison key names, reading the versions through
// open, and keeps it in d.compared unless a version could not be opened
// (which another transaction may yet be able to).
func (d *delivery) compareOne(ctx context.Context, open blobOpener, key compareKey) *comparison {
	lim := changes.Limits{MaxBytes: compareBytes, MaxTime: compareEach}
	c := &comparison{}
	newer, err := open(key.newer)
	if err != nil {
		c.err = err
		return c
	}
	if key.older == "" {
		c.markup, c.err = changes.Inspect(ctx, key.name, newer, newer.Size(), lim)
	} else {
		older, err := open(key.older)
		if err != nil {
			c.err = err
			return c
		}
		c.sum, c.err = changes.Compare(ctx, key.name, older, older.Size(), newer, newer.Size(), lim)
	}
	if d.compared == nil {
		d.compared = map[compareKey]*comparison{}
	}
	d.compared[key] = c
	return c
}

// precompare makes, in a read transaction before the write one, the
// comparisons that the mail's files will need if they end a turn: each
// file against its document's latest version, matched as the rules match
// it now. Only a mail that the rules will let end the turn is compared: a
// leader of the party holding it, through a way that is not held for
// confirmation. Inside the transaction compare takes these where it
// compares the same two versions, and compares again where a mail that
// committed meanwhile changed the document, or the rules decided
// otherwise: correct whatever ran in between, and the seconds a large
// document takes hold up no other mail's commit. For the same mails, with
// or without files, it reads the collaboration's ended turns for the
// handoff's history (see handoffDigest).
func (d *delivery) precompare(tx *store.Tx, blobs *store.BlobBatch) error {
	msg := d.msg
	if msg.From == nil || d.held != nil || d.bounce != nil || d.perr != nil ||
		d.toPostmaster() || d.autoReason() != "" || (d.dmarc == message.DMARCFail && !d.vouched) {
		return nil
	}
	m, s, err := d.route(tx)
	if err != nil || s == nil {
		return err
	}
	p := s.byAddress(msg.From.Addr)
	if p == nil || p.Pending || (m.pid != "" && p.ID != m.pid) || d.mustHold(m) != "" ||
		s.c.State != store.StateActive || !s.holds(p) || p.Role != store.RoleLeader {
		return nil
	}
	if err := d.readEndedTurns(tx, s); err != nil {
		return err
	}
	if len(msg.Attachments) == 0 {
		return nil
	}
	names := make([]string, len(msg.Attachments))
	for i, a := range msg.Attachments {
		names[i] = a.Filename
	}
	ids := s.match(names)
	ctx, cancel := context.WithTimeout(context.Background(), compareBudget)
	defer cancel()
	open := func(digest string) (*store.BlobAt, error) { return blobs.BlobAt(tx, digest) }
	used := map[string]bool{}
	for i, a := range msg.Attachments {
		// As storeVersions matches: a second file for a document already
		// used is a document of its own.
		key := compareKey{name: a.Filename, newer: a.Blob.Digest}
		if doc := s.doc(ids[i]); doc != nil && !used[doc.ID] {
			used[doc.ID] = true
			key.name = doc.Name
			if v := s.latest[doc.ID]; v != nil {
				if v.Blob.Digest == a.Blob.Digest {
					continue // re-sent unchanged
				}
				key.older = v.Blob.Digest
			}
		}
		if _, ok := changes.FormatOf(key.name); !ok || d.compared[key] != nil {
			continue
		}
		d.compareOne(ctx, open, key)
	}
	return nil
}
