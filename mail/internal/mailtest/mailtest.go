// Package mailtest holds what the tests of the mail packages share: a
// throwaway TLS certificate, an in-memory blob store for composing, and a
// polling wait. It is imported by tests only.
package mailtest

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/turnmail/turnmail/internal/testutil"
	"github.com/turnmail/turnmail/mail"
)

// SelfSigned returns a server TLS config for 127.0.0.1 with a fresh
// certificate, from a CA of its own (testutil.NewCA), and a client config
// that trusts that CA.
func SelfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	ca := testutil.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: ca.Pool()}
}

// Blobs is an in-memory mail.BlobOpener: digest → content.
type Blobs map[string][]byte

// OpenBlob opens the content of digest.
func (b Blobs) OpenBlob(digest string) (io.ReadCloser, error) {
	data, ok := b[digest]
	if !ok {
		return nil, fmt.Errorf("blob %s not found", digest)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Add stores data and returns an attachment of it.
func (b Blobs) Add(name, ctype string, data []byte) mail.OutgoingAttachment {
	sum := sha256.Sum256(data)
	d := hex.EncodeToString(sum[:])
	b[d] = data
	return mail.OutgoingAttachment{Filename: name, ContentType: ctype, Blob: mail.Blob{Digest: d, Size: int64(len(data))}}
}

// WaitFor polls cond until it holds or a generous deadline passes.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
