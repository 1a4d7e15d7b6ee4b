// Package smtpd is the inbound SMTP (RFC 5321) and LMTP (RFC 2033) server,
// on go-smtp. It takes the recipients a mail.RecipientPolicy accepts, spools
// each message, hands it to a mail.Deliverer and answers 250 only once that
// returned; errors are translated into replies here, once. It bounds
// connections, command lines and time (RFC 5321 §4.5.3.2), and offers
// STARTTLS (RFC 3207) with a certificate it reads again when its files
// change (CertFile).
package smtpd
