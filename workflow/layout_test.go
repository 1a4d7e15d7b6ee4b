package workflow_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the rules and the store apart from the transports:
// neither may link the SMTP server, the IMAP client or the outbound worker
// (DESIGN §4), so that they stay testable and readable on their own.
func TestLayering(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "../store", "../workflow").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/emersion/go-smtp",
		"github.com/emersion/go-imap/v2/imapclient",
		"github.com/turnmail/turnmail/mail/smtpd",
		"github.com/turnmail/turnmail/mail/imappoll",
		"github.com/turnmail/turnmail/mail/outbound",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f {
				t.Errorf("store or workflow depends on %s", dep)
			}
		}
	}
}
