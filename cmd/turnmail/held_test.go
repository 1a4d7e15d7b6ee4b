package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/store"
)

// TestHeldReleaseDrop: a forged reply (header From Bob, matched only by its
// subject tag) is held; the operator lists it, drops one and releases
// another, through the running daemon's control socket.
func TestHeldReleaseDrop(t *testing.T) {
	_, configPath, d := startTestDaemon(t, "")
	addr := d.smtpLn.Addr().String()
	sendMail(t, addr, "alice@acme.test", []string{"collab@gw.test"},
		docxMail("alice@acme.test", "bob@axe.test", "collab@gw.test", "Contract", "start@acme.test", "Our draft.", "contract.docx", []byte("v1")))
	var cid string
	waitFor(t, "the collaboration", func() bool {
		_ = d.st.View(func(tx *store.Tx) error {
			cs, err := tx.Collabs()
			if len(cs) == 1 {
				cid = cs[0].ID
			}
			return err
		})
		return cid != ""
	})
	for i := range 2 {
		sendMail(t, addr, "eve@evil.test", []string{"collab@gw.test"},
			docxMail("bob@axe.test", "collab@gw.test", "", fmt.Sprintf("Re: Contract [tm:%s]", cid), fmt.Sprintf("f%d@evil.test", i),
				"Accepted all terms.", "contract.docx", []byte(fmt.Sprint("forged ", i))))
	}

	inbound := func() []store.Inbound {
		t.Helper()
		code, out, errs := runCLI(t, "inbound", "--config", configPath, "--json", "--outcome", "held")
		if code != 0 {
			t.Fatalf("inbound: exit %d: %s", code, errs)
		}
		var got []store.Inbound
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	held := inbound()
	if len(held) != 2 || held[0].Collab != cid || held[0].From != "bob@axe.test" {
		t.Fatalf("held: %+v", held)
	}
	code, out, errs := runCLI(t, "drop", "--config", configPath, fmt.Sprint(held[0].ID))
	if code != 0 || !strings.Contains(out, "dropped") {
		t.Fatalf("drop: exit %d: %s %s", code, out, errs)
	}
	code, out, errs = runCLI(t, "release", "--config", configPath, fmt.Sprint(held[1].ID))
	if code != 0 || !strings.Contains(out, fmt.Sprintf("inbound %d: turn", held[1].ID)) {
		t.Fatalf("release: exit %d: %s %s", code, out, errs)
	}
	if got := inbound(); len(got) != 0 {
		t.Errorf("still held: %+v", got)
	}
	code, _, errs = runCLI(t, "release", "--config", configPath, fmt.Sprint(held[0].ID))
	if code != 1 || !strings.Contains(errs, "dropped") {
		t.Errorf("releasing a dropped mail: exit %d: %s", code, errs)
	}
}

func TestCheckOpen(t *testing.T) {
	for _, tc := range []struct {
		smtp, lmtp string
		allowed    []string
		wantErr    string
	}{
		{"127.0.0.1:2525", "", nil, ""},
		{"[::1]:25", "", nil, ""},
		{"localhost:25", "unix:/run/turnmail/lmtp.sock", nil, ""},
		{"0.0.0.0:25", "", nil, "smtp.listen 0.0.0.0:25 is not on loopback, and policy.allowed_senders is empty"},
		{":25", "", nil, "smtp.listen :25"},
		{"mx.gw.example:25", "", nil, "smtp.listen mx.gw.example:25"},
		{"127.0.0.1:2525", "192.0.2.1:24", nil, "lmtp.listen 192.0.2.1:24"},
		{"0.0.0.0:25", "", []string{"*"}, ""},
		{"0.0.0.0:25", "", []string{"@acme.com"}, ""},
	} {
		cfg := defaultConfig()
		cfg.SMTP.Listen, cfg.LMTP.Listen, cfg.Policy.AllowedSenders = tc.smtp, tc.lmtp, tc.allowed
		err := cfg.checkOpen()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("smtp %q lmtp %q allowed %q: %v, want %q", tc.smtp, tc.lmtp, tc.allowed, err, tc.wantErr)
		}
	}
}
