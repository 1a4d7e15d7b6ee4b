package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestInterleave(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Bool("json", false, "")
	fs.String("config", "", "")
	tests := []struct {
		args, want []string
	}{
		{nil, []string{"--"}},
		{[]string{"ID"}, []string{"--", "ID"}},
		{[]string{"ID", "--json"}, []string{"--json", "--", "ID"}},
		{[]string{"ID", "DIR", "--config", "f.toml"}, []string{"--config", "f.toml", "--", "ID", "DIR"}},
		{[]string{"-config=f.toml", "ID", "-json"}, []string{"-config=f.toml", "-json", "--", "ID"}},
		{[]string{"ID", "--json=false", "DIR"}, []string{"--json=false", "--", "ID", "DIR"}},
		// A value that looks like a flag is still the value.
		{[]string{"--config", "--json", "ID"}, []string{"--config", "--json", "--", "ID"}},
		// -- ends the flags; a lone - is an argument.
		{[]string{"ID", "--", "--json", "-"}, []string{"--", "ID", "--json", "-"}},
		{[]string{"-", "--json"}, []string{"--json", "--", "-"}},
		// Unknown flags stay flags, and take no value: fs.Parse refuses them.
		{[]string{"ID", "--bogus", "x"}, []string{"--bogus", "--", "ID", "x"}},
		// A flag that wants a value at the end is left for fs.Parse to refuse.
		{[]string{"ID", "--config"}, []string{"--config"}},
	}
	for _, tt := range tests {
		if got := interleave(fs, tt.args); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("interleave(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// flagCases are command lines with flags among and after the arguments, and
// collaboration ids in upper case, as run from the shell or forwarded to serve.
func flagCases(t *testing.T, configPath string) []struct {
	args   []string
	code   int
	stdout string
	stderr string
} {
	upper := strings.ToUpper(fixtureID)
	return []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"show", fixtureID, "--json", "--config", configPath}, 0, `"id": "` + fixtureID + `"`, ""},
		{[]string{"show", "--config", configPath, upper, "--json"}, 0, `"id": "` + fixtureID + `"`, ""},
		{[]string{"show", upper, "--config=" + configPath}, 0, "state:    active", ""},
		{[]string{"show", "--config", configPath, "--", fixtureID}, 0, "Services agreement", ""},
		{[]string{"list", "--config", configPath, "--json"}, 0, `"id": "` + fixtureID + `"`, ""},
		{[]string{"inbound", "--outcome", "unprocessable", "--json", "--config", configPath}, 0, `"detail": "parse: bad MIME"`, ""},
		{[]string{"inbound", "--config", configPath, "--outcome=lost"}, 2, "", `unknown outcome "lost"`},
		{[]string{"show", "--config", configPath, "nosuch", "--json"}, 1, "", `no collaboration "nosuch"`},
		{[]string{"show", fixtureID, "extra", "--config", configPath}, 2, "", "wrong number of arguments: want 1, got 2"},
		{[]string{"list", "--config", configPath, "extra"}, 2, "", "wrong number of arguments: want 0, got 1"},
		{[]string{"show", fixtureID, "--bogus", "--config", configPath}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"show", fixtureID, "--config"}, 2, "", "flag needs an argument: -config"},
		{[]string{"show", fixtureID, "-h"}, 0, "usage: turnmail show [--json] ID", ""},
		{[]string{"reprocess", "x1", "--config", configPath}, 2, "", `inbound ID "x1" is not a number`},
		{[]string{"tick", "--config", configPath, "--now", "monday"}, 2, "", "RFC 3339"},
	}
}

func TestFlagsAnywhere(t *testing.T) {
	check := func(t *testing.T, configPath string) {
		t.Helper()
		for _, tt := range flagCases(t, configPath) {
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
				t.Errorf("turnmail %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", tt.args, code, out, errs, tt.code, tt.stdout, tt.stderr)
			}
		}
	}
	t.Run("shell", func(t *testing.T) {
		check(t, newTestEnv(t).configPath)
	})
	// With the store held, the command line goes over the control socket
	// as typed, and the daemon's parse reorders it the same way.
	t.Run("ctl", func(t *testing.T) {
		env := newTestEnv(t)
		startCtl(t, env)
		check(t, env.configPath)
	})
}

