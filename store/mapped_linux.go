package store

import (
	"fmt"
	"syscall"

	"go.etcd.io/bbolt"
)

// ReleaseMapped drops this process's mapping of the file's pages, which
// bbolt reads through mmap: a walk over much of the store (the scheduler's
// tick) otherwise leaves every page it read counted in the process's RSS,
// up to the size of the file. The pages stay in the kernel's page cache, so
// a transaction that reads one again takes a minor fault, not a disk read.
// Transactions in flight, of this goroutine or others, are not disturbed:
// the mapping is shared and read-only, and bbolt writes through the file.
//
// A page read at random costs more than itself: the kernel maps the pages
// around it that are in the page cache too (fault-around, 64 KiB on Linux
// by default), so a walk that reads a few thousand records at random holds
// some hundred MB until it releases them.
func (s *Store) ReleaseMapped() error {
	return s.db.View(releaseMapped)
}

// ReleaseMapped is Store.ReleaseMapped inside the transaction, for one that
// reads much of the store at random: the records it returned stay valid,
// and the pages it reads next are mapped again as it reads them.
func (tx *Tx) ReleaseMapped() error {
	return releaseMapped(tx.tx)
}

// releaseMapped drops the mapping of the pages up to tx's size. Inside a
// transaction bbolt cannot remap the file (a write transaction remaps only
// as it commits): the address and length stay those of the mapping while
// madvise runs.
func releaseMapped(tx *bbolt.Tx) error {
	addr, size := tx.DB().Info().Data, uintptr(tx.Size())
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("release mapped pages: %w", errno)
	}
	return nil
}
