package main

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// appendBase64Lines writes what encoding/base64 does, cut into lines of 76
// characters, whatever the bytes and their number, and the same in pieces
// of whole lines as in one.
func TestAppendBase64Lines(t *testing.T) {
	want := func(data []byte) []byte {
		var b bytes.Buffer
		for len(data) > 0 {
			n := min(57, len(data))
			b.WriteString(base64.StdEncoding.EncodeToString(data[:n]))
			b.WriteString("\r\n")
			data = data[n:]
		}
		return b.Bytes()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 1000 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if n%7 == 0 {
			for i := range data {
				data[i] = 0xff // every 12 bits of the table's far end
			}
		}
		w := want(data)
		if got := appendBase64Lines([]byte("x"), data); !bytes.Equal(got[1:], w) || got[0] != 'x' {
			t.Fatalf("%d bytes: got %q\nwant %q", n, got, w)
		}
		var pieces []byte
		for p := data; len(p) > 0; {
			k := min(len(p), 57*(1+rng.IntN(3)))
			pieces = appendBase64Lines(pieces, p[:k])
			p = p[k:]
		}
		if !bytes.Equal(pieces, w) {
			t.Fatalf("%d bytes in pieces: got %q\nwant %q", n, pieces, w)
		}
		if l := base64LinesLen(n); l != len(w) {
			t.Fatalf("base64LinesLen(%d) = %d; want %d", n, l, len(w))
		}
	}
}
