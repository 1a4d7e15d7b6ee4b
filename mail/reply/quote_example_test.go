package reply_test

import (
	"fmt"

	"github.com/turnmail/turnmail/mail/reply"
)

// ExampleExtract strips a German Gmail reply: the attribution Gmail
// wrapped over two lines and the quote below it, the sign-off and name, and
// the iPhone tail. Everything cut is kept in rest.
func ExampleExtract() {
	body := "Passt so, bitte einreichen.\r\n\r\n" +
		"Viele Grüße\r\nJana\r\n\r\n" +
		"Von meinem iPhone gesendet\r\n\r\n" +
		"Katharina Müller <katharina.mueller@example.de> schrieb am Di., 16. Aug. 2016\r\n" +
		"um 12:52 Uhr:\r\n\r\n" +
		"> Hier ist die neue Version.\r\n"
	note, rest := reply.Extract(body)
	fmt.Printf("reply:\n%s\n\nrest:\n%s\n", note, rest)
	// Output:
	// reply:
	// Passt so, bitte einreichen.
	//
	// rest:
	// Viele Grüße
	// Jana
	//
	// Von meinem iPhone gesendet
	//
	// Katharina Müller <katharina.mueller@example.de> schrieb am Di., 16. Aug. 2016
	// um 12:52 Uhr:
	//
	// > Hier ist die neue Version.
}
