package tag

import (
	"strings"
	"testing"
	"time"
)

func newTestTagger(t *testing.T) *Tagger {
	t.Helper()
	tg, err := NewTagger("Collab@GW.example", []byte("0123456789abcdef-test-secret"))
	if err != nil {
		t.Fatalf("NewTagger: %v", err)
	}
	return tg
}

func TestNewTagger(t *testing.T) {
	secret := []byte("0123456789abcdef")
	tests := []struct {
		gateway string
		secret  []byte
		ok      bool
	}{
		{"collab@localhost", secret, true},
		{"<collab@localhost>", secret, true},
		{"collab@localhost", secret[:15], false},
		{"collab", secret, false},
		{"@localhost", secret, false},
		{"collab@", secret, false},
		{"collab+x@localhost", secret, false},
		{strings.Repeat("a", maxGatewayLocal) + "@localhost", secret, true},
		{strings.Repeat("a", maxGatewayLocal+1) + "@localhost", secret, false},
	}
	for _, tc := range tests {
		_, err := NewTagger(tc.gateway, tc.secret)
		if (err == nil) != tc.ok {
			t.Errorf("NewTagger(%q, %d bytes): err %v, want ok %v", tc.gateway, len(tc.secret), err, tc.ok)
		}
	}
}

func TestTaggerAccessors(t *testing.T) {
	tg := newTestTagger(t)
	if got := tg.Gateway(); got != "collab@gw.example" {
		t.Errorf("Gateway() = %q", got)
	}
	if got := tg.Domain(); got != "gw.example" {
		t.Errorf("Domain() = %q", got)
	}
	tok := tg.Token("k7p2qz", "p1")
	if !strings.HasPrefix(tok, "k7p2qz.p1.") || len(tok) != len("k7p2qz.p1.")+macLen {
		t.Errorf("Token = %q", tok)
	}
	if got, want := tg.Address("k7p2qz", "p1"), "collab+"+tok+"@gw.example"; got != want {
		t.Errorf("Address = %q, want %q", got, want)
	}
	if got, want := tg.ReplyRef("k7p2qz", "p1"), "reply."+tok+"@gw.example"; got != want {
		t.Errorf("ReplyRef = %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	tg := newTestTagger(t)
	addr := tg.Address("k7p2qz", "p1")
	local, _, _ := strings.Cut(addr, "@")
	mac := tg.Token("k7p2qz", "p1")[len("k7p2qz.p1."):]
	otherMAC := tg.Token("zzzzzz", "p2")[len("zzzzzz.p2."):]
	// One character changed must break the mac.
	flipped := mac[:macLen-1] + "a"
	if flipped == mac {
		flipped = mac[:macLen-1] + "b"
	}

	other, err := NewTagger("collab@gw.example", []byte("another-secret-of-16+"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		addr     string
		kind     AddrKind
		cid, pid string
	}{
		{"tagged", addr, AddrTagged, "k7p2qz", "p1"},
		{"tagged upper-case", strings.ToUpper(addr), AddrTagged, "k7p2qz", "p1"},
		{"tagged brackets", "<" + addr + ">", AddrTagged, "k7p2qz", "p1"},
		{"tagged with name", "Bob Smith <" + addr + ">", AddrTagged, "k7p2qz", "p1"},
		{"tagged with quoted name", `"Smith, Bob <x@y>" <` + addr + ">", AddrTagged, "k7p2qz", "p1"},
		{"gateway", "collab@gw.example", AddrGateway, "", ""},
		{"gateway mixed case", "COLLAB@Gw.Example", AddrGateway, "", ""},
		{"gateway with name", "Turnmail <collab@gw.example>", AddrGateway, "", ""},
		{"foreign", "bob@axe.com", AddrForeign, "", ""},
		{"foreign tagged", local + "@axe.com", AddrForeign, "", ""},
		{"foreign subdomain", "collab@sub.gw.example", AddrForeign, "", ""},
		{"unknown local", "alice@gw.example", AddrUnknown, "", ""},
		{"gateway prefix only", "collabx@gw.example", AddrUnknown, "", ""},
		{"empty tag", "collab+@gw.example", AddrUnknown, "", ""},
		{"wrong mac", "collab+k7p2qz.p1." + flipped + "@gw.example", AddrUnknown, "", ""},
		{"mac moved to other cid", "collab+zzzzzz.p1." + mac + "@gw.example", AddrUnknown, "", ""},
		{"mac moved to other pid", "collab+k7p2qz.p2." + mac + "@gw.example", AddrUnknown, "", ""},
		{"other's mac on this one", "collab+k7p2qz.p1." + otherMAC + "@gw.example", AddrUnknown, "", ""},
		{"truncated mac", "collab+k7p2qz.p1." + mac[:macLen-1] + "@gw.example", AddrUnknown, "", ""},
		{"long mac", "collab+k7p2qz.p1." + mac + "a@gw.example", AddrUnknown, "", ""},
		{"no mac", "collab+k7p2qz.p1@gw.example", AddrUnknown, "", ""},
		{"extra part", "collab+x.k7p2qz.p1." + mac + "@gw.example", AddrUnknown, "", ""},
		{"bad cid characters", "collab+k7-2qz.p1." + mac + "@gw.example", AddrUnknown, "", ""},
		{"other secret", other.Address("k7p2qz", "p1"), AddrUnknown, "", ""},
		{"no domain", "collab", AddrUnknown, "", ""},
		{"empty", "", AddrUnknown, "", ""},
		{"unclosed bracket", "<collab@gw.example", AddrUnknown, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, cid, pid := tg.Classify(tc.addr)
			if kind != tc.kind || cid != tc.cid || pid != tc.pid {
				t.Errorf("Classify(%q) = %v, %q, %q; want %v, %q, %q", tc.addr, kind, cid, pid, tc.kind, tc.cid, tc.pid)
			}
		})
	}
}

func TestAcceptRecipient(t *testing.T) {
	tg := newTestTagger(t)
	tagged := tg.Address("k7p2qz", "p1")
	forged := strings.Replace(tagged, "k7p2qz", "k7p2qa", 1)
	tests := []struct {
		addr     string
		code     int
		enhanced [3]int
		detail   string
	}{
		{"collab@gw.example", 0, [3]int{}, ""},
		{strings.ToUpper(tagged), 0, [3]int{}, ""},
		{"PostMaster@GW.example", 0, [3]int{}, ""},
		{"bob@axe.example", 550, [3]int{5, 7, 1}, "relaying denied"},
		{"postmaster@axe.example", 550, [3]int{5, 7, 1}, "relaying denied"},
		{forged, 550, [3]int{5, 1, 1}, "bad tag"},
		{"Collab+nonsense@gw.example", 550, [3]int{5, 1, 1}, "bad tag"},
		{"alice@gw.example", 550, [3]int{5, 1, 1}, "unknown local part"},
	}
	for _, tc := range tests {
		rej := tg.AcceptRecipient(tc.addr)
		switch {
		case tc.code == 0 && rej != nil:
			t.Errorf("AcceptRecipient(%q) = %v, want accepted", tc.addr, rej)
		case tc.code != 0 && rej == nil:
			t.Errorf("AcceptRecipient(%q) accepted, want %d", tc.addr, tc.code)
		case rej != nil && (rej.Code != tc.code || rej.Enhanced != tc.enhanced || rej.Detail != tc.detail):
			t.Errorf("AcceptRecipient(%q) = %v (%s), want %d %v (%s)", tc.addr, rej, rej.Detail, tc.code, tc.enhanced, tc.detail)
		}
	}
	// A forged tag and an unknown mailbox read the same to the sender.
	if a, b := tg.AcceptRecipient(forged), tg.AcceptRecipient("alice@gw.example"); a.Reason != b.Reason {
		t.Errorf("forged tag answered %q, unknown mailbox %q", a.Reason, b.Reason)
	}
}

func TestTaggedLocalPartLength(t *testing.T) {
	tg, err := NewTagger(strings.Repeat("c", maxGatewayLocal)+"@gw.example", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cid, pid string }{
		{"abcdefghijkl", "p999"},
		{"k7p2qz", "p1"},
	} {
		addr := tg.Address(tc.cid, tc.pid)
		local, _, _ := strings.Cut(addr, "@")
		if len(local) > 64 {
			t.Errorf("Address(%q, %q): local part %q is %d octets, want ≤ 64", tc.cid, tc.pid, local, len(local))
		}
		if kind, cid, pid := tg.Classify(addr); kind != AddrTagged || cid != tc.cid || pid != tc.pid {
			t.Errorf("Classify(%q) = %v, %q, %q", addr, kind, cid, pid)
		}
	}
}

func TestReplyRef(t *testing.T) {
	tg := newTestTagger(t)
	ref := tg.ReplyRef("k7p2qz", "p12")
	tok := tg.Token("k7p2qz", "p12")
	mac := tok[len("k7p2qz.p12."):]
	tests := []struct {
		name     string
		msgid    string
		ok       bool
		cid, pid string
	}{
		{"plain", ref, true, "k7p2qz", "p12"},
		{"brackets", "<" + ref + ">", true, "k7p2qz", "p12"},
		{"upper-case domain", strings.TrimSuffix(ref, "gw.example") + "GW.EXAMPLE", true, "k7p2qz", "p12"},
		{"moved to other pid", "reply.k7p2qz.p1." + mac + "@gw.example", false, "", ""},
		{"truncated mac", strings.Replace(ref, mac, mac[:5], 1), false, "", ""},
		{"foreign domain", strings.TrimSuffix(ref, "gw.example") + "evil.example", false, "", ""},
		{"no prefix", tok + "@gw.example", false, "", ""},
		{"tagged address is not a ref", tg.Address("k7p2qz", "p12"), false, "", ""},
		{"other message-id", "CAF=abc123@mail.gmail.com", false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cid, pid, ok := tg.ParseReplyRef(tc.msgid)
			if ok != tc.ok || cid != tc.cid || pid != tc.pid {
				t.Errorf("ParseReplyRef(%q) = %q, %q, %v; want %q, %q, %v", tc.msgid, cid, pid, ok, tc.cid, tc.pid, tc.ok)
			}
		})
	}
}

func TestAddressToken(t *testing.T) {
	tg := newTestTagger(t)
	tok := tg.AddressToken("Alice@ACME.example")
	if got, ok := tg.ParseAddressToken(tok); !ok || got != "alice@acme.example" {
		t.Fatalf("round trip: %q %v", got, ok)
	}
	other, err := NewTagger("collab@gw.example", []byte("another secret of enough length"))
	if err != nil {
		t.Fatal(err)
	}
	enc, mac, _ := strings.Cut(tok, ".")
	bobEnc, _, _ := strings.Cut(tg.AddressToken("bob@axe.example"), ".")
	for _, bad := range []string{
		"", enc, enc + ".", enc + "." + mac[:len(mac)-1], bobEnc + "." + mac, other.AddressToken("alice@acme.example"), "!!." + mac,
	} {
		if addr, ok := tg.ParseAddressToken(bad); ok {
			t.Errorf("token %q accepted as %q", bad, addr)
		}
	}
}

func TestDownloadToken(t *testing.T) {
	tg := newTestTagger(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	digest := strings.Repeat("ab", 32)
	tok := tg.DownloadToken("k7p2qz", digest, now.Add(7*24*time.Hour))
	if cid, d, ok := tg.ParseDownloadToken(tok, now); !ok || cid != "k7p2qz" || d != digest {
		t.Fatalf("ParseDownloadToken(%q) = %q, %q, %v", tok, cid, d, ok)
	}
	if _, _, ok := tg.ParseDownloadToken(tok, now.Add(7*24*time.Hour)); ok {
		t.Error("an expired link was accepted")
	}
	other, _ := NewTagger("collab@gw.example", []byte("another-secret-of-16+"))
	for name, bad := range map[string]string{
		"other collaboration": strings.Replace(tok, "k7p2qz", "k7p2qa", 1),
		"other blob":          strings.Replace(tok, digest, strings.Repeat("cd", 32), 1),
		"later expiry":        strings.Replace(tok, "."+strings.Split(tok, ".")[2]+".", ".zzzzzz.", 1),
		"other secret":        other.DownloadToken("k7p2qz", digest, now.Add(time.Hour)),
		"truncated":           tok[:len(tok)-1],
		"empty":               "",
	} {
		if _, _, ok := tg.ParseDownloadToken(bad, now); ok {
			t.Errorf("%s: %q accepted", name, bad)
		}
	}
}

func TestBounceAddress(t *testing.T) {
	tg := newTestTagger(t)
	other, err := NewTagger("collab@gw.example", []byte("another secret, as long"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{1, 31, 32, 7340, 1<<64 - 1} {
		addr := tg.BounceAddress(id)
		if !strings.HasPrefix(addr, "collab+b.") || !strings.HasSuffix(addr, "@gw.example") {
			t.Errorf("BounceAddress(%d) = %q", id, addr)
		}
		if local := addr[:strings.IndexByte(addr, '@')]; len(local) > 64 {
			t.Errorf("BounceAddress(%d): local part of %d octets", id, len(local))
		}
		// MTAs fold case, and bounces come in every address form.
		for _, form := range []string{addr, strings.ToUpper(addr), "<" + addr + ">", "Mail Delivery System <" + addr + ">"} {
			if got, ok := tg.ParseBounce(form); !ok || got != id {
				t.Errorf("ParseBounce(%q) = %d, %v; want %d", form, got, ok, id)
			}
		}
		if k, _, _ := tg.Classify(addr); k != AddrBounce {
			t.Errorf("Classify(%q) = %v", addr, k)
		}
		if r := tg.AcceptRecipient(addr); r != nil {
			t.Errorf("AcceptRecipient(%q) = %v", addr, r)
		}
		if _, ok := other.ParseBounce(addr); ok {
			t.Errorf("another secret accepts %q", addr)
		}
	}

	good := tg.BounceAddress(7340)
	n, mac, _ := strings.Cut(strings.TrimPrefix(good[:strings.IndexByte(good, '@')], "collab+b."), ".")
	forged := []string{
		"collab+b." + n + "." + strings.Repeat("a", macLen) + "@gw.example", // guessed MAC
		"collab+b." + "0" + n + "." + mac + "@gw.example",                   // the same id, written otherwise
		"collab+b.7341." + mac + "@gw.example",                              // the MAC moved to another id
		"collab+b." + n + "." + mac + "@other.example",                      // another domain
		"collab+b." + n + "." + mac[:macLen-1] + "@gw.example",              // cut short
		"collab+b.." + mac + "@gw.example",
		"collab+b.zz." + mac + "@gw.example", // not base 32
		"other+b." + n + "." + mac + "@gw.example",
		// A tagged address's MAC does not make a bounce address, nor the
		// other way round: their inputs differ.
		"collab+b." + n + "." + tg.mac("b", n) + "@gw.example",
	}
	for _, a := range forged {
		if id, ok := tg.ParseBounce(a); ok {
			t.Errorf("ParseBounce(%q) = %d, true", a, id)
		}
		if k, _, _ := tg.Classify(a); k == AddrBounce {
			t.Errorf("Classify(%q) = bounce", a)
		}
	}
	if r := tg.AcceptRecipient(forged[0]); r == nil || r.Code != 550 || r.Enhanced != [3]int{5, 1, 1} || r.Detail != "bad tag" {
		t.Errorf("AcceptRecipient of a forged bounce address: %+v", r)
	}
	if k, cid, pid := tg.Classify(tg.Address("b", n)); k != AddrTagged || cid != "b" || pid != n {
		t.Errorf("the tagged address of collaboration b: %v %q %q", k, cid, pid)
	}
}
