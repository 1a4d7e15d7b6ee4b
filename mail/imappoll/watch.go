package imappoll

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/textproto"

	"github.com/turnmail/turnmail/mail"
)

// The keywords that mark a message the poller handled but left in place:
// no done or failed mailbox is configured, or the server could not move it.
const (
	imapKeywordDone   imap.Flag = "$TurnmailDone"
	imapKeywordFailed imap.Flag = "$TurnmailFailed"
)

// watch runs passes over the mailbox, between them waiting for the server to
// announce new mail (IDLE) or for the poll interval, until the connection or
// ctx ends. healthy reports whether a pass completed.
func (s *imapSession) watch(ctx context.Context) (healthy bool, err error) {
	acct := &s.p.acct
	idle := acct.IDLE && s.caps.Has(imap.CapIdle)
	every := acct.PollInterval
	if idle {
		every = min(every, imapIdleMax)
	}
	move, uidplus := s.caps.Has(imap.CapMove), s.caps.Has(imap.CapUIDPlus)
	delim := "NIL"
	if s.delim != 0 {
		delim = string(s.delim)
	}
	s.log.Info("imap session started", "mailbox", s.mailbox, "delimiter", delim, "uidvalidity", s.validity, "last_uid", s.last,
		"idle", idle, "move", move, "uidplus", uidplus)
	if !move && !uidplus && (s.done != "" || s.failed != "") {
		s.log.Warn("imap server offers neither MOVE nor UIDPLUS: handled messages stay, flagged", "mailbox", s.mailbox)
	}
	for {
		if err := s.pass(ctx); err != nil {
			return healthy, err
		}
		healthy = true
		if err := s.wait(ctx, idle, every); err != nil {
			return healthy, err
		}
	}
}

// wait returns when new mail may have arrived: the server said so, or every
// has passed (IDLE can miss a message, GOTCHAS).
func (s *imapSession) wait(ctx context.Context, idle bool, every time.Duration) error {
	timer := time.NewTimer(every)
	defer timer.Stop()
	var cmd *imapclient.IdleCommand
	if idle {
		err := s.do("idle", func() (err error) {
			cmd, err = s.c.Idle()
			return err
		})
		if err != nil {
			return err
		}
		s.log.Debug("imap idling")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.c.Closed():
		return errIMAPClosed
	case <-s.wake:
	case <-timer.C:
	}
	if cmd == nil {
		return nil
	}
	return s.do("stop idle", func() error {
		if err := cmd.Close(); err != nil {
			return err
		}
		return cmd.Wait()
	})
}

