package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// The fixture: one collaboration, two parties, three participants and
// outside counsel not yet in a party, a document with two versions and a
// pending draft, two ended turns.
var (
	t0       = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	t1       = t0.Add(26 * time.Hour)
	v1Bytes  = []byte("contract, version one\n")
	v2Bytes  = []byte("contract, version two, with AXE's comments\n")
	draftRaw = []byte("contract, Carol's draft\n")
)

const (
	fixtureID  = "k7p2qz"
	v2Filename = "contract v2 - AXE comments.docx"
)

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fillStore writes the fixture into st.
func fillStore(t *testing.T, st *store.Store) {
	t.Helper()
	put := func(b []byte) mail.Blob {
		t.Helper()
		blob, err := st.PutBlob(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return blob
	}
	b1, b2, bd := put(v1Bytes), put(v2Bytes), put(draftRaw)
	err := st.Update(func(tx *store.Tx) error {
		c := &store.Collab{
			ID: fixtureID, Subject: "Services agreement", State: store.StateActive, Owner: "p1",
			Created: t0, Turn: 3, TurnParty: 0, TurnSince: t1,
			Parties: []store.Party{{Name: "ACME"}, {Name: "AXE"}}, NextPID: 5, NextDoc: 2,
		}
		ps := []*store.Participant{
			{ID: "p1", Address: "alice@acme.com", Name: "Alice", Party: 0, Role: store.RoleLeader, Added: t0},
			{ID: "p2", Address: "carol@acme.com", Name: "Carol", Party: 0, Role: store.RoleContributor, Added: t0},
			{ID: "p3", Address: "bob@axe.com", Name: "Bob", Party: 1, Role: store.RoleLeader, Added: t0},
			{ID: "p4", Address: "eve@lawfirm.com", Name: "Eve", Party: 1, Role: store.RoleContributor, Added: t0, Pending: true},
		}
		turns := []*store.Turn{
			{Number: 1, Party: 0, Started: t0, Ended: t0, EndedBy: "p1", How: "start", Note: "Here is our draft.",
				Versions: []store.VersionRef{{Doc: "d1", Number: 1}}},
			{Number: 2, Party: 1, Started: t0, Ended: t1, EndedBy: "p3", How: "files", Note: "Our comments.\nSee clause 4.",
				Versions: []store.VersionRef{{Doc: "d1", Number: 2}}},
		}
		versions := []*store.Version{
			{Doc: "d1", Number: 1, Blob: b1, Filename: "contract.docx", Turn: 1, Author: "p1", Time: t0},
			{Doc: "d1", Number: 2, Blob: b2, Filename: v2Filename, Turn: 2, Author: "p3", Time: t1},
		}
		if err := tx.PutCollab(c); err != nil {
			return err
		}
		for _, p := range ps {
			if err := tx.PutParticipant(fixtureID, p); err != nil {
				return err
			}
		}
		if err := tx.PutDocument(fixtureID, &store.Document{ID: "d1", Name: "contract.docx", Created: t0}); err != nil {
			return err
		}
		for _, v := range versions {
			if err := tx.PutVersion(fixtureID, v); err != nil {
				return err
			}
		}
		for _, turn := range turns {
			if err := tx.PutTurn(fixtureID, turn); err != nil {
				return err
			}
		}
		draft := &store.Draft{Party: 0, Doc: "d1", Blob: bd, Filename: "contract carol.docx", Author: "p2", Time: t1}
		if err := tx.PutDraft(fixtureID, draft); err != nil {
			return err
		}
		for _, in := range []*store.Inbound{
			{Time: t0, Source: "smtp", From: "alice@acme.com", Subject: "Services agreement", Collab: fixtureID, Outcome: store.OutcomeStarted},
			{Time: t1, Source: "smtp", From: "bob@axe.com", Subject: "broken", Outcome: store.OutcomeUnprocessable, Detail: "parse: bad MIME"},
		} {
			if err := tx.AddInbound(in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testEnv is a data directory holding the fixture and a config file naming
// it. The directory is short enough for the control socket.
type testEnv struct {
	cfg        *Config
	configPath string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "tm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	configPath := filepath.Join(dir, "turnmail.toml")
	text := "[gateway]\ndata_dir = " + strconv.Quote(filepath.Join(dir, "data")) + "\nsecret = \"a test secret of some length\"\n"
	if err := os.WriteFile(configPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t, cfg)
	fillStore(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return &testEnv{cfg: cfg, configPath: configPath}
}

// openTestStore opens the store of cfg, as serve does, until the test ends.
func openTestStore(t *testing.T, cfg *Config) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(cfg.Gateway.DataDir, dbFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// runCLI runs a turnmail command line from the shell.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestList(t *testing.T) {
	env := newTestEnv(t)
	code, out, errs := runCLI(t, "list", "--json", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{
		"id": fixtureID, "subject": "Services agreement", "state": "active",
		"turn": map[string]any{"number": 3.0, "party": "ACME"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list --json:\n got %v\nwant %v", got, want)
	}

	code, out, errs = runCLI(t, "list", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || strings.Join(strings.Fields(lines[1]), " ") != "k7p2qz active 3 ACME Services agreement" {
		t.Errorf("list table:\n%s", out)
	}
}

func TestShow(t *testing.T) {
	env := newTestEnv(t)
	st := openTestStore(t, env.cfg)
	var d *collabDetail
	err := st.View(func(tx *store.Tx) error {
		var err error
		d, err = showCollab(tx, fixtureID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &collabDetail{
		ID: fixtureID, Subject: "Services agreement", State: "active", Created: t0, Owner: "alice@acme.com",
		Turn: turnHeld{Number: 3, Party: "ACME", Since: t1},
		Parties: []partyDetail{
			{Name: "ACME", Participants: []participantDetail{
				{Address: "alice@acme.com", Name: "Alice", Role: "leader", Party: "ACME"},
				{Address: "carol@acme.com", Name: "Carol", Role: "contributor", Party: "ACME"},
			}},
			{Name: "AXE", Participants: []participantDetail{{Address: "bob@axe.com", Name: "Bob", Role: "leader", Party: "AXE"}}},
		},
		Pending: []participantDetail{{Address: "eve@lawfirm.com", Name: "Eve", Role: "contributor"}},
		Documents: []docDetail{{Name: "contract.docx", Versions: []versionDetail{
			{Number: 1, SHA256: sha(v1Bytes), Size: int64(len(v1Bytes)), Filename: "contract.docx", Turn: 1, Author: "alice@acme.com", Time: t0},
			{Number: 2, SHA256: sha(v2Bytes), Size: int64(len(v2Bytes)), Filename: v2Filename, Turn: 2, Author: "bob@axe.com", Time: t1},
		}}},
		Drafts: []draftDetail{{Party: "ACME", Name: "contract.docx", Filename: "contract carol.docx", Author: "carol@acme.com", Size: int64(len(draftRaw))}},
		Turns: []turnDetail{
			{Number: 1, Party: "ACME", EndedBy: "alice@acme.com", Ended: t0, How: "start", Note: "Here is our draft.",
				Versions: []versionRef{{Document: "contract.docx", Number: 1}}},
			{Number: 2, Party: "AXE", EndedBy: "bob@axe.com", Ended: t1, How: "files", Note: "Our comments.\nSee clause 4.",
				Versions: []versionRef{{Document: "contract.docx", Number: 2}}},
		},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("showCollab:\n got %+v\nwant %+v", d, want)
	}

	// The JSON field names are a contract.
	var buf bytes.Buffer
	a := &app{st: st, stdout: &buf, log: slog.New(slog.DiscardHandler)}
	if err := runShow(context.Background(), a, []string{"--json", fixtureID}); err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string {
		var ks []string
		for k := range v.(map[string]any) {
			ks = append(ks, k)
		}
		return ks
	}
	checkKeys := func(what string, v any, want ...string) {
		t.Helper()
		got := keys(v)
		for _, k := range want {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+k+" ") {
				t.Errorf("%s: no field %q in %v", what, k, got)
			}
		}
	}
	first := func(v any) any { return v.([]any)[0] }
	checkKeys("show", obj, "id", "subject", "state", "created", "owner", "turn", "parties", "pending", "documents", "drafts", "turns")
	checkKeys("turn", obj["turn"], "number", "party", "since")
	checkKeys("party", first(obj["parties"]), "name", "participants")
	checkKeys("participant", first(first(obj["parties"]).(map[string]any)["participants"]), "address", "name", "role", "party")
	checkKeys("pending", first(obj["pending"]), "address", "name", "role")
	if pp := first(obj["pending"]).(map[string]any); pp["address"] != "eve@lawfirm.com" || pp["party"] != nil {
		t.Errorf("pending: %v, want eve without a party", pp)
	}
	if p := first(first(obj["parties"]).(map[string]any)["participants"]).(map[string]any); p["party"] != "ACME" {
		t.Errorf("participant's party %v, want ACME", p["party"])
	}
	checkKeys("document", first(obj["documents"]), "name", "versions")
	checkKeys("version", first(first(obj["documents"]).(map[string]any)["versions"]), "number", "sha256", "size", "filename", "turn", "author", "time")
	checkKeys("draft", first(obj["drafts"]), "party", "name", "filename", "author", "size")
	checkKeys("turns", first(obj["turns"]), "number", "party", "ended_by", "ended", "how", "note", "versions")
	checkKeys("turn version", first(first(obj["turns"]).(map[string]any)["versions"]), "document", "number")

	buf.Reset()
	if err := runShow(context.Background(), a, []string{fixtureID}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Services agreement", "held by ACME", "carol@acme.com", "(no party yet)  eve@lawfirm.com", v2Filename, "Our comments."} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("show does not say %q:\n%s", s, buf.String())
		}
	}
}

func TestExport(t *testing.T) {
	env := newTestEnv(t)
	dir := filepath.Join(t.TempDir(), "export")
	code, out, errs := runCLI(t, "export", "--config", env.configPath, fixtureID, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "exported 2 versions") {
		t.Errorf("output %q", out)
	}
	checkFile := func(rel string, want []byte) {
		t.Helper()
		path := filepath.Join(dir, rel)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s holds %q, want %q", rel, got, want)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %04o, want 0644", rel, fi.Mode().Perm())
		}
	}
	v1Path := filepath.Join("contract.docx", "v1-contract.docx")
	v2Path := filepath.Join("contract.docx", "v2-"+message.SanitizeFilename(v2Filename))
	checkFile(v1Path, v1Bytes)
	checkFile(v2Path, v2Bytes)

	history, err := os.ReadFile(filepath.Join(dir, "history.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(history), "\n")
	for _, want := range []string{
		"# Services agreement",
		"Collaboration k7p2qz, active. Started 2025-03-01 10:00 UTC by alice@acme.com.",
		"- ACME: Alice <alice@acme.com> (leader), Carol <carol@acme.com> (contributor)",
		"- AXE: Bob <bob@axe.com> (leader)",
		"### Turn 1: ACME",
		"Ended by alice@acme.com on 2025-03-01 10:00 UTC (start).",
		"Files: contract.docx v1",
		"> Here is our draft.",
		"### Turn 2: AXE",
		"Ended by bob@axe.com on 2025-03-02 12:00 UTC (files).",
		"Files: contract.docx v2",
		"> Our comments.",
		"> See clause 4.",
		"### Turn 3: ACME",
		"Open since 2025-03-02 12:00 UTC.",
	} {
		if !containsLine(lines, want) {
			t.Errorf("history.md has no line %q:\n%s", want, history)
		}
	}

	// Again: identical files are fine.
	if code, _, errs := runCLI(t, "export", "--config", env.configPath, fixtureID, dir); code != 0 {
		t.Fatalf("second export: exit %d: %s", code, errs)
	}
	// A file that differs is not overwritten.
	if err := os.WriteFile(filepath.Join(dir, v1Path), []byte("changed by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "export", "--config", env.configPath, fixtureID, dir)
	if code != 1 || !strings.Contains(errs, "exists with other content") {
		t.Errorf("export over a changed file: exit %d, %q", code, errs)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestExportEscape stores documents whose names try to climb out of the
// export directory: their files must land inside it.
func TestExportEscape(t *testing.T) {
	env := newTestEnv(t)
	st := openTestStore(t, env.cfg)
	blob, err := st.PutBlob(strings.NewReader("evil"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx *store.Tx) error {
		for _, doc := range []*store.Document{
			{ID: "d2", Name: "../../escaped", Created: t1},
			{ID: "d3", Name: "/..", Created: t1}, // nothing left once sanitised
		} {
			if err := tx.PutDocument(fixtureID, doc); err != nil {
				return err
			}
			v := &store.Version{Doc: doc.ID, Number: 1, Blob: blob, Filename: "../../../escaped.txt", Turn: 2, Author: "p3", Time: t1}
			if err := tx.PutVersion(fixtureID, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := viewCollab(&app{st: st}, fixtureID)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "export")
	if _, err := exportCollab(context.Background(), st, d, dir); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	rel := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }
	want := []string{
		rel("contract.docx", "v1-contract.docx"),
		rel("contract.docx", "v2-"+message.SanitizeFilename(v2Filename)),
		rel("document-3", "v1-escaped.txt"),
		rel("escaped", "v1-escaped.txt"),
		rel("history.md"),
	}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("export wrote\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}
}

func TestPathInside(t *testing.T) {
	tests := []struct {
		names []string
		ok    bool
	}{
		{[]string{"contract.docx", "v1-contract.docx"}, true},
		{[]string{"..", "v1-x"}, false},
		{[]string{".", "v1-x"}, false},
		{[]string{"", "v1-x"}, false},
		{[]string{"a/..", "v1-x"}, false},
		{[]string{"a/b", "v1-x"}, false},
		{[]string{`..\..`, "v1-x"}, false},
		{[]string{"/etc", "v1-x"}, false},
		{[]string{"doc", "../v1-x"}, false},
	}
	for _, tt := range tests {
		path, err := pathInside("/export", tt.names...)
		if tt.ok != (err == nil) {
			t.Errorf("pathInside(%q): %q, %v", tt.names, path, err)
		}
		if err == nil && !strings.HasPrefix(path, "/export/") {
			t.Errorf("pathInside(%q) = %q, outside", tt.names, path)
		}
	}
}

func TestInbound(t *testing.T) {
	env := newTestEnv(t)
	code, out, errs := runCLI(t, "inbound", "--config", env.configPath, "--json", "--outcome", "unprocessable")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got []store.Inbound
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != 2 || got[0].Detail != "parse: bad MIME" {
		t.Errorf("inbound --outcome unprocessable: %+v", got)
	}

	code, out, errs = runCLI(t, "inbound", "--config", env.configPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := strings.Count(out, "\n"); n != 3 || !strings.Contains(out, "parse: bad MIME") {
		t.Errorf("inbound table:\n%s", out)
	}

	code, _, errs = runCLI(t, "inbound", "--config", env.configPath, "--outcome", "lost")
	if code != 2 || !strings.Contains(errs, `unknown outcome "lost"`) {
		t.Errorf("unknown outcome: exit %d, %q", code, errs)
	}
}

func TestCLIErrors(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{nil, 2, "", "usage: turnmail <command>"},
		{[]string{"help"}, 0, "usage: turnmail <command>", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"help", "show"}, 0, "usage: turnmail show [--json] ID", ""},
		{[]string{"show", "-h"}, 0, "-config FILE", ""},
		{[]string{"help", "serve"}, 0, "usage: turnmail serve", ""},
		{[]string{"show", "--config", env.configPath}, 2, "", "wrong number of arguments: want 1, got 0"},
		{[]string{"show", "--bogus", "x"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"show", "--config", env.configPath, "nosuch"}, 1, "", `no collaboration "nosuch"`},
		{[]string{"reprocess", "--config", env.configPath, "x1"}, 2, "", `inbound ID "x1" is not a number`},
		{[]string{"list", "--config", filepath.Join(env.cfg.Gateway.DataDir, "none.toml")}, 1, "", "none.toml"},
	}
	for _, tt := range tests {
		code, out, errs := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errs, tt.stderr) {
			t.Errorf("turnmail %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", tt.args, code, out, errs, tt.code, tt.stdout, tt.stderr)
		}
	}
}

func TestNoDatabase(t *testing.T) {
	dir := t.TempDir()
	configPath := filepath.Join(dir, "turnmail.toml")
	os.WriteFile(configPath, []byte("[gateway]\ndata_dir = "+strconv.Quote(filepath.Join(dir, "data"))+"\n"), 0o600)
	code, _, errs := runCLI(t, "list", "--config", configPath)
	if code != 1 || !strings.Contains(errs, "no database at") {
		t.Errorf("exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("list created the data directory")
	}
}
