package main

import (
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/turnmail/turnmail/workflow"
)

// Config is the whole configuration of turnmail, read from one TOML file.
// Each field's default sits next to it and config.example.toml says the same;
// a test holds the two together.
type Config struct {
	Gateway   GatewayConfig   `toml:"gateway"`
	SMTP      SMTPConfig      `toml:"smtp"`
	Outbound  OutboundConfig  `toml:"outbound"`
	Policy    PolicyConfig    `toml:"policy"`
	Security  SecurityConfig  `toml:"security"`
	IMAP      IMAPConfig      `toml:"imap"`
	LMTP      LMTPConfig      `toml:"lmtp"`
	Summary   SummaryConfig   `toml:"summary"`
	Reminders RemindersConfig `toml:"reminders"`
	HTTP      HTTPConfig      `toml:"http"`
	Admin     AdminConfig     `toml:"admin"`
	Retention RetentionConfig `toml:"retention"`
}

// AdminConfig is the [admin] section: health, metrics and profiles for the
// operator.
type AdminConfig struct {
	// Listen is host:port for /healthz and /metrics (Prometheus). Default
	// "127.0.0.1:8025"; "" turns it off. Keep it off the internet: it says
	// how busy the gateway is and, with pprof, much more.
	Listen string `toml:"listen"`
	// Pprof serves net/http/pprof's /debug/pprof/ on Listen. Default false.
	Pprof bool `toml:"pprof"`
}

// GatewayConfig is the [gateway] section.
type GatewayConfig struct {
	// Address is the gateway address: Cc'ing it starts a collaboration, and
	// tagged reply addresses are made from it (collab+<tag>@domain), so its
	// local part must not contain '+'. Default "collab@localhost".
	Address string `toml:"address"`
	// Secret keys the MACs of tagged addresses. Default "": the environment
	// variable TURNMAIL_SECRET overrides it, and with neither a random secret
	// is generated into <data_dir>/secret on first start. Changing it
	// invalidates every reply address already sent.
	Secret string `toml:"secret"`
	// DataDir holds the database, the secret, the control socket and, by
	// default, the outbox. A relative path is taken from the working
	// directory. Default "./data".
	DataDir string `toml:"data_dir"`
}

// SMTPConfig is the [smtp] section: the inbound SMTP server.
type SMTPConfig struct {
	// Listen is the host:port the SMTP server listens on; "" turns SMTP
	// off, for a gateway that takes its mail over LMTP or IMAP only.
	// Default "127.0.0.1:2525".
	Listen string `toml:"listen"`
	// TLSCert and TLSKey are the PEM files of the certificate (with its
	// chain) and private key that the SMTP server offers STARTTLS with.
	// They are read again when they change and on SIGHUP; a new pair that
	// does not load keeps the one in use and is logged as an error. Default
	// "" for both: no STARTTLS. A relative path is taken from the working
	// directory.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// RequireTLS refuses MAIL before STARTTLS (530 5.7.0), for a gateway
	// whose senders all speak TLS. Needs tls_cert. Default false: mail
	// without TLS is taken too, as an MX must (RFC 3207 §4).
	RequireTLS bool `toml:"require_tls"`
	// MaxMessageBytes is the largest message accepted; bigger ones get
	// 552 5.3.4. Default 52428800 (50 MiB).
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// MaxPerSenderHour bounds the messages one envelope sender may hand in
	// per hour: beyond it, 451 4.7.1 (try later) over SMTP and LMTP, the
	// failed mailbox from IMAP. Default 100.
	MaxPerSenderHour int `toml:"max_messages_per_sender_hour"`
	// MaxConnections caps the connections open at once, SMTP and LMTP
	// each: beyond it a new one gets 421 4.7.0 and is closed. Default 200.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerClient caps the SMTP connections from one IP
	// address (an IPv6 /64), the same way; LMTP, whose client is the MTA
	// in front, has only the total. Default 20.
	MaxConnectionsPerClient int `toml:"max_connections_per_client"`
}

