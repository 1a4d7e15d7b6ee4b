package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"mime"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// This file holds the two ends of TestCrash that are not the daemon: the
// smarthost it relays to (crashSink) and the clients that mail it
// (crashLoad), which retry as a sending MTA does.

// crashSink is the smarthost: a go-smtp server on loopback that accepts
// everything and counts each delivery by Message-ID and recipient, the
// identity that the outbound guarantee (at least once, the same Message-ID)
// is about. The handoffs and confirmations it gets are what the clients
// reply to.
type crashSink struct {
	mu        sync.Mutex
	delivered map[string]int // crashKey(Message-ID, RCPT TO) → deliveries
	total     int
	last      time.Time      // of the last delivery
	handoffs  []crashReplyTo // waiting for a reply from a party holding the turn
	confirms  []crashReplyTo // waiting for a reply from the other party
	bad       []string       // deliveries the sink could not read
	srv       *smtp.Server
}

// crashReplyTo is a gateway mail someone may answer.
type crashReplyTo struct {
	person  string // the recipient, who replies
	tagged  string // the Reply-To: their tagged address
	subject string
	msgID   string
}

// crashKey is how one outbound mail is counted: its Message-ID and its
// recipient, case-folded as a mail system compares addresses.
func crashKey(msgID, rcpt string) string {
	return strings.Trim(msgID, "<> ") + " " + strings.ToLower(rcpt)
}

func (s *crashSink) start() (string, error) {
	s.delivered = map[string]int{}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "smarthost.crash.test"
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	// A daemon killed mid-message resets the connection: expected, and
	// counted by what arrives, not logged.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go s.srv.Serve(ln)
	return ln.Addr().String(), nil
}

func (s *crashSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &crashSinkSession{s: s}, nil }

// quiet reports whether nothing was delivered for d.
func (s *crashSink) quiet(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.last) >= d
}

// take removes a random mail to answer from the handoffs, or with
// confirm from the confirmations; ok is false when there is none.
func (s *crashSink) take(rng *rand.Rand, confirm bool) (r crashReplyTo, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := &s.handoffs
	if confirm {
		list = &s.confirms
	}
	if len(*list) == 0 {
		return r, false
	}
	i := rng.IntN(len(*list))
	r = (*list)[i]
	(*list)[i] = (*list)[len(*list)-1]
	*list = (*list)[:len(*list)-1]
	return r, true
}

// received records one delivered message, once per recipient.
func (s *crashSink) received(rcpts []string, data []byte) {
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.last = time.Now()
	if err != nil || m.Header.Get("Message-Id") == "" {
		s.bad = append(s.bad, fmt.Sprintf("to %v: no readable Message-ID (%v)", rcpts, err))
		return
	}
	msgID := strings.Trim(m.Header.Get("Message-Id"), "<> ")
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		subject = m.Header.Get("Subject")
	}
	for _, rcpt := range rcpts {
		key := crashKey(msgID, rcpt)
		s.delivered[key]++
		if s.delivered[key] > 1 {
			continue // a double: already answerable once
		}
		replyTo, err := netmail.ParseAddress(m.Header.Get("Reply-To"))
		if err != nil {
			continue
		}
		r := crashReplyTo{person: rcpt, tagged: replyTo.Address, subject: subject, msgID: msgID}
		switch m.Header.Get("X-Turnmail-Kind") {
		case "handoff":
			s.handoffs = append(s.handoffs, r)
		case "confirm":
			// Bounded: most are never answered, and they are the one kind
			// every collaboration adds.
			if len(s.confirms) < 200 {
				s.confirms = append(s.confirms, r)
			}
		}
	}
}

type crashSinkSession struct {
	s     *crashSink
	rcpts []string
}

func (c *crashSinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *crashSinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.rcpts = append(c.rcpts, to)
	return nil
}

// Data records the message only once all of it is in: a sender killed
// mid-message delivered nothing, as with any relay.
func (c *crashSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.s.received(c.rcpts, b)
	c.rcpts = nil
	return nil
}
func (c *crashSinkSession) Reset()        { c.rcpts = nil }
func (c *crashSinkSession) Logout() error { return nil }

// Kinds of mail the clients send.
const (
	crashStart   = "start"   // a new collaboration: to the gateway, with a file
	crashEdit    = "edit"    // a reply to a handoff with an edited file: ends the turn
	crashDone    = "done"    // a reply to a handoff saying /done: ends the turn
	crashComment = "comment" // a reply to a handoff without files
	crashDraft   = "draft"   // a reply to a confirmation with a file: a draft, or a turn if theirs by then
)

// crashMail is one mail a client sends, and what became of it.
type crashMail struct {
	msgID   string // without <>
	kind    string
	from    string // header From and MAIL FROM
	rcpt    string
	raw     []byte
	fileSHA string // hex SHA-256 of the attachment, "" without one

	// Set by the client that sends it.
	code  int    // the final answer: 250, a 5xx, or 0 when never answered
	reply string // the final answer's text when not 250
	tries int
}

