package message

import (
	"strings"
	"testing"
)

func TestDMARCVerdict(t *testing.T) {
	trusted := []string{"mx.gw.test"}
	for _, tc := range []struct {
		name    string
		fields  []string // top to bottom
		trusted []string
		want    string
	}{
		{"pass", []string{"mx.gw.test; spf=pass smtp.mailfrom=axe.test; dmarc=pass header.from=axe.test"}, trusted, DMARCPass},
		{"fail", []string{"mx.gw.test; dmarc=fail (p=reject) header.from=axe.test"}, trusted, DMARCFail},
		{"version after the id", []string{"mx.gw.test 1; dmarc=pass header.from=axe.test"}, trusted, DMARCPass},
		{"id in another case", []string{"MX.GW.Test; dmarc=pass header.from=AXE.test"}, trusted, DMARCPass},
		{"no trusted ids configured", []string{"mx.gw.test; dmarc=pass header.from=axe.test"}, nil, DMARCNone},
		{"untrusted id", []string{"evil.test; dmarc=pass header.from=axe.test"}, trusted, DMARCNone},
		{"another domain's pass", []string{"mx.gw.test; dmarc=pass header.from=evil.test"}, trusted, DMARCNone},
		{"no header.from", []string{"mx.gw.test; dmarc=pass"}, trusted, DMARCPass},
		{"none", []string{"mx.gw.test; none"}, trusted, DMARCNone},
		{"temperror", []string{"mx.gw.test; dmarc=temperror header.from=axe.test"}, trusted, DMARCNone},
		{"only dkim", []string{"mx.gw.test; dkim=pass header.d=axe.test"}, trusted, DMARCNone},
		{"forged pass below the real fail", []string{
			"mx.gw.test; dmarc=fail header.from=axe.test",
			"mx.gw.test; dmarc=pass header.from=axe.test",
		}, trusted, DMARCFail},
		{"forged pass below the real none", []string{
			"mx.gw.test; dmarc=none header.from=axe.test",
			"mx.gw.test; dmarc=pass header.from=axe.test",
		}, trusted, DMARCNone},
		{"untrusted field above", []string{
			"evil.test; dmarc=fail header.from=axe.test",
			"mx.gw.test; dmarc=pass header.from=axe.test",
		}, trusted, DMARCPass},
		{"unreadable trusted field", []string{"mx.gw.test; dmarc", "mx.gw.test; dmarc=pass header.from=axe.test"}, trusted, DMARCNone},
		{"no fields", nil, trusted, DMARCNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DMARCVerdict(tc.fields, tc.trusted, "axe.test"); got != tc.want {
				t.Errorf("DMARCVerdict = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestParseAuthResultsOrder: Parse keeps the fields top to bottom, which
// DMARCVerdict relies on to take the topmost.
func TestParseAuthResultsOrder(t *testing.T) {
	raw := "Authentication-Results: mx.gw.test; dmarc=fail header.from=axe.test\r\n" +
		"Received: from x by y\r\n" +
		"Authentication-Results: mx.gw.test; dmarc=pass header.from=axe.test\r\n" +
		"From: bob@axe.test\r\nSubject: s\r\n\r\nbody\r\n"
	m, err := Parse(strings.NewReader(raw), &parseBlobs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.AuthResults) != 2 || !strings.Contains(m.AuthResults[0], "fail") {
		t.Fatalf("AuthResults %q", m.AuthResults)
	}
	if got := DMARCVerdict(m.AuthResults, []string{"mx.gw.test"}, "axe.test"); got != DMARCFail {
		t.Errorf("verdict %q, want fail", got)
	}
}
