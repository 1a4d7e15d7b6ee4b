package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

const exportUsage = `export [--zip] ID DIR

Writes every version of every document of collaboration ID to
DIR/<document>/v<N>-<filename>, and its history (parties, the closing note,
then each turn: who handed over, when, how, which versions, the note) to
DIR/history.md. Version files already there with the same content are left
alone; history.md is rewritten.

With --zip, writes one file instead, DIR/<ID>.zip: the final version of each
document at the top, named with its version ("contract (v3).docx"), every
version under versions/<document>/v<N>-<filename>, history.html (one page,
nothing else needed to read it), history.md, and manifest.json:
{"files": [{"path", "sha256", "size"}]} for every other file of the zip.`

// historyFile is the name of the history written by export.
const historyFile = "history.md"

func runExport(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	asZip := fs.Bool("zip", false, "write one zip, DIR/<ID>.zip")
	if err := a.parse(fs, exportUsage, args, 2); err != nil {
		return err
	}
	dir := fs.Arg(1)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(a.cwd, dir)
	}
	d, err := viewCollab(a, collabID(fs.Arg(0)))
	if err != nil {
		return err
	}
	if *asZip {
		path, n, err := exportZip(ctx, a.st, d, dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "exported %d versions and the history to %s\n", n, path)
		return nil
	}
	n, err := exportCollab(ctx, a.st, d, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "exported %d versions and %s to %s\n", n, historyFile, dir)
	return nil
}

// exportCollab writes d's versions, read from blobs, and its history into
// dir, and returns the number of versions.
func exportCollab(ctx context.Context, blobs mail.BlobOpener, d *collabDetail, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create export directory: %w", err)
	}
	var n int
	for i, doc := range d.Documents {
		// Document names and filenames come from mail: they may say
		// anything, "../../.ssh/authorized_keys" included.
		docDir := message.SanitizeFilename(doc.Name)
		if docDir == "" {
			docDir = fmt.Sprintf("document-%d", i+1)
		}
		for _, v := range doc.Versions {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			path, err := pathInside(dir, docDir, fmt.Sprintf("v%d-%s", v.Number, message.SanitizeFilename(v.Filename)))
			if err != nil {
				return n, fmt.Errorf("export %s v%d: %w", doc.Name, v.Number, err)
			}
			if err := exportVersion(blobs, v, path); err != nil {
				return n, fmt.Errorf("export %s v%d: %w", doc.Name, v.Number, err)
			}
			n++
		}
	}
	var history bytes.Buffer
	writeHistory(&history, d)
	err := writeFileAtomic(filepath.Join(dir, historyFile), func(w io.Writer) error {
		_, err := w.Write(history.Bytes())
		return err
	})
	if err != nil {
		return n, fmt.Errorf("write history: %w", err)
	}
	return n, nil
}

// pathInside joins dir and names, each of which must be one plain path
// element, so that the result cannot leave dir.
func pathInside(dir string, names ...string) (string, error) {
	for _, name := range names {
		if name == "" || name == "." || !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
			return "", fmt.Errorf("unsafe file name %q", name)
		}
	}
	return filepath.Join(append([]string{dir}, names...)...), nil
}

// exportVersion writes version v to path, unless path holds it already.
func exportVersion(blobs mail.BlobOpener, v versionDetail, path string) error {
	if same, err := hasDigest(path, v.SHA256); err == nil {
		if !same {
			return fmt.Errorf("%s exists with other content: not overwriting it", path)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create document directory: %w", err)
	}
	rc, err := blobs.OpenBlob(v.SHA256)
	if err != nil {
		return err
	}
	defer rc.Close()
	// OpenBlob checks the content against the digest: a corrupt blob fails
	// the copy and leaves no file behind.
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
}

// hasDigest reports whether the file at path has SHA-256 digest.
func hasDigest(path, digest string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == digest, nil
}

// writeFileAtomic writes a file with mode 0644 through a temporary file in
// the same directory, so that path never holds half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = write(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// writeHistory writes d as Markdown: title, parties and participants, then
// each turn.
func writeHistory(w io.Writer, d *collabDetail) {
	fmt.Fprintf(w, "# %s\n\n", oneLine(d.Subject))
	fmt.Fprintf(w, "Collaboration %s, %s. Started %s by %s.\n", d.ID, d.State, formatTime(d.Created), d.Owner)
	if note := strings.TrimSpace(d.ClosingNote); note != "" {
		fmt.Fprintf(w, "\n## Closing note\n\nWrapped up on %s.\n\n", formatTime(d.Wrapped))
		writeQuote(w, note)
	}

	fmt.Fprintf(w, "\n## Parties\n\n")
	for _, p := range d.Parties {
		people := make([]string, len(p.Participants))
		for i, pp := range p.Participants {
			people[i] = pp.Address
			if pp.Name != "" {
				people[i] = fmt.Sprintf("%s <%s>", oneLine(pp.Name), pp.Address)
			}
			people[i] += " (" + pp.Role + ")"
		}
		fmt.Fprintf(w, "- %s: %s\n", oneLine(p.Name), strings.Join(people, ", "))
	}

	fmt.Fprintf(w, "\n## Turns\n")
	for _, t := range d.Turns {
		fmt.Fprintf(w, "\n### Turn %d: %s\n\n", t.Number, oneLine(t.Party))
		fmt.Fprintf(w, "Ended by %s on %s (%s).\n", t.EndedBy, formatTime(t.Ended), t.How)
		if len(t.Versions) > 0 {
			fmt.Fprintf(w, "\nFiles: %s\n", oneLine(t.Files()))
		}
		if note := strings.TrimSpace(t.Note); note != "" {
			fmt.Fprintln(w)
			writeQuote(w, note)
		}
	}
	if d.State != store.StateWrapped {
		fmt.Fprintf(w, "\n### Turn %d: %s\n\nOpen since %s.\n", d.Turn.Number, oneLine(d.Turn.Party), formatTime(d.Turn.Since))
	}
}

// writeQuote writes text as a Markdown quote, line by line.
func writeQuote(w io.Writer, text string) {
	for line := range strings.Lines(text) {
		fmt.Fprintf(w, "> %s\n", strings.TrimRight(line, "\r\n"))
	}
}
