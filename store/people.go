package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Person returns the settings of address, or ErrNotFound when it has none.
func (tx *Tx) Person(address string) (*Person, error) {
	p, err := get[Person](tx.bucket(bucketPeople), []byte(strings.ToLower(address)))
	if err != nil {
		return nil, fmt.Errorf("person %s: %w", address, err)
	}
	return p, nil
}

// PutPerson stores p's settings under its lower-cased address.
func (tx *Tx) PutPerson(p *Person) error {
	if p.Address == "" {
		return errors.New("put person: empty address")
	}
	p.Address = strings.ToLower(p.Address)
	if err := put(tx.bucket(bucketPeople), []byte(p.Address), p); err != nil {
		return fmt.Errorf("put person %s: %w", p.Address, err)
	}
	return nil
}

// People calls fn for every person with settings, in address order.
func (tx *Tx) People(fn func(*Person) error) error {
	return scan(tx.bucket(bucketPeople), nil, fn)
}

// EachCollab calls fn for every collaboration, in id order, without
// holding them all in memory.
func (tx *Tx) EachCollab(fn func(*Collab) error) error {
	return scan(tx.bucket(bucketCollabs), nil, fn)
}

// EachParticipant calls fn for every participant of every collaboration,
// in collaboration order.
func (tx *Tx) EachParticipant(fn func(cid string, p *Participant) error) error {
	c := tx.bucket(bucketParticipants).Cursor()
	for k, data := c.First(); k != nil; k, data = c.Next() {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return fmt.Errorf("participant key %q: no collaboration id", k)
		}
		p := new(Participant)
		if err := decode(data, p); err != nil {
			return fmt.Errorf("participant key %q: %w", k, err)
		}
		if err := fn(string(k[:i]), p); err != nil {
			return err
		}
	}
	return nil
}

// TurnsEndedSince returns the turns of collaboration cid that ended at or
// after since, oldest first, reading backwards from the latest turn so that
// a long history costs nothing.
func (tx *Tx) TurnsEndedSince(cid string, since time.Time) ([]*Turn, error) {
	prefix, err := cidKey(cid)
	if err != nil {
		return nil, err
	}
	c := tx.bucket(bucketTurns).Cursor()
	// The key after every turn of cid: its prefix with the separator raised.
	end := append(bytes.Clone(prefix[:len(prefix)-1]), 1)
	k, data := c.Seek(end)
	if k == nil {
		k, data = c.Last()
	} else {
		k, data = c.Prev()
	}
	var out []*Turn
	for ; k != nil && bytes.HasPrefix(k, prefix); k, data = c.Prev() {
		t := new(Turn)
		if err := decode(data, t); err != nil {
			return nil, fmt.Errorf("turn key %q: %w", k, err)
		}
		if t.Ended.Before(since) {
			break
		}
		out = append(out, t)
	}
	slices.Reverse(out)
	return out, nil
}
