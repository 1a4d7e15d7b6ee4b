package changes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"
)

// Format is the kind of document, picked by the file name's extension.
type Format string

const (
	Docx     Format = "docx" // also .docm, .dotx, .dotm
	ODT      Format = "odt"  // also .ott
	XLSX     Format = "xlsx" // also .xlsm, .xltx, .xltm
	Text     Format = "txt"  // also .text, .log
	Markdown Format = "md"   // also .markdown
	CSV      Format = "csv"  // also .tsv
)

var formats = map[string]Format{
	".docx": Docx, ".docm": Docx, ".dotx": Docx, ".dotm": Docx,
	".odt": ODT, ".ott": ODT,
	".xlsx": XLSX, ".xlsm": XLSX, ".xltx": XLSX, ".xltm": XLSX,
	".txt": Text, ".text": Text, ".log": Text,
	".md": Markdown, ".markdown": Markdown,
	".csv": CSV, ".tsv": CSV,
}

// FormatOf returns the format of a document named name, and whether this
// package reads it.
func FormatOf(name string) (Format, bool) {
	ext := strings.ToLower(path.Ext(strings.TrimSpace(name)))
	f, ok := formats[ext]
	if !ok {
		return Format(strings.TrimPrefix(ext, ".")), false
	}
	return f, true
}

// Unit is what a Summary's Counts count.
type Unit string

const (
	Paragraphs Unit = "paragraphs" // docx, odt
	Lines      Unit = "lines"      // txt, md, csv
	Cells      Unit = "cells"      // xlsx
)

func (f Format) unit() Unit {
	switch f {
	case Docx, ODT:
		return Paragraphs
	case XLSX:
		return Cells
	}
	return Lines
}

// Summary says what changed between two versions of a document.
//
// Exactly one of three cases holds: Unsupported (the format is not one this
// package reads; nothing else is set but Format), TooLarge (a limit was
// reached; Reason says which, and nothing else is set but Format and Unit),
// or a comparison (Counts, Passages, Sheets, Markup).
type Summary struct {
	Format      Format
	Unit        Unit
	Unsupported bool
	TooLarge    bool
	Reason      string // why TooLarge, for logs: "new version: word/document.xml inflates past 64 MiB"

	// Counts counts units added, removed and changed. A run of removed
	// units replaced by a run of added ones counts pairwise as changed, the
	// surplus as added or removed. Blank paragraphs and lines are not
	// units: adding an empty line changes nothing.
	Counts Counts
	// Passages are the first MaxPassages changes in document order (docx,
	// odt and text formats; nil for xlsx).
	Passages []Passage
	// Sheets are the xlsx sheets with changes: those of the new workbook in
	// its order, then removed ones. Nil for other formats.
	Sheets []Sheet
	// Markup is what review markup the new version still carries (docx and
	// odt); nil for formats without one.
	Markup *Markup
}

// Same reports whether the comparison found no change. It is false for an
// Unsupported or TooLarge summary: those say nothing either way.
func (s *Summary) Same() bool {
	return !s.Unsupported && !s.TooLarge && s.Counts == (Counts{}) && len(s.Sheets) == 0
}

// Counts counts units (Summary.Unit) by what happened to them.
type Counts struct {
	Added, Removed, Changed int
}

// Total is the number of units touched.
func (c Counts) Total() int { return c.Added + c.Removed + c.Changed }

func (c *Counts) add(o Counts) {
	c.Added += o.Added
	c.Removed += o.Removed
	c.Changed += o.Changed
}

// Kind says what happened to a unit.
type Kind string

const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// A Passage is one changed unit: a paragraph or a line. Old is empty for
// an added one, New for a removed one. Long texts are cut to about
// PassageRunes runes around where the two differ, with "…" where text was
// left out.
type Passage struct {
	Kind Kind
	// At is the unit's 1-based position in the new version (the old one for
	// a removal): the line number for text formats, the number of the
	// non-blank paragraph for docx and odt.
	At       int
	Old, New string
}

// A Sheet is one xlsx sheet with changes. Sheets match by name, then, for
// a sheet renamed, by the workbook's sheetId.
type Sheet struct {
	Name    string // in the new version; the old name for a removed sheet
	OldName string // set when the sheet was renamed
	Added   bool   // the old version has no such sheet
	Removed bool   // the new version has no such sheet
	Counts  Counts // cells: added (was empty), removed (now empty), changed
	Cells   []Cell // the first MaxExamples changed cells, in row order
}

// A Cell is one changed xlsx cell: its value as shown (shared strings
// resolved; numbers and dates as the file stores them), cut to PassageRunes.
type Cell struct {
	Ref      string // "B7"
	Old, New string
}

