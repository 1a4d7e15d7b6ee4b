package store

import (
	"errors"
	"fmt"
	"strings"
)

// Message-ID directions.
const (
	DirIn  = "in"  // a mail the gateway received
	DirOut = "out" // a mail the gateway sent
)

// msgIDRecord is the value of the msgids bucket.
type msgIDRecord struct {
	Collab string `json:"collab"`
	Dir    string `json:"dir"`
}

// MsgID returns the collaboration a Message-ID belongs to and whether the
// gateway received ("in") or sent ("out") it, or ErrNotFound. The id is
// given without angle brackets.
func (tx *Tx) MsgID(id string) (cid, dir string, err error) {
	r, err := get[msgIDRecord](tx.bucket(bucketMsgIDs), msgIDKey(id))
	if err != nil {
		return "", "", fmt.Errorf("message-id %s: %w", id, err)
	}
	return r.Collab, r.Dir, nil
}

// PutMsgID records the collaboration and direction of a Message-ID.
func (tx *Tx) PutMsgID(id, cid, dir string) error {
	k := msgIDKey(id)
	if len(k) == 0 || (dir != DirIn && dir != DirOut) {
		return fmt.Errorf("store message-id %q (%s): invalid", id, dir)
	}
	if err := put(tx.bucket(bucketMsgIDs), k, &msgIDRecord{Collab: cid, Dir: dir}); err != nil {
		return fmt.Errorf("store message-id %s: %w", id, err)
	}
	return nil
}

// Received reports whether a mail with Message-ID id from sender (an address,
// lower-case, or "" when the mail named none) was received before, and for
// which collaboration. Keyed by both, so that a stranger who sends a
// Message-ID first cannot make the real mail with it pass for a redelivery.
func (tx *Tx) Received(sender, id string) (cid string, ok bool, err error) {
	r, err := get[msgIDRecord](tx.bucket(bucketMsgIDs), receivedKey(sender, id))
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("received %s from %s: %w", id, sender, err)
	}
	return r.Collab, true, nil
}

// PutReceived records that a mail with Message-ID id came from sender.
func (tx *Tx) PutReceived(sender, id, cid string) error {
	if len(msgIDKey(id)) == 0 {
		return fmt.Errorf("store received %q: invalid message-id", id)
	}
	if err := put(tx.bucket(bucketMsgIDs), receivedKey(sender, id), &msgIDRecord{Collab: cid, Dir: DirIn}); err != nil {
		return fmt.Errorf("store received %s from %s: %w", id, sender, err)
	}
	return nil
}

// receivedKey is 0x00 sender 0x00 Message-ID: no Message-ID key starts with
// a zero byte, so the two kinds of key never meet.
func receivedKey(sender, id string) []byte {
	k := append([]byte{0}, strings.ToLower(sender)...)
	k = append(k, 0)
	return append(k, msgIDKey(id)...)
}

// msgIDKey tolerates angle brackets and surrounding space, so that "<a@b>"
// and "a@b" find the same record. Message-IDs are otherwise case-sensitive
// and kept as they are.
func msgIDKey(id string) []byte {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	return []byte(id)
}

// AddInbound writes a new audit record, assigning in.ID.
func (tx *Tx) AddInbound(in *Inbound) error {
	b := tx.bucket(bucketInbound)
	id, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("add inbound: %w", err)
	}
	in.ID = id
	if err := put(b, u64Key(id), in); err != nil {
		return fmt.Errorf("add inbound %d: %w", id, err)
	}
	return nil
}

// PutInbound rewrites an existing audit record, as reprocessing does. It
// returns ErrNotFound when in.ID names none.
func (tx *Tx) PutInbound(in *Inbound) error {
	b := tx.bucket(bucketInbound)
	k := u64Key(in.ID)
	if b.Get(k) == nil {
		return fmt.Errorf("store inbound %d: %w", in.ID, ErrNotFound)
	}
	if err := put(b, k, in); err != nil {
		return fmt.Errorf("store inbound %d: %w", in.ID, err)
	}
	return nil
}

// Inbound returns one audit record, or ErrNotFound.
func (tx *Tx) Inbound(id uint64) (*Inbound, error) {
	in, err := get[Inbound](tx.bucket(bucketInbound), u64Key(id))
	if err != nil {
		return nil, fmt.Errorf("inbound %d: %w", id, err)
	}
	return in, nil
}

// Inbounds calls fn with every audit record in ascending ID, stopping at the
// first error, which it returns.
func (tx *Tx) Inbounds(fn func(*Inbound) error) error {
	return scan(tx.bucket(bucketInbound), nil, fn)
}
