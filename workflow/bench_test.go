package workflow_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIngestReply measures the ingest path: SMTP DATA of one reply with
// a 200 KB attachment, through parsing, chunking and the rules, to the
// durable commit that also queues the handoff mail. Each reply ends a turn,
// so the two leaders take turns.
func BenchmarkIngestReply(b *testing.B) {
	r := newRig(b, rigOptions{})
	r.start(fileData(1, 200_000))
	tags := tagsOf(b, r.newMail())
	mails := make([][]byte, b.N)
	for i := range mails {
		from := bob
		if i%2 == 1 {
			from = alice
		}
		mails[i] = (&testMail{from: from, to: []string{tags[from]}, subject: "Re: contract", msgid: fmt.Sprintf("bench-%d@test", i),
			body: "Edited, see clause 4.\n\nOn Monday someone wrote:\n> earlier", files: []testFile{{"contract.docx", fileData(uint64(i+2), 200_000)}}}).bytes()
	}
	b.SetBytes(int64(len(mails[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		from := bob
		if i%2 == 1 {
			from = alice
		}
		if err := r.send(from, []string{tags[from]}, mails[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}

// BenchmarkIngestParallel measures ingest from 8 SMTP clients at once, each
// mail with a 200 KB attachment, durable before its 250: the load of issue
// 11's ingest goal. In mode new every mail starts a collaboration; in mode
// reply each client has a collaboration of its own and every mail is a
// reply by the turn holder with a new version, ending the turn. It reports
// the write transactions a mail took (a mail's attachment commits with its
// records, in one transaction, and group commit lets the mails that arrive
// during one commit share the next, so under load that is well below one),
// and how long the rules ran inside them a mail (apply-ms/mail): while they
// run, no other mail can commit.
func BenchmarkIngestParallel(b *testing.B) {
	const clients = 8
	b.Run("new", func(b *testing.B) {
		r := newRig(b, rigOptions{})
		mails := make([][]byte, b.N)
		for i := range mails {
			mails[i] = (&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: fmt.Sprintf("Contract %d", i),
				msgid: fmt.Sprintf("par-%d@test", i), body: "Our draft.",
				files: []testFile{{"contract.docx", fileData(uint64(i+1), 200_000)}}}).bytes()
		}
		var next atomic.Int64
		benchIngest(b, r, clients, len(mails[0]), func(int) error {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := r.send(alice, []string{gw}, mails[i]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	b.Run("reply", func(b *testing.B) {
		r := newRig(b, rigOptions{})
		// Client k's collaboration: a-k starts it, b-k holds the turn.
		type side struct{ from, tag string }
		type thread struct {
			sides [2]side // the sender of even rounds, then of odd ones
			mails [][]byte
		}
		threads := make([]*thread, clients)
		for k := range threads {
			owner, other := fmt.Sprintf("a-%d@acme.test", k), fmt.Sprintf("b-%d@axe.test", k)
			r.mustSend(&testMail{from: owner, to: []string{other}, cc: []string{gw}, subject: fmt.Sprintf("Contract %d", k),
				msgid: fmt.Sprintf("start-%d@test", k), body: "Our draft.",
				files: []testFile{{"contract.docx", fileData(uint64(k+1), 200_000)}}}, gw)
			tags := tagsOf(b, r.newMail())
			threads[k] = &thread{sides: [2]side{{other, tags[other]}, {owner, tags[owner]}}}
		}
		for i := range b.N {
			t := threads[i%clients]
			round := len(t.mails)
			sd := t.sides[round%2]
			t.mails = append(t.mails, (&testMail{from: sd.from, to: []string{sd.tag}, subject: "Re: contract",
				msgid: fmt.Sprintf("reply-%d@test", i), body: "Edited, see clause 4.\n\nOn Monday someone wrote:\n> earlier",
				files: []testFile{{"contract.docx", fileData(uint64(clients+i+1), 200_000)}}}).bytes())
		}
		benchIngest(b, r, clients, len(threads[0].mails[0]), func(k int) error {
			t := threads[k]
			for round, m := range t.mails {
				sd := t.sides[round%2]
				if err := r.send(sd.from, []string{sd.tag}, m); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// benchIngest times clients goroutines running client(k) for k in
// [0, clients), which together send b.N mails of about size bytes, and
// reports the rate, the write transactions a mail and the time the rules
// ran inside them a mail.
func benchIngest(b *testing.B, r *rig, clients, size int, client func(k int) error) {
	r.fault.mu.Lock()
	txs0 := r.fault.txs
	r.fault.mu.Unlock()
	apply0, runs0 := r.eng.ApplyTime()
	cpu0 := cpuTime()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for k := range clients {
		wg.Go(func() {
			if err := client(k); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	r.fault.mu.Lock()
	txs := r.fault.txs - txs0
	r.fault.mu.Unlock()
	apply, runs := r.eng.ApplyTime()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
	b.ReportMetric(float64(txs)/float64(b.N), "txs/mail")
	b.ReportMetric(float64(apply-apply0)/1e6/float64(b.N), "apply-ms/mail")
	b.ReportMetric(float64(runs-runs0)/float64(b.N), "applies/mail")
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/mail")
}

// cpuTime is the CPU time the process has used, user and system: the
// server's and the clients' alike, since the rig runs both.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngestLargeAttachment sends one reply carrying a 100 MB
// attachment, streamed by the client (never built in memory), through SMTP,
// spooling, parsing and chunking to the commit, and reports how far the heap
// grew meanwhile: the attachment must never sit in memory whole.
func BenchmarkIngestLargeAttachment(b *testing.B) {
	const size = 100 << 20
	r := newRig(b, rigOptions{maxBytes: 200 << 20})
	r.start(fileData(1, 1000))
	tags := tagsOf(b, r.newMail())
	b.SetBytes(size)
	var peak uint64
	for i := range b.N {
		from := bob
		if i%2 == 1 {
			from = alice
		}
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := sampleHeap(&peak, base.HeapInuse)
		err := r.sendStream(from, []string{tags[from]}, func(w io.Writer) error {
			fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: Re: contract\r\nMessage-ID: <large-%d@test>\r\nMIME-Version: 1.0\r\n"+
				"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe big one.\r\n--b\r\n"+
				"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"contract.docx\"\r\n"+
				"Content-Transfer-Encoding: base64\r\n\r\n", from, tags[from], i)
			enc := base64.NewEncoder(base64.StdEncoding, &lineWriter{w: w})
			if _, err := io.Copy(enc, io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), size)); err != nil {
				return err
			}
			enc.Close()
			_, err := io.WriteString(w, "\r\n--b--\r\n")
			return err
		})
		stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MiB")
}

// sampleHeap records the largest heap growth over base into peak until the
// returned stop is called.
func sampleHeap(peak *uint64, base uint64) (stop func()) {
	return sampleEvery(5*time.Millisecond, func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapInuse > base && m.HeapInuse-base > *peak {
			*peak = m.HeapInuse - base
		}
	})
}

// sampleEvery calls sample at once and then every interval until the
// returned stop is called, which waits for the last call to end.
func sampleEvery(interval time.Duration, sample func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// lineWriter breaks base64 into 76-character lines.
type lineWriter struct {
	w   io.Writer
	col int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := min(len(p), 76-l.col)
		if _, err := l.w.Write(p[:chunk]); err != nil {
			return n, err
		}
		n += chunk
		p = p[chunk:]
		if l.col += chunk; l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}
