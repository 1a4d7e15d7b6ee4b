package smtpd

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// maxCommandLine bounds an SMTP command line without its CRLF, which go-smtp reads whole
// into memory: RFC 5321 §4.5.3.1.4 allows 512 octets, and extensions add
// parameters (go-smtp's default, kept here, is twice the 1000 of a text line,
// §4.5.3.1.6). Lines of a message body are not bounded: see trackedConn.
const maxCommandLine = 2000

// listener registers every accepted connection, so that Shutdown can tell
// the idle ones from those in the middle of a message, and turns away those
// over the connection caps.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &trackedConn{Conn: nc, raw: nc, s: l.s}
		if !l.s.cfg.LMTP {
			// Over LMTP the peer is the MTA in front, whatever its
			// transport: only the total applies.
			c.client = clientKey(nc.RemoteAddr())
		}
		refused, draining := l.s.register(c)
		if draining {
			// Accepted as Shutdown closed the listener: go-smtp sees a
			// closed connection and drops it.
			nc.Close()
			return c, nil
		}
		if refused == "" {
			return c, nil
		}
		l.s.refuse(nc, refused)
	}
}

// register counts c as open unless Shutdown has begun or a cap is reached,
// in which case it says why.
func (s *Server) register(c *trackedConn) (refused string, draining bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return "", true
	}
	if refused := s.connLimit.admit(c.client); refused != "" {
		return refused, false
	}
	s.conns[c] = struct{}{}
	return "", false
}

// refuse answers a connection over a cap with 421 4.7.0 and the reason
// (RFC 5321 §3.1 lets a server refuse at the greeting; 421 says "try later",
// RFC 3463 §3.8 x.7.0 "security or policy"), and closes it. It writes on the
// accepting goroutine: a fresh connection's send buffer is empty, and the
// deadline bounds the rest.
func (s *Server) refuse(nc net.Conn, reason string) {
	s.mu.Lock()
	open := s.connLimit.open
	s.mu.Unlock()
	s.log.Info("connection refused", "remote", remoteAddr(nc), "reason", reason, "open", open,
		"max_connections", s.connLimit.total, "max_connections_per_client", s.connLimit.perClient)
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(nc, "421 4.7.0 %s %s\r\n", s.cfg.Hostname, reason)
	nc.Close()
}

// trackedConn is a connection known to its Server. busy and closing are
// guarded by the Server's mutex.
//
// It also reads for go-smtp the way RFC 5321 wants and go-smtp does not:
//
//   - Lines of a message body may be of any length. RFC 5322 §2.1.1's 998
//     octets is exceeded by real mail (HTML on one line, base64 without
//     breaks) and go-smtp's MaxLineLength would fail such a body with a read
//     error, which became a 451 that the sending MTA retries for days.
//     Postfix accepts them; so does this reader, unchanged, since go-smtp's
//     DATA reader holds no line in memory. MaxLineLength is off, and this
//     reader bounds command lines instead (maxCommandLine), which go-smtp
//     does read whole into memory. It tells the two apart by the protocol:
//     a body runs from the 354 reply to the reply after it, and a BDAT
//     chunk (RFC 3030) is the number of octets its command names.
//   - RFC 5321 §4.5.3.2 timeouts while a body comes: DataBlockTimeout
//     between two reads and DataTimeout for the whole body, where go-smtp
//     would give the whole body the one deadline of the DATA command line
//     (go-smtp #196). Command lines keep go-smtp's ReadTimeout.
//
// Both need the plain text of the session, so TLS has to sit beneath this
// reader, and go-smtp's own STARTTLS would put it above (it wraps the
// connection it was handed). So this reader takes the STARTTLS command
// itself (upgrade) and hands the session on, over TLS, to a successor
// trackedConn that a go-smtp server of its own serves from the start.
type trackedConn struct {
	net.Conn          // the transport: the socket, or TLS over it after STARTTLS
	raw      net.Conn // the socket
	s        *Server
	client   string // the connLimit key; "" when not counted per client
	busy     bool   // receiving a message
	closing  bool   // no further message may start

	// tls is the state of the connection's TLS, nil before STARTTLS.
	tls *tls.ConnectionState
	// handedOff is set once STARTTLS succeeded: the session lives on in a
	// successor, and this one no longer reads, writes or closes the socket.
	handedOff atomic.Bool
	// swallowGreeting drops go-smtp's greeting on a successor: after
	// STARTTLS the client speaks first (RFC 3207 §4.2).
	swallowGreeting bool
	// session names the session on the connection, for the log lines of
	// STARTTLS; set at EHLO.
	session string

	// dataUntil is the data termination deadline (Unix nanoseconds) while a
	// body is read, 0 otherwise. Write sets it, at the 354 reply and at the
	// reply after the body; Read, on the same goroutine or one started
	// after that write, uses it.
	dataUntil atomic.Int64

	// The command line scanner, used by the reading goroutine only.
	wasData bool   // the last Read read a body
	line    int    // octets of the current command line so far
	head    []byte // its first octets, to tell a BDAT or STARTTLS command
	chunk   int64  // octets of a BDAT chunk still to come
	tooLong bool   // a command line went over maxCommandLine: the stream is broken
	// startTLS is a STARTTLS command that Read took, held back until go-smtp
	// has answered the commands before it.
	startTLS *startTLSCommand
}

