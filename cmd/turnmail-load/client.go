package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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
	c       *smtp.Client
	conn    net.Conn // c's
}

// deliver hands m in, retrying per p, and says what became of it. It gives
// up early, as a failure "canceled", when ctx is done.
func (s *smtpConn) deliver(ctx context.Context, m *outMail, p retryPolicy) outcome {
	var o outcome
	wait := p.backoff
	for try := 1; ; try++ {
		lat, err := s.transaction(ctx, m)
		if err == nil {
			o.ok, o.latency, o.accepted = true, lat, time.Now()
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
