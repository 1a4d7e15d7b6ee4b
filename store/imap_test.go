package store

import (
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"
)

func TestIMAPCursor(t *testing.T) {
	errBoom := errors.New("boom")
	var failing atomic.Bool
	s, path := openTest(t, &Options{Fault: func() error {
		if failing.Load() {
			return errBoom
		}
		return nil
	}})
	check := func(s *Store, account, mailbox string, wantValidity, wantLast uint32) {
		t.Helper()
		v, last, err := s.IMAPCursor(account, mailbox)
		if err != nil {
			t.Fatalf("IMAPCursor(%q, %q): %v", account, mailbox, err)
		}
		if v != wantValidity || last != wantLast {
			t.Errorf("IMAPCursor(%q, %q) = %d, %d; want %d, %d", account, mailbox, v, last, wantValidity, wantLast)
		}
	}
	set := func(account, mailbox string, v, last uint32) {
		t.Helper()
		if err := s.SetIMAPCursor(account, mailbox, v, last); err != nil {
			t.Fatalf("SetIMAPCursor(%q, %q): %v", account, mailbox, err)
		}
	}

	check(s, "u@imap.example:993", "INBOX", 0, 0)
	set("u@imap.example:993", "INBOX", 7, 42)
	set("u@imap.example:993", "INBOX", 7, 43)
	// The separator keeps account "a" with mailbox "bc" apart from "ab" with
	// "c", and a mailbox of one account from the same name in another.
	set("a", "bc", 1, 1)
	set("ab", "c", 2, 2)
	check(s, "u@imap.example:993", "INBOX", 7, 43)
	check(s, "u@imap.example:993", "Archive", 0, 0)
	check(s, "v@imap.example:993", "INBOX", 0, 0)
	check(s, "a", "bc", 1, 1)
	check(s, "ab", "c", 2, 2)

	failing.Store(true)
	if err := s.SetIMAPCursor("u@imap.example:993", "INBOX", 8, 1); !errors.Is(err, errBoom) {
		t.Errorf("SetIMAPCursor with a failing store: %v", err)
	}
	failing.Store(false)
	check(s, "u@imap.example:993", "INBOX", 7, 43)

	for _, bad := range []struct{ account, mailbox string }{{"", "INBOX"}, {"a\x00b", "INBOX"}, {"a", "IN\x00BOX"}} {
		if err := s.SetIMAPCursor(bad.account, bad.mailbox, 1, 1); err == nil {
			t.Errorf("SetIMAPCursor(%q, %q) succeeded", bad.account, bad.mailbox)
		}
		if _, _, err := s.IMAPCursor(bad.account, bad.mailbox); err == nil {
			t.Errorf("IMAPCursor(%q, %q) succeeded", bad.account, bad.mailbox)
		}
	}

	// The cursor is durable.
	s.Close()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "u@imap.example:993", "INBOX", 7, 43)
}

func TestIMAPTries(t *testing.T) {
	s, path := openTest(t, nil)
	const acct, mbox = "u@imap.example:993", "INBOX"
	tries := func(s *Store, validity, uid uint32) int {
		t.Helper()
		n, err := s.IMAPTries(acct, mbox, validity, uid)
		if err != nil {
			t.Fatalf("IMAPTries(%d, %d): %v", validity, uid, err)
		}
		return n
	}
	setTries := func(validity, uid uint32, n int) {
		t.Helper()
		if err := s.SetIMAPTries(acct, mbox, validity, uid, n); err != nil {
			t.Fatalf("SetIMAPTries(%d, %d, %d): %v", validity, uid, n, err)
		}
	}
	raw := func() string {
		t.Helper()
		k, _ := imapKey(acct, mbox)
		var v []byte
		s.db.View(func(tx *bbolt.Tx) error {
			v = append(v, tx.Bucket(bucketIMAP).Get(k)...)
			return nil
		})
		return hex.EncodeToString(v)
	}

	if n := tries(s, 7, 43); n != 0 {
		t.Errorf("tries with nothing recorded: %d", n)
	}
	if err := s.SetIMAPCursor(acct, mbox, 7, 42); err != nil {
		t.Fatal(err)
	}
	setTries(7, 43, 1)
	setTries(7, 43, 2)
	// The stored encoding: UIDVALIDITY, last UID, UID tried, tries.
	if got, want := raw(), "00000007"+"0000002a"+"0000002b"+"00000002"; got != want {
		t.Errorf("stored value %s, want %s", got, want)
	}
	if v, last, _ := s.IMAPCursor(acct, mbox); v != 7 || last != 42 {
		t.Errorf("cursor %d, %d after counting tries", v, last)
	}
	for _, tc := range []struct {
		validity, uid uint32
		want          int
	}{{7, 43, 2}, {7, 44, 0}, {8, 43, 0}} {
		if n := tries(s, tc.validity, tc.uid); n != tc.want {
			t.Errorf("IMAPTries(%d, %d) = %d, want %d", tc.validity, tc.uid, n, tc.want)
		}
	}

	// The count survives a restart: that is what it is for.
	s.Close()
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := tries(s, 7, 43); n != 2 {
		t.Errorf("tries after reopening: %d, want 2", n)
	}

	// Another message's count replaces it; moving the cursor forgets it.
	setTries(7, 44, 1)
	if n := tries(s, 7, 43); n != 0 {
		t.Errorf("tries of 43 after a try of 44: %d", n)
	}
	if err := s.SetIMAPCursor(acct, mbox, 7, 44); err != nil {
		t.Fatal(err)
	}
	if n := tries(s, 7, 44); n != 0 {
		t.Errorf("tries after the cursor moved past: %d", n)
	}
	if got, want := raw(), "00000007"+"0000002c"; got != want {
		t.Errorf("stored value %s, want the cursor alone %s", got, want)
	}

	// Under a new UIDVALIDITY the cursor starts over.
	setTries(9, 1, 1)
	if v, last, _ := s.IMAPCursor(acct, mbox); v != 9 || last != 0 {
		t.Errorf("cursor %d, %d after tries under a new UIDVALIDITY", v, last)
	}

	if err := s.SetIMAPTries(acct, mbox, 9, 1, -1); err == nil {
		t.Error("SetIMAPTries(-1) succeeded")
	}
	if err := s.SetIMAPTries("", mbox, 9, 1, 1); err == nil {
		t.Error("SetIMAPTries with no account succeeded")
	}
	if _, err := s.IMAPTries("a\x00b", mbox, 9, 1); err == nil {
		t.Error("IMAPTries with a NUL in the account succeeded")
	}
}
