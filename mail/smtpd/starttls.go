package smtpd

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// STARTTLS (RFC 3207), taken by trackedConn beneath go-smtp: see trackedConn
// for why, and upgrade for how.

// isStartTLS tells a STARTTLS command line as go-smtp does: by its first
// eight octets, whatever follows.
func isStartTLS(line []byte) bool {
	return len(line) >= len("STARTTLS") && strings.EqualFold(string(line[:len("STARTTLS")]), "STARTTLS")
}

// hasArgs reports whether a STARTTLS command line has anything after the
// verb but spaces.
func hasArgs(line []byte) bool {
	return strings.TrimSpace(string(line[len("STARTTLS"):])) != ""
}

// Replies to a STARTTLS command that cannot start TLS.
var (
	replyTLSArgs = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 4}, Message: "Syntax error (no parameters allowed)"}
	replyTLSBusy = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "STARTTLS in the middle of a message"}
)

// upgrade runs the STARTTLS command that Read took, and returns what Read
// returns to go-smtp: io.EOF, since this go-smtp connection ends here
// whatever happens. On success the session goes on over TLS in a successor
// trackedConn, handed to the Server's TLS go-smtp server, which gives it a
// fresh session as RFC 3207 §4.2 wants (nothing from before TLS counts).
//
// Whatever the client sent after the command in the same read is dropped,
// unanswered: it was sent in plain text before the handshake, and taking it
// as if it came over TLS is the command injection of CVE-2011-0411. A
// STARTTLS that cannot be taken (parameters, in the middle of a message,
// shutting down) is answered and the connection closed, since go-smtp may
// hold the start of its line.
func (c *trackedConn) upgrade() error {
	cmd := c.startTLS
	c.startTLS = nil
	log := c.s.log.With("session", c.session, "remote", remoteAddr(c))
	if cmd.args {
		log.Info("starttls refused", "reason", "parameters")
		c.hangUp(replyTLSArgs, nil)
		return io.EOF
	}
	if reply := c.s.canStartTLS(c); reply != nil {
		log.Info("starttls refused", "reason", reply.Message)
		c.hangUp(reply, nil)
		return io.EOF
	}
	if cmd.dropped > 0 {
		log.Info("starttls: dropped input sent ahead of the handshake", "bytes", cmd.dropped)
	}
	c.Conn.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	if _, err := io.WriteString(c.Conn, "220 2.0.0 Ready to start TLS\r\n"); err != nil {
		log.Info("starttls: client gone", "err", err)
		c.Close()
		return io.EOF
	}
	tc := tls.Server(c.Conn, c.s.cfg.TLSConfig)
	// The handshake has the time of a command; go-smtp sets its own
	// deadlines from the next command on.
	c.Conn.SetDeadline(time.Now().Add(c.s.cfg.CommandTimeout))
	if err := tc.HandshakeContext(c.s.hard); err != nil {
		log.Info("tls handshake failed", "err", err)
		c.Close()
		return io.EOF
	}
	c.Conn.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	next := &trackedConn{Conn: tc, raw: c.raw, s: c.s, client: c.client, tls: &st, swallowGreeting: true}
	if !c.s.handOver(c, next) || !c.s.tlsLn.push(next) {
		// Shutdown began meanwhile.
		next.Close()
		c.Close()
		return io.EOF
	}
	log.Debug("starttls", "tls", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	return io.EOF
}

// canStartTLS says why c cannot start TLS now, or nil when it can.
func (s *Server) canStartTLS(c *trackedConn) *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining || c.closing:
		return replyShutdown
	case c.busy:
		// A BDAT transfer is under way, on another goroutine.
		return replyTLSBusy
	}
	return nil
}

// handOver moves c's place among the Server's connections, and under its
// caps, to next, which carries the same socket on over TLS. It reports false
// when Shutdown has begun: the connection is then to be closed.
func (s *Server) handOver(c, next *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining || c.closing {
		return false
	}
	if _, ok := s.conns[c]; !ok {
		return false
	}
	delete(s.conns, c)
	s.conns[next] = struct{}{}
	c.handedOff.Store(true)
	return true
}

// handoffListener hands the connections that went through STARTTLS to the
// go-smtp server that serves them.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return handoffAddr{} }

// push hands c over, and reports false once the listener is closed.
func (l *handoffListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

type handoffAddr struct{}

func (handoffAddr) Network() string { return "starttls" }
func (handoffAddr) String() string  { return "starttls" }
