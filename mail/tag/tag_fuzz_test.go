package tag

import (
	"strings"
	"testing"
)

func TestClassifyPostmaster(t *testing.T) {
	tg := newTestTagger(t)
	tests := []struct {
		addr string
		kind AddrKind
	}{
		{"postmaster@gw.example", AddrPostmaster},
		{"PostMaster@GW.Example", AddrPostmaster},
		{"<postmaster@gw.example>", AddrPostmaster},
		{"Operator <Postmaster@gw.example>", AddrPostmaster},
		{"postmaster", AddrPostmaster},
		{"<Postmaster>", AddrPostmaster},
		{" <POSTMASTER> ", AddrPostmaster},
		{"postmaster@axe.example", AddrForeign},
		{"postmaster@sub.gw.example", AddrForeign},
		{"postmaster+x@gw.example", AddrUnknown},
		{"postmasters@gw.example", AddrUnknown},
		{"<postmaster", AddrUnknown},
		{"post master", AddrUnknown},
	}
	for _, tc := range tests {
		if kind, cid, pid := tg.Classify(tc.addr); kind != tc.kind || cid != "" || pid != "" {
			t.Errorf("Classify(%q) = %v, %q, %q; want %v", tc.addr, kind, cid, pid, tc.kind)
		}
	}
	if got := AddrPostmaster.String(); got != "postmaster" {
		t.Errorf("AddrPostmaster.String() = %q", got)
	}
}

// FuzzTaggedAddress feeds outside input to Classify, ParseReplyRef and
// ParseBounce: they read addresses and Message-IDs anyone may write. Neither may panic, and
// whatever they accept must be exactly what the Tagger itself would write,
// up to case: a tag is valid only with its MAC.
func FuzzTaggedAddress(f *testing.F) {
	tg, err := NewTagger("Collab@GW.example", []byte("0123456789abcdef-test-secret"))
	if err != nil {
		f.Fatal(err)
	}
	addr := tg.Address("k7p2qz", "p1")
	ref := tg.ReplyRef("k7p2qz", "p12")
	mac := tg.Token("k7p2qz", "p1")[len("k7p2qz.p1."):]
	for _, seed := range []string{
		addr, strings.ToUpper(addr), "<" + addr + ">", "Bob Smith <" + addr + ">", `"Smith, Bob <x@y>" <` + addr + ">",
		"collab@gw.example", "COLLAB@Gw.Example", "Turnmail <collab@gw.example>", "bob@axe.com",
		"collab+k7p2qz.p1." + mac + "@axe.com", "alice@gw.example", "collab+@gw.example",
		"collab+zzzzzz.p1." + mac + "@gw.example", "collab+k7p2qz.p1@gw.example", "collab+x.k7p2qz.p1." + mac + "@gw.example",
		"collab+k7-2qz.p1." + mac + "@gw.example", "collab", "", "<collab@gw.example", "postmaster", "<Postmaster>",
		"postmaster@GW.example", ref, "<" + ref + ">", "reply.k7p2qz.p1." + mac + "@gw.example",
		"CAF=abc123@mail.gmail.com", "a@b@gw.example", "<>", "\"collab\"@gw.example", "collab+k7p2qz.p1." + mac + "@gw.example\x00",
		tg.BounceAddress(7340), "MAILER-DAEMON <" + strings.ToUpper(tg.BounceAddress(1)) + ">", "collab+b.0." + mac + "@gw.example",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, cid, pid := tg.Classify(s)
		local, domain, split := splitAddr(s)
		spec := local + "@" + domain
		switch kind {
		case AddrTagged:
			if !isID(cid) || !isID(pid) {
				t.Fatalf("Classify(%q): tagged with ids %q, %q", s, cid, pid)
			}
			if !split || !strings.EqualFold(spec, tg.Address(cid, pid)) {
				t.Fatalf("Classify(%q): tagged %s.%s, but the Tagger writes %q", s, cid, pid, tg.Address(cid, pid))
			}
		case AddrGateway:
			if !split || !strings.EqualFold(spec, tg.Gateway()) {
				t.Fatalf("Classify(%q): gateway", s)
			}
		case AddrPostmaster:
			if split && (!strings.EqualFold(local, "postmaster") || !strings.EqualFold(domain, tg.Domain())) {
				t.Fatalf("Classify(%q): postmaster", s)
			}
			if !split && !isBarePostmaster(s) {
				t.Fatalf("Classify(%q): postmaster without a domain", s)
			}
		case AddrForeign:
			if !split || strings.EqualFold(domain, tg.Domain()) {
				t.Fatalf("Classify(%q): foreign", s)
			}
		case AddrBounce:
			id, ok := tg.ParseBounce(s)
			if !ok || !split || !strings.EqualFold(spec, tg.BounceAddress(id)) {
				t.Fatalf("Classify(%q): bounce, but ParseBounce says %d, %v", s, id, ok)
			}
		case AddrUnknown:
		default:
			t.Fatalf("Classify(%q): kind %v", s, kind)
		}
		if kind != AddrTagged && (cid != "" || pid != "") {
			t.Fatalf("Classify(%q) = %v with ids %q, %q", s, kind, cid, pid)
		}

		if id, ok := tg.ParseBounce(s); ok && (kind != AddrBounce || !strings.EqualFold(spec, tg.BounceAddress(id))) {
			t.Fatalf("ParseBounce(%q) = %d, but Classify says %v", s, id, kind)
		}

		cid, pid, ok := tg.ParseReplyRef(s)
		if ok {
			if !isID(cid) || !isID(pid) || !split || !strings.EqualFold(spec, tg.ReplyRef(cid, pid)) {
				t.Fatalf("ParseReplyRef(%q) = %q, %q: the Tagger writes %q", s, cid, pid, tg.ReplyRef(cid, pid))
			}
		} else if cid != "" || pid != "" {
			t.Fatalf("ParseReplyRef(%q) failed with ids %q, %q", s, cid, pid)
		}
	})
}
