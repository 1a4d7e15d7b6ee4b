//go:build linux

// The benchmarks of the tick read the process's usage and RSS from /proc,
// and drop pages from the page cache with fadvise: Linux only.

package workflow_test

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

var (
	tickScale = flag.Int("tick.scale", 1, "BenchmarkTickSummaries: 10,000 × `n` people over 100,000 × n collaborations")
	tickDir   = flag.String("tick.dir", "", "BenchmarkTickSummaries: keep the seeded store in `dir`, and reuse it from there")
)

// BenchmarkTickSummaries: the tick at a weekly slot, where every one of
// 10,000 people over 100,000 collaborations (times -tick.scale; 10 is issue
// 11's goal of 100,000 over 1,000,000) is due a summary, through the real
// store file and the real tick. seededTick writes the store once a run (or,
// with -tick.dir, once and for all) through store.Tx, as use would leave
// it, in a process of its own; each iteration ticks on a copy of it, opened afresh as a process
// would, in the page cache as the copy left it. It reports the tick's wall
// time (ns/op), its CPU time (user and system) and page faults, the
// process's peak RSS during the tick (VmHWM, reset before it: the bbolt
// pages the tick touches count, as they do for turnmail serve), what it is
// made of and the RSS before it, and the summaries and reminders queued;
// and the time of the tick a minute later, which finds nothing to do.
func BenchmarkTickSummaries(b *testing.B) {
	w := tickWorld{people: 10_000 * *tickScale, collabs: 100_000 * *tickScale}
	dir, keep := *tickDir, *tickDir != ""
	if !keep {
		dir = b.TempDir()
	}
	seeded, want := seededTick(b, dir, w)
	b.Logf("%d people in %d collaborations (%d active), %.1f memberships a person; summaries: %d, %.1f sections each, %.1f with turns of the week, %.1f waiting on the person",
		want.People, want.Collabs, want.Active, float64(want.Memberships)/float64(want.People), want.Summaries,
		float64(want.Lines)/float64(want.Summaries), float64(want.WeekLines)/float64(want.Summaries), float64(want.Waiting)/float64(want.Summaries))
	tag := benchTagger(b)
	work := filepath.Join(dir, "tick.db")

	var rss, before, anon, file uint64
	var user, sys, quiet, quietCPU time.Duration
	var minor, major int64
	var rep workflow.TickReport
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// A store seeded for this run alone is ticked on in place by the
		// last iteration: its copy would cost as much as the seeding's
		// writes.
		if !keep && i == b.N-1 {
			if err := os.Rename(seeded, work); err != nil {
				b.Fatal(err)
			}
		} else {
			copyFile(b, seeded, work)
		}
		st, err := store.Open(work, nil)
		if err != nil {
			b.Fatal(err)
		}
		eng := workflow.New(st, tag, tickConfig, nil)
		runtime.GC()
		debug.FreeOSMemory()
		before = max(before, statusKB(b, "VmRSS:"))
		resetPeakRSS(b)
		stop := sampleRSS(b, &anon, &file)
		began := getUsage(b)
		b.StartTimer()
		rep, err = eng.Tick(context.Background(), tickAt)
		b.StopTimer()
		u := getUsage(b)
		user, sys = user+u.user-began.user, sys+u.sys-began.sys
		minor, major = minor+u.minor-began.minor, major+u.major-began.major
		stop()
		rss = max(rss, statusKB(b, "VmHWM:"))
		if err != nil {
			b.Fatal(err)
		}
		if rep.Summaries != want.Summaries || rep.Reminders != want.Reminders {
			b.Fatalf("tick %d queued %d summaries and %d reminders, want %d and %d", i, rep.Summaries, rep.Reminders, want.Summaries, want.Reminders)
		}
		// The tick a minute later, as serve runs them, has nothing to
		// send: what every minute of the week costs.
		began, t0 := getUsage(b), time.Now()
		if rep, err := eng.Tick(context.Background(), tickAt.Add(tickBefore)); err != nil || rep != (workflow.TickReport{}) {
			b.Fatalf("the next tick: %+v, %v; want nothing", rep, err)
		}
		quiet += time.Since(t0)
		u = getUsage(b)
		quietCPU += u.user + u.sys - began.user - began.sys
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Remove(work); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rep.Summaries), "summaries")
	b.ReportMetric(float64(rep.Reminders), "reminders")
	b.ReportMetric(float64(b.N*rep.Summaries)/b.Elapsed().Seconds(), "summaries/s")
	b.ReportMetric(float64(before)/(1<<20), "RSS-before-MiB")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "peak-RSS-anon-MiB")
	b.ReportMetric(float64(file)/(1<<20), "peak-RSS-file-MiB")
	// On a shared machine the wall clock says how busy the others were;
	// the CPU time is the tick's own. The system time is mostly the store's
	// pages faulted in and released (store.ReleaseMapped).
	b.ReportMetric((user+sys).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(sys.Seconds()/float64(b.N), "sys-s/op")
	b.ReportMetric(float64(minor)/float64(b.N), "minor-faults/op")
	b.ReportMetric(float64(major)/float64(b.N), "major-faults/op")
	b.ReportMetric(quiet.Seconds()/float64(b.N), "quiet-tick-s")
	b.ReportMetric(quietCPU.Seconds()/float64(b.N), "quiet-tick-cpu-s")
}

