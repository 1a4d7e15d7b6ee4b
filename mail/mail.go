// Package mail holds the contracts and value types the mail packages and
// the rules share: Address, Blob, Envelope and Deliverer (mail in), Outgoing,
// QueuedMail and Queue (mail out), Spool, Rejection, RecipientPolicy. It
// knows nothing of collaborations and imports the standard library only.
// The jobs are in the packages below it: message (MIME), reply (the new text
// of a reply), tag (signed addresses), smtpd and imappoll (mail in) and
// outbound (mail out).
package mail

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"time"
)

// Address is one mailbox: an optional display name and the address itself.
// Addr is kept as written; compare with strings.EqualFold or Canonical.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr"`
}

// Blob names content-addressed bytes held by a BlobStore.
type Blob struct {
	Digest string `json:"digest"` // lower-case hex SHA-256 of the content
	Size   int64  `json:"size"`
}

// BlobWriter stores content and returns its Blob. Writing the same bytes
// twice returns the same Blob and stores them once.
type BlobWriter interface {
	PutBlob(r io.Reader) (Blob, error)
}

// BlobOpener opens stored content for reading.
type BlobOpener interface {
	OpenBlob(digest string) (io.ReadCloser, error)
}

// Envelope is what the transport said about a message, as opposed to what
// its header says.
type Envelope struct {
	ID         string    // transport session id, carried by every log line
	Source     string    // "smtp", "lmtp", "imap"
	From       string    // MAIL FROM; "" for the null sender
	Recipients []string  // RCPT TO, as accepted
	Received   time.Time // when the transport accepted the data
}

// NewSessionID returns an id for one transport session (an SMTP connection,
// an IMAP login) for Envelope.ID and the log lines: 13 random lower-case
// base32 characters (64 bits).
func NewSessionID() string {
	var b [8]byte
	rand.Read(b[:])
	return sessionIDEncoding.EncodeToString(b[:])
}

var sessionIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// A Deliverer takes a spooled message off the transport. It returns nil only
// once the message's effects are durable. A *Rejection means the message is
// refused for good and nothing of it was kept: SMTP and LMTP answer its code
// and reason, the IMAP poller files the message in its failed mailbox. Any
// other error means "try again later" and is answered with a transient
// failure.
type Deliverer interface {
	Deliver(ctx context.Context, env Envelope, msg *Spool) (Result, error)
}

// A Rejection refuses a message for good, with a reply the sender's MTA
// turns into a bounce: a limit it exceeds, a structure nobody can read.
type Rejection struct {
	Code     int    // 5xx reply code: 552 for sizes and counts, 554 for content
	Enhanced [3]int // RFC 3463 status code, e.g. {5, 3, 4}
	Reason   string // one sentence for the sender, without internals
	Detail   string // for the operator's log only, never sent ("bad tag")
}

// A RecipientPolicy decides which recipients an inbound server takes. The
// server asks it at each RCPT TO, before any data is sent, so that mail the
// gateway would refuse is refused by the MTA in front and not bounced later.
type RecipientPolicy interface {
	// AcceptRecipient returns nil when mail for addr is taken, or the
	// *Rejection the server answers to the RCPT. Every refusal the gateway
	// cannot tell apart for the sender gets the same Code and Reason, so
	// that a forger learns nothing; Detail says which one it was.
	AcceptRecipient(addr string) *Rejection
}

// PermanentError marks a failure of an outbound message that retrying
// cannot fix, such as a message that cannot be rendered or a recipient the
// receiving server refuses with a 5xx. A Sender is the one to say so: only it
// knows whether a reply was about the message or about its session.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// A Refusal is a receiving server's reply refusing one outbound message: to
// MAIL FROM, RCPT TO, DATA or the data itself, or as a delivery status
// notification that came back later. It is the server's own words, as
// opposed to the failure of a connection, a greeting, TLS or AUTH, which is
// the gateway's relay's business and means nothing to the people told. A
// Sender puts it in the chain of the error it returns; whoever reports the
// failure to a person quotes it (errors.As) and nothing else of the chain.
// It is the outbound counterpart of a Rejection.
type Refusal struct {
	Code     int    // the reply code, 4xx or 5xx; 0 when unknown (a DSN without a Diagnostic-Code)
	Enhanced string // the RFC 3463 status ("5.1.1"), "" when the server gave none
	Text     string // what the server said, one line
}

func (r *Refusal) Error() string {
	s := r.Text
	if r.Enhanced != "" {
		s = r.Enhanced + " " + s
	}
	if r.Code != 0 {
		s = fmt.Sprintf("%d %s", r.Code, s)
	}
	return s
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Reason)
}

// Result says what became of a delivered message, for the transports that
// file it accordingly: the IMAP poller moves an unprocessable message to its
// failed mailbox. SMTP and LMTP answer 250 either way: the message is kept.
type Result struct {
	Outcome       string // what the rules made of it, for logs ("started", "turn", …)
	Unprocessable bool   // it could not be parsed or applied, and is kept raw for an operator
}

// Outgoing is one message to one recipient, stored in the outbound queue and
// rendered to MIME by WriteMessage only when it is sent, so that a retry
// produces the same message (same Message-ID) again.
type Outgoing struct {
	MessageID  string    `json:"message_id"` // without angle brackets
	Date       time.Time `json:"date"`
	From       Address   `json:"from"`
	To         Address   `json:"to"`
	ReplyTo    *Address  `json:"reply_to,omitempty"`
	Subject    string    `json:"subject"`
	InReplyTo  string    `json:"in_reply_to,omitempty"` // without angle brackets
	References []string  `json:"references,omitempty"`  // without angle brackets, oldest first
	// List headers (RFC 2369, RFC 2919); empty ones are left out.
	ListID          string `json:"list_id,omitempty"`          // e.g. "Contract <k7p2qz.collab.gw.example>"
	ListPost        string `json:"list_post,omitempty"`        // an address, written as <mailto:...>
	ListUnsubscribe string `json:"list_unsubscribe,omitempty"` // full header value
	// Header holds further header fields (X-Turnmail-Collab and the like).
	Header      [][2]string          `json:"header,omitempty"`
	Text        string               `json:"text"`
	HTML        string               `json:"html,omitempty"`
	Attachments []OutgoingAttachment `json:"attachments,omitempty"`
}

// OutgoingAttachment is a stored blob sent as an attachment.
type OutgoingAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Blob        Blob   `json:"blob"`
}

// QueuedMail is an Outgoing waiting in a Queue, with what the queue knows
// of why it was written, for the hooks that act on its fate.
type QueuedMail struct {
	ID       uint64
	Attempts int    // failed attempts so far
	Collab   string // the collaboration it is about, "" for none
	Kind     string // the kind of gateway mail ("handoff", "notice", …)
	Msg      Outgoing
}

// Queue is the durable outbound queue the delivery worker drains. Its
// methods are safe for concurrent use.
type Queue interface {
	// Due returns up to limit queued messages whose next attempt is at or
	// before now, the earliest first.
	Due(now time.Time, limit int) ([]QueuedMail, error)
	// NextDue returns the earliest next attempt of a queued message that is
	// after t, and false when there is none: when a worker must wake.
	NextDue(after time.Time) (time.Time, bool, error)
	MarkSent(id uint64, at time.Time) error
	MarkRetry(id uint64, next time.Time, reason string) error
	MarkFailed(id uint64, at time.Time, reason string) error
}
