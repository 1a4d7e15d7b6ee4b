package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
		Gateway: GatewayConfig{Address: "collab@localhost", DataDir: filepath.Join(wd, "data")},
		SMTP:    SMTPConfig{Listen: "127.0.0.1:2525", MaxMessageBytes: 52428800, MaxPerSenderHour: 100, MaxConnections: 200, MaxConnectionsPerClient: 20},
		Outbound: OutboundConfig{Mode: "file", Dir: filepath.Join(wd, "data", "outbox"), StartTLS: true, MaxAttachmentBytes: 15 << 20,
			Concurrency: 4, Timeout: Duration{5 * time.Minute}},
		Policy:   PolicyConfig{OutOfTurn: "accept"},
		Security: SecurityConfig{Unauthenticated: "confirm"},
		IMAP: IMAPConfig{IMAPAccountConfig: IMAPAccountConfig{
			TLS: "implicit", Mailbox: "INBOX", IDLE: ptr(true), PollInterval: Duration{time.Minute},
		}},
		Summary:   SummaryConfig{Weekday: "monday", Hour: 8, Timezone: "UTC", SkipEmpty: true},
		Reminders: RemindersConfig{HeldFor: Duration{72 * time.Hour}, BeforeDeadline: Duration{24 * time.Hour}},
		Admin:     AdminConfig{Listen: "127.0.0.1:8025"},
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

