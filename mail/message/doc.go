// Package message is MIME in and out. Parse reads a received message in one
// streaming pass (RFC 5322, RFC 2045–2049, RFC 2231 parameters, RFC 2047
// words, winmail.dat) with its own bounded multipart reader and decoders,
// streams attachments into a mail.BlobWriter and says what it could not
// read; AutoReason spots automatic mail (RFC 3834); DMARCVerdict reads
// Authentication-Results (RFC 8601); ReadReport reads a delivery report
// (RFC 3464 and RFC 6533, or a plain bounce) into a Report. WriteMessage
// renders a mail.Outgoing.
package message
