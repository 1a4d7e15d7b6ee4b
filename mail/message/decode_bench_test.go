package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"testing"
)

// benchAttachment is 200 KB of bytes that do not compress, as a docx or a
// photo is: the size of the attachments of issue 11's ingest profile.
func benchAttachment() []byte {
	b := make([]byte, 200<<10)
	rng := rand.NewChaCha8([32]byte{11})
	rng.Read(b)
	return b
}

// wrapLines breaks s into lines of the given lengths, taken in turn, each
// ended by eol.
func wrapLines(s []byte, lengths []int, eol string) []byte {
	var out bytes.Buffer
	for i := 0; len(s) > 0; i++ {
		n := min(lengths[i%len(lengths)], len(s))
		out.Write(s[:n])
		out.WriteString(eol)
		s = s[n:]
	}
	return out.Bytes()
}

// benchQP is 200 KB of quoted-printable as mail clients write it, of the
// words given: mostly plain, an escape for each byte that is not ASCII,
// soft breaks at 76.
func benchQP(words []string, eol string) []byte {
	var text bytes.Buffer
	for i := 0; text.Len() < 200<<10; i++ {
		text.WriteString(words[i%len(words)])
		if i%17 == 16 {
			text.WriteString(eol)
		} else {
			text.WriteByte(' ')
		}
	}
	var out bytes.Buffer
	line := 0
	for _, c := range text.Bytes() {
		var enc []byte
		switch {
		case c == '\r' || c == '\n':
			out.WriteByte(c)
			line = 0
			continue
		case c == '=' || c >= 0x80:
			enc = []byte{'=', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15]}
		default:
			enc = []byte{c}
		}
		if line+len(enc) > 75 {
			out.WriteString("=" + eol)
			line = 0
		}
		out.Write(enc)
		line += len(enc)
	}
	return out.Bytes()
}

// benchDecode reads the decoded body of in with a 32 KB buffer, as the
// store's chunker does. Throughput is of the encoded input: what the
// gateway is handed.
func benchDecode(b *testing.B, cte string, in []byte) {
	b.Helper()
	buf := make([]byte, 32<<10)
	src := bytes.NewReader(in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(in)
		d, err := newDecoder(cte, src)
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := d.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if d.Damage() != "" {
			b.Fatal(d.Damage())
		}
	}
}

func BenchmarkDecodeBase64(b *testing.B) {
	enc := []byte(base64.StdEncoding.EncodeToString(benchAttachment()))
	b.Run("76-crlf", func(b *testing.B) {
		benchDecode(b, "base64", wrapLines(enc, []int{76}, "\r\n"))
	})
	b.Run("odd-lf", func(b *testing.B) {
		benchDecode(b, "base64", wrapLines(enc, []int{73, 61, 77, 19, 128}, "\n"))
	})
}

// German has an escape every few words, English next to none: the text
// runs between two '=' are short in one, a line long in the other.
var (
	benchGerman  = []string{"Grüße", "aus", "München", "über", "die", "Änderung", "am", "Vertrag,", "bitte", "prüfen", "und", "zurück", "schicken."}
	benchEnglish = []string{"Greetings", "from", "Munich", "about", "the", "change", "to", "the", "contract,", "please", "check", "and", "send", "it", "back."}
)

func BenchmarkDecodeQuotedPrintable(b *testing.B) {
	b.Run("crlf", func(b *testing.B) { benchDecode(b, "quoted-printable", benchQP(benchGerman, "\r\n")) })
	b.Run("lf", func(b *testing.B) { benchDecode(b, "quoted-printable", benchQP(benchGerman, "\n")) })
	b.Run("english-crlf", func(b *testing.B) { benchDecode(b, "quoted-printable", benchQP(benchEnglish, "\r\n")) })
}