// tomlKeys returns the keys of the sections of a config struct type: the
// fields of embedded structs too, but not arrays of tables ([[imap.accounts]]
// repeats the keys of [imap]) or fields TOML does not see.
func tomlKeys(typ reflect.Type) []string {
	var keys []string
	var fields func(t reflect.Type)
	fields = func(t reflect.Type) {
		for field := range t.Fields() {
			switch tag := field.Tag.Get("toml"); {
			case field.Anonymous:
				fields(field.Type)
			case tag == "-" || field.Type.Kind() == reflect.Slice:
			default:
				keys = append(keys, tag)
			}
		}
	}
	for section := range typ.Fields() {
		fields(section.Type)
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
concurrency = 8
timeout = "90s"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := OutboundConfig{Mode: "smtp", Dir: cfg.Outbound.Dir, Smarthost: "smtp.example.com:587", Username: "gw", Password: "from-env",
		MaxAttachmentBytes: 15 << 20, Concurrency: 8, Timeout: Duration{90 * time.Second}}
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
		{"unknown keys", "[smtp]\nport = 25\n[imap]\nhost = \"x\"\n", "unknown key smtp.port, imap.host"},
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
		{"concurrency", "[outbound]\nconcurrency = 0\n", "outbound.concurrency is 0: must be positive"},
		{"outbound timeout", "[outbound]\ntimeout = \"0s\"\n", "outbound.timeout is 0s: must be positive"},
		{"out of turn", "[policy]\nout_of_turn = \"ignore\"\n", `policy.out_of_turn "ignore"`},
		{"imap addr", "[imap]\naddr = \"imap.example.com\"\n", `imap.addr "imap.example.com": want host:port`},
		{"imap tls", "[imap]\naddr = \"h:993\"\ntls = \"ssl\"\nusername = \"u\"\npassword = \"p\"\n", `imap.tls "ssl"`},
		{"imap no user", "[imap]\naddr = \"h:993\"\n", "imap.username is required"},
		{"imap no password", "[imap]\naddr = \"h:993\"\nusername = \"u\"\n", "password or password_file is required"},
		{"imap both passwords", "[imap]\naddr = \"h:993\"\nusername = \"u\"\npassword = \"p\"\npassword_file = \"/f\"\n", "not both"},
		{"imap missing password file", "[imap]\naddr = \"h:993\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n", "imap.password_file"},
		{"imap poll", "[imap]\naddr = \"h:993\"\nusername = \"u\"\npassword = \"p\"\npoll_interval = \"10ms\"\n", "poll_interval 10ms"},
		{"imap bad duration", "[imap]\npoll_interval = \"soon\"\n", "poll_interval"},
		{"imap done is inbox", "[imap]\naddr = \"h:993\"\nusername = \"u\"\npassword = \"p\"\ndone_mailbox = \"INBOX\"\n", "must differ from mailbox"},
		{"imap account twice", "[imap]\naddr = \"h:993\"\nusername = \"u\"\npassword = \"p\"\n[[imap.accounts]]\npassword = \"q\"\n", "imap.accounts[0]: mailbox u@h:993/INBOX is watched twice"},
		{"lmtp", "[lmtp]\nlisten = \"/run/turnmail.sock\"\n", `lmtp.listen "/run/turnmail.sock": want unix:/path or host:port`},
		{"lmtp unix", "[lmtp]\nlisten = \"unix:\"\n", "want unix:/path/to/socket"},
		{"allowed senders", "[policy]\nallowed_senders = [\"acme.com\"]\n", `policy.allowed_senders "acme.com": want an address, @domain or "*"`},
		{"unauthenticated", "[security]\nunauthenticated = \"trust\"\n", `security.unauthenticated "trust": want "confirm" or "accept"`},
		{"authserv-id", "[security]\ntrusted_authserv_ids = [\"mx.gw.test; dmarc=pass\"]\n", `security.trusted_authserv_ids "mx.gw.test; dmarc=pass"`},
		{"imap plain text off loopback", "[imap]\naddr = \"imap.example.com:143\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\n", `imap.tls "none" is only for a server on loopback`},
		{"summary local zone", "[summary]\ntimezone = \"Local\"\n", `summary.timezone "Local"`},
		{"http url with query", "[http]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"https://gw.example/?x=1\"\n", "http.public_url"},
		{"http url with path", "[http]\nlisten = \"127.0.0.1:8080\"\npublic_url = \"https://gw.example/turnmail\"\n", "http.public_url"},
		{"summary weekday", "[summary]\nweekday = \"mon\"\n", `summary.weekday "mon"`},
		{"summary hour", "[summary]\nhour = 24\n", "summary.hour 24"},
		{"summary timezone", "[summary]\ntimezone = \"Mars/Olympus\"\n", `summary.timezone "Mars/Olympus"`},
		{"reminders", "[reminders]\nheld_for = \"-1h\"\n", "must not be negative"},
		{"http without url", "[http]\nlisten = \"127.0.0.1:8080\"\n", "http.public_url"},
		{"http listen", "[http]\nlisten = \"8080\"\npublic_url = \"https://gw.example\"\n", `http.listen "8080"`},
		{"tls key without cert", "[smtp]\ntls_key = \"key.pem\"\n", "smtp.tls_key is set without smtp.tls_cert"},
		{"tls cert without key", "[smtp]\ntls_cert = \"cert.pem\"\n", "smtp.tls_cert is set without smtp.tls_key"},
		{"require tls without cert", "[smtp]\nrequire_tls = true\n", "smtp.require_tls needs smtp.tls_cert and smtp.tls_key"},
		{"tls without smtp", "[smtp]\nlisten = \"\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n[lmtp]\nlisten = \"127.0.0.1:2424\"\n", `smtp.listen is "": there is no SMTP server to offer STARTTLS`},
		{"no way in", "[smtp]\nlisten = \"\"\n", `smtp.listen is "" and there is no lmtp.listen or [imap] account`},
		{"require tls wrong type", "[smtp]\nrequire_tls = \"yes\"\n", "require_tls"},
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

// TestConfigIMAPAccounts: [[imap.accounts]] take what they leave unset from
// [imap], and a password travels only with its username.
func TestConfigIMAPAccounts(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\r\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(writeConfig(t, `
[imap]
addr = "imap.example.com:993"
username = "collab@example.com"
password_file = "`+pwFile+`"
done_mailbox = "Done"
poll_interval = "30s"

[[imap.accounts]]
mailbox = "Contracts"
idle = false

[[imap.accounts]]
addr = "other.example.com:143"
tls = "starttls"
username = "legal@other.example"
password = "p2"
`))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.IMAP.Watch
	if len(w) != 3 {
		t.Fatalf("%d accounts watched, want 3", len(w))
	}
	if w[0].Password != "s3cret" || w[0].Mailbox != "INBOX" || !*w[0].IDLE || w[0].PollInterval.Duration != 30*time.Second {
		t.Errorf("[imap] account: %+v", w[0])
	}
	if w[1].Addr != "imap.example.com:993" || w[1].Mailbox != "Contracts" || w[1].Password != "s3cret" || *w[1].IDLE || w[1].DoneMailbox != "Done" {
		t.Errorf("first [[imap.accounts]]: %+v", w[1])
	}
	if w[2].Password != "p2" || w[2].TLS != "starttls" || w[2].Mailbox != "INBOX" || w[2].Name() != "legal@other.example@other.example.com:143/INBOX" {
		t.Errorf("second [[imap.accounts]]: %+v", w[2])
	}
}

func TestConfigRetention(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  time.Duration
		err   string
	}{
		{`""`, 0, ""},
		{`"90d"`, 90 * 24 * time.Hour, ""},
		{`"2160h"`, 2160 * time.Hour, ""},
		{`"7d"`, 7 * 24 * time.Hour, ""},
		{`"0s"`, 0, ""},
		{`"6d"`, 0, "at least 7d"},
		{`"100h"`, 0, "at least 7d"},
		{`"-2160h"`, 0, "must not be negative"},
		{`"-90d"`, 0, "want a number of days"},
		{`"ninety days"`, 0, "want days"},
		{`90`, 0, "purge_after"},
	} {
		cfg, err := LoadConfig(writeConfig(t, "[retention]\npurge_after = "+tt.value+"\n"))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("purge_after = %s: %v", tt.value, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("purge_after = %s: error %v, want one saying %q", tt.value, err, tt.err)
		case err == nil && cfg.Retention.PurgeAfter.Duration != tt.want:
			t.Errorf("purge_after = %s is %v, want %v", tt.value, cfg.Retention.PurgeAfter.Duration, tt.want)
		}
	}
}

// TestConfigInlets: SMTP can be turned off when LMTP or IMAP takes the mail,
// and the TLS files' paths are made absolute.
func TestConfigInlets(t *testing.T) {
	for _, text := range []string{
		"[smtp]\nlisten = \"\"\n[lmtp]\nlisten = \"127.0.0.1:2424\"\n",
		"[smtp]\nlisten = \"\"\n[imap]\naddr = \"imap.example.com:993\"\nusername = \"u\"\npassword = \"p\"\n",
	} {
		cfg, err := LoadConfig(writeConfig(t, text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if cfg.SMTP.Listen != "" {
			t.Errorf("%q: smtp.listen = %q, want off", text, cfg.SMTP.Listen)
		}
	}

	t.Chdir(t.TempDir())
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(writeConfig(t, "[smtp]\nlisten = \"0.0.0.0:25\"\ntls_cert = \"tls/fullchain.pem\"\ntls_key = \"/etc/tls/privkey.pem\"\nrequire_tls = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "tls", "fullchain.pem"); cfg.SMTP.TLSCert != want || cfg.SMTP.TLSKey != "/etc/tls/privkey.pem" || !cfg.SMTP.RequireTLS {
		t.Errorf("smtp = %+v, want tls_cert %s", cfg.SMTP, want)
	}
}
