package workflow

import (
	"fmt"
	"time"

	"github.com/turnmail/turnmail/store"
)

// RetentionConfig says when a wrapped-up collaboration's data is deleted
// (DESIGN §2.7).
type RetentionConfig struct {
	// PurgeAfter is how long after its wrap-up a collaboration is purged;
	// 0: never. At least PurgeNotice when set: the owner is warned that long
	// before.
	PurgeAfter time.Duration
}

// PurgeNotice is how long before the purge of a wrapped-up collaboration its
// owner is told, and so the shortest time between that mail and the purge:
// a collaboration wrapped up long before retention was turned on still gets
// its week.
const PurgeNotice = 7 * 24 * time.Hour

// purgeWarnKey is the marker of the owner's warning. It names the wrap-up,
// so that a collaboration reopened and wrapped up again is warned again.
func purgeWarnKey(c *store.Collab) string {
	return fmt.Sprintf("purge\x00warn\x00%s\x00%d", c.ID, c.Wrapped.UnixNano())
}

// retention says what is due at now for collaboration c: the owner's
// warning, or the purge itself, which comes PurgeNotice after the warning
// at the earliest. Only a wrapped-up collaboration is ever purged.
func (e *Engine) retention(tx *store.Tx, c *store.Collab, now time.Time) (warn, purge bool, err error) {
	after := e.cfg.Retention.PurgeAfter
	if after <= 0 || c.State != store.StateWrapped || c.Wrapped.IsZero() {
		return false, false, nil
	}
	due := c.Wrapped.Add(after)
	warned, ok, err := tx.MarkedAt(purgeWarnKey(c))
	if err != nil {
		return false, false, err
	}
	if !ok {
		return !now.Before(due.Add(-PurgeNotice)), false, nil
	}
	return false, !now.Before(purgeDate(due, warned)), nil
}

// purgeDate is when a collaboration due for purging at due is purged, its
// owner warned at warned.
func purgeDate(due, warned time.Time) time.Time {
	if at := warned.Add(PurgeNotice); at.After(due) {
		return at
	}
	return due
}

// sendPurgeWarning tells the owner of collaboration cid, once, when it will
// be purged and that /reopen keeps it.
func (p *tickPlan) sendPurgeWarning(tx *store.Tx, o *outbox, cid string) (string, error) {
	s, err := loadState(tx, cid)
	if err != nil {
		return "", err
	}
	c := s.c
	// The plan may be seconds old: the collaboration may have been reopened.
	if warn, _, err := p.e.retention(tx, c, p.now); err != nil || !warn {
		return "", err
	}
	owner := s.byID(c.Owner)
	if owner == nil {
		return "", fmt.Errorf("collaboration %s: owner %s is no participant", cid, c.Owner)
	}
	first, err := tx.MarkOnce(purgeWarnKey(c), p.now)
	if err != nil || !first {
		return "", err
	}
	at := purgeDate(c.Wrapped.Add(p.e.cfg.Retention.PurgeAfter), p.now)
	if err := o.post(tx, s, kindPurge, owner, "", purgeWarningLetter(c, at), nil); err != nil {
		return "", err
	}
	return kindPurge, nil
}

// purge deletes collaboration cid if it is still due at now, in one
// transaction of its own, and says whether it did.
func (e *Engine) purge(cid string, now time.Time) (bool, error) {
	rep, err := e.st.PurgeCollab(cid, func(tx *store.Tx, c *store.Collab) (bool, error) {
		// Checked again inside the purge's transaction: a /reopen that
		// committed since the plan keeps the collaboration.
		_, purge, err := e.retention(tx, c, now)
		return purge, err
	})
	if err != nil {
		return false, err
	}
	if rep.Purged {
		e.log.Info("collaboration purged", "collab", cid, "blobs", rep.Blobs, "chunks", rep.Chunks, "blobs_kept", rep.Kept)
	}
	return rep.Purged, nil
}
