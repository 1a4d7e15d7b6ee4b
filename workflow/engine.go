// Package workflow holds turnmail's rules: matching a mail to its
// collaboration, parties and turns, drafts, commands, and the mail each
// change sends. It decides; its only I/O is the store it is handed, and every
// decision about one inbound mail is applied in one store transaction together
// with the outbound mail it causes.
package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// Out-of-turn policies.
const (
	OutOfTurnAccept = "accept" // keep the file as the party's draft
	OutOfTurnReject = "reject" // refuse it and tell the sender
)

// Config is what the rules need from configuration.
type Config struct {
	OutOfTurn string           // OutOfTurnAccept (default) or OutOfTurnReject
	Now       func() time.Time // nil: time.Now
	// AllowedSenders, when not empty, lists who may start a collaboration:
	// addresses ("alice@acme.com") and domains ("@acme.com"), lower-case.
	// Empty: anyone.
	AllowedSenders []string
	Summary        SummaryConfig
	Reminders      ReminderConfig
	// UnsubscribeURL, when set, gives the RFC 8058 one-click address that
	// turns a person's weekly summaries off; nil when no HTTP listener is
	// configured.
	UnsubscribeURL func(address string) string
}

// SummaryConfig schedules the weekly summary (DESIGN §2.8): at Hour:00 on
// Weekday, in each person's own time zone or else Location.
type SummaryConfig struct {
	Weekday   time.Weekday   // default Monday (set by the caller: Sunday is zero)
	Hour      int            // 0–23
	Location  *time.Location // nil: UTC
	SkipEmpty bool           // no mail for a person with no active collaboration
}

// ReminderConfig says when the turn holders get a reminder (DESIGN §2.9).
type ReminderConfig struct {
	HeldFor        time.Duration // a turn held this long; 0: never
	BeforeDeadline time.Duration // this long before the deadline; 0: never
}

// Engine applies inbound mail to collaborations.
type Engine struct {
	st  *store.Store
	tag *mail.Tagger
	cfg Config
	log *slog.Logger
}

