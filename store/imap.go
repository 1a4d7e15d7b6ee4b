package store

import (
	"encoding/binary"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
)

// imapKey is the imap bucket's key of an account's mailbox: account 0x00
// mailbox. IMAP mailbox names never hold a NUL; account names are checked.
func imapKey(account, mailbox string) ([]byte, error) {
	if account == "" || strings.IndexByte(account, 0) >= 0 {
		return nil, fmt.Errorf("invalid imap account name %q", account)
	}
	if strings.IndexByte(mailbox, 0) >= 0 {
		return nil, fmt.Errorf("invalid imap mailbox name %q", mailbox)
	}
	k := make([]byte, 0, len(account)+1+len(mailbox))
	return append(append(append(k, account...), 0), mailbox...), nil
}

// IMAPCursor returns the UIDVALIDITY of an account's mailbox and the highest
// UID the IMAP poller has fully handled in it, or zeros when it has none.
func (s *Store) IMAPCursor(account, mailbox string) (uidValidity, lastUID uint32, err error) {
	k, err := imapKey(account, mailbox)
	if err != nil {
		return 0, 0, err
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		c, err := getIMAP(tx, k)
		uidValidity, lastUID = c.validity, c.last
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("imap cursor of %s %s: %w", account, mailbox, err)
	}
	return uidValidity, lastUID, nil
}

// SetIMAPCursor records the UIDVALIDITY of an account's mailbox and the
// highest UID fully handled in it, in its own short write transaction. It
// forgets the count of tries.
func (s *Store) SetIMAPCursor(account, mailbox string, uidValidity, lastUID uint32) error {
	k, err := imapKey(account, mailbox)
	if err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uidValidity), lastUID)
	err = s.update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketIMAP).Put(k, v)
	})
	if err != nil {
		return fmt.Errorf("set imap cursor of %s %s: %w", account, mailbox, err)
	}
	return nil
}

// imapValue is an imap bucket value: the cursor, then, when a delivery has
// been tried and the cursor not moved since, the UID tried and the count of
// tries. Values written before tries were counted hold the cursor alone.
type imapValue struct {
	validity, last uint32
	tryUID, tries  uint32
}

// getIMAP reads the value at k; zeros when there is none.
func getIMAP(tx *bbolt.Tx, k []byte) (imapValue, error) {
	v := tx.Bucket(bucketIMAP).Get(k)
	var c imapValue
	switch len(v) {
	case 0:
		return c, nil
	case 16:
		c.tryUID, c.tries = binary.BigEndian.Uint32(v[8:]), binary.BigEndian.Uint32(v[12:])
		fallthrough
	case 8:
		c.validity, c.last = binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
		return c, nil
	}
	return c, fmt.Errorf("value of %d bytes: %w", len(v), ErrCorrupt)
}

// IMAPTries returns how many tries at delivering uid the IMAP poller
// recorded under uidValidity since the cursor last moved; 0 when the count it
// holds is for another message.
func (s *Store) IMAPTries(account, mailbox string, uidValidity, uid uint32) (int, error) {
	k, err := imapKey(account, mailbox)
	if err != nil {
		return 0, err
	}
	var tries int
	err = s.db.View(func(tx *bbolt.Tx) error {
		c, err := getIMAP(tx, k)
		if c.validity == uidValidity && c.tryUID == uid {
			tries = int(c.tries)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("imap tries of %s %s: %w", account, mailbox, err)
	}
	return tries, nil
}

// SetIMAPTries records the count of tries at delivering uid in an account's
// mailbox, in place of any count for another message, in its own short write
// transaction. Under a UIDVALIDITY other than the recorded one, the cursor
// starts over at 0.
func (s *Store) SetIMAPTries(account, mailbox string, uidValidity, uid uint32, tries int) error {
	k, err := imapKey(account, mailbox)
	if err != nil {
		return err
	}
	if tries < 0 || int64(tries) > int64(^uint32(0)) {
		return fmt.Errorf("imap tries of %s %s: count %d out of range", account, mailbox, tries)
	}
	err = s.update(func(tx *bbolt.Tx) error {
		c, err := getIMAP(tx, k)
		if err != nil {
			return err
		}
		if c.validity != uidValidity {
			c = imapValue{validity: uidValidity}
		}
		v := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, c.validity), c.last)
		v = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(v, uid), uint32(tries))
		return tx.Bucket(bucketIMAP).Put(k, v)
	})
	if err != nil {
		return fmt.Errorf("set imap tries of %s %s: %w", account, mailbox, err)
	}
	return nil
}
