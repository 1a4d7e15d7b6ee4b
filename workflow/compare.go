package workflow

import (
	"context"
	"time"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow/changes"
)

// Bounds of saying what changed. The comparison reads both versions inside
// the write transaction that hands the turn over, so it must not hold that
// transaction long: past a bound the mail says "too large to compare" and
// goes out as it is.
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

// compare says what changed in each new version of ch, against the version
// before it (what the receiving party last had), by document id.
func (d *delivery) compare(tx *store.Tx, ch []stored) map[string]*comparison {
	ctx, cancel := context.WithTimeout(context.Background(), compareBudget)
	defer cancel()
	lim := changes.Limits{MaxBytes: compareBytes, MaxTime: compareEach}
	out := map[string]*comparison{}
	for _, x := range ch {
		if x.unchanged || x.twice {
			continue
		}
		if _, ok := changes.FormatOf(x.doc.Name); !ok {
			continue
		}
		c := &comparison{}
		out[x.doc.ID] = c
		newer, err := tx.BlobAt(x.v.Blob.Digest)
		if err != nil {
			c.err = err
			continue
		}
		if x.prev == nil {
			c.markup, c.err = changes.Inspect(ctx, x.doc.Name, newer, newer.Size(), lim)
			continue
		}
		older, err := tx.BlobAt(x.prev.Blob.Digest)
		if err != nil {
			c.err = err
			continue
		}
		c.sum, c.err = changes.Compare(ctx, x.doc.Name, older, older.Size(), newer, newer.Size(), lim)
		if c.err == nil && c.sum.TooLarge {
			d.log.Info("document not compared", "collab", d.in.Collab, "document", x.doc.Name, "reason", c.sum.Reason)
		}
	}
	return out
}