// Outbound delivery modes.
const (
	OutboundFile = "file" // write .eml files to Dir
	OutboundSMTP = "smtp" // relay through Smarthost
)

// OutboundConfig is the [outbound] section: how gateway mail leaves.
type OutboundConfig struct {
	// Mode is "file" (write each message as an .eml file to Dir) or "smtp"
	// (relay through Smarthost). Default "file".
	Mode string `toml:"mode"`
	// Dir is where mode "file" writes. A relative path is taken from the
	// working directory. Default "<data_dir>/outbox".
	Dir string `toml:"dir"`
	// Smarthost is the host:port of the relay for mode "smtp", required there.
	Smarthost string `toml:"smarthost"`
	// Username and Password authenticate to the smarthost (AUTH PLAIN);
	// empty means no authentication. The environment variable
	// TURNMAIL_SMTP_PASSWORD overrides Password.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// StartTLS requires STARTTLS with a verified certificate before
	// anything is sent to the smarthost. Default true.
	StartTLS bool `toml:"starttls"`
	// MaxAttachmentBytes bounds the attachments of one gateway mail,
	// together; the files beyond it are left out and the mail says so,
	// with a download link when [http] is set. Encoding adds a third, so
	// the default 15 MiB makes mails of about 20 MB, which the big
	// providers take. 0: no bound.
	MaxAttachmentBytes int64 `toml:"max_attachment_bytes"`
	// Concurrency is how many messages are sent at once, each over its own
	// connection to the smarthost. Default 4.
	Concurrency int `toml:"concurrency"`
	// Timeout bounds one attempt at one message for mode "smtp", from the
	// connection to the smarthost's reply to the data; the connection, the
	// greeting and each reply before the message (EHLO, STARTTLS, AUTH) have
	// 30 seconds of it, so a smarthost that takes the connection and says
	// nothing is given up on soon. A message is tried again later. Default
	// "5m".
	Timeout Duration `toml:"timeout"`
}

// PolicyConfig is the [policy] section.
type PolicyConfig struct {
	// OutOfTurn says what becomes of a file sent by a party that does not
	// hold the turn: "accept" keeps it as the party's draft for its next
	// turn, "reject" refuses it; the sender is told either way. Default
	// "accept".
	OutOfTurn string `toml:"out_of_turn"`
	// AllowedSenders lists who may start a collaboration: addresses
	// ("alice@acme.com") and whole domains ("@acme.com"), or "*" for
	// anyone. Default []: anyone while the gateway listens on loopback only;
	// with an SMTP or LMTP listener on any other address, serve refuses to
	// start until it is set, because anyone could then have the gateway mail
	// files to whomever they name.
	AllowedSenders []string `toml:"allowed_senders"`
}

// SecurityConfig is the [security] section: whom the rules believe.
type SecurityConfig struct {
	// TrustedAuthservIDs are the authserv-ids (RFC 8601) of the MTAs in
	// front whose Authentication-Results the gateway believes, such as the
	// hostname your Postfix with OpenDMARC, or your provider, writes in them.
	// Only the topmost such field of a mail counts. Default []: none, and no
	// DMARC result vouches for or against any mail.
	TrustedAuthservIDs []string `toml:"trusted_authserv_ids"`
	// Unauthenticated says what becomes of a mail that a thread or subject
	// tag matched, not a tagged address, and that no trusted DMARC pass
	// vouches for: "confirm" holds it and asks the person its From names to
	// confirm it from their own reply address; "accept" believes the From.
	// Default "confirm".
	Unauthenticated string `toml:"unauthenticated"`
}

