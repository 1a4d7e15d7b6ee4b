package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secretFile is the name of the generated secret inside the data directory.
const secretFile = "secret"

// loadSecret returns the gateway secret: the environment variable
// TURNMAIL_SECRET, else gateway.secret from the config, else the contents of
// <data_dir>/secret, which is generated on first use. The secret is the text
// itself, whichever the source, so a generated one can be moved into the
// config or the environment unchanged.
func loadSecret(cfg *Config) ([]byte, error) {
	if s := os.Getenv("TURNMAIL_SECRET"); s != "" {
		return []byte(s), nil
	}
	if cfg.Gateway.Secret != "" {
		return []byte(cfg.Gateway.Secret), nil
	}
	path := filepath.Join(cfg.Gateway.DataDir, secretFile)
	secret, err := readSecretFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSecretFile(path)
	}
	return secret, err
}

// readSecretFile reads a secret file, refusing one that others can read.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat secret file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %04o, others may read it: run chmod 600 %s", path, perm, path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	secret := bytes.TrimSpace(buf.Bytes())
	if len(secret) == 0 {
		return nil, fmt.Errorf("secret file %s is empty: remove it to generate a new secret", path)
	}
	return secret, nil
}

// createSecretFile writes a new random secret to path, atomically: the file
// appears whole or not at all, and when two processes race the first one's
// secret wins and both return it.
func createSecretFile(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := []byte(hex.EncodeToString(raw))

	// CreateTemp makes the file with mode 0600.
	f, err := os.CreateTemp(dir, ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("create secret file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(append(secret, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write secret file: %w", err)
	}
	// Link, unlike Rename, never replaces an existing file.
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return readSecretFile(path)
	} else if err != nil {
		return nil, fmt.Errorf("create secret file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return secret, nil
}
