package workflow

import (
	"errors"
	"log/slog"
	"testing"
)

// TestMappedBound: a walk releases the store's mapped pages when the
// resident memory has grown by the bound since the last release, counts
// from a lower figure when another released meanwhile, and, when the
// memory cannot be read, releases every tickRelease jobs.
func TestMappedBound(t *testing.T) {
	const MB = 1 << 20
	var resident uint64 // what the reader says
	var readErr error
	released := 0
	release := func() error {
		released++
		resident = 10 * MB // the program's own pages stay
		return nil
	}
	m := newMappedBound(64*MB, func() (uint64, error) { return resident, readErr }, slog.New(slog.DiscardHandler))
	if m.base != 0 {
		t.Fatalf("base %d, want the resident memory at the start, 0", m.base)
	}

	steps := []struct {
		resident uint64 // before the job's done
		released int    // releases so far, after it
	}{
		{30 * MB, 0},
		{63 * MB, 0},
		{64 * MB, 1}, // grown by 64 MB from 0: released, to 10 MB
		{70 * MB, 1},
		{73 * MB, 1},
		{74 * MB, 2}, // 64 MB above 10
		{5 * MB, 2},  // released by another: counts from 5 MB
		{68 * MB, 2},
		{69 * MB, 3},
	}
	for i, s := range steps {
		resident = s.resident
		m.done(release)
		if released != s.released {
			t.Fatalf("step %d, at %d MB: %d releases, want %d", i, s.resident/MB, released, s.released)
		}
	}

	// The release at the end of a walk comes whatever the memory.
	resident = 11 * MB
	m.release(release)
	if released != 4 || m.base != 10*MB {
		t.Fatalf("after the walk's release: %d releases, base %d MB; want 4, 10 MB", released, m.base/MB)
	}

	// Blind: every tickRelease jobs, and the reader is not asked again.
	readErr = errors.New("no /proc")
	for i := range 3 * tickRelease {
		m.done(release)
		if want := 4 + (i+1)/tickRelease; released != want {
			t.Fatalf("blind, job %d: %d releases, want %d", i+1, released, want)
		}
	}
	readErr, resident = nil, 1000*MB
	m.done(release)
	if released != 7 {
		t.Errorf("blind, the reader back: %d releases, want still 7 (counting jobs)", released)
	}

	// A failed release is logged, and the walk goes on.
	m = newMappedBound(64*MB, func() (uint64, error) { return resident, nil }, slog.New(slog.DiscardHandler))
	resident += 64 * MB
	m.done(func() error { return errors.New("EINVAL") })
	if m.jobs != 0 {
		t.Errorf("after a failed release: %d jobs since, want 0", m.jobs)
	}
}
