package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// TestWriteBase64Lines: whatever the size, and however the source hands
// its bytes over, the output is the base64 of the input cut into lines of
// 76 characters separated by CRLF, as RFC 2045 §6.8 has it.
func TestWriteBase64Lines(t *testing.T) {
	for _, size := range []int{0, 1, 2, 56, 57, 58, 114, 57*64 - 1, 57 * 64, 57*64 + 1, 3*57*64 + 5, 200_000} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(size)}).Read(data)
		enc := base64.StdEncoding.EncodeToString(data)
		var want []string
		for len(enc) > 76 {
			want, enc = append(want, enc[:76]), enc[76:]
		}
		if enc != "" {
			want = append(want, enc)
		}
		for name, r := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(data) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"halves":   func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		} {
			var out bytes.Buffer
			n, err := writeBase64Lines(&out, r())
			if err != nil || n != int64(size) {
				t.Fatalf("%d bytes, %s: read %d, %v", size, name, n, err)
			}
			if got := out.String(); got != strings.Join(want, "\r\n") {
				t.Errorf("%d bytes, %s: lines differ (%d bytes out, want %d)", size, name, len(got), len(strings.Join(want, "\r\n")))
			}
		}
	}
}

// TestWriteBase64LinesError: a source's error is returned, with what was
// read before it.
func TestWriteBase64LinesError(t *testing.T) {
	r := io.MultiReader(bytes.NewReader(make([]byte, 10_000)), iotest.ErrReader(io.ErrClosedPipe))
	n, err := writeBase64Lines(io.Discard, r)
	if err != io.ErrClosedPipe || n != 10_000 {
		t.Errorf("read %d, %v; want 10000, %v", n, err, io.ErrClosedPipe)
	}
}

func BenchmarkWriteBase64Lines(b *testing.B) {
	data := make([]byte, 200_000)
	rand.NewChaCha8([32]byte{}).Read(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := writeBase64Lines(io.Discard, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
