// Package imappoll fetches mail from a mailbox at a provider (IMAP4rev1 and
// IMAP4rev2, RFC 3501 and RFC 9051, with IDLE, RFC 2177) on go-imap, hands
// each message to a mail.Deliverer and files it in a done or failed mailbox
// once that returned. Its Cursor keeps where it is across restarts.
package imappoll
