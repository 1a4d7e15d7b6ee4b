package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// fixtureHistory is history.md of the fixture as export has always written
// it: without --zip, and without a closing note, export must not change a
// byte.
const fixtureHistory = "# Services agreement\n\nCollaboration k7p2qz, active. Started 2025-03-01 10:00 UTC by alice@acme.com.\n\n## Parties\n\n- ACME: Alice <alice@acme.com> (leader), Carol <carol@acme.com> (contributor)\n- AXE: Bob <bob@axe.com> (leader)\n\n## Turns\n\n### Turn 1: ACME\n\nEnded by alice@acme.com on 2025-03-01 10:00 UTC (start).\n\nFiles: contract.docx v1\n\n> Here is our draft.\n\n### Turn 2: AXE\n\nEnded by bob@axe.com on 2025-03-02 12:00 UTC (files).\n\nFiles: contract.docx v2\n\n> Our comments.\n> See clause 4.\n\n### Turn 3: ACME\n\nOpen since 2025-03-02 12:00 UTC.\n"

func TestExportHistoryUnchanged(t *testing.T) {
	env := newTestEnv(t)
	dir := t.TempDir()
	if code, _, errs := runCLI(t, "export", "--config", env.configPath, fixtureID, dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := os.ReadFile(filepath.Join(dir, "history.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != fixtureHistory {
		t.Errorf("history.md changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, fixtureID+".zip")); err == nil {
		t.Error("export without --zip wrote a zip")
	}
}

// wrapFixture wraps the fixture up with a closing note, and adds a turn
// whose note tries to be HTML.
func wrapFixture(t *testing.T, env *testEnv) {
	t.Helper()
	st := openTestStore(t, env.cfg)
	err := st.Update(func(tx *store.Tx) error {
		c, err := tx.Collab(fixtureID)
		if err != nil {
			return err
		}
		c.State, c.Wrapped, c.ClosingNote = store.StateWrapped, t1.Add(48*time.Hour), "Signed.\nThanks to <all> & everyone."
		if err := tx.PutCollab(c); err != nil {
			return err
		}
		return tx.PutTurn(fixtureID, &store.Turn{Number: 3, Party: 0, Started: t1, Ended: t1.Add(time.Hour), EndedBy: "p1", How: "done",
			Note: "<script>alert('x')</script>\nSee you."})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestExportZip: export --zip through the command line: one zip, the final
// document at the top, every version under versions/, history.html,
// history.md, and a manifest whose digests and sizes are those of the files.
func TestExportZip(t *testing.T) {
	env := newTestEnv(t)
	wrapFixture(t, env)
	dir := filepath.Join(t.TempDir(), "out")
	code, out, errs := runCLI(t, "export", "--zip", "--config", env.configPath, fixtureID, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	path := filepath.Join(dir, fixtureID+".zip")
	if !strings.Contains(out, path) {
		t.Errorf("output %q does not name %s", out, path)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("export --zip left %v in %s (%v), want only the zip", entries, dir, err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		names = append(names, f.Name)
		files[f.Name] = b
	}
	v2Name := "versions/contract.docx/v2-" + message.SanitizeFilename(v2Filename)
	want := []string{"contract (v2).docx", "versions/contract.docx/v1-contract.docx", v2Name, "history.html", "history.md", "manifest.json"}
	if !slices.Equal(names, want) {
		t.Fatalf("zip holds\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	for name, content := range map[string][]byte{"contract (v2).docx": v2Bytes, "versions/contract.docx/v1-contract.docx": v1Bytes, v2Name: v2Bytes} {
		if !bytes.Equal(files[name], content) {
			t.Errorf("%s holds %q", name, files[name])
		}
	}

	var manifest struct {
		Files []struct {
			Path   string `json:"path"`
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"files"`
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest.json: %v\n%s", err, files["manifest.json"])
	}
	var listed []string
	for _, f := range manifest.Files {
		listed = append(listed, f.Path)
		if got := sha(files[f.Path]); got != f.SHA256 || int64(len(files[f.Path])) != f.Size {
			t.Errorf("manifest says %s is %s, %d bytes; it is %s, %d bytes", f.Path, f.SHA256, f.Size, got, len(files[f.Path]))
		}
	}
	if !slices.Equal(listed, want[:len(want)-1]) {
		t.Errorf("manifest lists %v, want every file but itself", listed)
	}

	md := string(files["history.md"])
	for _, s := range []string{"## Closing note", "Wrapped up on 2025-03-04 12:00 UTC.", "> Signed.", "> Thanks to <all> & everyone.", "### Turn 3: ACME", "> See you."} {
		if !strings.Contains(md, s) {
			t.Errorf("history.md lacks %q:\n%s", s, md)
		}
	}
	page := string(files["history.html"])
	for _, s := range []string{"<!DOCTYPE html>", "Services agreement", "Closing note", "Thanks to &lt;all&gt; &amp; everyone.", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<br>",
		"Our comments.<br>", "See clause 4.", "bob@axe.com", sha(v2Bytes), "v2 (final)"} {
		if !strings.Contains(page, s) {
			t.Errorf("history.html lacks %q:\n%s", s, page)
		}
	}
	// Self-contained: nothing to fetch, nothing to run.
	for _, s := range []string{"<script", "<link", "<style", "src=", "http://", "https://"} {
		if strings.Contains(page, s) {
			t.Errorf("history.html holds %q", s)
		}
	}

	// The same data makes the same zip.
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "export", "--config", env.configPath, fixtureID, dir, "--zip"); code != 0 {
		t.Fatalf("second export: exit %d: %s", code, errs)
	}
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, first) {
		t.Errorf("a second export wrote another zip (%v)", err)
	}
}

// TestExportZipMemory exports a 24 MB document, which the zip holds twice
// (at the top and under versions/): the zip is streamed from the store, and
// the heap grows by a fraction of the document.
func TestExportZipMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a 48 MB zip")
	}
	env := newTestEnv(t)
	st := openTestStore(t, env.cfg)
	const size = 24 << 20
	b, err := st.PutBlob(io.LimitReader(rand.NewChaCha8([32]byte{1}), size))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx *store.Tx) error {
		if err := tx.PutDocument(fixtureID, &store.Document{ID: "d2", Name: "scan.pdf", Created: t1}); err != nil {
			return err
		}
		return tx.PutVersion(fixtureID, &store.Version{Doc: "d2", Number: 1, Blob: b, Filename: "scan.pdf", Turn: 2, Author: "p3", Time: t1})
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := viewCollab(&app{st: st}, fixtureID)
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base.HeapInuse {
				peak = max(peak, ms.HeapInuse-base.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	path, n, err := exportZip(context.Background(), st, d, t.TempDir())
	close(done)
	<-sampled
	if err != nil || n != 3 {
		t.Fatalf("export: %d versions, %v", n, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() < 2*size {
		t.Fatalf("the zip: %v, %v", fi, err)
	}
	t.Logf("zip of %d MB, heap grew by %.1f MB at most", fi.Size()>>20, float64(peak)/(1<<20))
	if peak > size/2 {
		t.Errorf("the heap grew by %d MB exporting a %d MB document: the export holds it", peak>>20, size>>20)
	}
}
