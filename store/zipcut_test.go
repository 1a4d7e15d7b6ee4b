package store

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/restic/chunker"
)

// cutSizes returns the sizes of the chunks PutBlob cuts r into.
func cutSizes(t testing.TB, r io.Reader) []int {
	t.Helper()
	w := (&Store{}).blobWriter()
	var sizes []int
	err := w.cutChunks(r, func(c []byte) error {
		sizes = append(sizes, len(c))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sizes
}

// boundaries returns the offsets at which chunks of the given sizes start.
func boundaries(sizes []int) map[int64]bool {
	b := make(map[int64]bool)
	off := int64(0)
	for _, n := range sizes {
		b[off] = true
		off += int64(n)
	}
	return b
}

// pieceReader returns its data a few bytes at a time: n at a time, or a
// random number up to -n when n is negative.
type pieceReader struct {
	data []byte
	n    int
	rng  *rand.Rand
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := r.n
	if n < 0 {
		n = 1 + r.rng.IntN(-n)
	}
	n = copy(p[:min(len(p), n)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// readers returns readers of data that deliver it in different pieces.
func readers(data []byte) map[string]io.Reader {
	return map[string]io.Reader{
		"1 byte":    iotest.OneByteReader(bytes.NewReader(data)),
		"7 bytes":   &pieceReader{data: data, n: 7},
		"random":    &pieceReader{data: data, n: -5000, rng: rand.New(rand.NewPCG(uint64(len(data)), 3))},
		"with EOF":  iotest.DataErrReader(&pieceReader{data: data, n: -70000, rng: rand.New(rand.NewPCG(1, 3))}),
		"half read": iotest.HalfReader(bytes.NewReader(data)),
	}
}

type zipMember struct {
	name   string
	data   []byte
	method uint16
}

// buildZip writes members as archive/zip does: streaming, each member's
// sizes in a data descriptor after its data; or, with sizes, in its local
// header, as writers that can seek do.
func buildZip(t testing.TB, members []zipMember, sizes bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		fh := &zip.FileHeader{Name: m.name, Method: m.method, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
		var err error
		if !sizes {
			var w io.Writer
			if w, err = zw.CreateHeader(fh); err == nil {
				_, err = w.Write(m.data)
			}
		} else {
			raw := m.data
			if m.method == zip.Deflate {
				raw = deflated(t, flate.DefaultCompression, m.data, 0)
			}
			fh.CRC32 = crc32.ChecksumIEEE(m.data)
			fh.CompressedSize64, fh.UncompressedSize64 = uint64(len(raw)), uint64(len(m.data))
			var w io.Writer
			if w, err = zw.CreateRaw(fh); err == nil {
				_, err = w.Write(raw)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipLayout returns the offsets of a zip file's local headers, in order,
// and of its central directory, read from the central directory.
func zipLayout(t testing.TB, file []byte) (headers []int64, dir int64) {
	t.Helper()
	end := file[len(file)-22:]
	if !bytes.HasPrefix(end, []byte("PK\x05\x06")) {
		t.Fatal("no end of central directory record")
	}
	n := int(binary.LittleEndian.Uint16(end[10:]))
	dir = int64(binary.LittleEndian.Uint32(end[16:]))
	e := file[dir:]
	for range n {
		headers = append(headers, int64(binary.LittleEndian.Uint32(e[42:])))
		e = e[46+int(binary.LittleEndian.Uint16(e[28:]))+int(binary.LittleEndian.Uint16(e[30:]))+int(binary.LittleEndian.Uint16(e[32:])):]
	}
	return headers, dir
}

// officeMembers returns the members of a small office document: XML
// parts, one large, and incompressible media between them.
func officeMembers(seed uint64) []zipMember {
	return []zipMember{
		{"[Content_Types].xml", textBytes(seed, 1200), zip.Deflate},
		{"word/document.xml", textBytes(seed+1, 200<<10), zip.Deflate},
		{"word/media/image1.png", randomBytes(seed+2, 96<<10), zip.Deflate},
		{"word/settings.xml", textBytes(seed+3, 700), zip.Deflate},
		{"word/styles.xml", textBytes(seed+4, 12<<10), zip.Deflate},
		{"word/media/image2.jpeg", randomBytes(seed+5, 64<<10), zip.Store},
		{"customXml/item1.xml", textBytes(seed+6, 8<<10), zip.Store},
		{"docProps/core.xml", textBytes(seed+7, 500), zip.Deflate},
	}
}

// TestCutZipMembers: every member's local header, and the central
// directory, starts a chunk, however the zip says how long its members are.
func TestCutZipMembers(t *testing.T) {
	for _, sizes := range []bool{false, true} {
		t.Run(fmt.Sprintf("sizes in header %v", sizes), func(t *testing.T) {
			file := buildZip(t, officeMembers(1), sizes)
			b := boundaries(cutSizes(t, bytes.NewReader(file)))
			headers, dir := zipLayout(t, file)
			for i, h := range append(headers, dir) {
				if i > 0 && h-headers[i-1] < minSegment {
					continue // shares a chunk with the member before
				}
				if !b[h] {
					t.Errorf("no chunk starts at offset %d, header %d of %d", h, i, len(headers))
				}
			}
		})
	}
}

// TestCutEditIsolation: an edit in one member costs no chunk of its
// neighbours, nor of the deflate blocks of its own before the edit.
func TestCutEditIsolation(t *testing.T) {
	for _, sizes := range []bool{false, true} {
		old := buildZip(t, officeMembers(2), sizes)
		stored := make(map[string]bool)
		off := 0
		for _, n := range cutSizes(t, bytes.NewReader(old)) {
			stored[string(old[off:off+n])] = true
			off += n
		}
		for _, edited := range []int{1, 4, 6} {
			t.Run(fmt.Sprintf("sizes in header %v/member %d", sizes, edited), func(t *testing.T) {
				members := officeMembers(2)
				text := bytes.Clone(members[edited].data)
				at := len(text) * 3 / 4
				members[edited].data = slices.Concat(text[:at], []byte(" a clause added "), text[at:])
				file := buildZip(t, members, sizes)
				headers, dir := zipLayout(t, file)
				// Where the file first differs.
				first := 0
				for old[first] == file[first] {
					first++
				}
				// With its size and checksum, the header changes; without,
				// the member from the deflate block that changed.
				from := headers[edited]
				data := from + localHeaderSize + int64(len(members[edited].name)) + int64(binary.LittleEndian.Uint16(file[from+28:]))
				if members[edited].method == zip.Deflate {
					blocks, _, _, _ := scanDeflate(file[data:headers[edited+1]], 1<<20)
					for _, b := range blocks {
						if data+int64(b) <= int64(first) {
							from = data + int64(b)
						}
					}
				}
				var header [2]int64 // the chunk of the changed header, if any
				if sizes {
					header = [2]int64{headers[edited], data}
				}
				off := 0
				for _, n := range cutSizes(t, bytes.NewReader(file)) {
					start, end := int64(off), int64(off+n)
					off += n
					if stored[string(file[start:end])] {
						continue
					}
					// The central directory changes too; a small member
					// before it shares its chunk.
					if (start < from || end > headers[edited+1]) && end <= dir && [2]int64{start, end} != header {
						t.Errorf("new chunk %d..%d outside %d..%d, the edited member from the block that changed", start, end, from, headers[edited+1])
					}
				}
			})
		}
	}
}

// TestCutPieces: the chunks do not depend on how the content arrives.
func TestCutPieces(t *testing.T) {
	docx := docxVersions(1, 1, 16)[0]
	inputs := map[string][]byte{
		"docx":           docx,
		"sizes":          buildZip(t, officeMembers(3), true),
		"descriptors":    buildZip(t, officeMembers(4), false),
		"truncated docx": docx[:len(docx)/2],
		"not a zip":      randomBytes(14, 256<<10),
		"text":           textBytes(15, 256<<10),
	}
	for name, data := range hostileZips(t, 128<<10) {
		inputs["hostile "+name] = data
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			want := cutSizes(t, bytes.NewReader(data))
			for rname, r := range readers(data) {
				if rname == "1 byte" && len(data) > 128<<10 {
					continue // slow under -race; the 7-byte pieces take the same paths
				}
				if got := cutSizes(t, r); !slices.Equal(got, want) {
					t.Errorf("read %s: %d chunks, %v…; read at once: %d, %v…", rname, len(got), got[:min(len(got), 8)], len(want), want[:min(len(want), 8)])
				}
			}
		})
	}
}

// TestCutNotZip: content that is not a zip file is cut as before zip
// members had boundaries, so that it still dedupes with what is stored.
func TestCutNotZip(t *testing.T) {
	for _, data := range [][]byte{randomBytes(16, 3<<20), textBytes(17, 1<<20), []byte("PK\x03"), nil} {
		c := chunker.NewWithBoundaries(bytes.NewReader(data), chunkPol, minChunk, maxChunk)
		c.SetAverageBits(averageBits)
		var want []int
		for {
			chunk, err := c.Next(make([]byte, maxChunk))
			if err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			want = append(want, len(chunk.Data))
		}
		if got := cutSizes(t, bytes.NewReader(data)); !slices.Equal(got, want) {
			t.Errorf("%d bytes: chunks %v, restic's chunker alone %v", len(data), got, want)
		}
	}
}

// localHeader returns a local file header.
func localHeader(name string, method, flags uint16, size uint32, extra int) []byte {
	h := make([]byte, localHeaderSize, localHeaderSize+len(name)+extra)
	copy(h, sigLocal)
	binary.LittleEndian.PutUint16(h[6:], flags)
	binary.LittleEndian.PutUint16(h[8:], method)
	binary.LittleEndian.PutUint32(h[18:], size)
	binary.LittleEndian.PutUint32(h[22:], size)
	binary.LittleEndian.PutUint16(h[26:], uint16(len(name)))
	binary.LittleEndian.PutUint16(h[28:], uint16(extra))
	return append(append(h, name...), make([]byte, extra)...)
}

// hostileZips returns content that starts as a zip file and then does
// what it can to make cutting loop, hold memory or cut tiny chunks.
// Each is about size bytes long.
func hostileZips(t testing.TB, size int) map[string][]byte {
	rep := func(b []byte, size int) []byte { return bytes.Repeat(b, size/len(b)+1)[:size] }
	var descr, tinyStored, xmlGarbage []byte
	rng := rand.New(rand.NewPCG(5, 5))
	for len(descr) < size {
		descr = append(descr, localHeader("", 0, flagDescriptor, 0, 0)...)
		descr = append(descr, randomBytes(rng.Uint64(), rng.IntN(300))...)
	}
	// A valid deflate stream of empty stored blocks, five bytes each.
	tinyStored = localHeader("word/document.xml", methodDeflate, flagDescriptor, 0, 0)
	for len(tinyStored) < size {
		tinyStored = append(tinyStored, 0, 0, 0, 0xff, 0xff)
	}
	for len(xmlGarbage) < size {
		xmlGarbage = append(xmlGarbage, localHeader("a.xml", methodDeflate, uint16(rng.IntN(16)), rng.Uint32(), rng.IntN(40))...)
		xmlGarbage = append(xmlGarbage, randomBytes(rng.Uint64(), rng.IntN(2000))...)
	}
	return map[string][]byte{
		"empty members":        rep(localHeader("", 0, 0, 0, 0), size),
		"named empty members":  rep(localHeader("x.xml", methodDeflate, 0, 0, 0), size),
		"signatures only":      rep(sigLocal, size),
		"central only":         append(localHeader("", 0, 0, 0, 0), rep(sigCentral, size)...),
		"huge size":            append(localHeader("a.bin", 0, 0, 0xfffffff0, 0), randomBytes(18, size)...),
		"zip64 size":           append(localHeader("a.xml", 0, 0, 0xffffffff, 0), rep(sigLocal, size)...),
		"long name":            append(localHeader(string(rep([]byte("n.xml"), 65535)), methodDeflate, 0, 100, 65535), randomBytes(19, size)...),
		"descriptors":          descr,
		"tiny stored blocks":   tinyStored,
		"xml garbage":          xmlGarbage,
		"flushed every 300":    append(localHeader("word/document.xml", methodDeflate, flagDescriptor, 0, 0), deflated(t, 6, textBytes(21, size), 300)...),
		"header cut short":     localHeader("word/document.xml", methodDeflate, 0, 100, 0)[:20],
		"name cut short":       localHeader("word/document.xml", methodDeflate, 0, 100, 0)[:35],
		"stream cut short":     append(localHeader("word/document.xml", methodDeflate, 0, uint32(size), 0), deflated(t, 6, textBytes(20, size/4), 0)[:5000]...),
		"one member, no files": localHeader("", 0, 0, 0, 0),
	}
}

// maxChunks bounds how many chunks content of n bytes is cut into: one
// segment per shortSegment and maxShortSegments shorter ones, each cut
// into chunks of the smallest minimum.
func maxChunks(n int) int {
	return maxShortSegments + 1 + n/shortSegment + n/int(smallChunks.min)
}

// checkRoundTrip stores data, within a minute, checks how it was cut, and
// reads it back.
func checkRoundTrip(t *testing.T, s *Store, data []byte) {
	t.Helper()
	sizes := cutSizes(t, bytes.NewReader(data))
	total := 0
	for i, n := range sizes {
		if n > maxChunk || n == 0 {
			t.Errorf("chunk %d of %d bytes", i, n)
		}
		total += n
	}
	if total != len(data) || len(sizes) > maxChunks(len(data)) {
		t.Errorf("%d bytes cut into %d chunks of %d bytes in all; at most %d chunks", len(data), len(sizes), total, maxChunks(len(data)))
	}
	type result struct {
		digest string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		blob, err := s.PutBlob(bytes.NewReader(data))
		done <- result{blob.Digest, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute): // a hang guard, not a speed test
		t.Fatal("PutBlob still cutting after a minute")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	got, err := readBlob(s, r.digest)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes of %d, %v", len(got), len(data), err)
	}
}

// TestCutHostile: no content that looks like a zip file makes cutting loop,
// cut chunks above maxChunk or many more than its size warrants, and each
// is stored and read back whole.
func TestCutHostile(t *testing.T) {
	s, _ := openTest(t, nil)
	for name, data := range hostileZips(t, 512<<10) {
		t.Run(name, func(t *testing.T) { checkRoundTrip(t, s, data) })
	}
}

// TestCutTruncated: a zip file cut short anywhere is stored as it is.
func TestCutTruncated(t *testing.T) {
	s, _ := openTest(t, nil)
	file := buildZip(t, officeMembers(5), false)
	headers, dir := zipLayout(t, file)
	for _, n := range []int64{1, 4, 10, 29, 31, headers[1] + 40, headers[1] + 5000, headers[2] + 1000, headers[3] - 3, dir + 10, int64(len(file) - 1)} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { checkRoundTrip(t, s, file[:n]) })
	}
}

// TestCutDocx: each version of a docx is stored and read back whole, and
// versions share all but the chunks an edit touched.
func TestCutDocx(t *testing.T) {
	s, _ := openTest(t, nil)
	versions := docxVersions(2, 4, 16)
	for _, v := range versions {
		checkRoundTrip(t, s, v)
	}
	_, stored := chunkStats(t, s)
	if raw := 4 * len(versions[0]); stored > int64(len(versions[0]))*3/2 {
		t.Errorf("4 versions of a %d byte docx, %d bytes in all, stored in %d chunk bytes", len(versions[0]), raw, stored)
	}
}

func FuzzCutReader(f *testing.F) {
	f.Add(buildZip(f, officeMembers(6)[:2], false), 7)
	f.Add(buildZip(f, officeMembers(7)[3:5], true), 1)
	f.Add(localHeader("a.xml", methodDeflate, 0, 10, 3), 3)
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		if step <= 0 || step > 1<<16 {
			step = 1
		}
		want := cutSizes(t, bytes.NewReader(data))
		total := 0
		for _, n := range want {
			if n > maxChunk || n == 0 {
				t.Fatalf("chunk of %d bytes", n)
			}
			total += n
		}
		if total != len(data) || len(want) > maxChunks(len(data)) {
			t.Fatalf("%d bytes cut into %d chunks of %d bytes in all", len(data), len(want), total)
		}
		if got := cutSizes(t, &pieceReader{data: data, n: step}); !slices.Equal(got, want) {
			t.Fatalf("read %d bytes at a time: chunks %v; at once %v", step, got, want)
		}
	})
}

// TestCutDeflatePrefix checks what small chunks in deflated XML are for: a
// light edit seldom changes its deflate block's Huffman codes, so the
// block's bytes before the edit stay as they were, and few of them are
// stored again.
func TestCutDeflatePrefix(t *testing.T) {
	versions := docxVersions(3, 6, 4)
	stored := make(map[string]bool)
	var restored int
	for i, file := range versions {
		off := 0
		first := 0 // where file first differs from the version before
		if i > 0 {
			prev := versions[i-1]
			for first < len(prev) && prev[first] == file[first] {
				first++
			}
		}
		for _, n := range cutSizes(t, bytes.NewReader(file)) {
			chunk := string(file[off : off+n])
			if i > 0 && !stored[chunk] && off < first {
				restored += min(off+n, first) - off
			}
			stored[chunk] = true
			off += n
		}
	}
	t.Logf("%d versions: %d bytes before their edits stored again", len(versions)-1, restored)
	// A chunk or so each, where cut at the blocks alone they cost half a
	// block on average (Go's are some 20 KiB compressed at full scale).
	if want := (len(versions) - 1) * 4 << 10; restored > want {
		t.Errorf("%d bytes before the edits stored again; want at most %d", restored, want)
	}
}
