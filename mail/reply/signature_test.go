package reply

import (
	"strings"
	"testing"
)

func TestStripSignature(t *testing.T) {
	tests := []struct {
		name, text, body, sig string
	}{
		{"rfc 3676 delimiter", "Agreed.\n\n-- \nJane Doe\nACME Legal\n+1 555 0100\n", "Agreed.", "-- \nJane Doe\nACME Legal\n+1 555 0100"},
		{"last delimiter wins", "Agreed.\n-- \nnot a sig\n-- \nJane\n", "Agreed.\n-- \nnot a sig", "-- \nJane"},
		{"long tail below rfc delimiter", "Hi\n-- \n1\n2\n3\n4\n5\n6\n7\n8\n", "Hi", "-- \n1\n2\n3\n4\n5\n6\n7\n8"},
		{"bare dashes with short tail", "Agreed.\n\n--\nJane Doe\nACME Legal\n", "Agreed.", "--\nJane Doe\nACME Legal"},
		{"bare dashes with long tail", "Agreed.\n--\n1\n2\n3\n4\n5\n6\n7\n", "Agreed.\n--\n1\n2\n3\n4\n5\n6\n7", ""},
		{"iphone", "Fine.\n\nSent from my iPhone\n", "Fine.", "Sent from my iPhone"},
		{"android", "Fine.\n\nSent from my Android device\n", "Fine.", "Sent from my Android device"},
		{"outlook ios", "Fine.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n", "Fine.", "Get Outlook for iOS<https://aka.ms/o0ukef>"},
		{"outlook android", "Fine.\r\n\r\nGet Outlook for Android\r\n", "Fine.", "Get Outlook for Android"},
		{"windows mail", "Fine.\n\nSent from Mail for Windows 10\n\n", "Fine.", "Sent from Mail for Windows 10"},
		{"french iphone", "D'accord.\n\nEnvoyé de mon iPhone\n", "D'accord.", "Envoyé de mon iPhone"},
		{"german iphone", "Gut.\n\nVon meinem iPhone gesendet\n", "Gut.", "Von meinem iPhone gesendet"},
		{"mobile tail under a signature", "Ok\n-- \nJane\n\nSent from my iPhone", "Ok", "-- \nJane\n\nSent from my iPhone"},
		{"signature under a mobile tail", "Ok\n\nSent from my iPhone\n-- \nJane", "Ok", "Sent from my iPhone\n-- \nJane"},
		{"mobile phrase inside the text", "Sent from my iPhone, as you asked.\nThe draft follows.", "Sent from my iPhone, as you asked.\nThe draft follows.", ""},
		{"no signature", "Just text.\n", "Just text.", ""},
		{"only a signature", "-- \nJane", "", "-- \nJane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, sig := StripSignature(tt.text)
			if body != tt.body || sig != tt.sig {
				t.Errorf("StripSignature(%q)\n got %q, %q\nwant %q, %q", tt.text, body, sig, tt.body, tt.sig)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	body := "Signed copy attached.\n\nJane\n-- \nJane Doe, ACME\n\n" +
		"On Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\n> Please sign.\n"
	reply, rest := Extract(body)
	if want := "Signed copy attached."; reply != want {
		t.Errorf("reply %q, want %q", reply, want)
	}
	if want := "Jane\n\n-- \nJane Doe, ACME\n\nOn Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\n> Please sign."; rest != want {
		t.Errorf("rest %q, want %q", rest, want)
	}

	reply, rest = Extract("Thanks!\n\nSent from my iPhone")
	if reply != "Thanks!" || rest != "Sent from my iPhone" {
		t.Errorf("mobile tail only: got %q, %q", reply, rest)
	}
}

// BenchmarkExtract strips a ~20 KB top-posted reply: a few lines of
// text over a long quoted thread with nested attributions and an Outlook
// block, the common worst case.
func BenchmarkExtract(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("Hi Bob,\n\nThe signed copy is attached; clause 4 is as agreed.\n\nJane\n-- \nJane Doe, ACME Legal\n\n")
	sb.WriteString("On Tue, Mar 5, 2024 at 9:12 AM Bob Smith <\nbob@example.com> wrote:\n\n")
	for i := 0; sb.Len() < 14<<10; i++ {
		sb.WriteString("> Paragraph of the earlier message, long enough to wrap like real text does in mail.\n")
		if i%20 == 19 {
			sb.WriteString(">\n> On Mon, Mar 4, 2024 at 5:00 PM Jane Doe <jane@example.org> wrote:\n>\n")
		}
	}
	sb.WriteString("\n________________________________\nFrom: Carol <carol@example.net>\nSent: Friday, March 1, 2024\nTo: Bob\nSubject: contract\n\n")
	for sb.Len() < 20<<10 {
		sb.WriteString("Unquoted text of the oldest message in the thread, as Outlook leaves it.\n")
	}
	body := sb.String()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Extract(body)
	}
}
