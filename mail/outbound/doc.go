// Package outbound drains the durable mail.Queue: the Worker renders each
// message with message.WriteMessage when it is due and hands it to a Sender
// (a smarthost over SMTP, or .eml files), with retries and backoff.
package outbound