// TestExportFlagsAnywhere: export ID DIR --config F, with the id in upper
// case, from the shell and over the control socket.
func TestExportFlagsAnywhere(t *testing.T) {
	for _, viaCtl := range []bool{false, true} {
		env := newTestEnv(t)
		if viaCtl {
			startCtl(t, env)
		}
		dir := filepath.Join(t.TempDir(), "out")
		code, out, errs := runCLI(t, "export", strings.ToUpper(fixtureID), dir, "--config", env.configPath)
		if code != 0 || !strings.Contains(out, "exported 2 versions") {
			t.Fatalf("ctl %v: exit %d, stdout %q, stderr %q", viaCtl, code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(dir, historyFile)); err != nil {
			t.Errorf("ctl %v: %v", viaCtl, err)
		}
	}
}

// TestFlagsWhileServing: a real serve holds the store; the commands reach it
// with their flags after the arguments, and the id in any case.
func TestFlagsWhileServing(t *testing.T) {
	cfg, configPath, d := startTestDaemon(t, "")
	sendMail(t, d.smtpLn.Addr().String(), "alice@acme.test", []string{"collab@gw.test"},
		docxMail("Alice <alice@acme.test>", "Bob <bob@axe.test>", "collab@gw.test", "Lease", "f1@acme.test", "The lease.", "lease.docx", []byte("v1")))
	waitFor(t, "the start mails", func() bool { return len(outboxMail(t, cfg.Outbound.Dir)) == 2 })

	code, out, errs := runCLI(t, "list", "--config", configPath, "--json")
	var list []collabSummary
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 {
		t.Fatalf("list: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	id := list[0].ID
	code, out, errs = runCLI(t, "show", strings.ToUpper(id), "--json", "--config", configPath)
	var got collabDetail
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.ID != id || got.Subject != "Lease" {
		t.Fatalf("show %s --json: exit %d, stdout %q, stderr %q", strings.ToUpper(id), code, out, errs)
	}
	slot := nextSlot(time.Now()).Format(time.RFC3339)
	if code, out, errs := runCLI(t, "tick", "--now", slot, "--config", configPath); code != 0 || !strings.Contains(out, "queued 2 weekly summaries") {
		t.Errorf("tick --now … --config: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// serve reads its flags after arguments too, and refuses the argument.
	if code, _, errs := runCLI(t, "serve", "extra", "--config", configPath); code != 2 || !strings.Contains(errs, "wrong number of arguments: want 0, got 1") {
		t.Errorf("serve extra --config: exit %d, stderr %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}, {"version", "--config", "x.toml"}} {
		code, out, errs := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "turnmail ") || strings.Count(out, "\n") != 1 || errs != "" {
			t.Errorf("turnmail %q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, out, _ := runCLI(t, "help", "version"); code != 0 || !strings.Contains(out, "usage: turnmail version") {
		t.Errorf("help version: exit %d, %q", code, out)
	}
	if code, _, errs := runCLI(t, "version", "extra"); code != 2 || !strings.Contains(errs, "wrong number of arguments: want 0, got 1") {
		t.Errorf("version extra: exit %d, %q", code, errs)
	}
	if code, out, _ := runCLI(t, "help"); code != 0 || !strings.Contains(out, "\n  version ") {
		t.Errorf("the usage does not list version:\n%s", out)
	}
}

func TestVersionString(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "abc1234def567890abc1234def567890abc1234d"
	tests := []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "turnmail (unknown version)"},
		{&debug.BuildInfo{}, "turnmail (devel)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "turnmail (devel)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, "turnmail v1.2.0"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260301120000-abc1234def56"}, Settings: vcs(rev, "false")},
			"turnmail v0.0.0-20260301120000-abc1234def56 (rev abc1234def56)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260301120000-abc1234def56+dirty"}, Settings: vcs(rev, "true")},
			"turnmail v0.0.0-20260301120000-abc1234def56+dirty (rev abc1234def56, modified)"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc12", "true")}, "turnmail (devel) (rev abc12, modified)"},
	}
	for _, tt := range tests {
		if got := versionString(tt.bi); got != tt.want {
			t.Errorf("versionString(%+v) = %q, want %q", tt.bi, got, tt.want)
		}
	}
}