// Markup is the review markup a document carries: tracked changes and
// comments, counted as the file holds them (Word may show adjacent
// revisions of one author as one).
type Markup struct {
	Insertions int // tracked insertions (docx w:ins, w:moveTo; odt text:insertion)
	Deletions  int // tracked deletions (docx w:del, w:moveFrom; odt text:deletion)
	Formatting int // tracked formatting changes (docx w:rPrChange…; odt text:format-change)
	Comments   int // docx word/comments.xml w:comment; odt office:annotation
	// Authors are the people who made them, by the name their editor
	// recorded (w:author, dc:creator), sorted by name. Markup with no
	// author recorded is listed under "".
	Authors []Author
}

// Author is one person's share of a document's markup.
type Author struct {
	Name                                        string
	Insertions, Deletions, Formatting, Comments int
}

// Any reports whether the document carries any comment or tracked change.
func (m *Markup) Any() bool {
	return m != nil && m.Insertions+m.Deletions+m.Formatting+m.Comments > 0
}

// TrackedChanges is the number of tracked changes of every kind.
func (m *Markup) TrackedChanges() int { return m.Insertions + m.Deletions + m.Formatting }

// Limits bound the work one call does. A zero field takes its default
// (the Default… constants); a negative one is no limit, except MaxTime and
// the zip limits, which always hold.
type Limits struct {
	// MaxBytes is the largest file compared, as stored.
	MaxBytes int64
	// MaxMemberBytes caps the uncompressed bytes read from one zip member,
	// MaxUnpackedBytes from all members of one file: a member declaring a
	// small size but inflating past it is refused by archive/zip, one
	// declaring or inflating past these is TooLarge.
	MaxMemberBytes, MaxUnpackedBytes int64
	// MaxMembers caps the entries of a zip. Reading a zip's directory is
	// capped at 128 KiB + 256 bytes per allowed member, so a directory of
	// many tiny entries costs no memory before the count is checked.
	MaxMembers int
	// MaxParagraphs caps the paragraphs or lines of one version (at most
	// 500,000 however large), MaxCells the non-empty cells of one workbook
	// (one sheet's are held in memory at a time).
	MaxParagraphs, MaxCells int
	// MaxTime caps one call, whatever the context allows.
	MaxTime time.Duration
}

// The defaults of Limits. A 20 MB docx is mostly images: its
// word/document.xml rarely passes 10 MB.
const (
	DefaultMaxBytes         = 64 << 20
	DefaultMaxMemberBytes   = 64 << 20
	DefaultMaxUnpackedBytes = 128 << 20
	DefaultMaxMembers       = 10_000
	DefaultMaxParagraphs    = 100_000
	DefaultMaxCells         = 500_000
	DefaultMaxTime          = 5 * time.Second
)

// What a Summary shows at most.
const (
	MaxPassages  = 5   // Summary.Passages
	MaxExamples  = 5   // Sheet.Cells
	PassageRunes = 300 // Passage.Old and New, Cell.Old and New
)

// maxUnits is the most units one version may have whatever the limits say:
// diff.go gives each distinct unit of both versions a rune of its own,
// and there are 1,112,064 of them.
const maxUnits = 500_000

func (l Limits) withDefaults() Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxMemberBytes <= 0 {
		l.MaxMemberBytes = DefaultMaxMemberBytes
	}
	if l.MaxUnpackedBytes <= 0 {
		l.MaxUnpackedBytes = DefaultMaxUnpackedBytes
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	if l.MaxParagraphs == 0 {
		l.MaxParagraphs = DefaultMaxParagraphs
	}
	if l.MaxParagraphs < 0 || l.MaxParagraphs > maxUnits {
		l.MaxParagraphs = maxUnits
	}
	if l.MaxCells == 0 {
		l.MaxCells = DefaultMaxCells
	}
	if l.MaxTime <= 0 {
		l.MaxTime = DefaultMaxTime
	}
	return l
}

var (
	// ErrTooLarge is returned by Inspect when a limit was reached; Compare
	// says so in Summary.TooLarge instead.
	ErrTooLarge = errors.New("changes: too large to compare")
	// ErrUnsupported is returned by Inspect for a format it does not read.
	ErrUnsupported = errors.New("changes: format not supported")
	// ErrDamaged wraps what made a document unreadable: not a zip, a
	// member missing, XML that does not parse.
	ErrDamaged = errors.New("changes: damaged document")
)

// tooLarge is a limit reached; it unwraps to ErrTooLarge.
type tooLarge struct{ reason string }

func (e *tooLarge) Error() string { return ErrTooLarge.Error() + ": " + e.reason }
func (e *tooLarge) Unwrap() error { return ErrTooLarge }

func errTooLarge(format string, args ...any) error {
	return &tooLarge{reason: fmt.Sprintf(format, args...)}
}

// inVersion names the version ("old", "new") an error is about.
func inVersion(which string, err error) error {
	var tl *tooLarge
	if errors.As(err, &tl) {
		return &tooLarge{reason: which + " version: " + tl.reason}
	}
	return fmt.Errorf("%s version: %w", which, err)
}

func damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, args...))
}

// budget is the work left to one call.
type budget struct {
	ctx      context.Context
	deadline time.Time
	lim      Limits
	ticks    int
}

