package tag

import (
	"strings"
	"testing"
	"time"
)

// The tokens of unsubscribe and download links come back in URLs that
// anyone may write. Whatever a parser accepts must be a token this Tagger
// signed: it names what the Tagger would name, and another secret refuses
// it. A fuzzer cannot forge an HMAC, so these hold only if the parsers check
// the MAC over exactly what they return.

func fuzzTaggers(f *testing.F) (tg, other *Tagger) {
	tg, err := NewTagger("Collab@GW.example", []byte("0123456789abcdef-test-secret"))
	if err != nil {
		f.Fatal(err)
	}
	other, err = NewTagger("Collab@GW.example", []byte("another-secret-0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	return tg, other
}

// FuzzAddressToken feeds ParseAddressToken outside input, seeded with tokens
// the Tagger writes and their near misses.
func FuzzAddressToken(f *testing.F) {
	tg, other := fuzzTaggers(f)
	valid := tg.AddressToken("Bob.Smith@Axe.example")
	enc, mac, _ := strings.Cut(valid, ".")
	for _, seed := range []string{
		valid, tg.AddressToken(""), tg.AddressToken("ünïcode@bücher.example"), tg.AddressToken("a.b@c.d"),
		enc, enc + ".", "." + mac, enc + "." + strings.ToUpper(mac), enc + "=." + mac, enc + "." + mac + ".",
		strings.ToUpper(enc) + "." + mac, other.AddressToken("bob.smith@axe.example"), "", ".", "..", "%2e",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		address, ok := tg.ParseAddressToken(token)
		if !ok {
			if address != "" {
				t.Fatalf("ParseAddressToken(%q) failed with address %q", token, address)
			}
			return
		}
		if address != strings.ToLower(address) {
			t.Fatalf("ParseAddressToken(%q) = %q: the Tagger signs lower-case addresses only", token, address)
		}
		if back, ok := tg.ParseAddressToken(tg.AddressToken(address)); !ok || back != address {
			t.Fatalf("ParseAddressToken(%q) = %q, whose own token parses as %q, %v", token, address, back, ok)
		}
		if _, ok := other.ParseAddressToken(token); ok {
			t.Fatalf("ParseAddressToken(%q) holds under another secret", token)
		}
	})
}

// FuzzDownloadToken feeds ParseDownloadToken outside input, seeded with
// tokens the Tagger writes, expired ones and near misses.
func FuzzDownloadToken(f *testing.F) {
	tg, other := fuzzTaggers(f)
	now := time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
	digest := strings.Repeat("ab12", 16)
	valid := tg.DownloadToken("k7p2qz", digest, now.Add(14*24*time.Hour))
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid, tg.DownloadToken("k7p2qz", digest, now.Add(-time.Second)), tg.DownloadToken("k7p2qz", digest, now),
		tg.DownloadToken("", "", now.Add(time.Hour)), tg.DownloadToken("a", "b", time.Unix(-1, 0)),
		strings.Join(parts[:3], "."), strings.Join(parts, ".") + ".", strings.Join(parts, ".."),
		parts[0] + "." + parts[1] + ".-" + parts[2] + "." + parts[3], parts[0] + "." + parts[1] + ".+" + parts[2] + "." + parts[3],
		strings.ToUpper(valid), other.DownloadToken("k7p2qz", digest, now.Add(time.Hour)), "", "...", "a.b.c.d",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		cid, digest, ok := tg.ParseDownloadToken(token, now)
		if !ok {
			if cid != "" || digest != "" {
				t.Fatalf("ParseDownloadToken(%q) failed with %q, %q", token, cid, digest)
			}
			return
		}
		if _, _, ok := other.ParseDownloadToken(token, now); ok {
			t.Fatalf("ParseDownloadToken(%q) holds under another secret", token)
		}
		// The token names what it was signed for: cid and digest are its
		// first two parts, and the expiry it carries is still ahead.
		parts := strings.Split(token, ".")
		if len(parts) != 4 || parts[0] != cid || parts[1] != digest {
			t.Fatalf("ParseDownloadToken(%q) = %q, %q", token, cid, digest)
		}
		if _, _, ok := tg.ParseDownloadToken(token, now.Add(100*365*24*time.Hour)); ok {
			t.Fatalf("ParseDownloadToken(%q) holds in a hundred years", token)
		}
	})
}
