package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// outMail is one mail as the load hands it in: the envelope and the bytes,
// built once so that every attempt sends exactly the same message (a
// gateway recognises a redelivery by its Message-ID, and by its bytes).
type outMail struct {
	from  string
	rcpt  []string
	msgID string
	data  []byte // the message, CRLF lines
	// wire says that data goes into DATA as it is, no line starting with
	// a dot (see inWireForm), and so straight to the connection.
	wire bool
	// await is the address whose handoff this mail causes, lower-case, or ""
	// when none is awaited.
	await string
}

// mailBufs holds the bytes of mails done with, for the next ones: a run
// makes hundreds of MB of mail, and made anew each would cost the garbage
// collector more than building it (a third of the load's CPU).
var mailBufs sync.Pool // of *[]byte

// newMailBuf returns an empty slice with room for n bytes.
func newMailBuf(n int) []byte {
	if p, ok := mailBufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

// release gives m's bytes to another mail: m.data is not to be used after.
func (m *outMail) release() {
	if m.data != nil {
		b := m.data[:0]
		m.data = nil
		mailBufs.Put(&b)
	}
}

// retryPolicy is how an MTA retries: a 4xx reply or a broken connection is
// tried again after a backoff that doubles up to max, at most tries times
// in all; a 5xx reply is final.
type retryPolicy struct {
	backoff time.Duration // before the second attempt
	max     time.Duration // the longest wait between two attempts
	tries   int           // attempts in all, the first one included
}

// outcome is what became of one mail.
type outcome struct {
	ok bool
	// latency is the last attempt's time from the end of DATA (the final dot
	// written) to the server's reply to it.
	latency time.Duration
	// accepted is when the 250 to DATA arrived.
	accepted time.Time
	// bdat says the accepted attempt went with BDAT, not DATA.
	bdat bool
	// failure names what ended it when not ok: "554 5.7.1", or "connection"
	// when the last attempt found no working connection.
	failure string
	// retried names what each attempt that was retried got, in order.
	retried []string
	err     error
}

// smtpConn is one client's connection to the server under load. Like an
// MTA's to a busy destination, it is kept open from one mail to the next and
// opened again only when it broke. Not safe for concurrent use.
type smtpConn struct {
	addr    string
	helo    string
	timeout time.Duration // for each command, and for the reply to DATA
	// dataOnly sends every mail with DATA, even to a server that offers
	// CHUNKING (--chunking=never).
	dataOnly bool
	c        *smtp.Client
	conn     net.Conn // c's
	lastBDAT bool     // the last exchange sent BDAT
}

// deliver hands m in, retrying per p, and says what became of it. It gives
// up early, as a failure "canceled", when ctx is done.
func (s *smtpConn) deliver(ctx context.Context, m *outMail, p retryPolicy) outcome {
	var o outcome
	wait := p.backoff
	for try := 1; ; try++ {
		lat, err := s.transaction(ctx, m)
		if err == nil {
			o.ok, o.latency, o.accepted, o.bdat = true, lat, time.Now(), s.lastBDAT
			return o
		}
		what, temporary := classify(err)
		if !temporary || try >= p.tries || ctx.Err() != nil {
			o.failure, o.err = what, err
			if ctx.Err() != nil {
				o.failure = "canceled"
			}
			return o
		}
		o.retried = append(o.retried, what)
		select {
		case <-ctx.Done():
			o.failure, o.err = "canceled", ctx.Err()
			return o
		case <-time.After(wait):
		}
		wait = min(2*wait, p.max)
	}
}

// transaction runs one MAIL, RCPT, DATA exchange on the connection, opening
// it first when there is none, and returns the time from the end of DATA to
// the 250. A reply other than success leaves the connection ready for the
// next transaction; anything else (a broken connection, a timeout, 421)
// closes it.
func (s *smtpConn) transaction(ctx context.Context, m *outMail) (time.Duration, error) {
	if s.c == nil {
		if err := s.dial(ctx); err != nil {
			return 0, err
		}
	}
	lat, err := s.exchange(m)
	if err == nil {
		return lat, nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code != 421 {
		// RSET so that the next MAIL starts a clean transaction.
		if rerr := s.c.Reset(); rerr == nil {
			return 0, err
		}
	}
	s.close()
	return 0, err
}

func (s *smtpConn) exchange(m *outMail) (time.Duration, error) {
	if err := s.c.Mail(m.from, &smtp.MailOptions{Size: int64(len(m.data))}); err != nil {
		return 0, fmt.Errorf("mail from: %w", err)
	}
	for _, r := range m.rcpt {
		if err := s.c.Rcpt(r, nil); err != nil {
			return 0, fmt.Errorf("rcpt to %s: %w", r, err)
		}
	}
	s.lastBDAT = false
	if ok, _ := s.c.Extension("CHUNKING"); ok && !s.dataOnly {
		s.lastBDAT = true
		return s.bdat(m)
	}
	w, err := s.c.Data()
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	if m.wire {
		// go-smtp's data writer (net/textproto's) looks at every byte, one
		// call each: 3 ms of CPU for a 270 KB mail, most of the load's
		// cost. m.data needs no dot or CR added, so it goes to the
		// connection as it is, in one write, but for its last CRLF, which
		// goes through the writer for its Close to add only the final
		// ".\r\n" and read the reply. Data has flushed the DATA command and
		// read the 354: nothing of the client's is buffered before these
		// bytes.
		n := len(m.data) - len(crlf)
		if _, err := s.conn.Write(m.data[:n]); err != nil {
			return 0, fmt.Errorf("data: %w", err)
		}
		if _, err := w.Write(m.data[n:]); err != nil {
			return 0, fmt.Errorf("data: %w", err)
		}
	} else if _, err := w.Write(m.data); err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	// What is left to write is the final dot (and with the data writer at
	// most a few KB before it): the time from here is the server's commit,
	// not the transfer of the message.
	start := time.Now()
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("end of data: %w", err)
	}
	return time.Since(start), nil
}

var crlf = []byte("\r\n")

// bdat sends m as one chunk, "BDAT <size> LAST" (RFC 3030), as MTAs such
// as Exim and Microsoft Exchange send mail to a server that offers
// CHUNKING: the message as it is, no dot added, its size said up front. It
// returns the time from the chunk's last byte written to the reply.
//
// go-smtp's client has no BDAT, so the command and the chunk go to the
// connection, and the reply is read from it here: the client has read
// every reply to its commands, and the server sends nothing more before
// this one (it comes after the whole chunk), so nothing is read ahead of
// the client's next command either.
func (s *smtpConn) bdat(m *outMail) (time.Duration, error) {
	data := m.data
	if !m.wire {
		// A message of the run's making is in wire form; a line that
		// starts with a dot needs no stuffing in a chunk, but lines still
		// end in CRLF (RFC 3030 §2 keeps RFC 5322's lines unless
		// BINARYMIME).
		data = crlfLines(data)
	}
	cmd := fmt.Appendf(nil, "BDAT %d LAST\r\n", len(data))
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, fmt.Errorf("bdat: %w", err)
	}
	defer s.conn.SetDeadline(time.Time{})
	bufs := net.Buffers{cmd, data}
	if _, err := bufs.WriteTo(s.conn); err != nil {
		return 0, fmt.Errorf("bdat: %w", err)
	}
	start := time.Now()
	if err := readReply(s.conn); err != nil {
		return 0, fmt.Errorf("end of bdat: %w", err)
	}
	return time.Since(start), nil
}

