package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// loopback returns the two ends of a TCP connection on loopback.
func loopback(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// chunkReader returns at most n bytes a Read: with it the data arrives split
// at every n-th byte, whatever the connection coalesces.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// readData unstuffs the dots and finds the end of the data wherever the
// reads split it, and leaves what follows to be read: the next command.
func TestReadData(t *testing.T) {
	huge := strings.Repeat("x", 300_000)
	for _, tc := range []struct {
		name     string
		wire     string // DATA as sent, without what follows
		want     string // the content
		unending bool   // the data does not end: the connection does
	}{
		{name: "empty", wire: ".\r\n", want: ""},
		{name: "lines", wire: "a\r\nb c\r\n.\r\n", want: "a\r\nb c\r\n"},
		{name: "blank lines", wire: "\r\n\r\nx\r\n\r\n.\r\n", want: "\r\n\r\nx\r\n\r\n"},
		{name: "stuffed dots", wire: "..\r\n...x\r\na.b\r\n..\r\n.\r\n", want: ".\r\n..x\r\na.b\r\n.\r\n"},
		{name: "first line stuffed", wire: "..x\r\n.\r\n", want: ".x\r\n"},
		// RFC 5321 §4.5.2: the first dot goes, whatever follows.
		{name: "unstuffed dot", wire: "x\r\n.y\r\n.\r\n", want: "x\r\ny\r\n"},
		{name: "dot CR", wire: "x\r\n.\rz\r\n.\r\n", want: "x\r\n\rz\r\n"},
		{name: "bare LF starts no line", wire: "a\n.\n\r\n.\r\n", want: "a\n.\n\r\n"},
		{name: "bare LF before the dot", wire: "a\n.\r\nb\r\n.\r\n", want: "a\n.\r\nb\r\n"},
		{name: "CR CR LF", wire: "a\r\r\n.\r\n", want: "a\r\r\n"},
		{name: "no CRLF at the end", wire: "abc.\r\n", unending: true},
		{name: "a huge line", wire: huge + "\r\n..\r\n" + huge + "\r\n.\r\n", want: huge + "\r\n.\r\n" + huge + "\r\n"},
		{name: "cut after the dot", wire: "a\r\n.", unending: true},
		{name: "cut after the dot CR", wire: "a\r\n.\r", unending: true},
		{name: "cut mid-line", wire: "a\r\nbc", unending: true},
		{name: "cut at nothing", wire: "", unending: true},
	} {
		for _, split := range []int{1, 2, 3, 5, 1 << 20} {
			client, server := loopback(t)
			const next = "QUIT\r\n"
			go func() {
				client.Write([]byte(tc.wire))
				if !tc.unending {
					client.Write([]byte(next))
				}
				client.Close()
			}()
			// Buffered below, so that a byte a read is not a syscall a byte.
			r := bufio.NewReaderSize(chunkReader{bufio.NewReaderSize(server, 1<<16), split}, 16)
			var got []byte
			err := readData(r, func(p []byte) {
				if len(p) == 0 {
					t.Errorf("%s, split %d: an empty piece", tc.name, split)
				}
				got = append(got, p...)
			})
			if tc.unending {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("%s, split %d: err %v, content %q; want an unexpected EOF", tc.name, split, err, got)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s, split %d: %v", tc.name, split, err)
				continue
			}
			if string(got) != tc.want {
				t.Errorf("%s, split %d: content %.80q; want %.80q", tc.name, split, got, tc.want)
			}
			if rest, err := io.ReadAll(r); err != nil || string(rest) != next {
				t.Errorf("%s, split %d: left %q, %v; want %q", tc.name, split, rest, err, next)
			}
		}
	}
}

// FuzzReadData: any CRLF content, dot-stuffed as net/textproto (and so
// go-smtp's client) stuffs it, comes out of readData as it went in, split
// anywhere.
func FuzzReadData(f *testing.F) {
	eml, err := os.ReadFile("testdata/handoff.eml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(eml, uint8(7))
	f.Add([]byte(".\r\n..\r\n.x\r\n\r\n."), uint8(1))
	f.Add([]byte("a\r\n.\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		// CRLF line ends only, and one at the end: what DATA carries as is.
		content := bytes.ReplaceAll(bytes.ReplaceAll(in, []byte("\r"), nil), []byte("\n"), []byte("\r\n"))
		if len(content) > 0 && !bytes.HasSuffix(content, []byte("\r\n")) {
			content = append(content, "\r\n"...)
		}
		var wire bytes.Buffer
		bw := bufio.NewWriter(&wire)
		dw := textproto.NewWriter(bw).DotWriter()
		dw.Write(content)
		dw.Close()
		if len(content) == 0 {
			wire.Reset()
			wire.WriteString(".\r\n") // the DotWriter adds a blank line
		}
		wire.WriteString("NEXT")
		r := bufio.NewReaderSize(chunkReader{&wire, int(split%32) + 1}, 16)
		var got []byte
		if err := readData(r, func(p []byte) { got = append(got, p...) }); err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if !bytes.Equal(got, content) {
			t.Fatalf("got %q\nwant %q", got, content)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "NEXT" {
			t.Fatalf("left %q", rest)
		}
	})
}

// The sink reads the header the run needs from each mail, as the gateway
// relays it, however long the mail's lines and whatever dots start them,
// mail after mail on one connection, through a buffer smaller than a line.
func TestSink(t *testing.T) {
	tr := newTracker()
	s, err := startSinkSize("127.0.0.1:0", tr, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	c, err := smtp.Dial(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	huge := strings.Repeat("A", 300_000)
	body := "\r\n.\r\n..\r\n.starts with a dot\r\n" + huge + "\r\n.\r\n"
	for i, msg := range []string{
		string(gatewayMailBytes("c1", "handoff", "b@axe.test", "collab+c1.1@gw.test")) + body,
		string(gatewayMailBytes("c1", "confirm", "a@acme.test", "collab+c1.0@gw.test")),
		"To: <b@axe.test>\r\nX-Turnmail-Kind: handoff\r\nX-Turnmail-Collab: c2\r\n\r\n" + huge,
		"To: not an address\r\n\r\nhi\r\n",
		"\r\nno header\r\n",
	} {
		if err := c.SendMail("collab@gw.test", []string{"x@axe.test"}, strings.NewReader(msg)); err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	s.close() // waits for the connection's goroutine
	got := func(to string) []gatewayMail {
		var ms []gatewayMail
		for _, g := range tr.byTo[to] {
			g := *g
			g.at = time.Time{}
			ms = append(ms, g)
		}
		return ms
	}
	want := map[string][]gatewayMail{
		"b@axe.test": {
			{kind: "handoff", collab: "c1", to: "b@axe.test", replyTo: "collab+c1.1@gw.test"},
			{kind: "handoff", collab: "c2", to: "b@axe.test"},
		},
		"a@acme.test": {{kind: "confirm", collab: "c1", to: "a@acme.test", replyTo: "collab+c1.0@gw.test"}},
		"":            {{}},
	}
	for to, w := range want {
		if g := got(to); !slicesEqual(g, w) {
			t.Errorf("mails to %q: %+v\nwant %+v", to, g, w)
		}
	}
	if n, err := tr.unreadableCount(); n != 1 || err == nil || !strings.Contains(err.Error(), "not an address") {
		t.Errorf("unreadable: %d, %v; want 1, the To", n, err)
	}
	for _, ms := range tr.byTo {
		for _, g := range ms {
			if g.at.IsZero() {
				t.Errorf("%+v: no time", g)
			}
		}
	}
}

func slicesEqual(a, b []gatewayMail) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The sink answers a pipelined group (RFC 2920) at once, keeps to the order
// of SMTP's commands, and drops a line too long without losing its place.
func TestSinkCommands(t *testing.T) {
	s, err := startSinkSize("127.0.0.1:0", newTracker(), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	conn, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	text := textproto.NewConn(conn)
	expect := func(code int) {
		t.Helper()
		if c, msg, err := text.ReadResponse(0); c != code {
			t.Fatalf("reply %d %q, %v; want %d", c, msg, err, code)
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(conn, s); err != nil {
			t.Fatal(err)
		}
	}
	expect(220)
	send("MAIL FROM:<a@b>\r\n")
	expect(503) // no EHLO yet
	send("EHLO client.test\r\nDATA\r\nRCPT TO:<c@d>\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n")
	for _, code := range []int{250, 503, 503, 250, 503, 250} {
		expect(code)
	}
	send("NOOP " + strings.Repeat("x", 3*maxCmdLine) + "\r\nSTARTTLS\r\nFOO\r\nDATA\r\n")
	for _, code := range []int{500, 502, 500, 354} {
		expect(code)
	}
	send("Subject: x\r\n\r\n..\r\n.\r\nRSET\r\nQUIT\r\n")
	for _, code := range []int{250, 250, 221} {
		expect(code)
	}
	if _, err := text.ReadLine(); err != io.EOF {
		t.Errorf("after QUIT: %v; want EOF", err)
	}
}

// A handoff written a byte at a time, the end of data split over many
// reads, is taken like one written at once.
func TestSinkSplitWrites(t *testing.T) {
	tr := newTracker()
	s, err := startSinkSize("127.0.0.1:0", tr, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	msg := handoffData(t, 3000)
	for _, split := range []int{1, 3, 1000, 0} {
		if reply := rawSend(t, s.addr(), msg, split); reply != 250 {
			t.Errorf("split %d: reply %d", split, reply)
		}
	}
	s.close()
	if n := len(tr.byTo["b-u7mfx4mv-1@axe.test"]); n != 4 {
		t.Errorf("%d mails noted; want 4", n)
	}
	if n, err := tr.unreadableCount(); n > 0 {
		t.Error(err)
	}
}
