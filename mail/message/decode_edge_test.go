package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// splitReader hands data out in pieces that end at the offsets cuts, in
// increasing order, then in whole: the decoders see a quantum, an escape or
// a CR LF split between two reads where a case puts the cut.
type splitReader struct {
	data []byte
	off  int
	cuts []int
}

func (r *splitReader) Read(b []byte) (int, error) {
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	for len(r.cuts) > 0 && r.cuts[0] <= r.off {
		r.cuts = r.cuts[1:]
	}
	if len(r.cuts) > 0 {
		end = min(end, r.cuts[0])
	}
	n := copy(b, r.data[r.off:end])
	r.off += n
	return n, nil
}

// sources are the shapes of source the decoders must read alike: whole
// reads, a byte at a time, half of what is asked, the last data with io.EOF.
var sources = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data with eof", iotest.DataErrReader},
}

// decodeAll reads the body in with the decoder for cte, from a source that
// splits it at cuts and is then wrapped as src says, into a buffer of n
// bytes at a time.
func decodeAll(t *testing.T, cte, in string, cuts []int, wrap func(io.Reader) io.Reader, n int) (string, string) {
	t.Helper()
	d, err := newDecoder(cte, wrap(&splitReader{data: []byte(in), cuts: cuts}))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, n)
	for {
		n, err := d.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	}
	if n, err := d.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after io.EOF: %d, %v", n, err)
	}
	return got.String(), d.Damage()
}

// longBase64 is n bytes of data, base64 wrapped at 76 with eol, and the data.
func longBase64(n int, eol string) (string, string) {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	return string(wrapLines([]byte(base64.StdEncoding.EncodeToString(data)), []int{76}, eol)), string(data)
}

func TestBase64DecoderEdges(t *testing.T) {
	const in = 8 << 10 // what a decoder reads at once
	// Whole quanta: no padding.
	long, longData := longBase64(20<<10-2, "\r\n")
	longLF, _ := longBase64(20<<10-2, "\n")
	crlfAt := strings.Index(long[in-80:], "\r\n") + in - 80
	star := long[:4000] + "*" + long[4000:]
	type tc struct {
		name, in     string
		cuts         []int
		want, damage string
	}
	cases := []tc{
		{"quantum split across reads", "aGVsbG8gd29ybGQ=", []int{5}, "hello world", ""},
		{"quantum split at every place", "aGVsbG8gd29ybGQ=", []int{1, 2, 3, 4, 6, 7, 9, 11, 14, 15}, "hello world", ""},
		{"crlf split across reads", "aGVs\r\nbG8=", []int{5}, "hello", ""},
		{"lf-only lines", "aGVs\nbG8g\nd29y\nbGQ=\n", nil, "hello world", ""},
		{"odd line lengths", "aGVsb\nG8gd2\r\n9ybGQ=", []int{3, 9}, "hello world", ""},
		{"blanks at line ends", "aGVs  \r\nbG8=\t\r\n", nil, "hello", ""},
		{"blank inside a quantum", "aG Vs\tbG8=", []int{3}, "hello", ""},
		{"bare cr", "aG\rVsbG8=", nil, "hello", ""},
		{"bare cr between quanta", "aGVs\rbG8=", nil, "hello", ""},
		{"bare cr at a read's end", "aGVs\rbG8=", []int{5}, "hello", ""},
		{"padding in the middle", "aGk=aGk=", []int{3}, "hihi", ""},
		{"padding in the middle split", "aGk=aGk=", []int{4}, "hihi", ""},
		{"double padding in the middle", "aA==aGk=", []int{3}, "hhi", ""},
		{"padding before anything", "====aGk=", nil, "hi", ""},
		{"padding after one character", "aGVsb=bG8=", []int{6}, "hello", "padding in the middle of a byte"},
		{"garbage after valid data", "aGVsbG8=!!!", nil, "hello", "3 characters that are not base64"},
		{"garbage inside a quantum", "aGVsbG8gd2*9ybGQ=", []int{10}, "hello world", "1 characters that are not base64"},
		{"garbage between quanta", "aGVs-bG8g", nil, "hello ", "1 characters that are not base64"},
		{"8-bit garbage", "aGVs\xffbG8=", nil, "hello", "1 characters that are not base64"},
		{"missing padding after a block", "aGVsbG8gd29ybA", nil, "hello worl", ""},
		{"cut after a block", "aGVsbG8gd29ybGQgd", []int{16}, "hello world ", "base64 that ends in the middle of a byte"},
		{"cut and garbage", "aGVs*b", nil, "hel", "1 characters that are not base64, base64 that ends in the middle of a byte"},
		{"only garbage", "!@#$%^&*()", nil, "", "10 characters that are not base64"},
		{"only blanks", " \r\n\t \n", nil, "", ""},
		{"long", long, nil, longData, ""},
		{"long lf", longLF, nil, longData, ""},
		{"long crlf split across reads", long, []int{crlfAt + 1}, longData, ""},
		{"long crlf split at a buffer's end", long, []int{crlfAt + 1 - in, crlfAt + 1}, longData, ""},
		{"long garbage in a block", star, []int{3998}, longData, "1 characters that are not base64"},
		{"long cut", long + "Q\r\n", nil, longData, "base64 that ends in the middle of a byte"},
	}
	// The decoder's reads of 8 KB end 2 characters into a line of long:
	// blanks in front move that end to each place in a quantum, and between
	// the CR and the LF.
	for k := range 8 {
		cases = append(cases, tc{fmt.Sprintf("long read ends %d into a line", (78+2-k)%78), strings.Repeat(" ", k) + long, nil, longData, ""})
	}
	for _, c := range cases {
		for _, src := range sources {
			for _, n := range []int{1, 3, 4096, 64 << 10} {
				t.Run(fmt.Sprintf("%s/%s/%d", c.name, src.name, n), func(t *testing.T) {
					got, damage := decodeAll(t, "base64", c.in, c.cuts, src.wrap, n)
					if got != c.want || damage != c.damage {
						t.Errorf("decoded %q, damage %q; want %q, %q", short(got), damage, short(c.want), c.damage)
					}
				})
			}
		}
	}
}

