package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeConfig writes a config file into a temporary directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "turnmail.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigDefaults(t *testing.T) {
	t.Setenv("TURNMAIL_SMTP_PASSWORD", "")
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Gateway:  GatewayConfig{Address: "collab@localhost", DataDir: filepath.Join(wd, "data")},
		SMTP:     SMTPConfig{Listen: "127.0.0.1:2525", MaxMessageBytes: 52428800},
		Outbound: OutboundConfig{Mode: "file", Dir: filepath.Join(wd, "data", "outbox"), StartTLS: true},
		Policy:   PolicyConfig{OutOfTurn: "accept"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

// TestConfigExample keeps config.example.toml and the defaults in code from
// drifting apart.
func TestConfigExample(t *testing.T) {
	t.Setenv("TURNMAIL_SMTP_PASSWORD", "")
	example, err := LoadConfig(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(example, defaults) {
		t.Errorf("config.example.toml differs from the defaults:\nexample  %+v\ndefaults %+v", example, defaults)
	}
	// Every key of the struct appears in the example, set or commented out.
	text, err := os.ReadFile(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeFor[Config]()) {
		if !strings.Contains(string(text), "\n"+key+" = ") && !strings.Contains(string(text), "\n# "+key+" = ") {
			t.Errorf("config.example.toml does not document key %s", key)
		}
	}
}

// tomlKeys returns the keys of the sections of a config struct type.
func tomlKeys(typ reflect.Type) []string {
	var keys []string
	for section := range typ.Fields() {
		for field := range section.Type.Fields() {
			keys = append(keys, field.Tag.Get("toml"))
		}
	}
	return keys
}

func TestConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg, err := LoadConfig(writeConfig(t, "[gateway]\ndata_dir = \"var/tm\"\n[outbound]\ndir = \"mail-out\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The temporary directory may be reached through a symlink (macOS):
	// compare against the working directory as the process sees it.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "var", "tm"); cfg.Gateway.DataDir != want {
		t.Errorf("data_dir = %q, want %q", cfg.Gateway.DataDir, want)
	}
	if want := filepath.Join(wd, "mail-out"); cfg.Outbound.Dir != want {
		t.Errorf("outbound dir = %q, want %q", cfg.Outbound.Dir, want)
	}
}

func TestConfigSMTPOutbound(t *testing.T) {
	t.Setenv("TURNMAIL_SMTP_PASSWORD", "from-env")
	cfg, err := LoadConfig(writeConfig(t, `
[outbound]
mode = "smtp"
smarthost = "smtp.example.com:587"
username = "gw"
password = "from-file"
starttls = false
`))
	if err != nil {
		t.Fatal(err)
	}
	want := OutboundConfig{Mode: "smtp", Dir: cfg.Outbound.Dir, Smarthost: "smtp.example.com:587", Username: "gw", Password: "from-env"}
	if cfg.Outbound != want {
		t.Errorf("outbound = %+v, want %+v", cfg.Outbound, want)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("TURNMAIL_SMTP_PASSWORD", "")
	tests := []struct {
		name, config, want string
	}{
		{"unknown key", "[gateway]\nadress = \"a@b\"\n", "unknown key gateway.adress"},
		{"unknown keys", "[smtp]\nport = 25\n[imap]\nhost = \"x\"\n", "unknown key smtp.port, imap, imap.host"},
		{"syntax", "[gateway\n", "read config"},
		{"wrong type", "[smtp]\nmax_message_bytes = \"big\"\n", "max_message_bytes"},
		{"address not an address", "[gateway]\naddress = \"collab\"\n", `gateway.address "collab"`},
		{"address with name", "[gateway]\naddress = \"Gateway <collab@gw.example>\"\n", "want a bare address"},
		{"address with plus", "[gateway]\naddress = \"collab+x@gw.example\"\n", "must not contain '+'"},
		{"empty data dir", "[gateway]\ndata_dir = \"\"\n", "gateway.data_dir is empty"},
		{"listen", "[smtp]\nlisten = \"2525\"\n", "smtp.listen"},
		{"zero size", "[smtp]\nmax_message_bytes = 0\n", "max_message_bytes is 0: must be positive"},
		{"negative size", "[smtp]\nmax_message_bytes = -1\n", "must be positive"},
		{"mode", "[outbound]\nmode = \"sendmail\"\n", `outbound.mode "sendmail"`},
		{"no smarthost", "[outbound]\nmode = \"smtp\"\n", "outbound.smarthost is required"},
		{"bad smarthost", "[outbound]\nmode = \"smtp\"\nsmarthost = \"smtp.example.com\"\n", "outbound.smarthost \"smtp.example.com\": want host:port"},
		{"out of turn", "[policy]\nout_of_turn = \"ignore\"\n", `policy.out_of_turn "ignore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.config)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestConfigMissingFile(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml")); err == nil {
		t.Fatal("no error for a missing file")
	}
}
