// Package mail is turnmail's wire: MIME parsing and composing, tagged
// addresses, quote and signature stripping, the ways mail comes in (the SMTP
// and LMTP server, the IMAP poller) and outbound delivery. It knows nothing
// of collaborations: it turns bytes on the wire into Messages for a
// Deliverer, and Outgoing messages from a Queue into bytes on the wire.
package mail

import (
	"context"
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

// Queue is the durable outbound queue the delivery worker drains.
type Queue interface {
	// Due returns up to limit messages whose next attempt is at or before now.
	Due(now time.Time, limit int) ([]QueuedMail, error)
	MarkSent(id uint64, at time.Time) error
	MarkRetry(id uint64, next time.Time, reason string) error
	MarkFailed(id uint64, at time.Time, reason string) error
}
