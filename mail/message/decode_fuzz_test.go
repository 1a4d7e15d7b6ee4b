package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"testing"
)

// shapedReader hands data out in pieces whose sizes cycle through shape
// (a 0 is a read of nothing), then fails with err, or ends at io.EOF if err
// is nil.
type shapedReader struct {
	data  []byte
	shape []byte
	i     int
	err   error
}

func (r *shapedReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := len(b)
	if len(r.shape) > 0 {
		n = min(n, int(r.shape[r.i%len(r.shape)]))
		r.i++
	}
	n = copy(b, r.data[:min(n, len(r.data))])
	r.data = r.data[n:]
	return n, nil
}

// readShaped reads d to its end with buffers whose sizes cycle through
// shape, checking the rules every Read keeps: never io.ErrUnexpectedEOF, no
// data with an error, and an end that stays the end.
func readShaped(t *testing.T, d decodedReader, shape []byte) ([]byte, error) {
	t.Helper()
	var got []byte
	for i := 0; ; i++ {
		size := 64 << 10
		if len(shape) > 0 {
			size = int(shape[(len(shape)-1-i%len(shape))]) + 1 // backwards: not in step with the source
		}
		buf := make([]byte, size)
		n, err := d.Read(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("Read returned %d for a buffer of %d", n, len(buf))
		}
		got = append(got, buf[:n]...)
		if err == io.ErrUnexpectedEOF {
			t.Fatal("Read returned io.ErrUnexpectedEOF")
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("Read returned %d bytes with %v", n, err)
			}
			if m, again := d.Read(make([]byte, 16)); m != 0 || again != err {
				t.Fatalf("Read after %v: %d, %v", err, m, again)
			}
			return got, err
		}
		if n == 0 {
			t.Fatal("Read returned (0, nil) into a non-empty buffer")
		}
	}
}

// FuzzDecoders holds base64Reader and qpReader to the byte-at-a-time
// decoders of decode_ref_test.go on any input, cut into reads of any sizes
// and read with buffers of any sizes, with the source failing at its end or
// not: the same bytes, the same damage, the same error. For base64 that
// encoding/base64 reads, with its whitespace taken out, the output is also
// encoding/base64's and there is no damage.
func FuzzDecoders(f *testing.F) {
	enc := base64.StdEncoding.EncodeToString(benchAttachment()[:300])
	for _, seed := range []string{
		"aGVsbG8=", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "aGVsbA", "aGk=aGk=", " aGVs bG8= \t",
		"aGVsbG8gAHEBA", "aGV*sbG8=", "aGVsb=", "====", "aGVsbG8=!!!",
		string(wrapLines([]byte(enc), []int{76}, "\r\n")),
		string(wrapLines([]byte(enc), []int{73, 61, 77, 19, 128}, "\n")),
	} {
		f.Add([]byte(seed), false, []byte{}, false)
		f.Add([]byte(seed), false, []byte{1, 7, 3, 0, 200}, true)
	}
	for _, seed := range []string{
		"Gr=FC=DFe", "caf=c3=a9", "one =\r\ntwo", "one = \t\r\ntwo", "one  \r\ntwo \t\nend  ",
		"2+2=4 =x", "end=", "end=4", "a\rb", "a \r\r\nb", "a=\rb",
		string(benchQP(benchGerman, "\r\n")[:400]), string(benchQP(benchEnglish, "\n")[:400]),
	} {
		f.Add([]byte(seed), true, []byte{}, false)
		f.Add([]byte(seed), true, []byte{2, 1, 0, 5, 255}, true)
	}
	boom := errors.New("boom")
	f.Fuzz(func(t *testing.T, in []byte, qp bool, shape []byte, fail bool) {
		cte := "base64"
		if qp {
			cte = "quoted-printable"
		}
		var srcErr error
		if fail {
			srcErr = boom
		}
		src := func() io.Reader { return &shapedReader{data: in, shape: shape, err: srcErr} }
		d, err := newDecoder(cte, src())
		if err != nil {
			t.Fatal(err)
		}
		got, err := readShaped(t, d, shape)
		ref := newRefDecoder(cte, src())
		want, refErr := io.ReadAll(ref)
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, the reference %q", got, want)
		}
		if (err == io.EOF) != (refErr == nil) || (err != io.EOF && err.Error() != refErr.Error()) {
			t.Fatalf("ended with %v, the reference with %v", err, refErr)
		}
		if err != io.EOF {
			if !errors.Is(err, boom) && !errors.Is(err, errNoProgress) {
				t.Fatalf("ended with %v", err)
			}
			return // what was pending when the source failed is not guessed at
		}
		if d.Damage() != ref.Damage() {
			t.Fatalf("damage %q, the reference's %q", d.Damage(), ref.Damage())
		}
		if qp {
			return
		}
		var stripped []byte
		for _, c := range in {
			if !bytes.ContainsRune([]byte(" \t\r\n\f\v"), rune(c)) {
				stripped = append(stripped, c)
			}
		}
		if ok, err := base64.StdEncoding.DecodeString(string(stripped)); err == nil && !bytes.Equal(got, ok) {
			t.Fatalf("decoded %q, encoding/base64 %q", got, ok)
		} else if err == nil && d.Damage() != "" {
			t.Fatalf("valid base64 damaged: %s", d.Damage())
		}
		if ok, err := base64.RawStdEncoding.DecodeString(string(stripped)); err == nil && (!bytes.Equal(got, ok) || d.Damage() != "") {
			t.Fatalf("decoded %q, damage %q; encoding/base64 without padding %q", got, d.Damage(), ok)
		}
	})
}