// defaultConfig returns the configuration of a missing file, before
// LoadConfig resolves paths.
func defaultConfig() *Config {
	return &Config{
		Gateway: GatewayConfig{
			Address: "collab@localhost",
			DataDir: "./data",
		},
		SMTP: SMTPConfig{
			Listen:                  "127.0.0.1:2525",
			MaxMessageBytes:         50 << 20,
			MaxPerSenderHour:        100,
			MaxConnections:          200,
			MaxConnectionsPerClient: 20,
		},
		Outbound: OutboundConfig{
			Mode:               OutboundFile,
			StartTLS:           true,
			MaxAttachmentBytes: 15 << 20,
			Concurrency:        4,
			Timeout:            Duration{5 * time.Minute},
		},
		Policy: PolicyConfig{
			OutOfTurn: workflow.OutOfTurnAccept,
		},
		Security:  SecurityConfig{Unauthenticated: workflow.UnauthenticatedConfirm},
		Summary:   SummaryConfig{Weekday: "monday", Hour: 8, Timezone: "UTC", SkipEmpty: true},
		Reminders: RemindersConfig{HeldFor: Duration{72 * time.Hour}, BeforeDeadline: Duration{24 * time.Hour}},
		Admin:     AdminConfig{Listen: "127.0.0.1:8025"},
		IMAP: IMAPConfig{IMAPAccountConfig: IMAPAccountConfig{
			TLS:          IMAPImplicit,
			Mailbox:      "INBOX",
			IDLE:         ptr(true),
			PollInterval: Duration{time.Minute},
		}},
	}
}

