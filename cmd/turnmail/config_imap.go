package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// IMAP TLS modes.
const (
	IMAPImplicit = "implicit" // TLS from the first byte (port 993)
	IMAPStartTLS = "starttls" // STARTTLS on a plain connection (port 143)
	IMAPNoTLS    = "none"     // plain text: only for a server on loopback
)

// IMAPConfig is the [imap] section: mailboxes at a mail provider that the
// gateway watches for mail to it. The keys directly in [imap] describe one
// account, watched when addr is set; each [[imap.accounts]] entry adds one
// more and takes every key it leaves unset from [imap].
type IMAPConfig struct {
	IMAPAccountConfig
	Accounts []IMAPAccountConfig `toml:"accounts"`

	// Watch is every account to watch, with its keys filled in; set by
	// LoadConfig.
	Watch []IMAPAccountConfig `toml:"-"`
}

// IMAPAccountConfig is one watched mailbox.
type IMAPAccountConfig struct {
	// Addr is the server's host:port, e.g. "outlook.office365.com:993".
	// Default "": no account.
	Addr string `toml:"addr"`
	// TLS is "implicit" (port 993), "starttls" (port 143) or "none" (only
	// for a server on loopback). Default "implicit".
	TLS string `toml:"tls"`
	// Username and Password log in; PasswordFile names a file holding the
	// password instead (first line), so it stays out of the config. At
	// most one of the two. Most providers want an app password here.
	Username     string `toml:"username"`
	Password     string `toml:"password"`
	PasswordFile string `toml:"password_file"`
	// Mailbox is the mailbox watched. Default "INBOX". In this and the
	// next two names "/" separates hierarchy levels whatever the server's
	// own separator ("Turnmail/Done" is sent to Dovecot as "Turnmail.Done");
	// a name without "/" is sent as written.
	Mailbox string `toml:"mailbox"`
	// DoneMailbox receives each message once the gateway has applied it;
	// FailedMailbox each one it could not (too big, unparseable). Created
	// when missing. Default "" for both: leave the message where it is,
	// flagged $TurnmailDone or $TurnmailFailed.
	DoneMailbox   string `toml:"done_mailbox"`
	FailedMailbox string `toml:"failed_mailbox"`
	// IDLE waits for new mail with IMAP IDLE when the server offers it.
	// Default true.
	IDLE *bool `toml:"idle"`
	// PollInterval is how often the mailbox is searched for new mail, also
	// while idling (IDLE can miss a message). Default "1m".
	PollInterval Duration `toml:"poll_interval"`
}

// Duration is a time.Duration written as a string in TOML: "90s", "5m".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func ptr[T any](v T) *T { return &v }

// resolve fills every account's unset keys from [imap], reads password
// files, checks the result and lists it in Watch.
func (c *IMAPConfig) resolve() error {
	c.Watch = nil
	var all []IMAPAccountConfig
	if c.Addr != "" {
		all = append(all, c.IMAPAccountConfig)
	}
	for _, a := range c.Accounts {
		all = append(all, a.inherit(c.IMAPAccountConfig))
	}
	seen := map[string]bool{}
	for i, a := range all {
		what := "imap"
		if c.Addr == "" || i > 0 {
			what = fmt.Sprintf("imap.accounts[%d]", i-btoi(c.Addr != ""))
		}
		if err := a.check(what); err != nil {
			return err
		}
		if a.PasswordFile != "" {
			b, err := os.ReadFile(a.PasswordFile)
			if err != nil {
				return fmt.Errorf("%s.password_file: %w", what, err)
			}
			a.Password, _, _ = strings.Cut(string(b), "\n")
			a.Password = strings.TrimRight(a.Password, "\r")
		}
		if seen[a.Name()] {
			return fmt.Errorf("%s: mailbox %s is watched twice", what, a.Name())
		}
		seen[a.Name()] = true
		c.Watch = append(c.Watch, a)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inherit returns a with its unset keys taken from base.
func (a IMAPAccountConfig) inherit(base IMAPAccountConfig) IMAPAccountConfig {
	for _, f := range []struct{ dst, src *string }{
		{&a.Addr, &base.Addr}, {&a.TLS, &base.TLS}, {&a.Username, &base.Username},
		{&a.Mailbox, &base.Mailbox}, {&a.DoneMailbox, &base.DoneMailbox}, {&a.FailedMailbox, &base.FailedMailbox},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
	// A password belongs to its username: inherit the pair or neither.
	if a.Password == "" && a.PasswordFile == "" && a.Username == base.Username {
		a.Password, a.PasswordFile = base.Password, base.PasswordFile
	}
	if a.IDLE == nil {
		a.IDLE = base.IDLE
	}
	if a.PollInterval.Duration == 0 {
		a.PollInterval = base.PollInterval
	}
	return a
}

func (a *IMAPAccountConfig) check(what string) error {
	if _, _, err := net.SplitHostPort(a.Addr); err != nil {
		return fmt.Errorf("%s.addr %q: want host:port: %w", what, a.Addr, err)
	}
	switch a.TLS {
	case IMAPImplicit, IMAPStartTLS:
	case IMAPNoTLS:
		// The password would cross the network in clear text.
		if host, _, _ := net.SplitHostPort(a.Addr); host != "localhost" {
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf(`%s.tls "none" is only for a server on loopback, not %s`, what, a.Addr)
			}
		}
	default:
		return fmt.Errorf(`%s.tls %q: want "implicit", "starttls" or "none"`, what, a.TLS)
	}
	switch {
	case a.Username == "":
		return fmt.Errorf("%s.username is required", what)
	case a.Password != "" && a.PasswordFile != "":
		return fmt.Errorf("%s: set password or password_file, not both", what)
	case a.Password == "" && a.PasswordFile == "":
		return fmt.Errorf("%s: password or password_file is required", what)
	case a.Mailbox == "":
		return fmt.Errorf("%s.mailbox is empty", what)
	case a.PollInterval.Duration < time.Second:
		return fmt.Errorf("%s.poll_interval %s: want at least 1s", what, a.PollInterval)
	case a.DoneMailbox != "" && a.DoneMailbox == a.Mailbox, a.FailedMailbox != "" && a.FailedMailbox == a.Mailbox:
		return fmt.Errorf("%s: done_mailbox and failed_mailbox must differ from mailbox %q", what, a.Mailbox)
	}
	return nil
}

// Name identifies the account and mailbox in logs and in the store's
// record of what was processed: it must not change while the mailbox is
// the same one.
func (a *IMAPAccountConfig) Name() string {
	return a.Username + "@" + a.Addr + "/" + a.Mailbox
}

// LMTPConfig is the [lmtp] section: an LMTP server for an MTA in front, e.g.
// Postfix delivering the gateway's domain with transport_maps.
type LMTPConfig struct {
	// Listen is "unix:/path/to/socket" or host:port. Default "": no LMTP.
	Listen string `toml:"listen"`
}

func (c *LMTPConfig) check() error {
	switch {
	case c.Listen == "":
		return nil
	case strings.HasPrefix(c.Listen, "unix:"):
		if strings.TrimPrefix(c.Listen, "unix:") == "" {
			return errors.New(`lmtp.listen "unix:": want unix:/path/to/socket`)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("lmtp.listen %q: want unix:/path or host:port: %w", c.Listen, err)
	}
	return nil
}
