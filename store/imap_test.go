package store

import (
	"errors"
	"sync/atomic"
	"testing"
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