// LoadConfig reads the configuration file at path over the defaults; path ""
// means no file, just the defaults. Unknown keys are an error. Relative
// directories are made absolute against the working directory, so the result
// does not change meaning if the process changes directory.
func LoadConfig(path string) (*Config, error) {
	cfg := defaultConfig()
	if path != "" {
		md, err := toml.DecodeFile(path, cfg)
		if err != nil {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
		if undecoded := md.Undecoded(); len(undecoded) > 0 {
			keys := make([]string, len(undecoded))
			for i, k := range undecoded {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("read config %s: unknown key %s", path, strings.Join(keys, ", "))
		}
	}
	if p := os.Getenv("TURNMAIL_SMTP_PASSWORD"); p != "" {
		cfg.Outbound.Password = p
	}
	if err := cfg.resolve(); err != nil {
		if path == "" {
			return nil, fmt.Errorf("default config: %w", err)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// resolve validates cfg and fills in what derives from other fields.
func (cfg *Config) resolve() error {
	if err := checkGatewayAddress(cfg.Gateway.Address); err != nil {
		return err
	}
	if cfg.Gateway.DataDir == "" {
		return errors.New("gateway.data_dir is empty")
	}
	dataDir, err := filepath.Abs(cfg.Gateway.DataDir)
	if err != nil {
		return fmt.Errorf("gateway.data_dir: %w", err)
	}
	cfg.Gateway.DataDir = dataDir

	if cfg.SMTP.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.SMTP.Listen); err != nil {
			return fmt.Errorf("smtp.listen %q: want host:port (or \"\" for no SMTP): %w", cfg.SMTP.Listen, err)
		}
	}
	if err := cfg.SMTP.resolveTLS(); err != nil {
		return err
	}
	if cfg.SMTP.MaxMessageBytes <= 0 {
		return fmt.Errorf("smtp.max_message_bytes is %d: must be positive", cfg.SMTP.MaxMessageBytes)
	}
	if cfg.SMTP.MaxPerSenderHour <= 0 {
		return fmt.Errorf("smtp.max_messages_per_sender_hour is %d: must be positive", cfg.SMTP.MaxPerSenderHour)
	}
	if cfg.SMTP.MaxConnections <= 0 {
		return fmt.Errorf("smtp.max_connections is %d: must be positive", cfg.SMTP.MaxConnections)
	}
	if cfg.SMTP.MaxConnectionsPerClient <= 0 {
		return fmt.Errorf("smtp.max_connections_per_client is %d: must be positive", cfg.SMTP.MaxConnectionsPerClient)
	}

	if cfg.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Admin.Listen); err != nil {
			return fmt.Errorf("admin.listen %q: want host:port, or \"\" for none: %w", cfg.Admin.Listen, err)
		}
	}
	if cfg.Outbound.MaxAttachmentBytes < 0 {
		return fmt.Errorf("outbound.max_attachment_bytes is %d: want 0 (no bound) or more", cfg.Outbound.MaxAttachmentBytes)
	}
	switch cfg.Outbound.Mode {
	case OutboundFile:
	case OutboundSMTP:
		if cfg.Outbound.Smarthost == "" {
			return errors.New(`outbound.smarthost is required with outbound.mode "smtp"`)
		}
	default:
		return fmt.Errorf(`outbound.mode %q: want "file" or "smtp"`, cfg.Outbound.Mode)
	}
	if cfg.Outbound.Smarthost != "" {
		if _, _, err := net.SplitHostPort(cfg.Outbound.Smarthost); err != nil {
			return fmt.Errorf("outbound.smarthost %q: want host:port: %w", cfg.Outbound.Smarthost, err)
		}
	}
	if cfg.Outbound.Concurrency <= 0 {
		return fmt.Errorf("outbound.concurrency is %d: must be positive", cfg.Outbound.Concurrency)
	}
	if cfg.Outbound.Timeout.Duration <= 0 {
		return fmt.Errorf("outbound.timeout is %v: must be positive", cfg.Outbound.Timeout)
	}
	if cfg.Outbound.Dir == "" {
		cfg.Outbound.Dir = filepath.Join(dataDir, "outbox")
	} else if cfg.Outbound.Dir, err = filepath.Abs(cfg.Outbound.Dir); err != nil {
		return fmt.Errorf("outbound.dir: %w", err)
	}

	switch cfg.Policy.OutOfTurn {
	case workflow.OutOfTurnAccept, workflow.OutOfTurnReject:
	default:
		return fmt.Errorf(`policy.out_of_turn %q: want "accept" or "reject"`, cfg.Policy.OutOfTurn)
	}
	if len(cfg.Policy.AllowedSenders) == 0 {
		cfg.Policy.AllowedSenders = nil // "allowed_senders = []" is the default, not something else
	}
	for i, a := range cfg.Policy.AllowedSenders {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != workflow.AnySender && (!strings.Contains(a, "@") || strings.HasSuffix(a, "@")) {
			return fmt.Errorf(`policy.allowed_senders %q: want an address, @domain or "*"`, cfg.Policy.AllowedSenders[i])
		}
		cfg.Policy.AllowedSenders[i] = a
	}
	switch cfg.Security.Unauthenticated {
	case workflow.UnauthenticatedConfirm, workflow.UnauthenticatedAccept:
	default:
		return fmt.Errorf(`security.unauthenticated %q: want "confirm" or "accept"`, cfg.Security.Unauthenticated)
	}
	if len(cfg.Security.TrustedAuthservIDs) == 0 {
		cfg.Security.TrustedAuthservIDs = nil
	}
	for i, id := range cfg.Security.TrustedAuthservIDs {
		id = strings.TrimSpace(id)
		if id == "" || strings.ContainsAny(id, " \t;") {
			return fmt.Errorf("security.trusted_authserv_ids %q: want a name such as mx.example.com", cfg.Security.TrustedAuthservIDs[i])
		}
		cfg.Security.TrustedAuthservIDs[i] = id
	}
	if err := cfg.IMAP.resolve(); err != nil {
		return err
	}
	if err := cfg.LMTP.check(); err != nil {
		return err
	}
	if cfg.SMTP.Listen == "" && cfg.LMTP.Listen == "" && len(cfg.IMAP.Watch) == 0 {
		return errors.New(`smtp.listen is "" and there is no lmtp.listen or [imap] account: the gateway would take no mail`)
	}
	if _, err := cfg.Summary.workflow(); err != nil {
		return err
	}
	if err := cfg.Reminders.check(); err != nil {
		return err
	}
	if err := cfg.Retention.check(); err != nil {
		return err
	}
	return cfg.HTTP.check()
}

// RetentionConfig is the [retention] section: how long the gateway keeps a
// wrapped-up collaboration.
type RetentionConfig struct {
	// PurgeAfter deletes a wrapped-up collaboration's data this long after
	// it was wrapped up: its documents and every version, notes, history,
	// mail, and the blobs no other collaboration shares. Its owner is told
	// a week before, and /reopen keeps it. A duration in days ("90d") or
	// as Go writes it ("2160h"), at least a week. Default "": never.
	PurgeAfter Days `toml:"purge_after"`
}

func (c *RetentionConfig) check() error {
	if d := c.PurgeAfter.Duration; d != 0 && d < workflow.PurgeNotice {
		return fmt.Errorf("retention.purge_after %s: want at least 7d, the week's notice the owner gets", c.PurgeAfter)
	}
	return nil
}

// Days is a long time.Duration written as a string in TOML, in days ("90d")
// or as time.ParseDuration reads it ("2160h"); "" is zero.
type Days struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Days) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		d.Duration = 0
		return nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return fmt.Errorf("%q: want a number of days, such as \"90d\"", s)
		}
		d.Duration = time.Duration(days) * 24 * time.Hour
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want days, such as \"90d\", or a duration, such as \"2160h\"", s)
	}
	if v < 0 {
		return fmt.Errorf("%q: must not be negative", s)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler: whole days as days.
func (d Days) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Days) String() string {
	const day = 24 * time.Hour
	switch {
	case d.Duration == 0:
		return ""
	case d.Duration%day == 0:
		return strconv.FormatInt(int64(d.Duration/day), 10) + "d"
	}
	return d.Duration.String()
}

