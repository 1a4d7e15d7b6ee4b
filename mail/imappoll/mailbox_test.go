package imappoll

import (
	"io"
	"log"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/turnmail/turnmail/mail/internal/mailtest"
)

func TestServerName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delim rune
		want  string // "" when an error
	}{
		{"Turnmail/Done", '.', "Turnmail.Done"},
		{"Turnmail/Done", '/', "Turnmail/Done"},
		{"Archive/2026/Turnmail", '.', "Archive.2026.Turnmail"},
		{"Turnmail/Done", '\\', `Turnmail\Done`},
		{"INBOX", '.', "INBOX"},
		{"INBOX", 0, "INBOX"},
		// No "/": the server's own syntax, passed on as written.
		{"Turnmail.Done", '.', "Turnmail.Done"},
		{"Turnmail.Done", '/', "Turnmail.Done"},
		// "/" and the server's delimiter mixed: which levels were meant?
		{"Turnmail/v1.2", '.', ""},
		{"Turnmail//Done", '.', ""},
		{"Turnmail/", '.', ""},
		{"Turnmail/Done", 0, ""},
	} {
		got, err := serverName(tc.name, tc.delim)
		if tc.want == "" && err == nil {
			t.Errorf("serverName(%q, %q) = %q, want an error", tc.name, tc.delim, got)
		} else if tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("serverName(%q, %q) = %q, %v, want %q", tc.name, tc.delim, got, err, tc.want)
		}
	}
}

// dotSession is go-imap's in-memory server behaving like Dovecot with its
// default Maildir layout: "." separates levels, and a name with "/" or one
// that begins with "~" is refused with Dovecot's words.
type dotSession struct{ *imapmemserver.UserSession }

// dovecotRefusal is what Dovecot 2.3 answers CREATE "Turnmail/Done" with.
func dovecotRefusal(name string) error {
	why := ""
	switch {
	case strings.Contains(name, "/"):
		why = "Name must not have '/' characters"
	case strings.HasPrefix(name, "~"):
		why = "Begins with '~'"
	default:
		return nil
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Invalid mailbox name: " + why}
}

func (s dotSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	// go-imap's server hands LIST "" "" on as no pattern at all.
	if len(patterns) == 0 || len(patterns) == 1 && patterns[0] == "" {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '.'})
	}
	return s.UserSession.List(w, ref, patterns, options)
}

func (s dotSession) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Delim: '.'}}}, nil
}

func (s dotSession) Create(name string, options *imap.CreateOptions) error {
	if err := dovecotRefusal(name); err != nil {
		return err
	}
	return s.UserSession.Create(name, options)
}

func (s dotSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if err := dovecotRefusal(name); err != nil {
		return nil, err
	}
	return s.UserSession.Select(name, options)
}

func (s dotSession) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	if err := dovecotRefusal(name); err != nil {
		return nil, err
	}
	return s.UserSession.Status(name, options)
}

func (s dotSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if err := dovecotRefusal(dest); err != nil {
		return err
	}
	return s.UserSession.Move(w, numSet, dest)
}

// newDotIMAPServer is Dovecot with TURNMAIL_TEST_DOVECOT=1, else dotSession
// on loopback.
func newDotIMAPServer(t *testing.T) *imapTestServer {
	t.Helper()
	if os.Getenv("TURNMAIL_TEST_DOVECOT") == "1" {
		return newIMAPTestServer(t, nil)
	}
	user := imapmemserver.NewUser("test-user", imapTestPassword)
	user.Create("INBOX", nil)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return dotSession{imapmemserver.NewUserSession(user)}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &imapTestServer{addr: ln.Addr().String(), user: "test-user", pass: imapTestPassword}
}

// delimiterOf asks the server for its hierarchy delimiter, as a client
// would.
func delimiterOf(t *testing.T, c *imapclient.Client) rune {
	t.Helper()
	list, err := c.List("", "", nil).Collect()
	if err != nil || len(list) == 0 {
		t.Fatalf(`LIST "" "": %v %v`, list, err)
	}
	return list[0].Delim
}