func TestQuotedPrintableDecoderEdges(t *testing.T) {
	const in = 8 << 10
	text := strings.Repeat("Vertrag bitte pr=C3=BCfen, danke. ", 800)
	textWant := strings.TrimSuffix(strings.Repeat("Vertrag bitte prüfen, danke. ", 800), " ")
	longLine := strings.Repeat("x", 3*in) + "=41 \r\n"
	spaces := "a" + strings.Repeat(" ", 2500) + "\r\nb" + strings.Repeat("\t", 1500) + "c"
	spacesWant := "a" + strings.Repeat(" ", 2048) + "\r\nb" + strings.Repeat("\t", 1500) + "c"
	for _, c := range []struct {
		name, in string
		cuts     []int
		want     string
	}{
		{"escape split after '='", "Gr=FC=DFe", []int{3}, "Gr\xfc\xdfe"},
		{"escape split after a digit", "Gr=FC=DFe", []int{4}, "Gr\xfc\xdfe"},
		{"escape split before '='", "Gr=FC=DFe", []int{2, 5}, "Gr\xfc\xdfe"},
		{"soft break split after '='", "one =\r\ntwo", []int{5}, "one two"},
		{"soft break split inside crlf", "one =\r\ntwo", []int{6}, "one two"},
		{"soft break lf split", "one =\ntwo", []int{5}, "one two"},
		{"soft break with blanks split", "one = \t\r\ntwo", []int{6, 7}, "one two"},
		{"crlf split after trailing blanks", "one  \r\ntwo", []int{6}, "one\r\ntwo"},
		{"trailing blanks split", "one  \r\ntwo", []int{4}, "one\r\ntwo"},
		{"bare cr at a read's end", "a\rb", []int{2}, "a\rb"},
		{"bare cr after blanks", "a \r b\r\n", nil, "a \r b\r\n"},
		{"cr cr lf", "a \r\r\nb", nil, "a \r\r\nb"},
		{"stray '=' at a read's end", "2+2=4 =x", []int{7}, "2+2=4 =x"},
		{"'=' and one digit at a read's end", "a=4x", []int{3}, "a=4x"},
		{"'=' and blanks then text", "a= \tb", []int{3}, "a= \tb"},
		{"'=' cr then text", "a=\rb", []int{3}, "ab"},
		{"equals at the end", "end=", nil, "end="},
		{"blanks at the very end", "end \t", []int{4}, "end"},
		{"8-bit text", "caf\xc3\xa9 =C3=A9", nil, "caf\xc3\xa9 \xc3\xa9"},
		{"escaped equals", "a=3D=3Db", []int{3}, "a==b"},
		{"blank before an escape", "a =41 b", nil, "a A b"},
		{"tab before a soft break", "a\t=\r\nb", []int{2}, "a\tb"},
		{"cr before an escape", "a\r=41", nil, "a\rA"},
		{"escape before a line break", "a=41\r\nb=42\n", []int{4}, "aA\r\nbB\n"},
		{"blanks over the bound before an escape", "a" + strings.Repeat(" ", 1500) + "=41", []int{700}, "a" + strings.Repeat(" ", 1500) + "A"},
		{"long text", text, nil, textWant},
		{"long text split", text, []int{in - 1, in + 1}, textWant},
		{"long line", longLine, nil, strings.Repeat("x", 3*in) + "A\r\n"},
		{"long blanks", spaces, []int{1500}, spacesWant},
	} {
		for _, src := range sources {
			for _, n := range []int{1, 3, 4096, 64 << 10} {
				t.Run(fmt.Sprintf("%s/%s/%d", c.name, src.name, n), func(t *testing.T) {
					got, damage := decodeAll(t, "quoted-printable", c.in, c.cuts, src.wrap, n)
					if got != c.want || damage != "" {
						t.Errorf("decoded %q, damage %q; want %q", short(got), damage, short(c.want))
					}
				})
			}
		}
	}
}

// TestDecoderDataErr: a source error that comes with the last data does
// not lose the data, and is still ours, once for all.
func TestDecoderDataErr(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct{ cte, in, want string }{
		{"base64", "aGVsbG8gd29y\r\nbGQ=", "hello world"},
		{"base64", "aGVsbG8gd29ybGQ", "hello wor"}, // the quantum cut by the error is not guessed at
		{"quoted-printable", "caf=C3=A9 =\r\nau lait", "café au lait"},
	} {
		for _, src := range sources[:3] { // iotest.DataErrReader drops data that comes with an error
			t.Run(c.cte+"/"+src.name, func(t *testing.T) {
				body := io.MultiReader(strings.NewReader(c.in), iotest.ErrReader(boom))
				d, _ := newDecoder(c.cte, iotest.DataErrReader(src.wrap(body)))
				got, err := io.ReadAll(d)
				if !errors.Is(err, boom) || err == io.ErrUnexpectedEOF {
					t.Fatalf("ReadAll: %v, want a wrapped boom", err)
				}
				if string(got) != c.want {
					t.Errorf("decoded %q, want %q", got, c.want)
				}
				if n, again := d.Read(make([]byte, 8)); n != 0 || again != err {
					t.Errorf("second Read: %d, %v; want the same error", n, again)
				}
			})
		}
	}
}

// short cuts long strings in failure messages.
func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s…(%d bytes)…%s", s[:40], len(s), s[len(s)-20:])
	}
	return s
}
