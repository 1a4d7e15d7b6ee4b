package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
)

const statsUsage = `stats [--json]

Shows what the store holds and what it takes on disk: the document versions
and the size of their files (logical_bytes), the blobs, the chunks they are
stored in after dedupe (chunk_bytes), and the database file's pages in use
(file_bytes) and its high-water mark (file_size). It reads the whole store.`

func runStats(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, statsUsage, args, 0); err != nil {
		return err
	}
	st, err := a.st.Stats()
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(a.stdout, st)
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 8, 2, ' ', 0)
	for _, row := range []struct {
		name  string
		n     int64
		bytes bool
	}{
		{"versions", int64(st.Versions), false},
		{"logical_bytes", st.LogicalBytes, true},
		{"blobs", int64(st.Blobs), false},
		{"blob_bytes", st.BlobBytes, true},
		{"chunks", int64(st.Chunks), false},
		{"chunk_bytes", st.ChunkBytes, true},
		{"file_bytes", st.FileBytes, true},
		{"file_size", st.FileSize, true},
	} {
		size := ""
		if row.bytes {
			size = formatBytes(row.n)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", row.name, row.n, size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The counts have no size: no padding after them.
	for line := range strings.Lines(table.String()) {
		if _, err := fmt.Fprintln(a.stdout, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

// formatBytes is how a size in bytes appears in human output: in decimal
// units, three significant digits.
func formatBytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1000, 0
	for v >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	switch {
	case v < 9.995:
		return fmt.Sprintf("%.2f %cB", v, units[i])
	case v < 99.95:
		return fmt.Sprintf("%.1f %cB", v, units[i])
	}
	return fmt.Sprintf("%.0f %cB", v, units[i])
}
