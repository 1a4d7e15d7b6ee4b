package workflow

import (
	"strings"
	"testing"
)

// FuzzSubject feeds BaseSubject and SubjectTag subjects, which senders
// write as they like, seeded with the shapes mail clients write (and
// testdata/fuzz, which keeps what it found). What BaseSubject returns is what it compares, so it must be a fixed
// point (or two subjects that match would stop matching once stored) and
// carry no tag; a tag SubjectTag finds must be in the subject.
func FuzzSubject(f *testing.F) {
	for _, seed := range []string{
		"Services Agreement", "Re: AW: SV: Fwd[2]: x", "RE[3]: x", "Re [2] : x", "答复： x", "回覆: 轉寄: x",
		"Re: Your turn: x [tm:k7p2qz]", "[TM:K7P2QZ] Re: x", "Re: x [tm:k7p2qz] more", "[tm:ab] x", "Re:", "",
		"[tm:[tm:abcd]abcd]", "Re [tm:abcd]: x", "Your turn:Your turn: Re: x", "Re:\u00a0x", "Re\u3000: x", "re:\xff",
		"Re(99999999999999999999): x", "Réf : x", "ＲＥ: x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base := BaseSubject(s)
		if again := BaseSubject(base); again != base {
			t.Fatalf("BaseSubject(%q) = %q, but BaseSubject(%q) = %q", s, base, base, again)
		}
		if id, ok := SubjectTag(base); ok {
			t.Fatalf("BaseSubject(%q) = %q still holds the tag %q", s, base, id)
		}
		id, ok := SubjectTag(s)
		if !ok {
			if id != "" {
				t.Fatalf("SubjectTag(%q) failed with %q", s, id)
			}
			return
		}
		if id != strings.ToLower(id) || len(id) < 4 || len(id) > 12 || !strings.Contains(strings.ToLower(s), "[tm:"+id+"]") {
			t.Fatalf("SubjectTag(%q) = %q", s, id)
		}
	})
}
