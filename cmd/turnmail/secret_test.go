package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	newConfig := func(t *testing.T, secret string) *Config {
		t.Helper()
		return &Config{Gateway: GatewayConfig{Secret: secret, DataDir: filepath.Join(t.TempDir(), "data")}}
	}
	check := func(t *testing.T, cfg *Config, want string) {
		t.Helper()
		got, err := loadSecret(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("secret %q, want %q", got, want)
		}
	}

	t.Run("environment wins", func(t *testing.T) {
		t.Setenv("TURNMAIL_SECRET", "from-env")
		check(t, newConfig(t, "from-config"), "from-env")
	})
	t.Run("config", func(t *testing.T) {
		t.Setenv("TURNMAIL_SECRET", "")
		cfg := newConfig(t, "from-config")
		check(t, cfg, "from-config")
		if _, err := os.Stat(filepath.Join(cfg.Gateway.DataDir, "secret")); err == nil {
			t.Error("a secret file was written although the config has one")
		}
	})
	t.Run("generated", func(t *testing.T) {
		t.Setenv("TURNMAIL_SECRET", "")
		cfg := newConfig(t, "")
		first, err := loadSecret(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).Match(first) {
			t.Errorf("generated secret %q is not 32 hex-encoded bytes", first)
		}
		path := filepath.Join(cfg.Gateway.DataDir, "secret")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("secret file mode %04o, want 0600", perm)
		}
		// The next start reads the same secret back.
		check(t, cfg, string(first))
		entries, err := os.ReadDir(cfg.Gateway.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("data directory holds %d files, want only the secret", len(entries))
		}
	})
	t.Run("existing file", func(t *testing.T) {
		t.Setenv("TURNMAIL_SECRET", "")
		cfg := newConfig(t, "")
		os.MkdirAll(cfg.Gateway.DataDir, 0o700)
		path := filepath.Join(cfg.Gateway.DataDir, "secret")
		if err := os.WriteFile(path, []byte("hand-made\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		check(t, cfg, "hand-made")
	})
	t.Run("loose mode", func(t *testing.T) {
		t.Setenv("TURNMAIL_SECRET", "")
		cfg := newConfig(t, "")
		os.MkdirAll(cfg.Gateway.DataDir, 0o700)
		path := filepath.Join(cfg.Gateway.DataDir, "secret")
		if err := os.WriteFile(path, []byte("hand-made\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadSecret(cfg)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("error %v does not tell to chmod 600 the file", err)
		}
	})
	t.Run("empty file", func(t *testing.T) {
		t.Setenv("TURNMAIL_SECRET", "")
		cfg := newConfig(t, "")
		os.MkdirAll(cfg.Gateway.DataDir, 0o700)
		if err := os.WriteFile(filepath.Join(cfg.Gateway.DataDir, "secret"), []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadSecret(cfg); err == nil || !strings.Contains(err.Error(), "is empty") {
			t.Errorf("error %v, want one saying the file is empty", err)
		}
	})
}
