package imappoll

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Mailbox names. In an Account, "/" always separates the levels of a
// mailbox hierarchy, whatever the server uses: "Turnmail/Done" is the
// mailbox Done inside Turnmail, sent to Dovecot (whose separator is "."
// unless configured otherwise) as "Turnmail.Done" and to Gmail as it is.
// The separator is the one LIST "" "" returns (RFC 9051 §6.3.9). A name
// without "/" goes to the server as written, in its own syntax.

// setupError is a problem with what the account asks of the server that a
// reconnect does not cure: the server refused the login, or a mailbox the
// configuration names (to select or create it), or the name cannot be made
// on this server at all. Run logs it as an error, with the server's words.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// serverSaid returns the text of the server's NO or BAD reply behind err,
// with its response code, or "" when err is not one.
func serverSaid(err error) string {
	var ierr *imap.Error
	if !errors.As(err, &ierr) {
		return ""
	}
	if ierr.Code != "" {
		return fmt.Sprintf("[%s] %s", ierr.Code, ierr.Text)
	}
	return ierr.Text
}

// refused marks err as a setupError when it is the server's NO or BAD
// reply; a connection that failed stays what it is.
func refused(err error) error {
	var ierr *imap.Error
	if errors.As(err, &ierr) && (ierr.Type == imap.StatusResponseTypeNo || ierr.Type == imap.StatusResponseTypeBad) {
		return &setupError{err}
	}
	return err
}

// serverName spells a configured mailbox name for a server whose hierarchy
// delimiter is delim (0: the server has no hierarchy).
func serverName(name string, delim rune) (string, error) {
	if !strings.Contains(name, "/") || delim == '/' {
		return name, nil
	}
	if delim == 0 {
		return "", errors.New(`the server has no mailbox hierarchy (LIST "" "" gives no delimiter): name the mailbox without "/"`)
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" {
			return "", errors.New(`an empty level between "/"`)
		}
		if strings.ContainsRune(p, delim) {
			return "", fmt.Errorf("%q holds %q, this server's hierarchy delimiter: with \"/\" in a name, \"/\" alone separates levels", p, delim)
		}
	}
	return strings.Join(parts, string(delim)), nil
}

// hierarchyDelimiter asks the server for its hierarchy delimiter with
// LIST "" "", which names no mailbox and answers with the delimiter of the
// personal namespace (RFC 9051 §6.3.9). 0 means none.
func (s *imapSession) hierarchyDelimiter() (rune, error) {
	var list []*imap.ListData
	err := s.do(`list "" ""`, func() (err error) {
		list, err = s.c.List("", "", nil).Collect()
		return err
	})
	if err != nil {
		return 0, err
	}
	if len(list) == 0 {
		// Not what RFC 9051 allows; "/" is what most servers use.
		s.log.Warn(`imap server answered LIST "" "" with nothing: taking "/" for its hierarchy delimiter`)
		return '/', nil
	}
	return list[0].Delim, nil
}

// resolveMailboxes spells the account's mailboxes for the server.
func (s *imapSession) resolveMailboxes() error {
	acct := &s.p.acct
	delim, err := s.hierarchyDelimiter()
	if err != nil {
		return err
	}
	for _, m := range []struct {
		key, name string
		dst       *string
	}{
		{"mailbox", acct.Mailbox, &s.mailbox},
		{"done_mailbox", acct.DoneMailbox, &s.done},
		{"failed_mailbox", acct.FailedMailbox, &s.failed},
	} {
		sent, err := serverName(m.name, delim)
		if err != nil {
			return &setupError{fmt.Errorf("%s %q: %w", m.key, m.name, err)}
		}
		*m.dst = sent
	}
	s.delim = delim
	return nil
}

// mailboxWhat names a configured mailbox for the operator, with the name
// the server was sent when it differs.
func mailboxWhat(key, configured, sent string) string {
	if configured == sent {
		return fmt.Sprintf("%s %q", key, configured)
	}
	return fmt.Sprintf("%s %q (sent as %q)", key, configured, sent)
}