// pass handles every message above the cursor, in UID order, one at a time.
// It stops at the first message it could not handle, so the cursor never
// passes one. Messages flagged as handled are skipped (the cursor may have
// been lost), and so are those marked \Deleted: someone threw them away, or
// the poller itself did, killed before its UID EXPUNGE, after their copy.
func (s *imapSession) pass(ctx context.Context) error {
	// Announcements from here on may be of mail this search does not see yet:
	// they stay for wait.
	select {
	case <-s.wake:
	default:
	}
	var data *imap.SearchData
	err := s.do("uid search", func() (err error) {
		data, err = s.c.UIDSearch(&imap.SearchCriteria{
			UID:     []imap.UIDSet{{{Start: imap.UID(s.last + 1), Stop: 0}}},
			NotFlag: []imap.Flag{imapKeywordDone, imapKeywordFailed, imap.FlagDeleted},
		}, nil).Wait()
		return err
	})
	if err != nil {
		return err
	}
	uids := data.AllUIDs()
	slices.Sort(uids)
	for _, uid := range uids {
		// "n:*" also matches the highest UID when n is above it (RFC 9051
		// §6.4.4): that one was handled before.
		if uint32(uid) <= s.last {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.handle(ctx, uid); err != nil {
			return fmt.Errorf("uid %d: %w", uid, err)
		}
	}
	return nil
}

// imapMeta is what the poller reads about a message before fetching it.
type imapMeta struct {
	size       int64
	date       time.Time
	messageID  string
	returnPath string // the address, "" for <> or no Return-Path
}

// handle delivers one message, files it, and advances the cursor past it.
func (s *imapSession) handle(ctx context.Context, uid imap.UID) error {
	m, err := s.meta(uid)
	if err != nil {
		return err
	}
	if m == nil {
		return s.gone(uid)
	}
	acct := &s.p.acct
	var outcome string
	failed := acct.MaxMessageBytes > 0 && m.size > acct.MaxMessageBytes
	switch {
	case failed:
		outcome = "too big"
	case m.returnPath != "" && !s.p.limit.Allow(m.returnPath, time.Now()):
		// Mail without a Return-Path (appended rather than delivered)
		// cannot be told apart by sender, and is not counted.
		outcome, failed = "too many messages from this sender in the last hour", true
	default:
		spool, err := s.fetch(uid, acct.MaxMessageBytes)
		switch {
		case errors.Is(err, mail.ErrTooBig):
			// RFC822.SIZE said less than the server sent.
			outcome, failed = "too big", true
		case err != nil:
			return err
		default:
			outcome, failed, err = s.deliver(ctx, uid, m, spool)
			spool.Close()
			if err != nil {
				return err
			}
		}
	}
	filed, err := s.file(uid, failed)
	if err != nil {
		return err
	}
	if err := s.p.cur.SetIMAPCursor(acct.Name, acct.Mailbox, s.validity, uint32(uid)); err != nil {
		return fmt.Errorf("advance imap cursor: %w", err)
	}
	s.last = uint32(uid)
	level := slog.LevelInfo
	if failed {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "imap message", "uid", uid, "message_id", m.messageID, "size", m.size,
		"outcome", outcome, "failed", failed, "filed", filed)
	return nil
}

// deliver hands one fetched message to the Deliverer, as one try of at most
// imapMaxTries, and says what became of it: failed when it is to be filed as
// such. An error leaves the message where it is, to be tried again.
func (s *imapSession) deliver(ctx context.Context, uid imap.UID, m *imapMeta, spool *mail.Spool) (outcome string, failed bool, err error) {
	acct := &s.p.acct
	log := s.log.With("uid", uid, "message_id", m.messageID)
	tries, err := s.p.cur.IMAPTries(acct.Name, acct.Mailbox, s.validity, uint32(uid))
	if err != nil {
		return "", false, fmt.Errorf("load imap tries: %w", err)
	}
	if tries >= imapMaxTries {
		// The last try neither failed nor succeeded: the process died in
		// it, or was killed while it hung.
		log.Warn("imap message given up", "tries", tries, "reason", "earlier tries did not end")
		return fmt.Sprintf("given up after %d tries", tries), true, nil
	}
	// Recorded before the try, so that a try the process does not survive
	// counts as well.
	tries++
	if err := s.p.cur.SetIMAPTries(acct.Name, acct.Mailbox, s.validity, uint32(uid), tries); err != nil {
		return "", false, fmt.Errorf("record imap try: %w", err)
	}
	env := mail.Envelope{ID: fmt.Sprintf("%s.%d", s.id, uid), Source: "imap", From: m.returnPath, Received: m.date}
	res, err := mail.DeliverBounded(ctx, s.p.d, env, spool, acct.DeliverTimeout, log)
	var rej *mail.Rejection
	switch {
	case err == nil:
		return res.Outcome, res.Unprocessable, nil
	case errors.As(err, &rej):
		// The Deliverer has told the sender where the design says so.
		log.Info("imap message rejected", "code", rej.Code, "reason", rej.Reason)
		return "rejected: " + rej.Reason, true, nil
	case ctx.Err() != nil:
		// Stopped from outside: not the message's fault, so not a try.
		if err := s.p.cur.SetIMAPTries(acct.Name, acct.Mailbox, s.validity, uint32(uid), tries-1); err != nil {
			log.Warn("undo imap try", "err", err)
		}
		return "", false, fmt.Errorf("deliver %s: %w", m.messageID, err)
	}
	log.Warn("imap delivery failed", "err", err, "try", tries, "max_tries", imapMaxTries)
	if tries >= imapMaxTries {
		return fmt.Sprintf("given up after %d tries", tries), true, nil
	}
	return "", false, fmt.Errorf("deliver %s: %w", m.messageID, err)
}

// gone checks that a message the server returned nothing for was expunged
// meanwhile, by someone else: it then needs nothing, and a later message moves
// the cursor past its UID. Anything else is a protocol problem.
func (s *imapSession) gone(uid imap.UID) error {
	var data *imap.SearchData
	err := s.do("uid search", func() (err error) {
		data, err = s.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(uid)}}, nil).Wait()
		return err
	})
	if err != nil {
		return err
	}
	if len(data.AllUIDs()) > 0 {
		return errors.New("fetch returned no data for an existing message")
	}
	s.log.Debug("imap message expunged before it was fetched", "uid", uid)
	return nil
}

