package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/turnmail/turnmail/internal/docxgen"
)

const seriesUsage = `usage: turnmail-load docx-series [-n 20] [-seed 1] DIR

Writes DIR/v01.docx … : versions of one Word document of about 4.5 MB, each
a light edit of the one before (a few paragraphs reworded, sometimes one
added, a new revision id, new document properties), the series .ci/bench
stores in turnmail and in git. The same seed writes the same files.

Flags:
`

func runDocxSeries(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("docx-series", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, seriesUsage)
		fs.PrintDefaults()
	}
	n := fs.Int("n", 20, "versions")
	seed := fs.Uint64("seed", 1, "the series' seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *n < 1 {
		fs.Usage()
		return flag.ErrHelp
	}
	dir := fs.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, f := range docxgen.Versions(*seed, *n, docxgen.Word) {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("v%02d.docx", i+1)), f, 0o644); err != nil {
			return err
		}
	}
	return nil
}
