package changes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// readText reads a plain text document (txt, md, csv) as lines: UTF-8
// with invalid bytes replaced, or UTF-16 when a byte order mark says so
// (Windows Notepad's "Unicode"); CRLF and lone CR end lines as LF does.
// Trailing white space is no part of a line, and blank lines are skipped.
// It streams: what it holds beyond the lines kept is the longest line.
func readText(b *budget, r io.ReaderAt, size int64) (*doc, error) {
	dec := transform.NewReader(io.NewSectionReader(r, 0, size), unicode.BOMOverride(unicode.UTF8.NewDecoder()))
	sc := bufio.NewScanner(dec)
	// Decoding may grow a line: UTF-16 by half, an invalid byte to three.
	sc.Buffer(nil, int(min(3*size+64, math.MaxInt)))
	sc.Split(scanLines)
	d := &doc{}
	for n := 1; sc.Scan(); n++ {
		if err := b.check(); err != nil {
			return nil, err
		}
		line := bytes.TrimRight(sc.Bytes(), " \t\f\v")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := d.addUnit(b, string(line), n); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errTooLarge("a line past %s", mib(3*size+64))
		}
		return nil, fmt.Errorf("changes: read text: %w", err)
	}
	return d, nil
}

// scanLines is bufio.ScanLines for all three line ends: LF, CRLF, CR.
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF && len(data) > 0:
		return len(data), data, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a CR at the end of what is read: is an LF next?
}
