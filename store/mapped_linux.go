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
func (s *Store) ReleaseMapped() error {
	// Inside a read transaction bbolt cannot remap the file: the address
	// and length stay those of the mapping while madvise runs.
	return s.db.View(func(tx *bbolt.Tx) error {
		addr, size := s.db.Info().Data, uintptr(tx.Size())
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("release mapped pages: %w", errno)
		}
		return nil
	})
}
