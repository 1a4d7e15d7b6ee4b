// Package mailtest holds what the tests of the mail packages share: a
// throwaway TLS certificate, an in-memory blob store for composing, and a
// polling wait. It is imported by tests only.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
)

// SelfSigned returns a server TLS config for 127.0.0.1 with a fresh
// self-signed certificate, and a client config that trusts it.
func SelfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smarthost.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
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
