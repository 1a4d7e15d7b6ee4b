package store

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/turnmail/turnmail/internal/docxgen"
)

// docxVersions returns n versions of the series' document (docxgen.Word),
// or of a scale-th of it, each a light edit of the one before.
func docxVersions(seed uint64, n, scale int) [][]byte {
	return docxgen.Versions(seed, n, docxgen.Word.Scaled(scale))
}

// gitPackSize commits files as successive versions of one file in a new git
// repository under dir, packs it as tightly as git can (gc --aggressive) and
// returns the size of its packs.
func gitPackSize(dir string, files [][]byte) (int64, error) {
	git := func(args ...string) error {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	if err := git("init", "-q"); err != nil {
		return 0, err
	}
	for i, f := range files {
		if err := os.WriteFile(filepath.Join(dir, "contract.docx"), f, 0o644); err != nil {
			return 0, err
		}
		if err := git("add", "contract.docx"); err != nil {
			return 0, err
		}
		if err := git("commit", "-q", "-m", fmt.Sprintf("v%d", i+1)); err != nil {
			return 0, err
		}
	}
	if err := git("gc", "-q", "--aggressive", "--prune=now"); err != nil {
		return 0, err
	}
	packs, err := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	if err != nil || len(packs) == 0 {
		return 0, fmt.Errorf("no pack after git gc: %v", err)
	}
	var size int64
	for _, p := range packs {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		size += fi.Size()
	}
	return size, nil
}

// BenchmarkDocxVersions stores 20 lightly edited versions of a 4.5 MB docx
// in a new store and reports what they cost: the store's growth in pages in
// use (store-MB) and in chunk data (chunk-MB), each against the raw size of
// the versions, and, with git on PATH, against git's tightest pack of the
// same files. Its throughput is PutBlob's over the 20 files.
func BenchmarkDocxVersions(b *testing.B) {
	const versions = 20
	files := docxVersions(1, versions, 1)
	var raw int64
	for _, f := range files {
		raw += int64(len(f))
	}
	var gitPack int64
	if _, err := exec.LookPath("git"); err == nil {
		var err error
		if gitPack, err = gitPackSize(b.TempDir(), files); err != nil {
			b.Fatal(err)
		}
	}

	b.SetBytes(raw)
	var before, after *Stats
	for b.Loop() {
		dir, err := os.MkdirTemp(b.TempDir(), "store")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(filepath.Join(dir, "turnmail.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		if before, err = s.Stats(); err != nil {
			b.Fatal(err)
		}
		for i, f := range files {
			blob, err := s.PutBlob(bytes.NewReader(f))
			if err != nil {
				b.Fatal(err)
			}
			err = s.Update(func(tx *Tx) error {
				return tx.PutVersion("k7p2qz", &Version{Doc: "d1", Number: i + 1, Blob: blob})
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if after, err = s.Stats(); err != nil {
			b.Fatal(err)
		}
		if after.LogicalBytes != raw {
			b.Fatalf("stats: %d logical bytes; want the %d put", after.LogicalBytes, raw)
		}
		s.Close()
		os.RemoveAll(dir)
	}
	const mb = 1e6
	grew := after.FileBytes - before.FileBytes
	b.ReportMetric(float64(len(files[0]))/mb, "docx-MB")
	b.ReportMetric(float64(raw)/mb, "raw-MB")
	b.ReportMetric(float64(grew)/mb, "store-MB")
	b.ReportMetric(float64(after.ChunkBytes)/mb, "chunk-MB")
	b.ReportMetric(float64(after.Chunks), "chunks")
	b.ReportMetric(float64(grew)/float64(raw), "store/raw")
	if gitPack > 0 {
		b.ReportMetric(float64(gitPack)/mb, "git-MB")
		b.ReportMetric(float64(grew)/float64(gitPack), "store/git")
		b.ReportMetric(float64(after.ChunkBytes)/float64(gitPack), "chunk/git")
	}
}
