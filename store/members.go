package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Membership is one entry of the members index: a participant placed in a
// party, as the scheduler needs them, found by address, without their
// thread.
type Membership struct {
	Collab string // collaboration id
	ID     string // participant id, "p<n>"
	Name   string
	Party  int
	Role   string
	Added  time.Time // UTC
}

// memberVersion is the version byte that starts a members value.
const memberVersion = 1

// membersPerTx is how many participants one transaction of the upgrade to
// schema 3 indexes: well under a MB of dirty pages, whatever the size of the
// store. A variable so that a test can see several transactions without
// writing thousands of participants.
var membersPerTx = 5000

// memberKey is the members key of the participant at participants key pk
// (cid 0x00 pid): lower-case address 0x00 pk.
func memberKey(address string, pk []byte) ([]byte, error) {
	if strings.IndexByte(address, 0) >= 0 {
		return nil, fmt.Errorf("invalid address %q", address)
	}
	k := make([]byte, 0, len(address)+1+len(pk))
	k = append(append(k, strings.ToLower(address)...), 0)
	return append(k, pk...), nil
}

// encodeMember returns p's members value.
func encodeMember(p *Participant) []byte {
	v := make([]byte, 0, 1+12+3*binary.MaxVarintLen64+len(p.Role)+len(p.Name))
	v = append(v, memberVersion)
	v = appendTime(v, p.Added)
	v = binary.AppendUvarint(v, uint64(p.Party))
	v = binary.AppendUvarint(v, uint64(len(p.Role)))
	v = append(v, p.Role...)
	v = binary.AppendUvarint(v, uint64(len(p.Name)))
	return append(v, p.Name...)
}

// decodeMember parses a members entry into its address and membership.
func decodeMember(k, v []byte) (string, Membership, error) {
	var m Membership
	bad := func(what string) (string, Membership, error) {
		return "", m, fmt.Errorf("member %q: %s: %w", k, what, ErrCorrupt)
	}
	// address 0x00 cid 0x00 pid: neither address nor cid holds a zero byte.
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+2+4 || k[len(k)-5] != 0 {
		return bad("key not address, cid, participant")
	}
	m.Collab = string(k[i+1 : len(k)-5])
	m.ID = "p" + strconv.FormatUint(uint64(binary.BigEndian.Uint32(k[len(k)-4:])), 10)
	if len(v) < 1+12 || v[0] != memberVersion {
		return bad("value version or length")
	}
	m.Added = time.Unix(int64(binary.BigEndian.Uint64(v[1:9])^(1<<63)), int64(binary.BigEndian.Uint32(v[9:13]))).UTC()
	v = v[13:]
	party, n := binary.Uvarint(v)
	if n <= 0 || party > 1<<31-1 {
		return bad("party")
	}
	m.Party, v = int(party), v[n:]
	role, v, ok := cutBytes(v)
	if !ok {
		return bad("role")
	}
	m.Role = internRole(role)
	name, v, ok := cutBytes(v)
	if !ok || len(v) != 0 {
		return bad("name")
	}
	m.Name = string(name)
	return string(k[:i]), m, nil
}

// internRole returns role as the constant it equals, if it does: a walk over
// the index reads a role for each of millions of memberships, and a
// string of its own for each is garbage the heap need not collect.
func internRole(role []byte) string {
	switch string(role) {
	case RoleLeader:
		return RoleLeader
	case RoleContributor:
		return RoleContributor
	case RoleFollower:
		return RoleFollower
	case RoleGhost:
		return RoleGhost
	}
	return string(role)
}

// cutBytes reads a uvarint length and that many bytes.
func cutBytes(v []byte) ([]byte, []byte, bool) {
	l, n := binary.Uvarint(v)
	if n <= 0 || l > uint64(len(v)-n) {
		return nil, nil, false
	}
	return v[n : n+int(l)], v[n+int(l):], true
}

