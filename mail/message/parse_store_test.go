package message_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// These tests parse into the real bbolt store, whose PutBlob feeds
// restic/chunker: an in-memory stand-in once hid that a truncated base64
// body made the chunker read again for ever.

// parseDeadline bounds one message: a hang fails the test instead of
// hanging it. It is far above what any message here takes.
const parseDeadline = 20 * time.Second

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "turnmail.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// parseWithDeadline parses raw into st, failing the test when Parse does not
// return within parseDeadline.
func parseWithDeadline(t *testing.T, st *store.Store, raw []byte) (*message.Message, error) {
	t.Helper()
	type result struct {
		m   *message.Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := message.Parse(bytes.NewReader(raw), st, nil)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		return r.m, r.err
	case <-time.After(parseDeadline):
		t.Fatalf("Parse did not return within %v: a read loops", parseDeadline)
		return nil, nil
	}
}

// checkStored reads every blob of m back from the store.
func checkStored(t *testing.T, st *store.Store, m *message.Message) {
	t.Helper()
	for _, a := range append(append([]message.Attachment(nil), m.Attachments...), m.Damaged...) {
		rc, err := st.OpenBlob(a.Blob.Digest)
		if err != nil {
			t.Errorf("%q: open blob: %v", a.Filename, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != a.Blob.Size || hex.EncodeToString(h.Sum(nil)) != a.Blob.Digest {
			t.Errorf("%q: read back %d bytes (%v), want %d with digest %s", a.Filename, n, err, a.Blob.Size, a.Blob.Digest)
		}
	}
}

// storeFixtures returns the corpus messages (when the development setup has
// them) and our own fixtures.
func storeFixtures(t *testing.T) []string {
	t.Helper()
	own, err := filepath.Glob(filepath.Join("testdata", "mime", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Logf("mail corpus not available at %s (only in the development setup): parsing own fixtures only", corpus)
		return own
	}
	shared, err := filepath.Glob(filepath.Join(corpus, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	return append(shared, own...)
}

func TestParseIntoStore(t *testing.T) {
	files := storeFixtures(t)
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/mime")
	}
	st := openStore(t)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := parseWithDeadline(t, st, raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkStored(t, st, m)
		})
	}
}

// TestParseTruncatedBase64IntoStore is the hang of issue 7: an Exchange
// mail whose base64 photo ends one character into a quantum ("AHEBA").
func TestParseTruncatedBase64IntoStore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "mime", "exchange-ko-truncated-photo.eml"))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	m, err := parseWithDeadline(t, st, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Damaged) != 1 || m.Damaged[0].Filename != "사진.JPG" || m.Damaged[0].Blob.Size == 0 {
		t.Errorf("Damaged %+v, want the photo with what decoded", m.Damaged)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "ATT00001.txt" {
		t.Errorf("Attachments %+v", m.Attachments)
	}
	checkStored(t, st, m)
}
