package main

import (
	"bytes"
	"encoding/base64"
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
	data := make([]byte, s.size)
	rand.NewChaCha8(key).Read(data)
	return attachment{name: "contract.docx", data: data}
}

// compose writes m's message, multipart/mixed: header fields h, the text,
// and the attachment in base64.
func (s *scenario) compose(m *outMail, h, text string, att attachment) *outMail {
	const boundary = "=_turnmail-load"
	var b bytes.Buffer
	b.Grow(len(att.data)*4/3 + len(att.data)/38 + 1024)
	b.WriteString(h)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z), m.msgID)
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", boundary, text)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=%q\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n", boundary, contentType(att.name), att.name)
	head := b.Len()
	writeBase64Lines(&b, att.data)
	tail := b.Len()
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	m.data = b.Bytes()
	// Base64 lines are in wire form as made; what is around them holds the
	// flags' addresses and domains, which could hold anything.
	m.wire = inWireForm(m.data[:head]) && inWireForm(m.data[tail:])
	return m
}

// writeBase64Lines writes data in base64, 76 characters a line (RFC 2045
// §6.8), each line ended by CRLF.
func writeBase64Lines(b *bytes.Buffer, data []byte) {
	const perLine = 57 // bytes that encode to 76 characters
	line := make([]byte, 76)
	for len(data) > 0 {
		n := min(perLine, len(data))
		m := base64.StdEncoding.EncodedLen(n)
		base64.StdEncoding.Encode(line, data[:n])
		b.Write(line[:m])
		b.WriteString("\r\n")
		data = data[n:]
	}
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
