package store

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Collab returns the collaboration with the given id, or ErrNotFound.
func (tx *Tx) Collab(id string) (*Collab, error) {
	c, err := get[Collab](tx.bucket(bucketCollabs), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("collaboration %s: %w", id, err)
	}
	return c, nil
}

// Collabs returns every collaboration, ordered by Created, then ID.
func (tx *Tx) Collabs() ([]*Collab, error) {
	cs, err := list[Collab](tx.bucket(bucketCollabs), nil)
	if err != nil {
		return nil, fmt.Errorf("list collaborations: %w", err)
	}
	slices.SortFunc(cs, func(a, b *Collab) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return cs, nil
}

// NewCollabID returns a random collaboration id (6 characters of [a-z2-7])
// that no collaboration uses yet.
func (tx *Tx) NewCollabID() (string, error) {
	b := tx.bucket(bucketCollabs)
	// 32^6 ids: a collision is rare, several in a row mean something is wrong.
	for range 100 {
		// Lower-case base32 is url-safe and survives MTAs that fold the case
		// of local parts.
		id := strings.ToLower(rand.Text()[:6])
		if b.Get([]byte(id)) == nil {
			return id, nil
		}
	}
	return "", errors.New("new collaboration id: no unused id found")
}

// PutCollab writes a collaboration, and its entries in the due index where
// what they follow changed: its turn, its deadline, its wrap-up.
func (tx *Tx) PutCollab(c *Collab) error {
	if _, err := cidKey(c.ID); err != nil {
		return fmt.Errorf("store collaboration: %w", err)
	}
	err := indexDue(tx.tx, c)
	if err == nil {
		err = put(tx.bucket(bucketCollabs), []byte(c.ID), c)
	}
	if err != nil {
		return fmt.Errorf("store collaboration %s: %w", c.ID, err)
	}
	return nil
}

// Participants returns a collaboration's participants, ordered by their
// numeric id (p1, p2, … p10).
func (tx *Tx) Participants(cid string) ([]*Participant, error) {
	prefix, err := cidKey(cid)
	if err != nil {
		return nil, fmt.Errorf("list participants: %w", err)
	}
	ps, err := list[Participant](tx.bucket(bucketParticipants), prefix)
	if err != nil {
		return nil, fmt.Errorf("list participants of %s: %w", cid, err)
	}
	return ps, nil
}

// PutParticipant writes a participant of a collaboration, and its entry in
// the members index. Its id must be "p<n>"; its address may not hold a zero
// byte.
func (tx *Tx) PutParticipant(cid string, p *Participant) error {
	k, err := seqKey(cid, 'p', p.ID)
	if err == nil {
		err = indexMember(tx.tx, k, p)
	}
	if err == nil {
		err = put(tx.bucket(bucketParticipants), k, p)
	}
	if err != nil {
		return fmt.Errorf("store participant %s of %s: %w", p.ID, cid, err)
	}
	return nil
}

// Turns returns a collaboration's turns in ascending number.
func (tx *Tx) Turns(cid string) ([]*Turn, error) {
	prefix, err := cidKey(cid)
	if err != nil {
		return nil, fmt.Errorf("list turns: %w", err)
	}
	ts, err := list[Turn](tx.bucket(bucketTurns), prefix)
	if err != nil {
		return nil, fmt.Errorf("list turns of %s: %w", cid, err)
	}
	return ts, nil
}

// PutTurn writes a turn of a collaboration.
func (tx *Tx) PutTurn(cid string, t *Turn) error {
	k, err := numKey(cid, "turn", t.Number)
	if err == nil {
		err = put(tx.bucket(bucketTurns), k, t)
	}
	if err != nil {
		return fmt.Errorf("store turn %d of %s: %w", t.Number, cid, err)
	}
	return nil
}

// Documents returns a collaboration's documents, ordered by their numeric id
// (d1, d2, …).
func (tx *Tx) Documents(cid string) ([]*Document, error) {
	prefix, err := cidKey(cid)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	ds, err := list[Document](tx.bucket(bucketDocuments), prefix)
	if err != nil {
		return nil, fmt.Errorf("list documents of %s: %w", cid, err)
	}
	return ds, nil
}

// PutDocument writes a document of a collaboration. Its id must be "d<n>".
func (tx *Tx) PutDocument(cid string, d *Document) error {
	k, err := seqKey(cid, 'd', d.ID)
	if err == nil {
		err = put(tx.bucket(bucketDocuments), k, d)
	}
	if err != nil {
		return fmt.Errorf("store document %s of %s: %w", d.ID, cid, err)
	}
	return nil
}

// Versions returns the versions of one document in ascending number.
func (tx *Tx) Versions(cid, doc string) ([]*Version, error) {
	prefix, err := seqKey(cid, 'd', doc)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	vs, err := list[Version](tx.bucket(bucketVersions), prefix)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s in %s: %w", doc, cid, err)
	}
	return vs, nil
}

