package message

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse checks that Parse returns, within a bound of time, on any input,
// and never panics; seeded from testdata/mime and a few hostile shapes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "mime", "*.eml"))
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte(crlf(nestedMixed)))
	f.Add([]byte(tnefMail(tnefStream(tnefFile("A.TXT", []byte("a"))))))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\r\n\r\nAHEBA"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		done := make(chan error, 1)
		go func() {
			_, err := Parse(bytes.NewReader(raw), &parseBlobs{}, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrTooManyAttachments) {
				t.Errorf("Parse: unexpected error %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse of %d bytes did not return within 10 s", len(raw))
		}
	})
}
