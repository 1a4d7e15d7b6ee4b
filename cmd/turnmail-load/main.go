// Command turnmail-load puts a turnmail gateway under load over SMTP, as
// many MTAs delivering at once would, and says how it held up: mails a
// second, the SMTP transaction's latency, what failed and why, and with the
// gateway's mail in view (its file outbox, or this command's own sink as its
// smarthost) the delay from a mail's 250 to its handoff.
//
// Operators point it at their own deployment; .ci/bench points it at a
// fresh one and at mailpit. `turnmail-load docx-series DIR` writes the
// 20-version docx series that .ci/bench stores in both turnmail and git.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: turnmail-load [flags] [FILE...]
       turnmail-load docx-series [-n 20] [-seed 1] DIR

Hands mails to a turnmail gateway over SMTP from --concurrency clients and
prints the rate, the latency of the SMTP transaction (end of DATA to 250)
and the failures by reply code. To a server that offers CHUNKING each mail
goes as one BDAT chunk, as Exim and Microsoft Exchange send, unless
--chunking=never. A 4xx reply or a lost connection is retried
after a backoff with the same bytes, as an MTA would; a 5xx is a failure.

Mode new starts a collaboration with every mail: from a-RUN-N@--from-domain
to the gateway, To b-RUN-N@--to-domain, one attachment. Mode reply starts
--collabs collaborations, reads the tagged addresses back from the gateway's
mail (--outbox or --sink), and then each mail is a reply by the turn holder
with a new version, ending the turn. With --outbox or --sink, the delay
from each mail's 250 to its handoff is printed too. FILEs, when given, are
the attachments in turn (the first starts a collaboration, each reply takes
the next) instead of random bytes.

The gateway must relay to the sink without STARTTLS:
  [outbound] mode = "smtp", smarthost = "127.0.0.1:2626", starttls = false

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "turnmail-load:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "docx-series" {
		return runDocxSeries(args[1:], stderr)
	}
	fs := flag.NewFlagSet("turnmail-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	o := &options{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:2525", "the gateway's SMTP listener, `host:port`")
	fs.StringVar(&o.gateway, "gateway", "collab@localhost", "the gateway `address`")
	fs.StringVar(&o.mode, "mode", "new", "`mode`: new (a new collaboration each mail) or reply (replies that end a turn)")
	fs.IntVar(&o.mails, "n", 1000, "timed `mails` to hand in")
	fs.IntVar(&o.concurrency, "c", 8, "`clients` at once, each on its own connection")
	size := fs.String("size", "200KB", "random attachment `size`: bytes, or with KB, MB (1000s), KiB, MiB (1024s)")
	fs.IntVar(&o.collabs, "collabs", 0, "collaborations a reply run takes turns in (0: at least --c, and so many that no sender sends more than 50)")
	fs.StringVar(&o.outbox, "outbox", "", "read the gateway's mail from this outbox `dir`ectory (outbound mode file)")
	fs.StringVar(&o.sink, "sink", "", "run an SMTP sink on `host:port` as the gateway's smarthost and read its mail there")
	fs.Float64Var(&o.rate, "rate", 0, "start at most this many `mails/s` (0: as fast as the gateway takes them)")
	fs.DurationVar(&o.retry.backoff, "backoff", 500*time.Millisecond, "the wait before the first retry; it doubles up to --max-backoff")
	fs.DurationVar(&o.retry.max, "max-backoff", 10*time.Second, "the longest wait between two attempts")
	fs.IntVar(&o.retry.tries, "tries", 6, "attempts for one mail, the first included")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "for each SMTP command and the reply to DATA (RFC 5321 §4.5.3.2)")
	fs.DurationVar(&o.wait, "wait", time.Minute, "how long the handoffs may take after the last 250 (0: report the ones not yet seen as missing); a reply run waits at least 2m for the mail about the collaborations it starts")
	fs.StringVar(&o.helo, "helo", "turnmail-load.localhost", "the EHLO `name`")
	fs.StringVar(&o.fromDomain, "from-domain", "acme.test", "the `domain` of the party that starts each collaboration")
	fs.StringVar(&o.toDomain, "to-domain", "axe.test", "the other party's `domain`")
	fs.Uint64Var(&o.seed, "seed", 0, "the same seed makes the same mails and addresses, byte for byte but for Date (0: new ones each run); a gateway that has them takes them as redeliveries")
	chunking := fs.String("chunking", "auto", "`when` to send with BDAT (RFC 3030) rather than DATA: auto (when the server offers CHUNKING, as Exim and Exchange do) or never")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch *chunking {
	case "auto":
	case "never":
		o.dataOnly = true
	default:
		return fmt.Errorf("--chunking: %q: want auto or never", *chunking)
	}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	for _, name := range fs.Args() {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		o.files = append(o.files, attachment{name: filepath.Base(name), data: data})
	}
	r, err := load(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return r.writeJSON(stdout)
	}
	return r.writeText(stdout)
}

// parseSize reads "200KB", "1MiB" or "4096".
func parseSize(s string) (int, error) {
	num, mult := s, 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1e3}, {"MB", 1e6}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q: want bytes, or a number with KB, MB, KiB or MiB", s)
	}
	return n * mult, nil
}
