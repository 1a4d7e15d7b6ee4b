package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/workflow"
)

// The names inside an export zip: a stable interface, which scripts and
// archives read.
const (
	zipVersionsDir = "versions"
	zipHistoryHTML = "history.html"
	zipManifest    = "manifest.json"
)

// zipManifestFile is one entry of manifest.json: a file of the zip besides
// the manifest itself, its SHA-256 and its size.
type zipManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// exportZip writes d as one zip, dir/<id>.zip: the final version of every
// document at the top, named as the handoff names it ("contract (v3).docx"),
// every version under versions/<document>/v<N>-<filename>, history.html,
// history.md, and manifest.json listing every other file with its SHA-256.
// Blobs are streamed from blobs into the zip one at a time, so memory stays
// bounded whatever the documents weigh. The zip appears whole or not at all.
// It returns the path written and the number of versions.
func exportZip(ctx context.Context, blobs mail.BlobOpener, d *collabDetail, dir string) (string, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("create export directory: %w", err)
	}
	name := message.SanitizeFilename(d.ID)
	if name == "" {
		return "", 0, fmt.Errorf("collaboration id %q makes no file name", d.ID)
	}
	path := filepath.Join(dir, name+".zip")
	var n int
	err := writeFileAtomic(path, func(w io.Writer) error {
		var err error
		n, err = writeZip(ctx, w, blobs, d)
		return err
	})
	if err != nil {
		return "", n, err // writeFileAtomic names the path
	}
	return path, n, nil
}

// writeZip writes the export zip of d to w and returns the number of
// versions in it.
func writeZip(ctx context.Context, w io.Writer, blobs mail.BlobOpener, d *collabDetail) (int, error) {
	zw := &zipExport{zw: zip.NewWriter(w), used: map[string]bool{}, modified: lastChange(d)}
	n := 0
	// Final versions first, where whoever opens the zip looks.
	for i, doc := range d.Documents {
		if len(doc.Versions) == 0 {
			continue
		}
		v := doc.Versions[len(doc.Versions)-1]
		final := message.SanitizeFilename(workflow.VersionedName(doc.Name, v.Number))
		if final == "" || zw.used[final] {
			final = fmt.Sprintf("document-%d (v%d)", i+1, v.Number)
		}
		if err := zw.blob(ctx, blobs, final, v); err != nil {
			return n, fmt.Errorf("export %s v%d: %w", doc.Name, v.Number, err)
		}
	}
	for i, doc := range d.Documents {
		docDir := message.SanitizeFilename(doc.Name)
		if docDir == "" || zw.usedDir(docDir) {
			docDir = fmt.Sprintf("document-%d", i+1)
		}
		for _, v := range doc.Versions {
			p := zipVersionsDir + "/" + docDir + "/" + fmt.Sprintf("v%d-%s", v.Number, message.SanitizeFilename(v.Filename))
			if err := zw.blob(ctx, blobs, p, v); err != nil {
				return n, fmt.Errorf("export %s v%d: %w", doc.Name, v.Number, err)
			}
			n++
		}
	}
	var page bytes.Buffer
	if err := historyPage.Execute(&page, d); err != nil {
		return n, fmt.Errorf("render %s: %w", zipHistoryHTML, err)
	}
	if err := zw.bytes(zipHistoryHTML, page.Bytes()); err != nil {
		return n, err
	}
	var history bytes.Buffer
	writeHistory(&history, d)
	if err := zw.bytes(historyFile, history.Bytes()); err != nil {
		return n, err
	}
	manifest, err := json.MarshalIndent(struct {
		Files []zipManifestFile `json:"files"`
	}{zw.files}, "", "  ")
	if err != nil {
		return n, fmt.Errorf("encode %s: %w", zipManifest, err)
	}
	if err := zw.entry(zipManifest, false, func(w io.Writer) error {
		_, err := w.Write(append(manifest, '\n'))
		return err
	}); err != nil {
		return n, err
	}
	if err := zw.zw.Close(); err != nil {
		return n, fmt.Errorf("finish zip: %w", err)
	}
	return n, nil
}

// zipExport is a zip being written, with the manifest of what it holds so
// far.
type zipExport struct {
	zw       *zip.Writer
	used     map[string]bool // paths written
	files    []zipManifestFile
	modified time.Time // for the files that are not versions
}

