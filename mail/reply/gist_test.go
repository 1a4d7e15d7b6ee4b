package reply

import (
	"strings"
	"testing"
)

func TestGist(t *testing.T) {
	long := "We accept clauses 1 to 9 as drafted, but clause 10 on liability needs the cap we discussed on the phone last week."
	tests := []struct {
		name, note, want string
	}{
		{"english salutation", "Dear Bob,\n\nClause 4 reworded.\nThe rest is fine.", "Clause 4 reworded."},
		{"formal english", "Dear Mr. Smith:\nPlease find our comments attached.", "Please find our comments attached."},
		{"team", "Hi all,\n\nv3 attached.", "v3 attached."},
		{"german", "Hallo Anna,\n\nanbei unsere Änderungen an § 7.", "anbei unsere Änderungen an § 7."},
		{"german formal", "Sehr geehrte Damen und Herren,\n\nwir stimmen zu.", "wir stimmen zu."},
		{"french", "Bonjour Marie,\n\nVoici la version révisée.", "Voici la version révisée."},
		{"spanish", "Hola Juan:\n\nTe envío la versión final.", "Te envío la versión final."},
		{"polish", "Szanowni Państwo,\n\nw załączeniu poprawiona umowa.", "w załączeniu poprawiona umowa."},
		{"chinese comma", "王经理，\n\n附件是修改后的合同。", "附件是修改后的合同。"},
		{"no salutation", "Agreed.", "Agreed."},
		{"sign-off after a salutation", "Dear Bob,\n\nBest regards,\nAlice", "Dear Bob,"},
		{"only a salutation", "Dear Bob,", "Dear Bob,"},
		{"empty", "\n \n", ""},
		{"a sentence ending in a comma is kept", "We agree with clause 4 and clause 5 and everything else in the draft,\nbut not 6.", "We agree with clause 4 and clause 5 and everything else in the draft,"},
		{"long", "Dear Bob,\n" + long, "We accept clauses 1 to 9 as drafted, but clause 10 on liability needs the cap…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Gist(tc.note, 80); got != tc.want {
				t.Errorf("Gist(%q) = %q, want %q", tc.note, got, tc.want)
			}
		})
	}
	if got := Gist(strings.Repeat("x", 500), 100); len([]rune(got)) != 100 || !strings.HasSuffix(got, "…") {
		t.Errorf("a word of 500 runes gives %q", got)
	}
}
