package changes

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// readText reads a plain text document (txt, md, csv) as lines: UTF-8
// with invalid bytes replaced, or UTF-16 when a byte order mark says so
// (Windows Notepad's "Unicode"); CRLF and lone CR end lines as LF does.
// Trailing white space is no part of a line, and blank lines are skipped.
func readText(b *budget, r io.ReaderAt, size int64) (*doc, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(r, 0, size), data); err != nil {
		return nil, fmt.Errorf("changes: read text: %w", err)
	}
	s := decodeText(data)
	d := &doc{}
	for n := 1; s != ""; n++ {
		if err := b.check(); err != nil {
			return nil, err
		}
		var line string
		i := strings.IndexAny(s, "\r\n")
		switch {
		case i < 0:
			line, s = s, ""
		case s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n':
			line, s = s[:i], s[i+2:]
		default:
			line, s = s[:i], s[i+1:]
		}
		line = strings.TrimRight(line, " \t\f\v")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := d.addUnit(b, line, n); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func decodeText(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF):
		le := data[0] == 0xFF
		u := make([]uint16, 0, len(data)/2-1)
		for i := 2; i+1 < len(data); i += 2 {
			if le {
				u = append(u, uint16(data[i])|uint16(data[i+1])<<8)
			} else {
				u = append(u, uint16(data[i])<<8|uint16(data[i+1]))
			}
		}
		return string(utf16.Decode(u))
	}
	return strings.ToValidUTF8(string(data), "\uFFFD")
}