// crashLoad is the clients. Each sends one mail at a time and, as an MTA
// does, tries it again (the same bytes) on a connection error or a 4xx,
// after a short backoff, until it gets a 250 or a 5xx. One try in ten hangs
// up after the final dot, as if the 250 were lost.
type crashLoad struct {
	addr string // the daemon's SMTP listener
	sink *crashSink

	accepted atomic.Int64  // 250s so far, for the kills to wait on
	ending   chan struct{} // receives, when it can, as a mail's final dot goes out

	mu        sync.Mutex
	mails     []*crashMail
	seq       int
	tempfails map[string]int // 4xx replies and connection errors, by kind
}

// run is one client until stop is done, when it finishes the mail it is on;
// abort ends it at once.
func (l *crashLoad) run(stop, abort context.Context, client int) {
	rng := rand.New(rand.NewPCG(uint64(client), uint64(time.Now().UnixNano())))
	for stop.Err() == nil && abort.Err() == nil {
		m := l.next(rng, client)
		l.mu.Lock()
		l.mails = append(l.mails, m)
		l.mu.Unlock()
		l.deliver(abort, rng, m)
	}
}

// next makes the client's next mail: mostly answers to the gateway's mail,
// and a new collaboration when there is nothing to answer or now and then.
func (l *crashLoad) next(rng *rand.Rand, client int) *crashMail {
	l.mu.Lock()
	l.seq++
	n := l.seq
	l.mu.Unlock()
	msgID := fmt.Sprintf("crash-%d.%d@mta.crash.test", n, client)
	if rng.IntN(10) == 0 {
		if r, ok := l.sink.take(rng, true); ok {
			return crashReply(rng, msgID, crashDraft, r)
		}
	}
	// Waiting a little for a handoff makes most mail replies, which is
	// what a collaboration is: the gateway relays each one after its
	// commit, later than a client sends.
	if rng.IntN(10) != 0 {
		for range 10 {
			if r, ok := l.sink.take(rng, false); ok {
				kind := crashEdit
				switch rng.IntN(10) {
				case 0, 1:
					kind = crashDone
				case 2, 3:
					kind = crashComment
				}
				return crashReply(rng, msgID, kind, r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	owner := fmt.Sprintf("owner%d@acme.crash.test", client)
	file := crashFile(rng, msgID)
	raw := crashRaw(rng, []string{
		"From: Owner " + fmt.Sprint(client) + " <" + owner + ">",
		fmt.Sprintf("To: Peer <peer%d@axe.crash.test>", n),
		"Cc: collab@gw.crash.test",
		fmt.Sprintf("Subject: Crash contract %d", n),
	}, msgID, "Here is our draft.", file)
	return &crashMail{msgID: msgID, kind: crashStart, from: owner, rcpt: "collab@gw.crash.test", raw: raw, fileSHA: fileSHA(file)}
}

// crashReply answers r as kind.
func crashReply(rng *rand.Rand, msgID, kind string, r crashReplyTo) *crashMail {
	body, file := "Clause 4 reworded.", crashFile(rng, msgID)
	switch kind {
	case crashDone:
		body, file = "/done\n\nNothing to change.", nil
	case crashComment:
		body, file = "Looking at it, more tomorrow.", nil
	case crashDraft:
		body = "A suggestion for our side."
	}
	body += "\r\n\r\nOn Monday the gateway wrote:\r\n> Your turn."
	subject := r.subject
	if !strings.HasPrefix(subject, "Re: ") {
		subject = "Re: " + subject
	}
	raw := crashRaw(rng, []string{
		"From: <" + r.person + ">",
		"To: <" + r.tagged + ">",
		"Subject: " + mime.QEncoding.Encode("utf-8", subject),
		"In-Reply-To: <" + r.msgID + ">",
		"References: <" + r.msgID + ">",
	}, msgID, body, file)
	return &crashMail{msgID: msgID, kind: kind, from: r.person, rcpt: r.tagged, raw: raw, fileSHA: fileSHA(file)}
}

// crashFile is a text document: the same clauses each time with a few
// lines of its own, so that versions differ a little, as edits do, and
// comparing them stays cheap. Most are 4 KB; one in ten is about 400 KB,
// several chunks of the store; one in a hundred about 5 MB, more than one
// transaction of chunks before the manifest's, so that kills land between
// them and leave chunks for the next start's sweep. (More large files make
// fewer mails between two kills, most of all under -race.)
func crashFile(rng *rand.Rand, msgID string) []byte {
	lines := 60
	switch n := rng.IntN(100); {
	case n == 0:
		lines = 80000
	case n <= 10:
		lines = 6000
	}
	// The first line names the mail, so that no two files are the same: a
	// file sent twice would be "re-sent unchanged", not a version.
	var b bytes.Buffer
	fmt.Fprintf(&b, "Terms as of %s.\n", msgID)
	for i := range lines {
		if rng.IntN(lines) < 3 {
			fmt.Fprintf(&b, "Clause %d, as amended by %s: %d.\n", i, msgID, rng.Uint64())
		} else {
			fmt.Fprintf(&b, "Clause %d: the parties agree to what clause %d says, and no more.\n", i, i)
		}
	}
	return b.Bytes()
}

// crashRaw is a whole message: header, body, and the file as terms.txt
// when there is one.
func crashRaw(rng *rand.Rand, header []string, msgID, body string, file []byte) []byte {
	var b bytes.Buffer
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Message-ID: <%s>\r\nDate: %s\r\nMIME-Version: 1.0\r\n", msgID, time.Now().Format(time.RFC1123Z))
	if file == nil {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", body)
		return b.Bytes()
	}
	boundary := fmt.Sprintf("b%x", rng.Uint64())
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", boundary, boundary, body)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename=terms.txt\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary)
	enc := base64.StdEncoding.EncodeToString(file)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	fmt.Fprintf(&b, "%s\r\n--%s--\r\n", enc, boundary)
	return b.Bytes()
}

// fileSHA is the hex SHA-256 of a file, "" for none.
func fileSHA(b []byte) string {
	if b == nil {
		return ""
	}
	return sha(b)
}

// deliver sends m until it gets a 250 or a 5xx, or abort is done.
func (l *crashLoad) deliver(abort context.Context, rng *rand.Rand, m *crashMail) {
	for abort.Err() == nil {
		m.tries++
		var err error
		if rng.IntN(10) == 0 {
			err = l.hangUp(m)
		} else {
			err = l.sendOnce(m)
		}
		var se *smtp.SMTPError
		switch {
		case errors.Is(err, errHungUp):
			l.tempfail("hang-up after the dot")
		case err == nil:
			m.code = 250
			l.accepted.Add(1)
			return
		case errors.As(err, &se) && se.Code >= 500:
			m.code, m.reply = se.Code, se.Error()
			return
		case errors.As(err, &se):
			l.tempfail(fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2]))
		default:
			l.tempfail("connection")
		}
		// The daemon is down or restarting: a short wait, longer than an
		// MTA's would be only in proportion to the test.
		select {
		case <-abort.Done():
		case <-time.After(time.Duration(20+rng.IntN(180)) * time.Millisecond):
		}
	}
}

func (l *crashLoad) tempfail(kind string) {
	l.mu.Lock()
	l.tempfails[kind]++
	l.mu.Unlock()
}

// errHungUp is a try that hung up after the final dot.
var errHungUp = errors.New("hung up after the final dot")

// hangUp sends m up to its final dot and hangs up without waiting for the
// answer, as a connection cut at the worst moment does: the daemon may
// have applied the mail or not, the client cannot know, and sends it
// again. Kills land between a commit and its 250 too seldom to count on.
func (l *crashLoad) hangUp(m *crashMail) error {
	conn, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	tc := textproto.NewConn(conn)
	answer := func(want int) error {
		_, _, err := tc.ReadResponse(want)
		var te *textproto.Error
		if errors.As(err, &te) {
			return &smtp.SMTPError{Code: te.Code, Message: te.Msg}
		}
		return err
	}
	if err := answer(220); err != nil {
		return err
	}
	for _, step := range []struct {
		cmd  string
		want int
	}{{"EHLO mta.crash.test", 250}, {"MAIL FROM:<" + m.from + ">", 250}, {"RCPT TO:<" + m.rcpt + ">", 250}, {"DATA", 354}} {
		if err := tc.PrintfLine("%s", step.cmd); err != nil {
			return err
		}
		if err := answer(step.want); err != nil {
			return err
		}
	}
	w := tc.DotWriter()
	if _, err := w.Write(m.raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return errHungUp
}

// sendOnce is one SMTP transaction on a new connection.
func (l *crashLoad) sendOnce(m *crashMail) error {
	conn, err := net.DialTimeout("tcp", l.addr, 5*time.Second)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	// Bounds for a daemon that hangs rather than dies: none is expected, and
	// one would show as a tempfail "connection" in the figures.
	c.CommandTimeout, c.SubmissionTimeout = 30*time.Second, 2*time.Minute
	if err := c.Hello("mta.crash.test"); err != nil {
		return err
	}
	if err := c.Mail(m.from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(m.rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(m.raw); err != nil {
		return err
	}
	// Close sends the final dot and waits for the answer, while the daemon
	// applies the mail: the moment a kill tests exactly once.
	select {
	case l.ending <- struct{}{}:
	default:
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Quit()
	return nil
}

// all returns the mails sent so far.
func (l *crashLoad) all() []*crashMail {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*crashMail(nil), l.mails...)
}
