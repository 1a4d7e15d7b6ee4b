package outbound

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/textproto"
	"strings"
	"testing"
)

// writeData writes the parts through a dataWriter, one Write each, and
// closes it.
func writeData(t testing.TB, parts ...string) string {
	var out bytes.Buffer
	d := &dataWriter{w: bufio.NewWriter(&out)}
	for _, p := range parts {
		if n, err := d.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("write %q: %d, %v", p, n, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestDataWriter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"empty", nil, ".\r\n"},
		{"one line", []string{"Subject: x\r\n"}, "Subject: x\r\n.\r\n"},
		{"open last line", []string{"a\r\nb"}, "a\r\nb\r\n.\r\n"},
		{"bare LF", []string{"a\nb\n"}, "a\r\nb\r\n.\r\n"},
		{"leading dot", []string{".hidden\r\n..two\r\n"}, "..hidden\r\n...two\r\n.\r\n"},
		{"dot alone", []string{"a\r\n.\r\nb\r\n"}, "a\r\n..\r\nb\r\n.\r\n"},
		{"dot at the start of the data", []string{"."}, "..\r\n.\r\n"},
		{"dot mid line", []string{"a.b\r\n"}, "a.b\r\n.\r\n"},
		{"CRLF split across writes", []string{"a\r", "\nb\r\n"}, "a\r\nb\r\n.\r\n"},
		{"dot after a split CRLF", []string{"a\r", "\n", ".b\r\n"}, "a\r\n..b\r\n.\r\n"},
		{"data ending in CR", []string{"a\r"}, "a\r\n.\r\n"},
		{"lone CR mid line", []string{"a\rb\r\n"}, "a\rb\r\n.\r\n"},
		{"empty lines", []string{"\r\n\n\r\n"}, "\r\n\r\n\r\n.\r\n"},
	} {
		if got := writeData(t, tc.parts...); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// textprotoData is what net/textproto's DotWriter, which dataWriter
// replaces, makes of the parts.
func textprotoData(parts []string) string {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	dw := textproto.NewWriter(w).DotWriter()
	for _, p := range parts {
		dw.Write([]byte(p))
	}
	dw.Close()
	return out.String()
}

// FuzzDataWriter: cut anywhere into writes, the data comes out as
// net/textproto's DotWriter writes it. (They differ on a CR right before a
// CRLF, which DotWriter doubles, and on empty data, where it writes an empty
// line first: such input is left out.)
func FuzzDataWriter(f *testing.F) {
	for _, s := range []string{"a\r\n.b\r\n", ".\n.\n", "x\r", "\r\n.\r\n", "From: a\r\n\r\nbody\n..\n"} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, s string, seed uint64) {
		if s == "" || strings.Contains(s, "\r\r") {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		var parts []string
		for rest := s; rest != ""; {
			k := 1 + rng.IntN(len(rest))
			parts, rest = append(parts, rest[:k]), rest[k:]
		}
		if got, want := writeData(t, parts...), textprotoData(parts); got != want {
			t.Errorf("parts %q: %q, textproto %q", parts, got, want)
		}
	})
}

func BenchmarkDataWriter(b *testing.B) {
	var msg bytes.Buffer
	for range 200_000 / 78 {
		msg.WriteString(strings.Repeat("QUJD", 19) + "\r\n")
	}
	w := bufio.NewWriter(discard{})
	b.SetBytes(int64(msg.Len()))
	for b.Loop() {
		d := &dataWriter{w: w}
		d.Write(msg.Bytes())
		d.Close()
	}
}

func BenchmarkTextprotoDotWriter(b *testing.B) {
	var msg bytes.Buffer
	for range 200_000 / 78 {
		msg.WriteString(strings.Repeat("QUJD", 19) + "\r\n")
	}
	w := textproto.NewWriter(bufio.NewWriter(discard{}))
	b.SetBytes(int64(msg.Len()))
	for b.Loop() {
		d := w.DotWriter()
		d.Write(msg.Bytes())
		d.Close()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
