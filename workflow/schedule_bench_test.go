package workflow_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

var tickScale = flag.Int("tick.scale", 1, "BenchmarkTickSummaries: 10,000 × `n` people over 100,000 × n collaborations")

// BenchmarkTickSummaries: 10,000 people over 100,000 collaborations (times
// -tick.scale; 10 is the goal of 100,000 over 1,000,000), two people a
// collaboration and twenty collaborations a person, written straight
// through the store, each with the ten Message-IDs of the last mail they
// had; a tenth of the collaborations had two turns in the week, some have
// deadlines, some are overdue. Each iteration opens the store afresh, as a
// process would, and ticks at a weekly slot where every summary is due; it
// reports summaries/s, how far the heap grew during the tick, and the
// process's peak RSS during it (VmHWM, reset before the tick: the bbolt
// pages the tick touches count, as they do for turnmail serve).
func BenchmarkTickSummaries(b *testing.B) {
	const perTx = 5_000
	people, collabs := 10_000**tickScale, 100_000**tickScale
	path := filepath.Join(b.TempDir(), "turnmail.db")
	st, err := store.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	tag, err := tag.NewTagger("collab@gw.test", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	slot := monday(0)
	began := time.Now()
	for first := 0; first < collabs; first += perTx {
		err := st.Update(func(tx *store.Tx) error {
			for j := first; j < first+perTx; j++ {
				if err := putBenchCollab(tx, j, people, slot); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d people over %d collaborations written in %s", people, collabs, time.Since(began).Round(time.Millisecond))

	var peak, rss uint64
	var cpu time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		st, err := store.Open(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		eng := workflow.New(st, tag, workflow.Config{Summary: weekly}, nil)
		runtime.GC()
		debug.FreeOSMemory()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		resetPeakRSS(b)
		stop := sampleHeap(&peak, base.HeapInuse)
		began := cpuTime(b)
		b.StartTimer()
		rep, err := eng.Tick(context.Background(), slot.AddDate(0, 0, 7*i))
		b.StopTimer()
		cpu += cpuTime(b) - began
		stop()
		rss = max(rss, peakRSS(b))
		if err != nil {
			b.Fatal(err)
		}
		if rep.Summaries != people {
			b.Fatalf("tick %d queued %d summaries, want %d", i, rep.Summaries, people)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*people)/b.Elapsed().Seconds(), "summaries/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MiB")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	// On a shared machine the wall clock says how busy the others were;
	// the CPU time is the tick's own.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the user and system CPU time of the process so far, from
// /proc/self/stat, whose clock ticks are 1/100 s on Linux (USER_HZ).
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		b.Skipf("no CPU time: %v", err)
	}
	// The fields after the command name, which is in parentheses and
	// may hold spaces: state is the 3rd field, utime the 14th, stime the
	// 15th.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("/proc/self/stat: %v", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// resetPeakRSS sets the process's VmHWM to its RSS now (Linux 4.0 and
// later), so that peakRSS says what the code run since needed.
func resetPeakRSS(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// peakRSS is the process's VmHWM, in bytes.
func peakRSS(b *testing.B) uint64 {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", kb, err)
			}
			return n << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// putBenchCollab writes collaboration j: persons 2j and 2j+1 (modulo
// people) as the leaders of its two parties, a document, two turns ended
// weeks ago and, for one in ten, two more in the week before slot.
func putBenchCollab(tx *store.Tx, j, people int, slot time.Time) error {
	cid := fmt.Sprintf("c%06d", j)
	created := slot.AddDate(0, 0, -30).Add(time.Duration(j) * time.Second)
	week := j%10 == 0
	c := &store.Collab{
		ID: cid, Subject: fmt.Sprintf("Agreement %d", j), State: store.StateActive, Owner: "p1", Created: created,
		Turn: 3, TurnParty: 0, TurnSince: created.Add(2 * time.Hour),
		Parties: []store.Party{{Name: "ACME"}, {Name: "AXE"}}, NextPID: 2, NextDoc: 1, RootMsgID: cid + "@acme.test",
	}
	switch {
	case j%50 == 7:
		c.Deadline, c.DeadlineDate = slot.AddDate(0, 0, -2), slot.AddDate(0, 0, -3).Format(time.DateOnly)
	case j%10 == 3:
		d := slot.AddDate(0, 0, 1+j%30)
		c.Deadline, c.DeadlineDate = d, d.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	turns := []*store.Turn{
		{Number: 1, Party: 0, Started: created, Ended: created, EndedBy: "p1", How: "start", Note: "Our draft.", Versions: []store.VersionRef{{Doc: "d1", Number: 1}}},
		{Number: 2, Party: 1, Started: created, Ended: created.Add(2 * time.Hour), EndedBy: "p2", How: "files", Note: "Clause 4 reworded.", Versions: []store.VersionRef{{Doc: "d1", Number: 2}}},
	}
	if week {
		c.Turn, c.TurnSince = 5, slot.AddDate(0, 0, -1)
		turns = append(turns,
			&store.Turn{Number: 3, Party: 0, Started: turns[1].Ended, Ended: slot.AddDate(0, 0, -3), EndedBy: "p1", How: "files", Note: "Accepted, with clause 7 changed.", Versions: []store.VersionRef{{Doc: "d1", Number: 3}}},
			&store.Turn{Number: 4, Party: 1, Started: slot.AddDate(0, 0, -3), Ended: slot.AddDate(0, 0, -1), EndedBy: "p2", How: "done", Note: "Fine by us."})
	}
	if err := tx.PutCollab(c); err != nil {
		return err
	}
	for i, pid := range []string{"p1", "p2"} {
		n := (2*j + i) % people
		p := &store.Participant{ID: pid, Address: fmt.Sprintf("person%05d@%s.test", n, []string{"acme", "axe"}[i]), Name: fmt.Sprintf("Person %d", n),
			Party: i, Role: store.RoleLeader, Added: created}
		// As post leaves it once ten mails have gone to them.
		for k := range 10 {
			p.Thread = append(p.Thread, fmt.Sprintf("%s.%s.%d.d4c2f0a9b8e7@gw.test", cid, pid, k))
		}
		if err := tx.PutParticipant(cid, p); err != nil {
			return err
		}
	}
	if err := tx.PutDocument(cid, &store.Document{ID: "d1", Name: "contract.docx", Created: created}); err != nil {
		return err
	}
	for _, t := range turns {
		if err := tx.PutTurn(cid, t); err != nil {
			return err
		}
	}
	return nil
}
