package main

import (
	"bytes"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"syscall"
	"testing"
	"time"
)

// The load must not be what limits the server under test on a small
// machine (issue 11): these measure what its two halves cost, the CPU of the
// whole process a mail in cpu-ms/op.

// BenchmarkSend hands mails with a 200 KB attachment, built as a run builds
// them, to the sink over one connection. The sink's share is in
// BenchmarkSink.
func BenchmarkSend(b *testing.B) {
	s, err := startSink("127.0.0.1:0", newTracker())
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	o := testOptions(s.addr(), 0)
	o.size, o.seed = 200_000, 11
	sc := newScenario(o)
	c := &smtpConn{addr: o.addr, helo: o.helo, timeout: o.timeout}
	defer c.close()
	cpu := cpuTime(b)
	i := 0
	for b.Loop() {
		m := sc.start(i, i)
		i++
		if oc := c.deliver(b.Context(), m, o.retry); !oc.ok {
			b.Fatal(oc.err)
		}
		m.release()
	}
	cpu.report(b)
}

// BenchmarkSink hands the sink handoffs with a 200 KB attachment as the
// gateway does, a connection each, from a client that writes each mail in
// one go, or 4 KB a write as turnmail's dot-writer does: nearly all the CPU
// is the sink's, and with 4 KB writes the kernel's waking it for each.
func BenchmarkSink(b *testing.B) {
	for _, bc := range []struct {
		name  string
		split int
	}{{"one write", 0}, {"4 KB writes", 4096}} {
		b.Run(bc.name, func(b *testing.B) {
			t := newTracker()
			s, err := startSink("127.0.0.1:0", t)
			if err != nil {
				b.Fatal(err)
			}
			defer s.close()
			msg := handoffData(b, 200_000)
			b.SetBytes(int64(len(msg)))
			cpu := cpuTime(b)
			for b.Loop() {
				if reply := rawSend(b, s.addr(), msg, bc.split); reply != 250 {
					b.Fatalf("reply %d to the end of data", reply)
				}
			}
			cpu.report(b)
			if n, err := t.unreadableCount(); n > 0 {
				b.Fatal(err)
			}
		})
	}
}

// handoffData is a handoff as turnmail relays it, with the header of
// testdata/handoff.eml and size random bytes attached in base64, ready for
// DATA: dot-stuffed, with the final ".\r\n".
func handoffData(tb testing.TB, size int) []byte {
	tb.Helper()
	eml, err := os.ReadFile("testdata/handoff.eml")
	if err != nil {
		tb.Fatal(err)
	}
	head, _, _ := bytes.Cut(eml, []byte("\r\n\r\n"))
	var b bytes.Buffer
	b.Write(head)
	b.WriteString("\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7919 >> 3)
	}
	b.Write(appendBase64Lines(nil, data))
	b.WriteString("--b--\r\n.\r\n")
	return b.Bytes()
}

// rawSend hands data (dot-stuffed, with its final ".\r\n") to the SMTP
// server at addr in one transaction on a new connection, as turnmail's
// outbound does, and returns the reply code to the end of data. split > 0
// writes data split bytes at a time, each piece its own write.
func rawSend(tb testing.TB, addr string, data []byte, split int) int {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	text := textproto.NewConn(conn)
	expect := func(code int, cmd string) {
		tb.Helper()
		if cmd != "" {
			if err := text.PrintfLine("%s", cmd); err != nil {
				tb.Fatal(err)
			}
		}
		if _, _, err := text.ReadResponse(code); err != nil {
			tb.Fatalf("%q: %v", cmd, err)
		}
	}
	expect(220, "")
	expect(250, "EHLO gw.test")
	expect(250, "MAIL FROM:<collab@gw.test>")
	expect(250, "RCPT TO:<b@axe.test>")
	expect(354, "DATA")
	for p := data; len(p) > 0; {
		n := len(p)
		if split > 0 {
			n = min(n, split)
		}
		if _, err := conn.Write(p[:n]); err != nil {
			tb.Fatal(err)
		}
		p = p[n:]
	}
	code, _, err := text.ReadResponse(0)
	if err != nil {
		tb.Fatal(err)
	}
	text.PrintfLine("QUIT")
	text.ReadResponse(221)
	return code
}

// cpuClock is the process's CPU time at a benchmark's start.
type cpuClock struct{ start time.Duration }

func cpuTime(tb testing.TB) cpuClock {
	return cpuClock{start: processCPU(tb)}
}

// report adds the process's CPU time an op since the start, in ms.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU(b)-c.start)/float64(b.N)/1e6, "cpu-ms/op")
}

func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