func newBudget(ctx context.Context, lim Limits) *budget {
	lim = lim.withDefaults()
	deadline := time.Now().Add(lim.MaxTime)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return &budget{ctx: ctx, deadline: deadline, lim: lim}
}

// check returns an error once the context is done or the time is up. It is
// cheap enough for every XML token: the clock is read one call in 256.
func (b *budget) check() error {
	b.ticks++
	if b.ticks&255 != 1 {
		return nil
	}
	return b.checkNow()
}

func (b *budget) checkNow() error {
	if err := b.ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return errTooLarge("the deadline passed")
		}
		return err
	}
	if !time.Now().Before(b.deadline) {
		return errTooLarge("the time limit passed")
	}
	return nil
}

func (b *budget) checkSize(size int64) error {
	if b.lim.MaxBytes > 0 && size > b.lim.MaxBytes {
		return errTooLarge("%s, past the %s compared", mib(size), mib(b.lim.MaxBytes))
	}
	if size < 0 {
		return fmt.Errorf("changes: negative size %d", size)
	}
	return nil
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// doc is one version read: its units and, for docx and odt, its markup.
type doc struct {
	units  []unit
	markup *Markup
}

// unit is one paragraph or line, with its 1-based position (Passage.At).
type unit struct {
	text string
	at   int
}

// Compare says what changed from older to newer, two versions of a
// document named name (the extension picks the format). Each version is
// read at random (a zip's directory is at its end) and its size given.
//
// Hitting a limit of lim, or the context's deadline, is no error: the
// Summary says TooLarge. Errors are for a version that cannot be read
// (wrapping ErrDamaged) and for a cancelled context.
func Compare(ctx context.Context, name string, older io.ReaderAt, olderSize int64, newer io.ReaderAt, newerSize int64, lim Limits) (*Summary, error) {
	f, ok := FormatOf(name)
	if !ok {
		return &Summary{Format: f, Unsupported: true}, nil
	}
	s := &Summary{Format: f, Unit: f.unit()}
	b := newBudget(ctx, lim)
	settle := func(err error) (*Summary, error) {
		var tl *tooLarge
		if errors.As(err, &tl) {
			s.TooLarge, s.Reason = true, tl.reason
			return s, nil
		}
		return nil, err
	}
	if err := b.checkNow(); err != nil {
		return settle(err)
	}
	if f == XLSX {
		err := compareWorkbooks(b, s, older, olderSize, newer, newerSize)
		if err != nil {
			return settle(err)
		}
		return s, nil
	}
	// The versions are read side by side: reading is most of the work
	// (encoding/xml runs at some 15 MB/s), the diff little.
	var (
		a, n       *doc
		errA, errN error
		wg         sync.WaitGroup
		ba         = *b
	)
	wg.Go(func() {
		defer func() {
			if v := recover(); v != nil {
				errA = fmt.Errorf("changes: panic reading: %v", v)
			}
		}()
		a, errA = read(&ba, f, older, olderSize)
	})
	n, errN = read(b, f, newer, newerSize)
	wg.Wait()
	if errA != nil {
		return settle(inVersion("old", errA))
	}
	if errN != nil {
		return settle(inVersion("new", errN))
	}
	if err := diff(b, s, a.units, n.units); err != nil {
		return settle(err)
	}
	s.Markup = n.markup
	return s, nil
}

// Inspect says what review markup (tracked changes, comments) a document
// still carries. Text formats carry none: their Markup is empty. It
// returns an error wrapping ErrUnsupported for formats it does not read
// (xlsx among them), ErrTooLarge past a limit, ErrDamaged for a document
// it cannot read.
func Inspect(ctx context.Context, name string, r io.ReaderAt, size int64, lim Limits) (*Markup, error) {
	f, ok := FormatOf(name)
	if !ok || f == XLSX {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, name)
	}
	if f.unit() == Lines {
		return &Markup{}, nil
	}
	b := newBudget(ctx, lim)
	if err := b.checkNow(); err != nil {
		return nil, err
	}
	d, err := read(b, f, r, size)
	if err != nil {
		return nil, err
	}
	return d.markup, nil
}

// read reads one version of a docx, odt or text document.
func read(b *budget, f Format, r io.ReaderAt, size int64) (*doc, error) {
	if err := b.checkSize(size); err != nil {
		return nil, err
	}
	switch f {
	case Docx:
		return readDocx(b, r, size)
	case ODT:
		return readODT(b, r, size)
	}
	return readText(b, r, size)
}

// addUnit appends a non-blank unit, within MaxParagraphs.
func (d *doc) addUnit(b *budget, text string, at int) error {
	if text == "" {
		return nil
	}
	if len(d.units) >= b.lim.MaxParagraphs {
		return errTooLarge("more than %d paragraphs or lines", b.lim.MaxParagraphs)
	}
	d.units = append(d.units, unit{text: text, at: at})
	return nil
}
