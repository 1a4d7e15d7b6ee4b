package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"
)

// scenario makes the mails of a run. Mode "new" starts one collaboration a
// mail: from owner a-RUN-N at the first domain to the gateway, To other
// party b-RUN-N at the second domain, with one attachment. Mode "reply"
// starts a few collaborations the same way, then has their turn holders
// reply to their tagged addresses with a new version of the file, each reply
// ending the turn, the two parties of a collaboration taking turns.
//
// RUN is in every address and Message-ID, so that one run's mails never
// count against another's senders or look like its redeliveries, and so that
// each mail's handoff is recognised by its recipient alone.
type scenario struct {
	run                  string
	gateway              string
	fromDomain, toDomain string
	size                 int          // bytes of each random attachment
	files                []attachment // when set, the attachments, in turn, instead
	key                  [32]byte     // seeds the random attachments
}

type attachment struct {
	name string
	data []byte
	// random, when set instead of data, makes the content: size bytes of
	// it, read as they are encoded.
	random *rand.ChaCha8
	size   int
}

// collab is one collaboration of a reply run, as read back from the
// gateway's mail.
type collab struct {
	n            int    // its number in the run
	id           string // the X-Turnmail-Collab of its mail
	owner, other string // the two leaders' addresses, lower-case
	// tags holds each leader's tagged address, the Reply-To of the mail the
	// gateway sent them.
	tags map[string]string
}

// people returns the owner's and the other party's addresses of
// collaboration n, lower-case as the gateway writes them.
func (s *scenario) people(n int) (owner, other string) {
	return fmt.Sprintf("a-%s-%d@%s", s.run, n, s.fromDomain), fmt.Sprintf("b-%s-%d@%s", s.run, n, s.toDomain)
}

// start is the mail that starts collaboration n: its handoff goes to the
// other party. serial numbers the attachment's content.
func (s *scenario) start(n, serial int) *outMail {
	owner, other := s.people(n)
	att := s.attachment(serial, 0)
	var h strings.Builder
	fmt.Fprintf(&h, "From: <%s>\r\nTo: <%s>\r\nCc: <%s>\r\n", owner, other, s.gateway)
	fmt.Fprintf(&h, "Subject: Load test %d (%s)\r\n", n, s.run)
	msgID := fmt.Sprintf("<load-%s-start%d@%s>", s.run, n, s.fromDomain)
	m := &outMail{from: owner, rcpt: []string{s.gateway}, msgID: msgID, await: other}
	return s.compose(m, h.String(), "Here is our draft of the contract.", att)
}

// reply is round r of collaboration c: the other party replies in even
// rounds (it holds the turn after the start), the owner in odd ones. Its
// file is version r+2, and its handoff goes to the one who did not send it.
func (s *scenario) reply(c *collab, r, serial int) *outMail {
	from, to := c.other, c.owner
	if r%2 == 1 {
		from, to = to, from
	}
	tag := c.tags[from]
	att := s.attachment(serial, r+1)
	var h strings.Builder
	fmt.Fprintf(&h, "From: <%s>\r\nTo: <%s>\r\n", from, tag)
	fmt.Fprintf(&h, "Subject: Re: Load test %d (%s)\r\n", c.n, s.run)
	msgID := fmt.Sprintf("<load-%s-reply%d.%d@%s>", s.run, c.n, r, strings.SplitN(from, "@", 2)[1])
	m := &outMail{from: from, rcpt: []string{tag}, msgID: msgID, await: to}
	return s.compose(m, h.String(), "Edited, see clause 4.\r\n\r\nOn Monday the other side wrote:\r\n> Here is our draft.", att)
}

// attachment returns the file of a mail: with files, the i-th (wrapping
// around); else size random bytes from serial, different for every mail so
// that no store can dedupe one mail's attachment against another's.
func (s *scenario) attachment(serial, i int) attachment {
	if len(s.files) > 0 {
		f := s.files[i%len(s.files)]
		return attachment{name: "contract" + filepath.Ext(f.name), data: f.data}
	}
	key := s.key
	binary.LittleEndian.PutUint64(key[24:], uint64(serial))
	return attachment{name: "contract.docx", random: rand.NewChaCha8(key), size: s.size}
}

// compose writes m's message, multipart/mixed: header fields h, the text,
// and the attachment in base64.
func (s *scenario) compose(m *outMail, h, text string, att attachment) *outMail {
	const boundary = "=_turnmail-load"
	b := newMailBuf(1024 + len(h) + len(text) + base64LinesLen(att.contentLen()))
	b = append(b, h...)
	b = fmt.Appendf(b, "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z), m.msgID)
	b = fmt.Appendf(b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	b = fmt.Appendf(b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", boundary, text)
	b = fmt.Appendf(b, "--%s\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=%q\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n", boundary, contentType(att.name), att.name)
	head := len(b)
	b = att.appendBase64(b)
	tail := len(b)
	b = fmt.Appendf(b, "--%s--\r\n", boundary)
	m.data = b
	// Base64 lines are in wire form as made; what is around them holds the
	// flags' addresses and domains, which could hold anything.
	m.wire = inWireForm(b[:head]) && inWireForm(b[tail:])
	return m
}

// contentLen is the attachment's size in bytes.
func (a attachment) contentLen() int {
	if a.random != nil {
		return a.size
	}
	return len(a.data)
}

// appendBase64 appends the attachment to b in base64 lines.
func (a attachment) appendBase64(b []byte) []byte {
	if a.random == nil {
		return appendBase64Lines(b, a.data)
	}
	// A block at a time, a whole number of lines and of the generator's 8
	// bytes: the same bytes and lines as in one piece, without making and
	// clearing the whole of it first.
	var block [64 * base64LineBytes]byte
	for n := a.size; n > 0; n -= len(block) {
		p := block[:min(n, len(block))]
		a.random.Read(p)
		b = appendBase64Lines(b, p)
	}
	return b
}

func contentType(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".pdf":
		return "application/pdf"
	}
	return "application/octet-stream"
}
