// Command turnmail is the turnmail gateway: `turnmail serve` runs it, the other
// commands inspect and export what it stored. While serve runs, those commands
// reach its database through serve's control socket (see ctl.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

const mainUsage = `usage: turnmail <command> [flags] [args]

Commands:
  serve      run the gateway
  list       list collaborations
  show       show one collaboration
  export     write a collaboration's versions and history to a directory
  inbound    list received mail and what became of it
  stats      show what the store holds and what it takes on disk
  reprocess  run a kept message through the rules again
  release    apply a held message
  drop       give up on a held message
  queue      list outbound mail waiting or failed; retry or drop it
  tick       run the scheduled jobs (weekly summaries, reminders) once
  version    print the version and the revision it was built from (also --version)
  help       show help for a command: turnmail help <command>

Every command takes --config FILE; without it the built-in defaults apply.
Flags may come before or after arguments: turnmail show ID --json; -- ends
the flags.
While serve runs, the other commands go to it over its control socket.
`

const serveUsage = `serve

Runs the gateway: the SMTP server, outbound delivery and the control socket,
until SIGINT or SIGTERM. SIGHUP reads the TLS certificate again.`

// dbFile is the name of the database inside the data directory.
const dbFile = "turnmail.db"

// app is what a command runs on: from the shell, a store it opened itself; over
// the control socket, the serving daemon's store and engine.
type app struct {
	cfg    *Config
	log    *slog.Logger
	st     *store.Store
	engine *workflow.Engine // nil for commands that only read
	stdout io.Writer
	// cwd is the working directory of the shell the command was typed in:
	// relative paths among the arguments are relative to it, not to the
	// daemon's.
	cwd string
	// open is set when the command runs from the shell: it loads the config
	// named by --config and opens the store, and returns errForward when
	// serve holds the store. Over the control socket it is nil: the daemon's
	// config and store are already there.
	open func(configPath string) error
}

// command is a subcommand other than serve. run parses its own args with
// app.parse, so that the same code runs from the shell and over the control
// socket.
type command struct {
	name, usage string
	writes      bool // opens the store read-write and gets an engine
	run         func(ctx context.Context, a *app, args []string) error
}

var commands = []*command{
	{name: "list", usage: listUsage, run: runList},
	{name: "show", usage: showUsage, run: runShow},
	{name: "export", usage: exportUsage, run: runExport},
	{name: "inbound", usage: inboundUsage, run: runInbound},
	{name: "stats", usage: statsUsage, run: runStats},
	{name: "reprocess", usage: reprocessUsage, writes: true, run: runReprocess},
	{name: "release", usage: releaseUsage, writes: true, run: runRelease},
	{name: "drop", usage: dropUsage, writes: true, run: runDrop},
	{name: "tick", usage: tickUsage, writes: true, run: runTick},
	{name: "queue", usage: queueUsage, writes: true, run: runQueue},
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// errForward says the store is held by a running serve: the command must go
// over its control socket.
var errForward = errors.New("turnmail: database in use by serve")

// usageError is a command line that cannot run. With help set it is the
// answer to -h: the usage text, printed without complaint.
type usageError struct {
	msg  string
	text string // the command's usage and flags
	help bool
}

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code: 0 ok, 1 error,
// 2 usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return 2
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, mainUsage)
		return 0
	case "serve":
		return report("serve", serve(ctx, args[1:], stderr), stdout, stderr)
	case "version", "-version", "--version":
		// The client's own version: it never goes over the control socket.
		return report("version", runVersion(args[1:], stdout), stdout, stderr)
	default:
		c := lookup(name)
		if c == nil {
			fmt.Fprintf(stderr, "turnmail: unknown command %q\n\n%s", name, mainUsage)
			return 2
		}
		return runLocal(ctx, c, args, stdout, stderr)
	}
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath, err := parseFlags(fs, serveUsage, args, 0)
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return err
	}
	return runServe(ctx, cfg, newLogger(stderr))
}

// runLocal runs c from the shell, on a store it opens itself, or, when serve
// holds the store, through serve's control socket.
func runLocal(ctx context.Context, c *command, args []string, stdout, stderr io.Writer) int {
	cwd, err := os.Getwd()
	if err != nil {
		return report(c.name, fmt.Errorf("working directory: %w", err), stdout, stderr)
	}
	a := &app{log: newLogger(stderr), stdout: stdout, cwd: cwd}
	a.open = func(configPath string) error { return a.openStore(configPath, c.writes) }
	err = c.run(ctx, a, args[1:])
	if a.st != nil {
		if cerr := a.st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}
	if errors.Is(err, errForward) {
		code, err := forwardCtl(ctx, a.cfg, args, stdout, stderr)
		if err != nil {
			return report(c.name, err, stdout, stderr)
		}
		return code
	}
	return report(c.name, err, stdout, stderr)
}

