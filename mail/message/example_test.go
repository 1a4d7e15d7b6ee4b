package message_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// ExampleParse reads a reply with one attachment. The attachment streams
// into the BlobWriter, here turnmail's own store, and the Message keeps only
// its Blob.
func ExampleParse() {
	dir, err := os.MkdirTemp("", "turnmail-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "turnmail.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	raw := "From: Bea Lind <Bea@Globex.example>\r\n" +
		"To: collab@gw.example\r\n" +
		"Subject: Re: Contract\r\n" +
		"Message-ID: <turn3@mail.globex.example>\r\n" +
		"In-Reply-To: <h2.k7p2qz@gw.example>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n" +
		"\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Clause 4 reworded.\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain; name=notes.txt\r\n" +
		"Content-Disposition: attachment; filename=notes.txt\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"aGVsbG8sIHdvcmxkCg==\r\n" +
		"--b1--\r\n"
	m, err := message.Parse(strings.NewReader(raw), st, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.From.Addr, m.MessageID, m.InReplyTo)
	fmt.Printf("%q\n", m.Text)
	for _, a := range m.Attachments {
		fmt.Println(a.Filename, a.ContentType, a.Blob.Size, a.Blob.Digest[:12])
		r, err := st.OpenBlob(a.Blob.Digest)
		if err != nil {
			log.Fatal(err)
		}
		content, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%q\n", content)
	}
	// Output:
	// bea@globex.example turn3@mail.globex.example [h2.k7p2qz@gw.example]
	// "Clause 4 reworded."
	// notes.txt text/plain 13 853ff93762a0
	// "hello, world\n"
}

// ExampleDMARCVerdict trusts only the gateway's own receiving server
// (mx.gw.example). The sender forged a pass under that id, but below the
// real field, which the server put on top; a pass from a server nobody
// trusts counts for nothing either.
func ExampleDMARCVerdict() {
	fields := []string{
		"mx.gw.example; spf=pass smtp.mailfrom=globex.example; dmarc=fail header.from=globex.example",
		"mx.gw.example; dmarc=pass header.from=globex.example",
	}
	trusted := []string{"mx.gw.example"}
	fmt.Printf("%q\n", message.DMARCVerdict(fields, trusted, "globex.example"))
	fmt.Printf("%q\n", message.DMARCVerdict(fields[1:], trusted, "globex.example"))
	fmt.Printf("%q\n", message.DMARCVerdict([]string{"mx.elsewhere.example; dmarc=pass header.from=globex.example"}, trusted, "globex.example"))
	// Output:
	// "fail"
	// "pass"
	// ""
}
