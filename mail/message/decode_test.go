package message

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestBase64Decoder(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, damage string
	}{
		{"padded", "aGVsbG8=", "hello", ""},
		{"lines", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "hello world", ""},
		{"missing padding of two", "aGVsbA", "hell", ""},
		{"missing padding of one", "aGVsbG8", "hello", ""},
		{"padding per chunk", "aGk=aGk=", "hihi", ""},
		{"blanks", " aGVs bG8= \t", "hello", ""},
		{"empty", "", "", ""},
		{"cut one character into a quantum", "aGVsbG8gAHEBA", "hello \x00q\x01", "base64 that ends in the middle of a byte"},
		{"characters outside the alphabet", "aGV*sbG8=", "hello", "1 characters that are not base64"},
		{"padding after one character", "aGVsb=", "hel", "padding in the middle of a byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := newDecoder("BASE64", strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(iotest.OneByteReader(d))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || d.Damage() != tc.damage {
				t.Errorf("decoded %q, damage %q; want %q, %q", got, d.Damage(), tc.want, tc.damage)
			}
		})
	}
}

func TestQuotedPrintableDecoder(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"escapes", "Gr=FC=DFe", "Gr\xfc\xdfe"},
		{"lower-case hex", "caf=c3=a9", "café"},
		{"soft break crlf", "one =\r\ntwo", "one two"},
		{"soft break lf", "one =\ntwo", "one two"},
		{"soft break with blanks", "one = \t\r\ntwo", "one two"},
		{"trailing blanks dropped", "one  \r\ntwo \t\nend  ", "one\r\ntwo\nend"},
		{"blanks inside kept", "a  b", "a  b"},
		{"stray equals kept", "2+2=4 =x", "2+2=4 =x"},
		{"equals at the end", "end=", "end="},
		{"one hex digit at the end", "end=4", "end=4"},
		{"encoded blank", "a=20\r\n", "a \r\n"},
		{"bare cr", "a\rb", "a\rb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := newDecoder("quoted-printable", strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(iotest.OneByteReader(d))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || d.Damage() != "" {
				t.Errorf("decoded %q, damage %q; want %q", got, d.Damage(), tc.want)
			}
		})
	}
}

// TestDecoderErrors: a failing source ends the read with our own error,
// once, never io.ErrUnexpectedEOF (which restic/chunker reads as "read
// again"), and a source that makes no progress is given up.
func TestDecoderErrors(t *testing.T) {
	for _, cte := range []string{"base64", "quoted-printable", "7bit", "x-unknown"} {
		t.Run(cte, func(t *testing.T) {
			d, _ := newDecoder(cte, io.MultiReader(strings.NewReader("aGVs"), iotest.ErrReader(io.ErrUnexpectedEOF)))
			_, err := io.ReadAll(d)
			if err == nil || err == io.ErrUnexpectedEOF {
				t.Fatalf("ReadAll: %v, want a wrapped error", err)
			}
			if _, again := d.Read(make([]byte, 8)); again != err {
				t.Errorf("second Read: %v, want the same error", again)
			}
			d, _ = newDecoder(cte, zeroReader{})
			if _, err := io.ReadAll(d); !errors.Is(err, errNoProgress) {
				t.Errorf("no progress: %v", err)
			}
		})
	}
}

// zeroReader returns (0, nil) for ever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }
