package message

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"
)

func TestThreadIndex(t *testing.T) {
	root := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	first := ThreadIndex(root, "Services contract [tm:k7p2qz]", root)
	later := ThreadIndex(root, "Services contract [tm:k7p2qz]", root.Add(49*time.Hour))
	other := ThreadIndex(root, "Travel policy [tm:zzzzzz]", root)
	dec := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != 27 {
			t.Fatalf("Thread-Index %q: %d bytes, %v; want 27", s, len(b), err)
		}
		return b
	}
	f, l, o := dec(first), dec(later), dec(other)
	if string(f[:22]) != string(l[:22]) {
		t.Error("two messages of one conversation have different header blocks")
	}
	if string(f[6:22]) == string(o[6:22]) {
		t.Error("two conversations share a GUID")
	}
	// The header block's time is the root's FILETIME less its low 16 bits;
	// its first byte is 0x01 for any date of this century.
	if f[0] != 0x01 {
		t.Errorf("first byte %#x, want 0x01", f[0])
	}
	ft := filetimeOf(root)
	if got := uint64(binary.BigEndian.Uint32(f[0:4]))<<16 | uint64(binary.BigEndian.Uint16(f[4:6])); got != ft>>16 {
		t.Errorf("header time %x, want %x", got, ft>>16)
	}
	// The child block counts the 49 hours in units of 2^18 ticks.
	if got, want := binary.BigEndian.Uint32(l[22:26]), uint32((49*time.Hour/100)>>18); got != want {
		t.Errorf("child delta %d, want %d", got, want)
	}
}
