package workflow

import (
	"log/slog"

	"github.com/turnmail/turnmail/store"
)

// tickResident is how much the process's resident file-backed memory may
// grow during a tick's walk before the walk releases the store's mapped
// pages from the RSS (store.ReleaseMapped). Every release makes the jobs
// after it fault in the branch pages and records again, most of a tick's
// system time. At issue 11's scale (100,000 people over 1,000,000
// collaborations), released every tickRelease jobs, a tick took 203 s of
// CPU (76 s the kernel's, 9.0 million page faults) and peaked at 177 MiB of
// RSS (142 MiB the store's pages); released at 96 MiB of growth, 179 s (61 s,
// 7.5 million) and 182 MiB (131); at 64 MiB, 186 s and 154 MiB.
const tickResident = 96 << 20

// tickRelease is how many jobs a walk runs between releases of the store's
// mapped pages when it cannot read the resident memory (mappedBound). A
// weekly summary reads some 60 pages at random (a collaboration for each
// membership, the turns, people and documents of those with turns in the
// week, and the branch pages above them), and the kernel maps the pages
// around each that are in its cache as well (fault-around, 64 KiB): some 4
// MB of RSS a summary. Released once a batch of tickBatch, a tick held 470
// MB of the store's pages; every 8 jobs, 70 MB, for twice the page faults
// (the branch pages, again), a tenth more CPU time.
const tickRelease = 8

// mappedBound releases the store's pages that a walk read from the
// process's RSS, which would otherwise grow to the size of the file (see
// store.ReleaseMapped), once the resident file-backed memory has grown by
// bound since the walk began or last released: not after a fixed number of
// jobs, since the pages a job maps vary, and each release costs the faults
// of the pages that the jobs after it read again. The memory counts what
// others in the process mapped too (an IMAP fetch of a blob): the walk
// releases theirs as well. When it cannot be read, the walk releases every
// tickRelease jobs, as it did before. A failure costs memory, not mail: it
// is logged.
type mappedBound struct {
	bound    uint64
	resident func() (uint64, error) // store.ResidentMapped, but in tests
	log      *slog.Logger
	base     uint64 // the resident memory after the last release
	jobs     int    // done since the last release
	blind    bool   // resident failed: count jobs instead
}

// newMappedBound is the bound of a walk of e's, from the resident memory
// now.
func (e *Engine) newMappedBound() *mappedBound {
	return newMappedBound(tickResident, store.ResidentMapped, e.log)
}

func newMappedBound(bound uint64, resident func() (uint64, error), log *slog.Logger) *mappedBound {
	m := &mappedBound{bound: bound, resident: resident, log: log}
	m.base, _ = m.read()
	return m
}

// read is the resident memory, and false once it could not be read.
func (m *mappedBound) read() (uint64, bool) {
	if m.blind {
		return 0, false
	}
	n, err := m.resident()
	if err != nil {
		m.log.Warn("read resident memory", "err", err)
		m.blind = true
		return 0, false
	}
	return n, true
}

// done counts a job done, and releases the pages with release (the store's
// ReleaseMapped, or a transaction's) when the resident memory has grown by
// the bound.
func (m *mappedBound) done(release func() error) {
	m.jobs++
	n, ok := m.read()
	if !ok {
		if m.jobs >= tickRelease {
			m.release(release)
		}
		return
	}
	// Released by another meanwhile (a tick running beside this one): what
	// grows from here is ours.
	m.base = min(m.base, n)
	if n-m.base >= m.bound {
		m.release(release)
	}
}

// release releases the pages with release, whatever the resident memory:
// at the end of a walk, which leaves the RSS as it found it.
func (m *mappedBound) release(release func() error) {
	if err := release(); err != nil {
		m.log.Warn("release mapped store pages", "err", err)
	}
	m.jobs = 0
	if n, ok := m.read(); ok {
		m.base = n
	}
}
