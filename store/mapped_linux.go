package store

import (
	"fmt"
	"sync"
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

// ResidentMapped is the process's resident file-backed and shared memory
// in bytes (the third figure of /proc/self/statm: RssFile and RssShmem),
// which holds the pages of a store's mapping that were read since they were
// last released, beside the program's own text. It costs a few
// microseconds (a pread of a file opened once, for the process's life),
// and allocates nothing: cheap enough to ask between the jobs of a walk, to
// release the mapping (ReleaseMapped) only once it has grown.
func ResidentMapped() (uint64, error) {
	statm.once.Do(func() {
		statm.fd, statm.err = syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	})
	if statm.err != nil {
		return 0, fmt.Errorf("resident mapped memory: %w", statm.err)
	}
	var buf [128]byte
	n, err := syscall.Pread(statm.fd, buf[:], 0)
	if err != nil {
		return 0, fmt.Errorf("resident mapped memory: %w", err)
	}
	pages, ok := statmShared(buf[:max(n, 0)])
	if !ok {
		return 0, fmt.Errorf("resident mapped memory: /proc/self/statm %q", buf[:max(n, 0)])
	}
	return pages * uint64(syscall.Getpagesize()), nil
}

// statm is /proc/self/statm, opened by the first ResidentMapped. A pread
// at 0 reads it afresh, and preads may run concurrently.
var statm struct {
	once sync.Once
	fd   int
	err  error
}

// statmShared is the third figure of a line of /proc/self/statm ("size
// resident shared text lib data dt", in pages).
func statmShared(statm []byte) (pages uint64, ok bool) {
	field := 0
	for i := 0; i < len(statm) && field <= 2; i++ {
		switch c := statm[i]; {
		case c == ' ':
			field++
		case field == 2 && c >= '0' && c <= '9':
			pages, ok = pages*10+uint64(c-'0'), true
		case field == 2:
			return 0, false
		}
	}
	return pages, ok
}