// FuzzBase64Lines gives base64Reader what encoders write, which random
// input seldom is: data base64-encoded and wrapped at widths that the
// fuzzer picks (cycling; a 0 is a blank line), with CR LF or LF, then
// edited: each pair of edits bytes overwrites one character (a position,
// a byte), to put garbage, padding or blanks anywhere. Unedited, it must
// decode to data; edited, as the reference does.
func FuzzBase64Lines(f *testing.F) {
	data := benchAttachment()[:600]
	f.Add(data, []byte{76}, true, []byte{}, []byte{})
	f.Add(data, []byte{76}, false, []byte{}, []byte{0})
	f.Add(data, []byte{73, 61, 77, 19, 128}, false, []byte{}, []byte{1, 5})
	f.Add(data, []byte{64}, true, []byte{100, '*', 7, '='}, []byte{})
	f.Add(data[:10], []byte{3, 0, 5}, true, []byte{2, ' '}, []byte{2})
	f.Fuzz(func(t *testing.T, data, widths []byte, crlf bool, edits, shape []byte) {
		lengths := []int{76}
		if len(widths) > 0 {
			lengths = make([]int, len(widths))
			for i, w := range widths {
				lengths[i] = int(w)
			}
			if slices.Max(lengths) == 0 {
				lengths[0] = 1
			}
		}
		eol := "\n"
		if crlf {
			eol = "\r\n"
		}
		in := wrapLines([]byte(base64.StdEncoding.EncodeToString(data)), lengths, eol)
		for k := 0; k+1 < len(edits) && len(in) > 0; k += 2 {
			in[int(edits[k])*len(in)/256] = edits[k+1]
		}
		src := func() io.Reader { return &shapedReader{data: in, shape: shape} }
		d, _ := newDecoder("base64", src())
		got, err := readShaped(t, d, shape)
		if err != io.EOF {
			if errors.Is(err, errNoProgress) {
				return // a shape of reads of nothing
			}
			t.Fatalf("ended with %v", err)
		}
		ref := newRefDecoder("base64", src())
		want, _ := io.ReadAll(ref)
		if !bytes.Equal(got, want) || d.Damage() != ref.Damage() {
			t.Fatalf("decoded %q, damage %q; the reference %q, %q", got, d.Damage(), want, ref.Damage())
		}
		if len(edits) < 2 && (!bytes.Equal(got, data) || d.Damage() != "") {
			t.Fatalf("decoded %q, damage %q; want %q", got, d.Damage(), data)
		}
	})
}