// BenchmarkTickIdle: the ticks of minutes with nothing to do, on the store
// BenchmarkTickSummaries seeds (-tick.scale, -tick.dir), in the minutes
// before its weekly slot, counting back one minute a tick, as the ticks
// before it left the store: what every minute of the week costs a gateway.
// Its sub-benchmarks tick whole (all: a tick walks the summaries once a
// quarter hour, so -benchtime=15x gives the average of a quarter), and each
// of Tick's walks alone: the reminders, purge warnings and purges due
// (due), and the weekly summaries (summaries). It reports the
// CPU time of a tick (user and system) beside its wall time. The store is
// opened read-only: a tick with nothing to do writes nothing, and a write
// fails it.
func BenchmarkTickIdle(b *testing.B) {
	w := tickWorld{people: 10_000 * *tickScale, collabs: 100_000 * *tickScale}
	dir := *tickDir
	if dir == "" {
		dir = b.TempDir()
	}
	seeded, _ := seededTick(b, dir, w)
	st, err := store.Open(seeded, &store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	eng := workflow.New(st, benchTagger(b), tickConfig, nil)
	at := tickAt.Add(-tickBefore)
	for _, bm := range []struct {
		name string
		tick func(context.Context, time.Time) (workflow.TickReport, error)
	}{{"all", eng.Tick}, {"due", eng.TickDue}, {"summaries", eng.TickSummaries}} {
		b.Run(bm.name, func(b *testing.B) {
			began := getUsage(b)
			for i := 0; b.Loop(); i++ {
				now := at.Add(-time.Duration(i) * time.Minute)
				if rep, err := bm.tick(context.Background(), now); err != nil || rep != (workflow.TickReport{}) {
					b.Fatalf("tick at %s: %+v, %v; want nothing", now, rep, err)
				}
			}
			u := getUsage(b)
			b.ReportMetric((u.user+u.sys-began.user-began.sys).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// copyFile copies the file from to the file to, synced, so that the tick
// that follows does not share the disk with the copy's writes, and drops
// from's pages from the page cache as it goes, so that the copy's stay
// there: a store at full scale is half the machine's memory.
func copyFile(b *testing.B, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	const step = 256 << 20
	for off := int64(0); err == nil; off += step {
		var n int64
		n, err = io.CopyN(dst, src, step) // copy_file_range, on Linux
		if err == nil || err == io.EOF {
			if err2 := dst.Sync(); err2 != nil {
				err = err2
			}
			const dontNeed = 4 // POSIX_FADV_DONTNEED
			if _, _, errno := syscall.Syscall6(syscall.SYS_FADVISE64, src.Fd(), uintptr(off), uintptr(n), dontNeed, 0, 0); errno != 0 {
				err = errno
			}
		}
	}
	if err == io.EOF {
		err = nil
	}
	if err2 := dst.Close(); err == nil {
		err = err2
	}
	if err != nil {
		b.Fatal(err)
	}
}

// sampleRSS records the largest anonymous and file-backed RSS (the heap,
// and the store's mapped pages) it sees, every 50ms, until the returned
// stop is called: what VmHWM is made of. It reads /proc, where
// runtime.ReadMemStats would stop the tick every time.
func sampleRSS(b *testing.B, anon, file *uint64) (stop func()) {
	return sampleEvery(50*time.Millisecond, func() {
		*anon = max(*anon, statusKB(b, "RssAnon:"))
		*file = max(*file, statusKB(b, "RssFile:"))
	})
}

// usage is the process's CPU time and page faults so far.
type usage struct {
	user, sys    time.Duration
	minor, major int64 // page faults; a major one waited for the disk
}

func getUsage(b *testing.B) usage {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return usage{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), ru.Minflt, ru.Majflt}
}

// resetPeakRSS sets the process's VmHWM to its RSS now (Linux 4.0 and
// later), so that VmHWM says what the code run since needed.
func resetPeakRSS(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// statusKB is the figure of field (e.g. "VmHWM:") in /proc/self/status,
// in bytes.
func statusKB(b *testing.B, field string) uint64 {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, field); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("%s %q: %v", field, kb, err)
			}
			return n << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