// report shows the outcome of a command as the shell should see it and
// returns the exit code.
func report(name string, err error, stdout, stderr io.Writer) int {
	var uerr *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &uerr) && uerr.help:
		fmt.Fprint(stdout, uerr.text)
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "turnmail %s: %s\n\n%s", name, uerr.msg, uerr.text)
		return 2
	default:
		fmt.Fprintf(stderr, "turnmail %s: %v\n", name, err)
		return 1
	}
}

// parseFlags adds the --config flag every command takes to fs, parses args,
// where flags may come before, between and after the arguments (see
// interleave), and checks that nargs positional arguments remain. usage is the command's
// synopsis and description, for errors and -h.
func parseFlags(fs *flag.FlagSet, usage string, args []string, nargs int) (configPath string, err error) {
	fs.StringVar(&configPath, "config", "", "read the configuration from `FILE` instead of using the defaults")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(interleave(fs, args)); errors.Is(err, flag.ErrHelp) {
		return "", &usageError{text: usageText(fs, usage), help: true}
	} else if err != nil {
		return "", badUsage(fs, usage, err.Error())
	}
	if nargs != anyArgs && fs.NArg() != nargs {
		return "", badUsage(fs, usage, fmt.Sprintf("wrong number of arguments: want %d, got %d", nargs, fs.NArg()))
	}
	return configPath, nil
}

// anyArgs, as parseFlags' nargs, leaves counting the arguments to the
// command (turnmail queue, whose subcommands take different numbers).
const anyArgs = -1

// parse parses a command's args (see parseFlags) and, from the shell, opens
// the store.
func (a *app) parse(fs *flag.FlagSet, usage string, args []string, nargs int) error {
	configPath, err := parseFlags(fs, usage, args, nargs)
	if err != nil || a.open == nil {
		return err
	}
	return a.open(configPath)
}

func badUsage(fs *flag.FlagSet, usage, msg string) error {
	return &usageError{msg: msg, text: usageText(fs, usage)}
}

func usageText(fs *flag.FlagSet, usage string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: turnmail %s\n\nFlags:\n", usage)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// openStore loads the config and opens the store for a command run from the
// shell. It waits only briefly for the store's lock: if serve holds it, the
// command goes over serve's control socket instead.
func (a *app) openStore(configPath string, writes bool) error {
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return err
	}
	a.cfg = cfg
	path := filepath.Join(cfg.Gateway.DataDir, dbFile)
	// Opening would create a database: an inspection command on a wrong
	// data_dir should say so instead.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database at %s: has turnmail serve run with this configuration?", path)
	}
	st, err := store.Open(path, &store.Options{Timeout: 200 * time.Millisecond, ReadOnly: !writes})
	if errors.Is(err, store.ErrLocked) {
		return errForward
	} else if err != nil {
		return err
	}
	a.st = st
	if writes {
		if a.engine, _, err = newEngine(cfg, st, a.log); err != nil {
			return err
		}
	}
	return nil
}

// newEngine returns the workflow engine for cfg over st, and the tagger of
// its gateway addresses.
func newEngine(cfg *Config, st *store.Store, log *slog.Logger) (*workflow.Engine, *tag.Tagger, error) {
	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, nil, err
	}
	tagger, err := tag.NewTagger(cfg.Gateway.Address, secret)
	if err != nil {
		return nil, nil, err
	}
	summary, err := cfg.Summary.workflow()
	if err != nil {
		return nil, nil, err
	}
	wcfg := workflow.Config{
		OutOfTurn:          cfg.Policy.OutOfTurn,
		AllowedSenders:     cfg.Policy.AllowedSenders,
		TrustedAuthservIDs: cfg.Security.TrustedAuthservIDs,
		Unauthenticated:    cfg.Security.Unauthenticated,
		Summary:            summary,
		Reminders:          workflow.ReminderConfig{HeldFor: cfg.Reminders.HeldFor.Duration, BeforeDeadline: cfg.Reminders.BeforeDeadline.Duration},
		MaxAttachmentBytes: cfg.Outbound.MaxAttachmentBytes,
		Retention:          workflow.RetentionConfig{PurgeAfter: cfg.Retention.PurgeAfter.Duration},
	}
	if cfg.HTTP.Listen != "" {
		wcfg.UnsubscribeURL = func(address string) string {
			return cfg.HTTP.PublicURL + unsubscribePath + tagger.AddressToken(address)
		}
		wcfg.DownloadURL = func(cid, digest, filename string, expires time.Time) string {
			return cfg.HTTP.PublicURL + downloadPath + tagger.DownloadToken(cid, digest, expires) + "/" + url.PathEscape(filename)
		}
	}
	return workflow.New(st, tagger, wcfg, log), tagger, nil
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