// startTLSCommand is a STARTTLS command line as Read found it.
type startTLSCommand struct {
	args    bool // it had parameters, which RFC 3207 §4 does not allow
	dropped int  // octets that came after it in the same read
}

func (c *trackedConn) Close() error {
	if c.handedOff.Load() {
		// Its go-smtp connection ends; the socket is the successor's.
		return nil
	}
	c.s.mu.Lock()
	if _, ok := c.s.conns[c]; ok {
		delete(c.s.conns, c)
		c.s.connLimit.release(c.client)
	}
	c.s.mu.Unlock()
	return c.Conn.Close()
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if c.handedOff.Load() {
		// go-smtp's last words on a session that went on over TLS (an
		// answer to the rest of a STARTTLS line it had read part of).
		return 0, net.ErrClosed
	}
	if c.swallowGreeting && bytes.HasPrefix(p, []byte("220 ")) {
		c.swallowGreeting = false
		return len(p), nil
	}
	// go-smtp flushes each reply line in one Write.
	if bytes.HasPrefix(p, []byte("354")) {
		c.dataUntil.Store(time.Now().Add(c.s.cfg.DataTimeout).UnixNano())
	} else {
		c.dataUntil.Store(0)
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if c.handedOff.Load() {
		return 0, io.EOF
	}
	if c.tooLong {
		return 0, smtp.ErrTooLongLine
	}
	if c.startTLS != nil {
		return 0, c.upgrade()
	}
	until := c.dataUntil.Load()
	if until != 0 || c.chunk > 0 {
		deadline := time.Now().Add(c.s.cfg.DataBlockTimeout)
		if end := time.Unix(0, until); until != 0 && deadline.After(end) {
			deadline = end
		}
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			return 0, err
		}
	}
	if until != 0 {
		c.wasData = true
		return c.Conn.Read(p)
	}
	if c.wasData {
		// What go-smtp reads after a body starts a line, whatever of the
		// next commands it read ahead with the body.
		c.wasData, c.line, c.head = false, 0, c.head[:0]
	}
	n, err := c.Conn.Read(p)
	switch res, start, end := c.scan(p[:n]); res {
	case scanTooLong:
		// go-smtp answers its own ErrTooLongLine, compared by identity,
		// with 500 5.4.0 and closes the connection.
		c.tooLong = true
		return 0, smtp.ErrTooLongLine
	case scanStartTLS:
		c.startTLS = &startTLSCommand{args: hasArgs(c.head), dropped: n - end}
		c.line, c.head = 0, c.head[:0]
		if start > 0 {
			// go-smtp answers the commands before it, and reads again
			// only once it has: upgrade then runs after their replies.
			return start, nil
		}
		return 0, c.upgrade()
	}
	return n, err
}

// What scan found.
const (
	scanOK       = iota
	scanTooLong  // a command line went over maxCommandLine
	scanStartTLS // a STARTTLS command line, from start to end in the buffer
)