// readReply reads one SMTP reply, of one line or more (RFC 5321 §4.2.1),
// from r, and returns nil for a 2xx and an *smtp.SMTPError for anything
// else. It reads as the bytes come, not a byte a call: the server sends
// nothing after the reply until the next command, so there is nothing to
// read ahead, and bytes after the reply's last line are an error.
func readReply(r io.Reader) error {
	var buf [1024]byte
	n := 0
	for {
		k, err := r.Read(buf[n:])
		n += k
		if lines, done := replyLines(buf[:n]); done {
			if lines == nil {
				return fmt.Errorf("malformed reply %q", buf[:n])
			}
			return replyError(lines)
		}
		if err != nil {
			return err
		}
		if n == len(buf) {
			return errors.New("reply too long")
		}
	}
}

// replyLines splits b into the lines of one reply once b holds its last
// line (done); lines is nil when b is not a reply, or holds more.
func replyLines(b []byte) (lines []string, done bool) {
	for len(b) > 0 {
		i := bytes.Index(b, crlf)
		if i < 0 {
			return nil, false
		}
		l := string(b[:i])
		b = b[i+2:]
		if len(l) < 3 || (len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			return nil, true
		}
		lines = append(lines, l)
		if len(l) == 3 || l[3] == ' ' {
			if len(b) > 0 || lines[0][:3] != l[:3] {
				return nil, true
			}
			return lines, true
		}
	}
	return nil, false
}