// New returns an Engine over st. Gateway addresses come from tag. A nil log
// discards.
func New(st *store.Store, tag *mail.Tagger, cfg Config, log *slog.Logger) *Engine {
	if cfg.OutOfTurn == "" {
		cfg.OutOfTurn = OutOfTurnAccept
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Summary.Location == nil {
		cfg.Summary.Location = time.UTC
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{st: st, tag: tag, cfg: cfg, log: log}
}

var _ mail.Deliverer = (*Engine)(nil)

// Deliver applies one received message. It returns nil once the message's
// effects are committed, or once it is known to be a redelivery. A message
// that cannot be parsed is kept raw with outcome unprocessable, and that too
// returns nil: retrying would not help, and nothing is lost.
func (e *Engine) Deliver(ctx context.Context, env mail.Envelope, sp *mail.Spool) (mail.Result, error) {
	outcome, err := e.ingest(env, sp, nil)
	return mail.Result{Outcome: outcome, Unprocessable: outcome == store.OutcomeUnprocessable}, err
}

// Reprocess runs a kept raw message (outcome unprocessable) through the rules
// again, replacing its audit record.
func (e *Engine) Reprocess(ctx context.Context, inboundID uint64) error {
	var in *store.Inbound
	err := e.st.View(func(tx *store.Tx) error {
		var err error
		in, err = tx.Inbound(inboundID)
		return err
	})
	if err != nil {
		return fmt.Errorf("inbound %d: %w", inboundID, err)
	}
	if in.Outcome != store.OutcomeUnprocessable || in.Raw == "" {
		return fmt.Errorf("inbound %d has outcome %q: only unprocessable mail is reprocessed", inboundID, in.Outcome)
	}
	r, err := e.st.OpenBlob(in.Raw)
	if err != nil {
		return fmt.Errorf("open raw message of inbound %d: %w", inboundID, err)
	}
	sp, err := mail.NewSpool("", r, 0)
	r.Close()
	if err != nil {
		return fmt.Errorf("spool inbound %d: %w", inboundID, err)
	}
	defer sp.Close()
	env := mail.Envelope{ID: fmt.Sprintf("reprocess-%d", inboundID), Source: in.Source, From: in.EnvFrom, Recipients: in.Recipients, Received: in.Time}
	outcome, err := e.ingest(env, sp, in)
	if err == nil && outcome == store.OutcomeUnprocessable {
		err = fmt.Errorf("inbound %d still cannot be parsed", inboundID)
	}
	return err
}

// ingest parses a spooled message and applies it in one transaction, or
// keeps it raw when it cannot be parsed. prev is the audit record being
// reprocessed, nil for a new message. It returns the outcome recorded.
func (e *Engine) ingest(env mail.Envelope, sp *mail.Spool, prev *store.Inbound) (string, error) {
	log := e.log.With("session", env.ID, "digest", sp.Digest()[:12])
	msg, err := mail.Parse(sp.Reader(), e.st, nil)
	var perr error
	switch {
	case errors.Is(err, mail.ErrMalformed), errors.Is(err, mail.ErrLimit):
		return store.OutcomeUnprocessable, e.keepRaw(log, env, sp, prev, err)
	case errors.Is(err, mail.ErrTooManyAttachments):
		perr = err // answered to the sender, with the header Parse did read
	case err != nil:
		return "", fmt.Errorf("parse message: %w", err)
	}
	d := &delivery{e: e, log: log, env: env, digest: sp.Digest(), size: sp.Size(), msg: msg, perr: perr, prev: prev}
	if err := e.st.Update(d.apply); err != nil {
		return "", fmt.Errorf("apply message: %w", err)
	}
	d.report()
	if d.dup {
		return "duplicate", nil
	}
	return d.in.Outcome, nil
}

// keepRaw stores a message that cannot be applied as it came, with outcome
// unprocessable, so an operator can look at it and `turnmail reprocess` it.
// prev, when set, is the audit record being reprocessed.
func (e *Engine) keepRaw(log *slog.Logger, env mail.Envelope, sp *mail.Spool, prev *store.Inbound, cause error) error {
	raw, err := e.st.PutBlob(sp.Reader())
	if err != nil {
		return fmt.Errorf("store raw message: %w", err)
	}
	key := "sha256:" + sp.Digest()
	err = e.st.Update(func(tx *store.Tx) error {
		if prev == nil {
			if _, _, err := tx.MsgID(key); err == nil {
				return nil // the same bytes again
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		in := &store.Inbound{
			Time: e.cfg.Now().UTC(), Source: env.Source, EnvFrom: env.From, Recipients: env.Recipients,
			Digest: sp.Digest(), Size: sp.Size(), Outcome: store.OutcomeUnprocessable,
			Detail: cause.Error(), Raw: raw.Digest,
		}
		if prev != nil {
			in.ID, in.Time = prev.ID, prev.Time
			return tx.PutInbound(in)
		}
		if err := tx.PutMsgID(key, "", store.DirIn); err != nil {
			return err
		}
		return tx.AddInbound(in)
	})
	if err != nil {
		return fmt.Errorf("record unprocessable message: %w", err)
	}
	log.Warn("message kept unprocessable", "err", cause)
	return nil
}

// DeliveryFailed tells a collaboration's owner that mail to one of its
// participants was given up on (DESIGN §6). It is the outbound worker's
// OnFailed hook. Failures of mail that is not about a collaboration, or that
// was itself such a report, are only logged: reporting them could loop.
func (e *Engine) DeliveryFailed(q mail.QueuedMail, cause error) {
	cid := ""
	kind := ""
	for _, h := range q.Msg.Header {
		switch h[0] {
		case "X-Turnmail-Collab":
			cid = h[1]
		case "X-Turnmail-Kind":
			kind = h[1]
		}
	}
	if cid == "" || kind == kindFailure || kind == kindNotice {
		return
	}
	err := e.st.Update(func(tx *store.Tx) error {
		s, err := loadState(tx, cid)
		if err != nil {
			return err
		}
		owner := s.byID(s.c.Owner)
		if owner == nil || strings.EqualFold(owner.Address, q.Msg.To.Addr) {
			return nil
		}
		d := &delivery{e: e, log: e.log, now: e.cfg.Now().UTC(), msg: &mail.Message{}}
		return d.post(tx, s, kindFailure, owner, "", &letter{
			Preheader: fmt.Sprintf("Mail about “%s” could not be delivered to %s.", s.c.Subject, q.Msg.To.Addr),
			Paras: []string{
				"Their mail server refused it for good: " + cause.Error(),
				"Check the address, or reach them another way; the collaboration itself is unchanged.",
			},
		}, nil)
	})
	if err != nil {
		e.log.Error("report failed delivery", "err", err, "outbox_id", q.ID, "collab", cid)
	}
}