// usedDir reports whether a document directory is taken under versions/.
func (z *zipExport) usedDir(dir string) bool {
	prefix := zipVersionsDir + "/" + dir + "/"
	for p := range z.used {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// blob writes version v, streamed from its blob, as path.
func (z *zipExport) blob(ctx context.Context, blobs mail.BlobOpener, path string, v versionDetail) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, err := blobs.OpenBlob(v.SHA256)
	if err != nil {
		return err
	}
	defer rc.Close()
	// OpenBlob checks the content against its digest as it reads: a corrupt
	// blob fails the copy, and with it the whole zip.
	return z.entryAt(path, v.Time, compressible(path), func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
}

// bytes writes b as path.
func (z *zipExport) bytes(path string, b []byte) error {
	return z.entry(path, true, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

func (z *zipExport) entry(path string, deflate bool, write func(io.Writer) error) error {
	return z.entryAt(path, z.modified, deflate, write)
}

// entryAt writes one file of the zip and, except for the manifest itself,
// records its digest and size in the manifest.
func (z *zipExport) entryAt(path string, modified time.Time, deflate bool, write func(io.Writer) error) error {
	if z.used[path] {
		return fmt.Errorf("zip entry %s twice", path)
	}
	z.used[path] = true
	h := &zip.FileHeader{Name: path, Method: zip.Store, Modified: modified.UTC()}
	if deflate {
		h.Method = zip.Deflate
	}
	h.SetMode(0o644)
	ew, err := z.zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("zip entry %s: %w", path, err)
	}
	sum := sha256.New()
	cw := &countWriter{w: io.MultiWriter(ew, sum)}
	if err := write(cw); err != nil {
		return fmt.Errorf("zip entry %s: %w", path, err)
	}
	if path != zipManifest {
		z.files = append(z.files, zipManifestFile{Path: path, SHA256: hex.EncodeToString(sum.Sum(nil)), Size: cw.n})
	}
	return nil
}

// countWriter counts what goes through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// compressible says whether deflating a file of this name is worth the
// time: office documents, PDFs and images are compressed already, and
// deflating a 100 MB one again only costs CPU.
func compressible(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".zip", ".gz", ".bz2", ".xz", ".zst", ".7z",
		".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".mp3", ".mp4", ".mov":
		return false
	}
	return true
}

// lastChange is when d last changed, the time the zip gives the files that
// are not versions, so that two exports of the same data are the same zip.
func lastChange(d *collabDetail) time.Time {
	t := d.Created
	for _, x := range []time.Time{d.Wrapped, d.Turn.Since} {
		if x.After(t) {
			t = x
		}
	}
	for _, turn := range d.Turns {
		if turn.Ended.After(t) {
			t = turn.Ended
		}
	}
	return t
}

// historyPage is history.html: one page that needs nothing else, styles
// inline, every quoted word escaped by html/template (subjects, names and
// notes come from mail and may hold anything).
var historyPage = template.Must(template.New(zipHistoryHTML).Funcs(template.FuncMap{
	"time":  formatTime,
	"lines": func(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") },
	"size":  func(n int64) string { return fmt.Sprintf("%d bytes", n) },
	"last":  func(vs []versionDetail) versionDetail { return vs[len(vs)-1] },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}}</title></head>
<body style="margin:0;padding:24px;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;color:#222;background:#fff">
<h1 style="font-size:22px;margin:0 0 6px">{{.Subject}}</h1>
<p style="margin:0 0 18px;color:#555">Collaboration {{.ID}}, {{.State}}. Started {{time .Created}} by {{.Owner}}.{{if not .Wrapped.IsZero}} Wrapped up {{time .Wrapped}}.{{end}}</p>
{{if .ClosingNote}}<h2 style="font-size:17px;margin:18px 0 6px">Closing note</h2>
<blockquote style="margin:0 0 18px;padding:6px 14px;border-left:3px solid #4a7">{{range lines .ClosingNote}}{{.}}<br>
{{end}}</blockquote>
{{end}}<h2 style="font-size:17px;margin:18px 0 6px">Parties</h2>
<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;margin:0 0 18px">
<tr style="background:#f2f2f2"><th align="left">Party</th><th align="left">Person</th><th align="left">Address</th><th align="left">Role</th></tr>
{{range $p := .Parties}}{{range .Participants}}<tr style="border-top:1px solid #ddd"><td>{{$p.Name}}</td><td>{{.Name}}</td><td>{{.Address}}</td><td>{{.Role}}</td></tr>
{{end}}{{end}}</table>
<h2 style="font-size:17px;margin:18px 0 6px">Documents</h2>
<table cellpadding="6" cellspacing="0" style="border-collapse:collapse;margin:0 0 18px">
<tr style="background:#f2f2f2"><th align="left">Document</th><th align="left">Version</th><th align="left">Filename as sent</th><th align="left">Size</th><th align="left">Turn</th><th align="left">By</th><th align="left">SHA-256</th></tr>
{{range $d := .Documents}}{{range .Versions}}<tr style="border-top:1px solid #ddd"><td>{{$d.Name}}</td><td>v{{.Number}}{{if eq .Number (last $d.Versions).Number}} (final){{end}}</td><td>{{.Filename}}</td><td>{{size .Size}}</td><td>{{.Turn}}</td><td>{{.Author}}</td><td style="font-family:monospace;font-size:12px">{{.SHA256}}</td></tr>
{{end}}{{end}}</table>
<h2 style="font-size:17px;margin:18px 0 6px">Turns</h2>
{{range .Turns}}<h3 style="font-size:15px;margin:14px 0 4px">Turn {{.Number}}: {{.Party}}</h3>
<p style="margin:0 0 4px;color:#555">Ended by {{.EndedBy}} on {{time .Ended}} ({{.How}}).{{with .Files}} Files: {{.}}.{{end}}</p>
{{if .Note}}<blockquote style="margin:0 0 10px;padding:4px 14px;border-left:3px solid #ccc">{{range lines .Note}}{{.}}<br>
{{end}}</blockquote>
{{end}}{{end}}{{if ne .State "wrapped"}}<h3 style="font-size:15px;margin:14px 0 4px">Turn {{.Turn.Number}}: {{.Turn.Party}}</h3>
<p style="margin:0 0 4px;color:#555">Open since {{time .Turn.Since}}.</p>
{{end}}</body></html>
`))