// replyError is nil for a 2xx reply and the reply as an *smtp.SMTPError
// otherwise, with its enhanced status code (RFC 2034 §4) when it has one.
func replyError(lines []string) error {
	code, err := strconv.Atoi(lines[0][:3])
	if err != nil || code < 200 || code > 599 {
		return fmt.Errorf("malformed reply %q", lines[0])
	}
	if code < 300 {
		return nil
	}
	se := &smtp.SMTPError{Code: code}
	text := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 4 {
			text[i] = l[4:]
		}
	}
	var ec smtp.EnhancedCode
	first, rest, _ := strings.Cut(text[0], " ")
	if n, _ := fmt.Sscanf(first, "%d.%d.%d", &ec[0], &ec[1], &ec[2]); n == 3 && ec[0] == code/100 {
		se.EnhancedCode, text[0] = ec, rest
	}
	se.Message = strings.Join(text, "\n")
	return se
}

// crlfLines returns data with every line ended by CRLF, the last one too:
// a bare LF gets its CR, as net/textproto's DATA writer gives it one.
func crlfLines(data []byte) []byte {
	b := bytes.ReplaceAll(data, crlf, crlf[1:])
	b = bytes.ReplaceAll(b, crlf[1:], crlf)
	if !bytes.HasSuffix(b, crlf) {
		b = append(b, crlf...)
	}
	return b
}

// inWireForm says whether data goes into DATA unchanged (RFC 5321 §4.5.2):
// every line, the last one too, ended by CRLF, no other CR or LF, and no
// line that starts with a dot. net/textproto's dot-writer sends such data
// as it is, with ".\r\n" after it. The mails of a run are so: base64 lines
// and header fields of the run's own making.
func inWireForm(data []byte) bool {
	if !bytes.HasSuffix(data, crlf) || data[0] == '.' ||
		bytes.Count(data, crlf[:1]) != bytes.Count(data, crlf[1:]) {
		return false
	}
	// As many CRs as LFs, and a CR before each LF: each CR is in a CRLF.
	for p := data; ; {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return true
		}
		if i == 0 || p[i-1] != '\r' || i+1 < len(p) && p[i+1] == '.' {
			return false
		}
		p = p[i+1:]
	}
}

func (s *smtpConn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: s.timeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = s.timeout, s.timeout
	// Hello reads the greeting too: a 421 there (too many connections)
	// comes back from it.
	if err := c.Hello(s.helo); err != nil {
		c.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	s.c, s.conn = c, conn
	return nil
}

// close ends the connection politely when it still works.
func (s *smtpConn) close() {
	if s.c == nil {
		return
	}
	if err := s.c.Quit(); err != nil {
		s.c.Close()
	}
	s.c, s.conn = nil, nil
}

// classify names err for the report ("451 4.7.1", "connection") and says
// whether an MTA would try again: after a 4xx reply or a lost connection,
// yes; after a 5xx, no.
func classify(err error) (what string, temporary bool) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		what = fmt.Sprint(se.Code)
		if e := se.EnhancedCode; e[0] > 0 {
			what = fmt.Sprintf("%d %d.%d.%d", se.Code, e[0], e[1], e[2])
		}
		return what, se.Code >= 400 && se.Code < 500
	}
	return "connection", true
}