// TestIMAPHierarchyDelimiter: done and failed mailboxes configured with "/"
// are made with the server's delimiter, on a server that refuses "/" in
// names as Dovecot does, and handled mail is moved there.
func TestIMAPHierarchyDelimiter(t *testing.T) {
	srv := newDotIMAPServer(t)
	c := srv.client(t)
	delim := delimiterOf(t, c)
	if delim != '.' {
		t.Skipf("the server's hierarchy delimiter is %q, not the %q of Dovecot's default layout", delim, '.')
	}
	acct := srv.account(t, c)
	acct.DoneMailbox = acct.Mailbox + "/Turnmail/Done"
	acct.FailedMailbox = acct.Mailbox + "/Turnmail/Failed"
	done, failed := acct.Mailbox+".Turnmail.Done", acct.Mailbox+".Turnmail.Failed"
	t.Cleanup(func() {
		if srv.dovecot {
			c.Unselect().Wait()
			for _, m := range []string{done, failed, acct.Mailbox + ".Turnmail"} {
				c.Delete(m).Wait()
			}
		}
	})
	acct.MaxMessageBytes = 4000
	imapAppend(t, c, acct.Mailbox, nil, imapTestMail("h1", ""), imapTestMail("h2", "X-Pad: "+strings.Repeat("x", 5000)+"\r\n"))

	var logs imapLogs
	cur := newIMAPMemCursor()
	rec := newIMAPRecorder()
	runPoller(t, NewPoller(acct, rec, cur, logs.logger(t)))
	mailtest.WaitFor(t, "the poller to create "+failed, func() bool {
		_, err := c.Status(failed, &imap.StatusOptions{NumMessages: true}).Wait()
		return err == nil
	})
	waitContents(t, c, done, "h1")
	waitContents(t, c, failed, "h2")
	waitContents(t, c, acct.Mailbox)
	if ids := rec.ids(); len(ids) != 1 || ids[0] != "h1" {
		t.Errorf("delivered %v, want h1", ids)
	}
	// The cursor is kept under the name as configured, so that it survives
	// a move to another server.
	if _, last, _ := cur.IMAPCursor(acct.Name, acct.Mailbox); last == 0 {
		t.Error("no cursor under the configured mailbox name")
	}
	if !regexp.MustCompile(`msg="imap session started" .*mailbox=` + acct.Mailbox + ` delimiter=\. `).MatchString(logs.String()) {
		t.Errorf("the session line does not name the delimiter:\n%s", logs.String())
	}
}

// TestIMAPSetupRefused: a mailbox the server will not create, a name that
// cannot be spelled for it, or a login it refuses is logged as an ERROR
// with the server's words, and retried with a growing backoff; no mail is
// touched meanwhile.
func TestIMAPSetupRefused(t *testing.T) {
	srv := newDotIMAPServer(t)
	c := srv.client(t)
	if delimiterOf(t, c) != '.' {
		t.Skip(`needs a server whose hierarchy delimiter is "."`)
	}
	for _, tc := range []struct {
		name  string
		setup func(*Account)
		err   string // in the err field
		said  string // the server_said field; "" when the poller refused it itself
	}{
		{"create refused", func(a *Account) { a.DoneMailbox = "~" + a.Mailbox },
			`create done_mailbox \\"~tm`, `[CANNOT] Invalid mailbox name: Begins with '~'`},
		{"name with both delimiters", func(a *Account) { a.FailedMailbox = a.Mailbox + "/v1.2" },
			`failed_mailbox \\"tm[0-9a-f]+/v1\.2\\": \\"v1\.2\\" holds '\.'`, ""},
		{"select refused", func(a *Account) { a.Mailbox = "~" + a.Mailbox },
			`select mailbox \\"~tm`, `[CANNOT] Invalid mailbox name: Begins with '~'`},
		{"login refused", func(a *Account) { a.Password = "wrong" }, "login as ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := srv.account(t, c)
			imapAppend(t, c, acct.Mailbox, nil, imapTestMail("r1", ""))
			tc.setup(&acct)
			var logs imapLogs
			rec := newIMAPRecorder()
			p := NewPoller(acct, rec, newIMAPMemCursor(), logs.logger(t))
			p.backoff = 10 * time.Millisecond
			runPoller(t, p)
			line := regexp.MustCompile(`level=ERROR msg="imap setup refused" .*err="([^\n]*)" server_said=("[^"\n]*"|\S*) retry_in=(\S+)`)
			var lines [][]string
			mailtest.WaitFor(t, "two refusals logged", func() bool {
				lines = line.FindAllStringSubmatch(logs.String(), -1)
				return len(lines) >= 2
			})
			if !regexp.MustCompile(tc.err).MatchString(lines[0][1]) {
				t.Errorf("err %s, want it to match %s", lines[0][1], tc.err)
			}
			said := strings.Trim(lines[0][2], `"`)
			if tc.said != "" && !strings.HasPrefix(said, tc.said) {
				t.Errorf("server_said %s, want %s", said, tc.said)
			}
			if tc.name == "login refused" && said == "" {
				t.Error("the server's words on the login are not logged")
			}
			if lines[0][3] != "10ms" || lines[1][3] != "20ms" {
				t.Errorf("retry_in %s then %s, want 10ms then 20ms", lines[0][3], lines[1][3])
			}
			if strings.Contains(logs.String(), "imap session ended") {
				t.Error("a setup refusal was logged as an ordinary end of session")
			}
			if len(rec.ids()) != 0 {
				t.Errorf("delivered %v", rec.ids())
			}
		})
	}
}
