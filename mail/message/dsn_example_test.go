package message_test

import (
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
)

// discardBlobs stores nothing: the report below returns only the header of
// the message it is about.
type discardBlobs struct{}

func (discardBlobs) PutBlob(r io.Reader) (mail.Blob, error) {
	n, err := io.Copy(io.Discard, r)
	return mail.Blob{Size: n}, err
}

// ExampleReadReport reads a delivery status notification that came back to
// a bounce address: the message is parsed once for its header and text,
// and the raw message read again for its status part.
func ExampleReadReport() {
	raw := "From: MAILER-DAEMON@mx.axe.example\r\n" +
		"To: collab+b.2a.7kq3m@gw.example\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"Your message could not be delivered.\r\n" +
		"--b\r\n" +
		"Content-Type: message/delivery-status\r\n" +
		"\r\n" +
		"Reporting-MTA: dns; mx.axe.example\r\n" +
		"\r\n" +
		"Final-Recipient: rfc822; bob@axe.example\r\n" +
		"Action: failed\r\n" +
		"Status: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <bob@axe.example>: Recipient address\r\n" +
		" rejected: User unknown\r\n" +
		"--b\r\n" +
		"Content-Type: text/rfc822-headers\r\n" +
		"\r\n" +
		"Subject: Your turn: Services contract\r\n" +
		"--b--\r\n"
	msg, err := message.Parse(strings.NewReader(raw), discardBlobs{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	r := message.ReadReport(strings.NewReader(raw), msg)
	fmt.Println(r.Failed, r.Action, r.Recipient)
	fmt.Println(r.Said.Code, r.Said.Enhanced, r.Said.Text)
	// Output:
	// true failed bob@axe.example
	// 550 5.1.1 <bob@axe.example>: Recipient address rejected: User unknown
}
