package smtpd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// CertFile is a server certificate kept in a pair of PEM files, as certbot
// and most deployment tools leave them, for tls.Config.GetCertificate.
//
// It is read again when either file changes: each handshake compares the
// files' modification time, size and inode with those of the pair in use
// (two stat calls, no file read), so a renewed certificate is in use from the
// next handshake on without a restart or a signal. Reload reads them again
// whatever they look like, for SIGHUP. A pair that does not load (a half
// written file, a key that does not match) leaves the certificate in use as
// it is and logs an ERROR once per change of the files: a renewal that went
// wrong must not take TLS away from a running gateway.
type CertFile struct {
	certPath, keyPath string
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	loaded pairStamp // the files as they were when cert was read
	failed pairStamp // the files as they were when they last failed to load
}

// pairStamp tells whether a certificate's files changed since it was taken.
type pairStamp struct{ cert, key fileStamp }

type fileStamp struct {
	mod  int64 // Unix nanoseconds
	size int64
	ino  uint64
	err  string // why the file could not be looked at; "" when it could
}

// NewCertFile reads the certificate at certPath and its private key at
// keyPath, both PEM. A pair that does not load is an error here: at start-up
// there is no certificate to keep instead. A nil log discards.
func NewCertFile(certPath, keyPath string, log *slog.Logger) (*CertFile, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &CertFile{certPath: certPath, keyPath: keyPath, log: log.With("component", "tls")}
	stamp := f.stamp()
	cert, err := f.load()
	if err != nil {
		return nil, err
	}
	f.cert, f.loaded = cert, stamp
	f.logLoaded("start", cert)
	return f, nil
}

// GetCertificate implements tls.Config.GetCertificate: the pair in use,
// read again first when its files changed.
func (f *CertFile) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stamp := f.stamp(); stamp != f.loaded && stamp != f.failed {
		f.reloadLocked("files changed", stamp)
	}
	return f.cert, nil
}

// Reload reads the files again, changed or not, and returns why they did not
// load; the certificate in use then stays.
func (f *CertFile) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloadLocked("reload", f.stamp())
}

func (f *CertFile) reloadLocked(why string, stamp pairStamp) error {
	cert, err := f.load()
	if err != nil {
		f.failed = stamp
		f.log.Error("tls certificate not reloaded, keeping the one in use", "err", err, "why", why,
			"serial", f.cert.Leaf.SerialNumber.String(), "not_after", f.cert.Leaf.NotAfter)
		return err
	}
	f.cert, f.loaded, f.failed = cert, stamp, pairStamp{}
	f.logLoaded(why, cert)
	return nil
}

// load reads the pair.
func (f *CertFile) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.certPath, f.keyPath)
	if err != nil {
		return nil, fmt.Errorf("tls certificate %s with key %s: %w", f.certPath, f.keyPath, err)
	}
	// LoadX509KeyPair has parsed the leaf since Go 1.23; the logs need it.
	if cert.Leaf == nil {
		return nil, fmt.Errorf("tls certificate %s: no leaf", f.certPath)
	}
	return &cert, nil
}

func (f *CertFile) logLoaded(why string, cert *tls.Certificate) {
	leaf := cert.Leaf
	level := slog.LevelInfo
	if time.Now().After(leaf.NotAfter) {
		// Loaded all the same: an expired certificate still encrypts, and
		// most MTAs deliver over it (RFC 7435 opportunistic TLS).
		level = slog.LevelWarn
	}
	f.log.Log(context.Background(), level, "tls certificate loaded", "why", why, "file", f.certPath,
		"subject", leaf.Subject.String(), "dns_names", leaf.DNSNames, "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter, "expired", time.Now().After(leaf.NotAfter))
}

func (f *CertFile) stamp() pairStamp {
	return pairStamp{cert: statFile(f.certPath), key: statFile(f.keyPath)}
}

// statFile follows symbolic links, as certbot's live/ directory is made of
// them: a renewal points them at new files, which have a new inode.
func statFile(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{err: err.Error()}
	}
	s := fileStamp{mod: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(st.Ino)
	}
	return s
}
