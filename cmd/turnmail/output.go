package main

import (
	"encoding/json"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/turnmail/turnmail/store"
)

// writeJSON writes v as indented JSON, the --json output of every command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// oneLine makes text from mail safe for one cell of a table on a terminal:
// control characters (tabs, newlines, escape sequences) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// formatTime is how times appear in human output.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// view runs read in one read transaction of a's store and returns what it
// read.
func view[T any](a *app, read func(*store.Tx) (T, error)) (T, error) {
	var v T
	err := a.st.View(func(tx *store.Tx) (err error) {
		v, err = read(tx)
		return err
	})
	return v, err
}