// meta fetches a message's size, date and the header fields the poller
// needs before the message itself; nil when the message no longer exists.
func (s *imapSession) meta(uid imap.UID) (*imapMeta, error) {
	var m *imapMeta
	err := s.do("fetch size", func() error {
		cmd := s.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			RFC822Size:   true,
			InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{
				Specifier:    imap.PartSpecifierHeader,
				HeaderFields: []string{"Message-Id", "Return-Path"},
				Peek:         true,
			}},
		})
		defer cmd.Close()
		msg := cmd.Next()
		if msg == nil {
			return cmd.Close()
		}
		m = &imapMeta{date: time.Now()}
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataRFC822Size:
				m.size = item.Size
			case imapclient.FetchItemDataInternalDate:
				m.date = item.Time
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				const max = 64 << 10
				buf, err := io.ReadAll(io.LimitReader(item.Literal, max))
				if err == nil && len(buf) < max && int64(len(buf)) != item.Literal.Size() {
					err = io.ErrUnexpectedEOF
				}
				if err != nil {
					return s.broken(fmt.Errorf("header fields: %w", err))
				}
				// A malformed header costs only the log's Message-ID and
				// the Return-Path; the Deliverer judges the message.
				h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(buf)))
				m.messageID = strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
				m.returnPath = returnPath(h.Get("Return-Path"))
			}
		}
		return cmd.Close()
	})
	return m, err
}

// returnPath returns the address of a Return-Path field (RFC 5322 §3.6.7):
// "" for the null path "<>" and for an absent field.
func returnPath(v string) string {
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	return strings.TrimSpace(v)
}

// fetch streams a message with BODY.PEEK[], so that it stays unseen until it
// is filed, into a Spool, never holding it in memory.
func (s *imapSession) fetch(uid imap.UID, max int64) (*mail.Spool, error) {
	var spool *mail.Spool
	err := s.do("fetch", func() error {
		cmd := s.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			BodySection: []*imap.FetchItemBodySection{{Peek: true}},
		})
		defer cmd.Close()
		msg := cmd.Next()
		if msg == nil {
			if err := cmd.Close(); err != nil {
				return err
			}
			return errors.New("no data for the message")
		}
		for item := msg.Next(); item != nil; item = msg.Next() {
			body, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || body.Literal == nil || spool != nil {
				continue
			}
			lit := &progressReader{r: body.Literal, dog: s.dog, d: s.p.timeout}
			sp, err := mail.NewSpool(s.p.acct.SpoolDir, lit, max)
			// A connection cut mid-literal reads as a short literal.
			if err == nil && sp.Size() != body.Literal.Size() {
				sp.Close()
				err = fmt.Errorf("message cut short at %d of %d bytes", sp.Size(), body.Literal.Size())
			}
			if err != nil && lit.ended {
				return s.broken(err)
			}
			if err != nil {
				return err // cmd.Close drains the rest of the literal
			}
			spool = sp
		}
		if spool == nil {
			return errors.New("no body in the fetch response")
		}
		return cmd.Close()
	})
	if err != nil {
		if spool != nil {
			spool.Close()
		}
		return nil, err
	}
	return spool, nil
}

// broken drops the connection after a literal ended early or failed, and
// returns err. Reading on, as draining the rest of the response would, races
// imapclient's reader goroutine for the socket once a literal has ended.
func (s *imapSession) broken(err error) error {
	s.c.Close()
	return err
}

// progressReader extends the watchdog's bound whenever bytes arrive, so a
// large message on a slow link is not cut while a stalled one is.
// It notes when the literal ended, by EOF or error.
type progressReader struct {
	r     io.Reader
	dog   *watchdog
	d     time.Duration
	ended bool
}

func (r *progressReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.dog.arm(r.d)
	}
	r.ended = r.ended || err != nil
	return n, err
}

// file puts a handled message where it belongs, done or failed, and says
// where for the log. MOVE when offered; COPY, \Deleted and UID EXPUNGE with
// UIDPLUS (imapclient's Move does both); otherwise, or with no mailbox
// configured, a keyword: a plain EXPUNGE would also remove every other
// \Deleted message of the mailbox (GOTCHAS).
func (s *imapSession) file(uid imap.UID, failed bool) (string, error) {
	dest, keyword := s.done, imapKeywordDone
	if failed {
		dest, keyword = s.failed, imapKeywordFailed
	}
	set := imap.UIDSetNum(uid)
	if dest != "" && (s.caps.Has(imap.CapMove) || s.caps.Has(imap.CapUIDPlus)) {
		err := s.do("move to "+dest, func() error {
			_, err := s.c.Move(set, dest).Wait()
			return err
		})
		return "moved to " + dest, err
	}
	err := s.do("flag "+string(keyword), func() error {
		return s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{keyword}}, nil).Close()
	})
	return "flagged " + string(keyword), err
}