// LatestVersion returns the document's newest version, reading that one
// record: nil, and no error, when it has none.
func (tx *Tx) LatestVersion(cid, doc string) (*Version, error) {
	prefix, err := seqKey(cid, 'd', doc)
	if err != nil {
		return nil, fmt.Errorf("latest version: %w", err)
	}
	// A version's key is the prefix and its number, big-endian: the last
	// key under the prefix is the newest version.
	c := tx.bucket(bucketVersions).Cursor()
	end := binary.BigEndian.AppendUint32(prefix[:len(prefix):len(prefix)], math.MaxUint32)
	k, data := c.Seek(end)
	switch {
	case k == nil:
		k, data = c.Last()
	case !bytes.Equal(k, end):
		k, data = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, nil
	}
	v := new(Version)
	if err := decode(data, v); err != nil {
		return nil, fmt.Errorf("latest version of %s in %s: key %q: %w", doc, cid, k, err)
	}
	return v, nil
}

// PutVersion writes a version of the document v.Doc.
func (tx *Tx) PutVersion(cid string, v *Version) error {
	k, err := seqKey(cid, 'd', v.Doc)
	if err == nil {
		k, err = appendNumber(k, "version", v.Number)
	}
	if err == nil {
		err = put(tx.bucket(bucketVersions), k, v)
	}
	if err != nil {
		return fmt.Errorf("store version %d of %s in %s: %w", v.Number, v.Doc, cid, err)
	}
	return nil
}

// Drafts returns a party's drafts: those of existing documents ordered by
// document id, then those of new documents ordered by name.
func (tx *Tx) Drafts(cid string, party int) ([]*Draft, error) {
	prefix, err := numKey(cid, "party", party)
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	ds, err := list[Draft](tx.bucket(bucketDrafts), prefix)
	if err != nil {
		return nil, fmt.Errorf("list drafts of party %d in %s: %w", party, cid, err)
	}
	return ds, nil
}

// PutDraft writes a draft of d.Party, replacing that party's draft of the same
// document, or, for a new document (Doc ""), of the same Name.
func (tx *Tx) PutDraft(cid string, d *Draft) error {
	k, err := draftKey(cid, d)
	if err == nil {
		err = put(tx.bucket(bucketDrafts), k, d)
	}
	if err != nil {
		return fmt.Errorf("store draft of %q by party %d in %s: %w", d.Name, d.Party, cid, err)
	}
	return nil
}

// draftKey is the key of d: cid 0x00 party, then 'd' and the document's
// number, or 'n' and the name of a new document.
func draftKey(cid string, d *Draft) ([]byte, error) {
	k, err := numKey(cid, "party", d.Party)
	if err != nil {
		return nil, err
	}
	if d.Doc == "" {
		return append(append(k, 'n'), d.Name...), nil
	}
	n, err := seqNumber('d', d.Doc)
	return binary.BigEndian.AppendUint32(append(k, 'd'), n), err
}

// DeleteDraft removes d, the party's draft of its document (or, for a new
// document, of its name).
func (tx *Tx) DeleteDraft(cid string, d *Draft) error {
	k, err := draftKey(cid, d)
	if err == nil {
		err = tx.bucket(bucketDrafts).Delete(k)
	}
	if err != nil {
		return fmt.Errorf("delete draft of %q by party %d in %s: %w", d.Name, d.Party, cid, err)
	}
	return nil
}

// DeleteDrafts removes every draft of a party.
func (tx *Tx) DeleteDrafts(cid string, party int) error {
	prefix, err := numKey(cid, "party", party)
	if err == nil {
		err = deletePrefix(tx.bucket(bucketDrafts), prefix)
	}
	if err != nil {
		return fmt.Errorf("delete drafts of party %d in %s: %w", party, cid, err)
	}
	return nil
}

// seqKey is cid 0x00 n for an id "<prefix><n>".
func seqKey(cid string, prefix byte, id string) ([]byte, error) {
	k, err := cidKey(cid)
	if err != nil {
		return nil, err
	}
	n, err := seqNumber(prefix, id)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint32(k, n), nil
}

// numKey is cid 0x00 n.
func numKey(cid, what string, n int) ([]byte, error) {
	k, err := cidKey(cid)
	if err != nil {
		return nil, err
	}
	return appendNumber(k, what, n)
}

func appendNumber(k []byte, what string, n int) ([]byte, error) {
	u, err := number(what, n)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint32(k, u), nil
}
