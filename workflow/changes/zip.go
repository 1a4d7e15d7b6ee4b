package changes

import (
	"archive/zip"
	"errors"
	"io"
	"strings"
)

// archive is one zip container (docx, odt, xlsx), read within a budget.
type archive struct {
	b        *budget
	unpacked int64                // bytes inflated from all members so far
	files    map[string]*zip.File // by lower-cased name: OPC part names ignore case
}

// openArchive reads a zip's directory. The directory's read is capped
// (Limits.MaxMembers) before archive/zip holds a File for every entry it
// finds, since it reads entries until a bad one, whatever count the
// directory's end record claims.
func openArchive(b *budget, r io.ReaderAt, size int64) (*archive, error) {
	dr := &cappedReaderAt{r: r, left: 128<<10 + 256*int64(b.lim.MaxMembers)}
	zr, err := zip.NewReader(dr, size)
	if dr.left < 0 {
		return nil, errTooLarge("zip directory past %d members", b.lim.MaxMembers)
	}
	if err != nil {
		return nil, damaged("not a zip: %v", err)
	}
	dr.off = true // members are bounded by what they inflate to
	if len(zr.File) > b.lim.MaxMembers {
		return nil, errTooLarge("%d zip members, past %d", len(zr.File), b.lim.MaxMembers)
	}
	a := &archive{b: b, files: make(map[string]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		key := strings.ToLower(f.Name)
		if _, dup := a.files[key]; !dup {
			a.files[key] = f
		}
	}
	return a, nil
}

// has reports whether the zip holds a member of that name.
func (a *archive) has(name string) bool {
	_, ok := a.files[strings.ToLower(name)]
	return ok
}

// names returns the members' lower-cased names accepted by keep.
func (a *archive) names(keep func(string) bool) []string {
	var names []string
	for n := range a.files {
		if keep(n) {
			names = append(names, n)
		}
	}
	return names
}

// open opens a member for reading, within Limits.MaxMemberBytes and what is
// left of Limits.MaxUnpackedBytes. A missing member is ErrDamaged.
func (a *archive) open(name string) (io.ReadCloser, error) {
	f, ok := a.files[strings.ToLower(name)]
	if !ok {
		return nil, damaged("no %s in the zip", name)
	}
	if f.UncompressedSize64 > uint64(a.b.lim.MaxMemberBytes) {
		return nil, errTooLarge("%s is %s unpacked, past %s", name, mib(int64(min(f.UncompressedSize64, 1<<62))), mib(a.b.lim.MaxMemberBytes))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, damaged("%s: %v", name, err)
	}
	return &memberReader{rc: rc, a: a, name: name}, nil
}

// memberReader counts what one member inflates to.
type memberReader struct {
	rc   io.ReadCloser
	a    *archive
	name string
	read int64
}

func (m *memberReader) Read(p []byte) (int, error) {
	lim := &m.a.b.lim
	// One byte more than allowed tells a member ending at the cap from
	// one going past it.
	if left := min(lim.MaxMemberBytes-m.read, lim.MaxUnpackedBytes-m.a.unpacked) + 1; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := m.rc.Read(p)
	m.read += int64(n)
	m.a.unpacked += int64(n)
	switch {
	case m.read > lim.MaxMemberBytes:
		return 0, errTooLarge("%s inflates past %s", m.name, mib(lim.MaxMemberBytes))
	case m.a.unpacked > lim.MaxUnpackedBytes:
		return 0, errTooLarge("the zip inflates past %s", mib(lim.MaxUnpackedBytes))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// archive/zip's checksum and declared-size checks, or a bad
		// deflate stream.
		err = damaged("%s: %v", m.name, err)
	}
	return n, err
}

func (m *memberReader) Close() error { return m.rc.Close() }

// cappedReaderAt fails reads past a byte budget while off is false.
type cappedReaderAt struct {
	r    io.ReaderAt
	left int64
	off  bool
}

var errDirectoryCap = errors.New("changes: zip directory too large")

func (c *cappedReaderAt) ReadAt(p []byte, at int64) (int, error) {
	if !c.off {
		c.left -= int64(len(p))
		if c.left < 0 {
			return 0, errDirectoryCap
		}
	}
	return c.r.ReadAt(p, at)
}
