package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// sink is an SMTP server that takes whatever the gateway relays, as its
// smarthost would, and notes each mail's header in a tracker; the bodies are
// read and dropped. It offers no STARTTLS: the gateway must relay to it with
// [outbound] starttls = false.
//
// It is its own small server rather than go-smtp's, whose DATA reader takes
// a byte at a time (4–5 ms of CPU for each 270 KB handoff on the 2-core
// bench machine, as much as the whole sender): this one scans the buffered
// bytes of each read in one go (readData) and keeps only the header.
type sink struct {
	l       net.Listener
	t       *tracker
	bufSize int           // of each connection's reader; tests make it small
	timeout time.Duration // for each read and write
	errLog  io.Writer     // where what breaks a connection is said

	// sessions holds sinkConns done with, their buffers for the next
	// connection's: the gateway opens one for each mail, and a reader
	// each would be as much garbage as the mail.
	sessions sync.Pool

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

const (
	sinkDomain = "turnmail-load.sink"
	// sinkBufSize is a connection's read buffer: big enough that a 270 KB
	// handoff takes a few reads.
	sinkBufSize = 128 << 10
	// maxCmdLine bounds a command line (RFC 5321 §4.5.3.1.4 says 512 with
	// the CRLF; extensions add to it): go-smtp allows 2000.
	maxCmdLine = 2000
	// maxRecipients is what the sink takes in one transaction.
	maxRecipients = 100
	// maxHeader bounds what the sink keeps of a mail to read its header: a
	// header longer than this is unreadable.
	maxHeader = 1 << 20
)

// startSink listens on addr (host:port) and serves until close.
func startSink(addr string, t *tracker) (*sink, error) {
	return startSinkSize(addr, t, sinkBufSize)
}

// startSinkSize is startSink with a read buffer of bufSize bytes (at least
// 16) for each connection.
func startSinkSize(addr string, t *tracker, bufSize int) (*sink, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &sink{l: l, t: t, bufSize: bufSize, timeout: 5 * time.Minute, errLog: os.Stderr, conns: map[net.Conn]bool{}}
	s.wg.Go(s.serve)
	return s, nil
}

// addr is where the sink listens, with the port chosen when addr had 0.
func (s *sink) addr() string { return s.l.Addr().String() }

// close stops accepting, drops the connections open and waits for their
// goroutines: a mail not yet at its end of data is not noted.
func (s *sink) close() error {
	s.mu.Lock()
	s.closed = true
	err := s.l.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *sink) serve() {
	var backoff time.Duration
	for {
		c, err := s.l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			// Out of file descriptors, most likely: wait for some to be
			// freed, as go-smtp's and net/http's servers do.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			fmt.Fprintf(s.errLog, "turnmail-load: sink: accept: %v; retrying in %s\n", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

// handle serves one connection until it ends, in error or with QUIT.
func (s *sink) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.t.unreadable(fmt.Errorf("sink: panic serving %s: %v", c.RemoteAddr(), r))
		}
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	dc := deadlineConn{Conn: c, timeout: s.timeout}
	sc, _ := s.sessions.Get().(*sinkConn)
	if sc == nil {
		sc = &sinkConn{t: s.t, r: bufio.NewReaderSize(dc, s.bufSize), w: bufio.NewWriter(dc)}
	} else {
		sc.r.Reset(dc)
		sc.w.Reset(dc)
		sc.hello, sc.mail, sc.rcpts = false, false, 0
	}
	// A broken connection drops what it was sending, as it would at a
	// smarthost: the gateway tries again, and the run sees it as a late
	// handoff. What broke it is said, as go-smtp's server did, unless the
	// gateway just went or the run closed the sink.
	if err := sc.serve(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(s.errLog, "turnmail-load: sink: connection from %s: %v\n", c.RemoteAddr(), err)
	}
	sc.r.Reset(nil)
	sc.w.Reset(nil)
	s.sessions.Put(sc)
}

// deadlineConn gives each read and write its own deadline.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c deadlineConn) Read(p []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c deadlineConn) Write(p []byte) (int, error) {
	c.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

// sinkConn is one SMTP session at the sink.
type sinkConn struct {
	t     *tracker
	r     *bufio.Reader
	w     *bufio.Writer
	line  []byte // the command being read
	hdr   []byte // the header of the mail being read
	hello bool   // EHLO or HELO done
	mail  bool   // MAIL done
	rcpts int
}

func (c *sinkConn) serve() error {
	c.reply("220 %s ESMTP turnmail-load", sinkDomain)
	for {
		line, err := c.readLine()
		if errors.Is(err, errLineTooLong) {
			c.reply("500 5.5.2 Line too long")
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.reply("421 4.4.2 Idle timeout, bye bye")
			c.flush()
			return nil
		}
		if err != nil {
			return err
		}
		verb, arg, _ := strings.Cut(string(line), " ")
		switch verb = strings.ToUpper(verb); verb {
		case "EHLO":
			c.hello, c.mail, c.rcpts = true, false, 0
			c.reply("250-%s Hello\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE\r\n250 LIMITS RCPTMAX=%d",
				sinkDomain, maxRecipients)
		case "HELO":
			c.hello, c.mail, c.rcpts = true, false, 0
			c.reply("250 %s Hello", sinkDomain)
		case "MAIL":
			switch {
			case !c.hello:
				c.reply("503 5.5.1 Say EHLO first")
			case c.mail:
				c.reply("503 5.5.1 Nested MAIL command")
			case !hasPrefixFold(arg, "FROM:"):
				c.reply("501 5.5.4 Was expecting MAIL arg syntax of FROM:<address>")
			default:
				c.mail = true
				c.reply("250 2.0.0 Roger, accepting mail")
			}
		case "RCPT":
			switch {
			case !c.mail:
				c.reply("503 5.5.1 Missing MAIL FROM command")
			case !hasPrefixFold(arg, "TO:"):
				c.reply("501 5.5.4 Was expecting RCPT arg syntax of TO:<address>")
			case c.rcpts >= maxRecipients:
				c.reply("452 4.5.3 Maximum limit of %d recipients reached", maxRecipients)
			default:
				c.rcpts++
				c.reply("250 2.0.0 I'll make sure it gets there")
			}
		case "DATA":
			if c.rcpts == 0 {
				c.reply("503 5.5.1 Missing RCPT TO command")
				continue
			}
			c.reply("354 2.0.0 Go ahead. End your data with <CR><LF>.<CR><LF>")
			// The client waits for the 354 (RFC 2920 §3.1: DATA is the
			// last of a group).
			if err := c.flush(); err != nil {
				return err
			}
			if err := c.data(); err != nil {
				return err
			}
			c.mail, c.rcpts = false, 0
			c.reply("250 2.0.0 OK: queued")
		case "RSET":
			c.mail, c.rcpts = false, 0
			c.reply("250 2.0.0 Session reset")
		case "NOOP":
			c.reply("250 2.0.0 I have successfully done nothing")
		case "VRFY":
			c.reply("252 2.5.0 Cannot VRFY user, but will accept message")
		case "QUIT":
			c.reply("221 2.0.0 Bye")
			return c.flush()
		case "STARTTLS", "AUTH", "BDAT":
			c.reply("502 5.5.1 %s not offered", verb)
		default:
			c.reply("500 5.5.2 Syntax errors, %s command unrecognized", verb)
		}
	}
}

var errLineTooLong = errors.New("sink: line too long")

// readLine reads a command line, without its line end. A line longer than
// maxCmdLine is read to its end and dropped, with errLineTooLong. Before it
// waits for more input it flushes the replies written so far: a client that
// pipelines (RFC 2920) gets them for all the commands it sent at once.
func (c *sinkConn) readLine() ([]byte, error) {
	c.line = c.line[:0]
	tooLong := false
	for {
		if b, _ := c.r.Peek(c.r.Buffered()); bytes.IndexByte(b, '\n') < 0 {
			if err := c.flush(); err != nil {
				return nil, err
			}
		}
		b, err := c.r.ReadSlice('\n')
		if !tooLong {
			if len(c.line)+len(b) > maxCmdLine {
				tooLong = true
			} else {
				c.line = append(c.line, b...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if tooLong {
			return nil, errLineTooLong
		}
		return bytes.TrimRight(c.line, "\r\n"), nil
	}
}

// reply writes a reply to be flushed before the sink next waits for input.
func (c *sinkConn) reply(format string, args ...any) {
	fmt.Fprintf(c.w, format+"\r\n", args...)
}

func (c *sinkConn) flush() error { return c.w.Flush() }

// data reads a mail and notes its header: "handed to the smarthost" is the
// end of DATA, as for the gateway's own 250.
func (c *sinkConn) data() error {
	c.hdr = c.hdr[:0]
	done := false
	err := readData(c.r, func(p []byte) {
		// A few KB at a time, not all that a read brought: the header is
		// kept, not the body after it.
		for len(p) > 0 && !done {
			q := p[:min(len(p), 4<<10, maxHeader-len(c.hdr))]
			p = p[len(q):]
			from := max(0, len(c.hdr)-3)
			c.hdr = append(c.hdr, q...)
			if bytes.HasPrefix(c.hdr, []byte("\r\n")) {
				done = true // no header at all
			} else if i := bytes.Index(c.hdr[from:], []byte("\r\n\r\n")); i >= 0 {
				c.hdr, done = c.hdr[:from+i+4], true
			}
			done = done || len(c.hdr) == maxHeader
		}
	})
	if err != nil {
		return err
	}
	at := time.Now()
	// A header that ends in bare LFs is not found above: the whole mail, up
	// to maxHeader, is read as before.
	g, err := readGatewayMail(bytes.NewReader(c.hdr), at)
	if err != nil {
		// Taken anyway: a smarthost does not read headers, and the run
		// reports it.
		c.t.unreadable(fmt.Errorf("sink: %w", err))
		return nil
	}
	c.t.add(g)
	return nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

var crlfDot = []byte("\r\n.")

// readData reads the data of one mail from r, up to and with the line "."
// that ends it, and hands emit the content dot-unstuffed, without that line
// (RFC 5321 §4.5.2), in pieces of any size; each piece is valid only during
// the call. Lines end with CRLF: a bare LF or CR is content. A connection
// that ends before the final "." is io.ErrUnexpectedEOF.
//
// It works on what each read brings, not on lines or bytes: between two
// lines that start with a dot, one bytes.Index finds the next, and base64
// lines never start with one.
func readData(r *bufio.Reader, emit func([]byte)) error {
	bol := true // at the start of a line: the data starts on one
	cr := false // mid-line, the byte before was a CR
	for {
		if _, err := r.Peek(1); err != nil {
			return unexpected(err)
		}
		b, _ := r.Peek(r.Buffered())
		if bol && b[0] == '.' {
			if len(b) < 3 {
				var err error
				if b, err = r.Peek(3); err != nil {
					return unexpected(err)
				}
			}
			if b[1] == '\r' && b[2] == '\n' {
				r.Discard(3)
				return nil
			}
			// The dot the sender added to a line that starts with one.
			r.Discard(1)
			bol = false
			continue
		}
		if cr && b[0] == '\n' {
			// A CRLF split between two reads.
			emit(b[:1])
			r.Discard(1)
			bol, cr = true, false
			continue
		}
		if i := bytes.Index(b, crlfDot); i >= 0 {
			emit(b[:i+2])
			r.Discard(i + 2)
			bol, cr = true, false
			continue
		}
		emit(b)
		r.Discard(len(b))
		bol = bytes.HasSuffix(b, []byte("\r\n"))
		cr = !bol && b[len(b)-1] == '\r'
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