// resolveTLS checks the TLS keys of [smtp] and makes their paths absolute.
// The files are read when serve starts, not here: the other commands load
// the same config and have no use for a key they may not be able to read.
func (c *SMTPConfig) resolveTLS() error {
	switch {
	case c.TLSCert == "" && c.TLSKey == "" && c.RequireTLS:
		return errors.New("smtp.require_tls needs smtp.tls_cert and smtp.tls_key: without a certificate no client could ever send")
	case c.TLSCert == "" && c.TLSKey == "":
		return nil
	case c.TLSCert == "":
		return errors.New("smtp.tls_key is set without smtp.tls_cert")
	case c.TLSKey == "":
		return errors.New("smtp.tls_cert is set without smtp.tls_key")
	case c.Listen == "":
		return errors.New(`smtp.tls_cert is set, but smtp.listen is "": there is no SMTP server to offer STARTTLS (LMTP needs no TLS)`)
	}
	var err error
	if c.TLSCert, err = filepath.Abs(c.TLSCert); err != nil {
		return fmt.Errorf("smtp.tls_cert: %w", err)
	}
	if c.TLSKey, err = filepath.Abs(c.TLSKey); err != nil {
		return fmt.Errorf("smtp.tls_key: %w", err)
	}
	return nil
}

// checkOpen refuses a gateway that listens beyond loopback while anyone may
// start collaborations (DESIGN §6): on the internet, that would let anyone
// have it mail files to whomever they name. "*" says so in so many words.
func (cfg *Config) checkOpen() error {
	if len(cfg.Policy.AllowedSenders) > 0 {
		return nil
	}
	open := ""
	if !loopbackOnly(cfg.SMTP.Listen) {
		open = "smtp.listen " + cfg.SMTP.Listen
	} else if l := cfg.LMTP.Listen; l != "" && !strings.HasPrefix(l, "unix:") && !loopbackOnly(l) {
		open = "lmtp.listen " + l
	}
	if open == "" {
		return nil
	}
	return fmt.Errorf(`%s is not on loopback, and policy.allowed_senders is empty: list the addresses and @domains that may start collaborations, or set allowed_senders = ["*"] to let anyone`, open)
}

// loopbackOnly reports whether addr (host:port, or "" for none) listens on
// loopback only. A host name other than localhost may resolve anywhere.
func loopbackOnly(addr string) bool {
	if addr == "" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkGatewayAddress accepts a bare address (no display name, no angle
// brackets) whose local part can take a "+tag".
func checkGatewayAddress(s string) error {
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Errorf("gateway.address %q: want a bare address like collab@gw.example", s)
	}
	local := s[:strings.LastIndexByte(s, '@')]
	if strings.Contains(local, "+") {
		return fmt.Errorf("gateway.address %q: the local part must not contain '+', tagged reply addresses add it", s)
	}
	return nil
}