// scan follows command lines and BDAT chunks through b. It stops at a command
// line over maxCommandLine, and at a STARTTLS command when the server offers
// TLS on this connection: then start is where the command's line begins in b
// (0 when it began in an earlier read) and end where it ends.
func (c *trackedConn) scan(b []byte) (res, start, end int) {
	offerTLS := c.s.smtpTLS != nil && c.tls == nil
	for off := 0; off < len(b); {
		if c.chunk > 0 {
			k := min(int64(len(b)-off), c.chunk)
			c.chunk -= k
			off += int(k)
			continue
		}
		lineStart := off
		if c.line > 0 {
			lineStart = 0
		}
		i := bytes.IndexByte(b[off:], '\n')
		part := b[off:]
		if i >= 0 {
			part = b[off : off+i]
		}
		c.line += len(part)
		if c.line > maxCommandLine+len("\r") {
			return scanTooLong, 0, 0
		}
		if room := 64 - len(c.head); room > 0 {
			c.head = append(c.head, part[:min(room, len(part))]...)
		}
		if i < 0 {
			return scanOK, 0, 0
		}
		off += i + 1
		if offerTLS && isStartTLS(c.head) {
			return scanStartTLS, lineStart, off
		}
		c.chunk = bdatSize(c.head)
		c.line, c.head = 0, c.head[:0]
	}
	return scanOK, 0, 0
}

// bdatSize returns the chunk size that the command line cmd announces, as
// go-smtp reads it: "BDAT <size> [LAST]"; 0 for anything else, including a
// BDAT go-smtp refuses before reading its chunk.
func bdatSize(cmd []byte) int64 {
	f := strings.Fields(string(cmd))
	if len(f) < 2 || len(f) > 3 || !strings.EqualFold(f[0], "BDAT") {
		return 0
	}
	if len(f) == 3 && !strings.EqualFold(f[2], "LAST") {
		return 0
	}
	n, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return 0
	}
	return int64(n)
}

// dataTimeout names the bound that a read timeout in a body ran into.
func (c *trackedConn) dataTimeout() (what string, d time.Duration) {
	if until := c.dataUntil.Load(); until != 0 && !time.Now().Before(time.Unix(0, until)) {
		return "data termination", c.s.cfg.DataTimeout
	}
	return "data block", c.s.cfg.DataBlockTimeout
}

// closeRead shuts the read side, so that the session ends at its next
// command after its last reply is written. It shuts the socket's, under TLS
// too: TLS has no half-close of its own, and the reply still goes out.
func (c *trackedConn) closeRead() {
	if cr, ok := c.raw.(interface{ CloseRead() error }); ok {
		cr.CloseRead()
		return
	}
	c.Close()
}

// hangUp writes reply on the connection itself and closes it, and returns
// reply for Data to return (go-smtp's own write of it then fails quietly).
// go-smtp would answer and read on, but after a DATA that broke off the rest
// of the body may still be coming and would be read as commands. go-smtp
// flushes every reply, so nothing of its own is pending here.
//
// With rcpts, the reply is written once for each, as LMTP answers DATA
// (RFC 2033 §4.2), and in go-smtp's form "<rcpt> message".
func (c *trackedConn) hangUp(reply *smtp.SMTPError, rcpts []string) *smtp.SMTPError {
	c.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	ec := reply.EnhancedCode
	if len(rcpts) == 0 {
		fmt.Fprintf(c.Conn, "%d %d.%d.%d %s\r\n", reply.Code, ec[0], ec[1], ec[2], reply.Message)
	}
	for _, rcpt := range rcpts {
		fmt.Fprintf(c.Conn, "%d %d.%d.%d <%s> %s\r\n", reply.Code, ec[0], ec[1], ec[2], rcpt, reply.Message)
	}
	c.lingerClose()
	return reply
}

// Bounds of lingerClose.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

// lingerClose closes the connection without losing the reply just written.
// Closing a socket with input still unread makes the kernel answer with a
// reset, which can destroy the reply in the client's buffers before it reads
// it, and a client still sending its body is exactly that case. So the write
// side is shut first (the client reads the reply, then end of file), and
// what still comes in is read and dropped for a moment, within bounds.
//
// Under TLS the client gets a close_notify first, and what still comes is
// dropped as it comes off the socket, undecrypted.
func (c *trackedConn) lingerClose() {
	if c.tls != nil {
		c.Conn.(*tls.Conn).CloseWrite()
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.raw.SetReadDeadline(time.Now().Add(lingerTime))
		io.Copy(io.Discard, io.LimitReader(c.raw, lingerBytes))
	}
	c.Close()
}
