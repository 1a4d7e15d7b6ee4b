package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooBig is returned by NewSpool when the message exceeds its size limit.
var ErrTooBig = errors.New("mail: message too big")

// Spool is a received message held in a temporary file, so that parsing and
// storing never need the whole message in memory and a failed delivery can
// read it again.
type Spool struct {
	f      *os.File
	size   int64
	digest string
}

// NewSpool copies r into a new temporary file in dir ("" for the system's),
// hashing it on the way. A max above zero bounds the size: beyond it the spool
// is discarded and ErrTooBig returned.
func NewSpool(dir string, r io.Reader, max int64) (*Spool, error) {
	f, err := os.CreateTemp(dir, "turnmail-spool-*.eml")
	if err != nil {
		return nil, fmt.Errorf("create spool: %w", err)
	}
	// Unlink at once: the open descriptor keeps the data, and a crash leaves
	// nothing behind to clean up.
	os.Remove(f.Name())
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err == nil && max > 0 && n > max {
		err = ErrTooBig
	}
	if err != nil {
		f.Close()
		if errors.Is(err, ErrTooBig) {
			return nil, err
		}
		return nil, fmt.Errorf("write spool: %w", err)
	}
	return &Spool{f: f, size: n, digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// Size is the message's length in bytes.
func (s *Spool) Size() int64 { return s.size }

// Digest is the lower-case hex SHA-256 of the whole message.
func (s *Spool) Digest() string { return s.digest }

// Reader returns a reader over the whole message, independent of any other
// reader returned before.
func (s *Spool) Reader() io.Reader { return io.NewSectionReader(s.f, 0, s.size) }

// Close discards the spool.
func (s *Spool) Close() error { return s.f.Close() }
