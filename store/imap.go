package store

import (
	"encoding/binary"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/mail"
)

var _ mail.IMAPCursor = (*Store)(nil)

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
		v := tx.Bucket(bucketIMAP).Get(k)
		switch len(v) {
		case 0:
			return nil
		case 8:
			uidValidity, lastUID = binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
			return nil
		}
		return fmt.Errorf("value of %d bytes: %w", len(v), ErrCorrupt)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("imap cursor of %s %s: %w", account, mailbox, err)
	}
	return uidValidity, lastUID, nil
}

// SetIMAPCursor records the UIDVALIDITY of an account's mailbox and the
// highest UID fully handled in it, in its own short write transaction.
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
