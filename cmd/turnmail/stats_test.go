package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/store"
)

func TestStats(t *testing.T) {
	env := newTestEnv(t)
	code, out, errs := runCLI(t, "stats", "--json", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]int64
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	// The fixture's two versions, and the blobs of the draft and the raw
	// mail besides.
	logical := int64(len(v1Bytes) + len(v2Bytes))
	if got["versions"] != 2 || got["logical_bytes"] != logical || got["blobs"] < 3 ||
		got["chunks"] < 3 || got["chunk_bytes"] < logical || got["file_bytes"] <= got["chunk_bytes"] || got["file_size"] < got["file_bytes"] {
		t.Errorf("stats --json: %v", got)
	}

	// The table says the same, a line per number.
	code, out, errs = runCLI(t, "stats", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(got) {
		t.Errorf("stats table has %d lines for %d numbers:\n%s", len(lines), len(got), out)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		var n int64
		if len(f) < 2 || json.Unmarshal([]byte(f[1]), &n) != nil || got[f[0]] != n {
			t.Errorf("stats table line %q; JSON has %s %d", line, f[0], got[f[0]])
		}
	}
	if !strings.Contains(out, "logical_bytes") || !strings.Contains(out, " B\n") {
		t.Errorf("stats table:\n%s", out)
	}
}

// TestCtlStats: while serve holds the store, stats reads it over the
// control socket, as it would itself.
func TestCtlStats(t *testing.T) {
	env := newTestEnv(t)
	a := startCtl(t, env)
	var direct bytes.Buffer
	da := &app{cfg: a.cfg, log: a.log, st: a.st, stdout: &direct}
	if err := runStats(context.Background(), da, []string{"--json"}); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "stats", "--json", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out != direct.String() {
		t.Errorf("forwarded stats --json:\n%s\ndirect:\n%s", out, direct.String())
	}
	var got, want store.Stats
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	st, err := a.st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want = *st
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats --json %+v; Store.Stats %+v", got, want)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.00 kB", 1234: "1.23 kB", 99_949: "99.9 kB", 99_950: "100 kB",
		999_499: "999 kB", 999_500: "1.00 MB", 88_531_179: "88.5 MB", 4_425_411_000: "4.43 GB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q; want %q", n, got, want)
		}
	}
}
