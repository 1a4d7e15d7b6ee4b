package workflow

import "testing"

func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Services Agreement", "Services Agreement"},
		{"Re: Services Agreement", "Services Agreement"},
		{"RE: x", "x"},
		{"re:x", "x"},
		{"Fwd: x", "x"},
		{"FW: x", "x"},
		{"Fw: x", "x"},
		{"AW: x", "x"},
		{"WG: x", "x"},
		{"SV: x", "x"},
		{"VS: x", "x"},
		{"Antw: x", "x"},
		{"Odp: x", "x"},
		{"TR: x", "x"},
		{"RV: x", "x"},
		{"R: x", "x"},
		{"Réf: x", "x"},
		{"Ref: x", "x"},
		{"Re : x", "x"}, // French typography
		{"回复: x", "x"},
		{"答复： x", "x"},
		{"転送：x", "x"},
		{"回覆: 轉寄: x", "x"},
		{"Re: AW: SV: Fwd[2]: x", "x"},
		{"RE[3]: x", "x"},
		{"Re(2): x", "x"},
		{"Re [2] : x", "x"},
		{"Re: Re: RE: re: x", "x"},
		{"Re: x [tm:k7p2qz]", "x"},
		{"[TM:K7P2QZ] Re: x", "x"},
		{"Re: x [tm:k7p2qz] more", "x more"},
		{"Your turn: x [tm:k7p2qz]", "x"},
		{"Re: Your turn: x [tm:k7p2qz]", "x"},
		{"AW: your turn: Fwd: x", "x"},
		{"Your  turn:\tx", "x"}, // found by FuzzSubject: "Your turn: x" came out of it
		{"  Re:   Services    Agreement  ", "Services Agreement"},
		{"Reorg plan", "Reorg plan"},
		{"Fwding the deck", "Fwding the deck"},
		{"Re-run numbers", "Re-run numbers"},
		{"Rendering: draft", "Rendering: draft"},
		{"R&D: budget", "R&D: budget"},
		{"x: Re: y", "x: Re: y"}, // only leading prefixes
		{"Re[x]: y", "Re[x]: y"}, // not a counter
		{"Your turned", "Your turned"},
		{"[tm:ab] x", "[tm:ab] x"}, // too short to be our tag
		{"Re:", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := BaseSubject(tt.in); got != tt.want {
			t.Errorf("BaseSubject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSubjectTag(t *testing.T) {
	tests := []struct {
		in     string
		wantID string
		wantOK bool
	}{
		{"Re: x [tm:k7p2qz]", "k7p2qz", true},
		{"[TM:K7P2QZ] x", "k7p2qz", true},
		{"x [tm:abcd]", "abcd", true},
		{"x [tm:abcdefghijkl]", "abcdefghijkl", true},
		{"x [tm:abcdefghijklm]", "", false}, // 13 characters
		{"x [tm:abc]", "", false},
		{"x [tm:k7p2-qz]", "", false},
		{"x [tm: k7p2qz]", "", false},
		{"x tm:k7p2qz", "", false},
		{"x [tm:aaaa1] [tm:bbbb2]", "aaaa1", true},
		{"", "", false},
	}
	for _, tt := range tests {
		id, ok := SubjectTag(tt.in)
		if id != tt.wantID || ok != tt.wantOK {
			t.Errorf("SubjectTag(%q) = %q, %v; want %q, %v", tt.in, id, ok, tt.wantID, tt.wantOK)
		}
	}
}
