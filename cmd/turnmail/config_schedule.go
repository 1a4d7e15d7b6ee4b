package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // [summary] timezone on hosts without a zoneinfo database

	"github.com/turnmail/turnmail/workflow"
)

// SummaryConfig is the [summary] section: the weekly summary mail.
type SummaryConfig struct {
	// Weekday and Hour are when it goes out, in each person's own time zone
	// (set with /timezone) or else Timezone. Defaults "monday" and 8.
	Weekday string `toml:"weekday"`
	Hour    int    `toml:"hour"`
	// Timezone is an IANA name. Default "UTC".
	Timezone string `toml:"timezone"`
	// SkipEmpty sends nothing to a person with no active collaboration.
	// Default true.
	SkipEmpty bool `toml:"skip_empty"`
}

// RemindersConfig is the [reminders] section: one reminder to the turn
// holders per trigger.
type RemindersConfig struct {
	// HeldFor reminds them when they have held the turn this long; "0s"
	// never. Default "72h".
	HeldFor Duration `toml:"held_for"`
	// BeforeDeadline reminds them this long before the deadline; "0s"
	// never. Default "24h".
	BeforeDeadline Duration `toml:"before_deadline"`
}

// HTTPConfig is the [http] section: a small HTTP listener for RFC 8058
// one-click unsubscribe from weekly summaries.
type HTTPConfig struct {
	// Listen is host:port. Default "": no HTTP listener, and summaries
	// offer only the mailto unsubscribe.
	Listen string `toml:"listen"`
	// PublicURL is where mail readers reach Listen, usually through a
	// reverse proxy with TLS, e.g. "https://gw.example.com". Required with
	// listen.
	PublicURL string `toml:"public_url"`
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// workflow returns the summary schedule for the rules.
func (c *SummaryConfig) workflow() (workflow.SummaryConfig, error) {
	wd, ok := weekdays[strings.ToLower(c.Weekday)]
	if !ok {
		return workflow.SummaryConfig{}, fmt.Errorf("summary.weekday %q: want a day of the week, e.g. \"monday\"", c.Weekday)
	}
	if c.Hour < 0 || c.Hour > 23 {
		return workflow.SummaryConfig{}, fmt.Errorf("summary.hour %d: want 0 to 23", c.Hour)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" || c.Timezone == "Local" {
		return workflow.SummaryConfig{}, fmt.Errorf("summary.timezone %q: want an IANA name such as \"Europe/Paris\"", c.Timezone)
	}
	return workflow.SummaryConfig{Weekday: wd, Hour: c.Hour, Location: loc, SkipEmpty: c.SkipEmpty}, nil
}

func (c *RemindersConfig) check() error {
	if c.HeldFor.Duration < 0 || c.BeforeDeadline.Duration < 0 {
		return fmt.Errorf("reminders: durations must not be negative")
	}
	return nil
}

func (c *HTTPConfig) check() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("http.listen %q: want host:port: %w", c.Listen, err)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		// A path prefix would need a proxy that strips it: the handler
		// answers at /unsubscribe/ only.
		return fmt.Errorf("http.public_url %q: want the URL mail readers reach http.listen at, e.g. https://gw.example.com", c.PublicURL)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return nil
}