// indexMember brings the members entry of the participant at participants
// key pk in line with p, before p is written there: a placed participant
// has one, under its address; one pending or removed has none; one whose
// address changed leaves the entry of the old one. Most writes of a
// participant only change its thread, and then write nothing here.
func indexMember(tx *bbolt.Tx, pk []byte, p *Participant) error {
	mk, err := memberKey(p.Address, pk)
	if err != nil {
		return err
	}
	members := tx.Bucket(bucketMembers)
	old := members.Get(mk)
	if old == nil {
		if prev := tx.Bucket(bucketParticipants).Get(pk); prev != nil {
			var was struct {
				Address string `json:"address"`
			}
			if err := decode(prev, &was); err != nil {
				return err
			}
			if !strings.EqualFold(was.Address, p.Address) {
				if err := unindexMember(tx, was.Address, pk); err != nil {
					return err
				}
			}
		}
	}
	if !p.Placed() {
		if old == nil {
			return nil
		}
		return unindexMember(tx, p.Address, pk)
	}
	v := encodeMember(p)
	if bytes.Equal(old, v) {
		return nil
	}
	if err := members.Put(mk, v); err != nil {
		return fmt.Errorf("index member: %w", err)
	}
	return nil
}

// unindexMember deletes the members entry of address for the participant
// at participants key pk, if there is one. Whatever deletes a participant
// calls it in the same transaction.
func unindexMember(tx *bbolt.Tx, address string, pk []byte) error {
	mk, err := memberKey(address, pk)
	if err == nil {
		err = tx.Bucket(bucketMembers).Delete(mk)
	}
	if err != nil {
		return fmt.Errorf("unindex member %s: %w", address, err)
	}
	return nil
}

// unindexCollab deletes the members entries of the participants under
// prefix, a collaboration's cid 0x00, before they are deleted.
func unindexCollab(tx *bbolt.Tx, prefix []byte) error {
	c := tx.Bucket(bucketParticipants).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var p struct {
			Address string `json:"address"`
		}
		if err := decode(v, &p); err != nil {
			return fmt.Errorf("participant key %q: %w", k, err)
		}
		if err := unindexMember(tx, p.Address, k); err != nil {
			return err
		}
	}
	return nil
}

// Memberships returns the memberships of address (any case), in
// collaboration order, then by participant id.
func (tx *Tx) Memberships(address string) ([]Membership, error) {
	prefix, err := memberKey(address, nil)
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	var ms []Membership
	c := tx.bucket(bucketMembers).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		_, m, err := decodeMember(k, v)
		if err != nil {
			return nil, fmt.Errorf("memberships of %s: %w", address, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// EachMember calls fn for every address that sorts after after (every
// address when it is ""), in address order, with that address's
// memberships as Memberships returns them, until fn returns false or an
// error, which EachMember returns. Only one address's memberships are held
// at a time, so that a walk can go on from the last address fn was given
// in a later transaction, however many people there are.
func (tx *Tx) EachMember(after string, fn func(address string, ms []Membership) (more bool, err error)) error {
	c := tx.bucket(bucketMembers).Cursor()
	var k, v []byte
	if after == "" {
		k, v = c.First()
	} else {
		// The keys of after end its address with 0x00; 0x01 is past them
		// and before any longer address, which has no zero byte.
		k, v = c.Seek(append([]byte(strings.ToLower(after)), 1))
	}
	var addr string
	var ms []Membership
	for ; k != nil; k, v = c.Next() {
		a, m, err := decodeMember(k, v)
		if err != nil {
			return err
		}
		if len(ms) > 0 && a != addr {
			if more, err := fn(addr, ms); err != nil || !more {
				return err
			}
			ms = nil
		}
		addr, ms = a, append(ms, m)
	}
	if len(ms) > 0 {
		_, err := fn(addr, ms)
		return err
	}
	return nil
}

// migrateMembers finishes the upgrade of a schema 2 file: it builds the
// members index from the placed participants, membersPerTx participants a
// transaction.
func (s *Store) migrateMembers() error {
	err := s.indexEach(bucketParticipants, keyMembersFrom, membersPerTx, 3, func(tx *bbolt.Tx, k, v []byte) error {
		p := new(Participant)
		if err := decode(v, p); err != nil {
			return fmt.Errorf("participant key %q: %w", k, err)
		}
		if !p.Placed() {
			return nil
		}
		mk, err := memberKey(p.Address, k)
		if err != nil {
			return fmt.Errorf("participant key %q: %w", k, err)
		}
		if err := tx.Bucket(bucketMembers).Put(mk, encodeMember(p)); err != nil {
			return fmt.Errorf("participant key %q: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index members: %w", err)
	}
	return nil
}
