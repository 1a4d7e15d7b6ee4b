package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The header of a handoff as turnmail writes it (testdata/handoff.eml is one
// from a real run, its body cut short) gives the collaboration, the
// recipient and their tagged address.
func TestReadGatewayMail(t *testing.T) {
	f, err := os.Open("testdata/handoff.eml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	at := time.Date(2026, 12, 1, 19, 18, 9, 0, time.UTC)
	g, err := readGatewayMail(f, at)
	if err != nil {
		t.Fatal(err)
	}
	want := gatewayMail{kind: "handoff", collab: "tlpuin", to: "b-u7mfx4mv-1@axe.test",
		replyTo: "collab+tlpuin.p2.jra5glph7h7tm@localhost", at: at}
	if *g != want {
		t.Errorf("got %+v\nwant %+v", *g, want)
	}

	g, err = readGatewayMail(strings.NewReader("To: =?utf-8?q?B=C3=A9a?= <Bea@AXE.test>\r\nX-Turnmail-Kind: confirm\r\n\r\n"), at)
	if err != nil || g.to != "bea@axe.test" || g.kind != "confirm" {
		t.Errorf("named recipient: %+v, %v", g, err)
	}
}

// fakeGateway plays turnmail's part for a reply run: a mail to the plain
// address starts a collaboration whose turn goes to the To recipient; a
// mail to a tagged address from the person it names ends that person's turn
// if they hold it. Each mail gets a handoff to the new turn holder and a
// confirmation to the sender, each with the recipient's tagged address as
// Reply-To, handed to send.
type fakeGateway struct {
	t    *testing.T
	send func(to string, msg []byte)

	mu      sync.Mutex
	collabs map[string]*fakeCollab
	errs    []string
	replies int
}

type fakeCollab struct {
	people [2]string // owner, other party
	holder int
}

func (g *fakeGateway) tag(cid string, p int) string {
	return fmt.Sprintf("collab+%s.%d@gw.test", cid, p)
}

func (g *fakeGateway) deliver(rcpt string, msg []byte) error {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return err
	}
	from, err := mail.ParseAddress(m.Header.Get("From"))
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var cid string
	var c *fakeCollab
	if rcpt == "collab@gw.test" {
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil {
			return err
		}
		cid = fmt.Sprintf("c%d", len(g.collabs))
		c = &fakeCollab{people: [2]string{from.Address, to.Address}, holder: 1}
		g.collabs[cid] = c
	} else {
		local, _, _ := strings.Cut(strings.TrimPrefix(rcpt, "collab+"), "@")
		var who string
		cid, who, _ = strings.Cut(local, ".")
		p := map[string]int{"0": 0, "1": 1}[who]
		c = g.collabs[cid]
		switch {
		case c == nil:
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such collaboration"}
		case c.people[p] != from.Address:
			g.errs = append(g.errs, fmt.Sprintf("%s wrote to %s's address", from.Address, c.people[p]))
		case c.holder != p:
			g.errs = append(g.errs, fmt.Sprintf("%s replied out of turn in %s", from.Address, cid))
		default:
			c.holder = 1 - p
			g.replies++
		}
	}
	sender := 1 - c.holder
	g.send(c.people[c.holder], gatewayMailBytes(cid, "handoff", c.people[c.holder], g.tag(cid, c.holder)))
	g.send(c.people[sender], gatewayMailBytes(cid, "confirm", c.people[sender], g.tag(cid, sender)))
	return nil
}

func gatewayMailBytes(cid, kind, to, tag string) []byte {
	return fmt.Appendf(nil, "From: \"Someone (via turnmail)\" <collab@gw.test>\r\nTo: <%s>\r\nReply-To: <%s>\r\n"+
		"X-Turnmail-Collab: %s\r\nX-Turnmail-Kind: %s\r\nSubject: Re: Load test\r\n\r\nYour turn.\r\n", to, tag, cid, kind)
}

// start serves the fake gateway over SMTP on loopback.
func (g *fakeGateway) start() string {
	g.collabs = map[string]*fakeCollab{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		g.t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &fakeSession{g: g}, nil }))
	srv.Domain = "gw.test"
	go srv.Serve(l)
	g.t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

type fakeSession struct {
	g    *fakeGateway
	rcpt string
}

func (*fakeSession) Mail(string, *smtp.MailOptions) error        { return nil }
func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.rcpt = to; return nil }
func (*fakeSession) Reset()                                      {}
func (*fakeSession) Logout() error                               { return nil }
func (s *fakeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.g.deliver(s.rcpt, b)
}

// A reply run reads the tagged addresses back from the gateway's mail, in
// its outbox or at the sink, and every reply then ends a turn, the two
// parties taking turns, each reply's handoff matched to it.
func TestReplyRun(t *testing.T) {
	const mails = 30
	for _, via := range []string{"outbox", "sink"} {
		t.Run(via, func(t *testing.T) {
			o := testOptions("", mails)
			o.mode, o.collabs = "reply", 4
			g := &fakeGateway{t: t}
			switch via {
			case "outbox":
				o.outbox = t.TempDir()
				var n int
				g.send = func(_ string, msg []byte) {
					// Written aside and renamed, as turnmail does, so that
					// the outbox never shows half a file.
					n++
					tmp := filepath.Join(o.outbox, fmt.Sprintf(".tmp-%d", n))
					if err := os.WriteFile(tmp, msg, 0o600); err != nil {
						t.Error(err)
					}
					if err := os.Rename(tmp, filepath.Join(o.outbox, fmt.Sprintf("%04d.eml", n))); err != nil {
						t.Error(err)
					}
				}
			case "sink":
				o.sink = "127.0.0.1:0"
				sinkAddr := make(chan string, 1)
				o.sinkStarted = func(addr string) { sinkAddr <- addr }
				var once sync.Once
				var addr string
				g.send = func(to string, msg []byte) {
					once.Do(func() { addr = <-sinkAddr })
					// As turnmail with [outbound] starttls = false.
					c, err := smtp.Dial(addr)
					if err == nil {
						err = c.SendMail("collab@gw.test", []string{to}, bytes.NewReader(msg))
						c.Close()
					}
					if err != nil {
						t.Error(err)
					}
				}
			}
			o.addr = g.start()
			r, err := load(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Accepted != mails || r.Failed != 0 {
				t.Errorf("accepted %d, failed %d (%v)", r.Accepted, r.Failed, r.Failures)
			}
			if h := r.Handoff; h == nil || h.Where != via || h.Seen != mails || h.Missing != 0 || h.Unreadable != 0 {
				t.Errorf("handoffs %+v; want %d seen at the %s", h, mails, via)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if len(g.collabs) != 4 || g.replies != mails || len(g.errs) > 0 {
				t.Errorf("the gateway has %d collaborations, took %d replies as turns; want 4, %d; errors: %v",
					len(g.collabs), g.replies, mails, g.errs)
			}
		})
	}
}
