package message

import (
	"strings"
	"testing"
)

func TestUnembedUnicode(t *testing.T) {
	for in, want := range map[string]string{
		`bob@axe.test`:             "bob@axe.test",
		`b\x{F8}b@ax\x{e9}.test`:   "bøb@axé.test",
		`\x{1F600}@axe.test`:       "😀@axe.test",
		`b\x{}b`:                   `b\x{}b`,
		`b\x{110000}b`:             `b\x{110000}b`, // past Unicode
		`b\x{D800}b`:               `b\x{D800}b`,   // a surrogate
		`b\x{1234567}b`:            `b\x{1234567}b`,
		`b\x{zz}b\x{F8}`:           `b\x{zz}bø`,
		`trailing \x{`:             `trailing \x{`,
		`\x{\x{F8}`:                `\x{ø`,
		strings.Repeat(`\x{`, 100): strings.Repeat(`\x{`, 100),
	} {
		if got := unembedUnicode(in); got != want {
			t.Errorf("unembedUnicode(%q) = %q, want %q", in, got, want)
		}
	}
}
