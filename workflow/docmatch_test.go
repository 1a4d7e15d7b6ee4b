package workflow

import (
	"slices"
	"strings"
	"testing"
)

func TestDocKey(t *testing.T) {
	parties := []string{"AXE", "Acme Corp", "ACME"}
	tests := []struct {
		in, want string
	}{
		// Copy markers.
		{"contract.docx", "contract.docx"},
		{"Contract (1).DOCX", "contract.docx"},
		{"contract(2).docx", "contract.docx"},
		{"Copy of contract.docx", "contract.docx"},
		{"Copy of Copy of contract.docx", "contract.docx"},
		{"contract - Copy.docx", "contract.docx"},
		{"contract - Copy (2).docx", "contract.docx"},
		{"contract copy 2.docx", "contract.docx"},
		{"Kopie von Vertrag.docx", "vertrag.docx"},

		// Version markers.
		{"contract v2 - AXE.docx", "contract.docx"},
		{"contract_v03.docx", "contract.docx"},
		{"contract-v2.1.docx", "contract.docx"},
		{"contract V2.docx", "contract.docx"},
		{"contract v 2.docx", "contract.docx"},
		{"contract version 3.docx", "contract.docx"},
		{"contract Version 3.1.docx", "contract.docx"},
		{"contract-rev2.docx", "contract.docx"},
		{"contract rev 3.docx", "contract.docx"},
		{"contract rev. 3.docx", "contract.docx"},
		{"contract Rev B.docx", "contract.docx"},
		{"contract_r2.docx", "contract.docx"},
		{"contract_r2_final.docx", "contract.docx"},
		{"Form R2.docx", "form r2.docx"}, // a form's name, not a revision
		{"R2 report.docx", "r2 report.docx"},
		{"contract (v2).docx", "contract.docx"}, // the name we send versions out under
		{"contract draft2.docx", "contract.docx"},
		{"FINAL-FINAL contract.docx", "contract.docx"},

		// Status words.
		{"contract final clean.docx", "contract.docx"},
		{"contract_redline.docx", "contract.docx"},
		{"contract DRAFT.docx", "contract.docx"},
		{"contract edited.docx", "contract.docx"},
		{"contract tracked changes.docx", "contract.docx"},
		{"contract with AXE comments.docx", "contract.docx"},
		{"Vertrag mit Änderungen.docx", "vertrag.docx"},
		{"terms with schedules.docx", "terms with schedules.docx"},
		{"contract comments.docx", "contract.docx"},

		// Dates.
		{"contract 2026-11-24.docx", "contract.docx"},
		{"contract_20261124.docx", "contract.docx"},
		{"20261124_contract.docx", "contract.docx"},
		{"contract 24.11.2026.docx", "contract.docx"},
		{"contract 11-24-26.docx", "contract.docx"},
		{"contract_2026_11_24.docx", "contract.docx"},
		{"contract 24 Nov 2026.docx", "contract.docx"},
		{"contract 24th November.docx", "contract.docx"},
		{"contract Nov 24.docx", "contract.docx"},
		{"contract November 24, 2026.docx", "contract.docx"},
		{"contract 24-Nov-26.docx", "contract.docx"},
		{"contract 24Nov2026.docx", "contract.docx"},
		{"contract 2026-11-24 v2 final.docx", "contract.docx"},
		{"budget 2026.xlsx", "budget 2026.xlsx"}, // a year alone is part of the name
		{"release 1.2.3.txt", "release 1 2 3.txt"},

		// Party names and bracketed comments.
		{"contract (AXE comments).docx", "contract.docx"},
		{"contract [redline].docx", "contract.docx"},
		{"contract {JS}.docx", "contract.docx"},
		{"contract - AXE's comments.docx", "contract.docx"},
		{"Acme Corp contract.docx", "contract.docx"},
		{"contract acme.docx", "contract.docx"},
		{"axeman contract.docx", "axeman contract.docx"}, // whole words only
		{"Services Agreement v4 (ACME edits) final.docx", "services agreement.docx"},
		{"Services_Agreement_v4.docx", "services agreement.docx"},
		{"contract (2026 plan.docx", "contract 2026 plan.docx"}, // unclosed bracket: its text stays

		// Separators, dots, extensions.
		{"  Contract  .DOCX", "contract.docx"},
		{"contract__-__final.docx", "contract.docx"},
		{"report.2026.q3.xlsx", "report 2026 q3.xlsx"},
		{"report.2026.q3 v2.xlsx", "report 2026 q3.xlsx"},
		{"contract.pdf", "contract.pdf"},
		{"backup.tar.gz", "backup.tar.gz"},
		{"backup v2.TAR.GZ", "backup.tar.gz"},
		{"notes", "notes"},
		{"notes v2", "notes"},
		{"notes v2.1", "notes"},
		{".env", "env"},

		// Stems that would strip to nothing keep themselves.
		{"v2.docx", "v2.docx"},
		{"Final Draft.docx", "final draft.docx"},
		{"(1).docx", "1.docx"},
		{"__.docx", "__.docx"},

		// Beyond ASCII.
		{"Vertrag_v2_Änderungen.docx", "vertrag.docx"},
		{"VERTRAG_ÜBERSICHT_v3.docx", "vertrag übersicht.docx"},
		{"Contrat – brouillon.docx", "contrat.docx"},
		{"合同_v2.docx", "合同.docx"},
	}
	for _, tt := range tests {
		if got := DocKey(tt.in, parties); got != tt.want {
			t.Errorf("DocKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDocKeySameDocument(t *testing.T) {
	parties := []string{"AXE", "ACME"}
	same := [][]string{
		{"contract.docx", "contract v2 - AXE.docx", "Contract (1).DOCX", "Copy of contract.docx", "contract (AXE comments).docx"},
		{"Services Agreement.docx", "Services Agreement v4 (ACME edits) final.docx", "services_agreement_redline.docx"},
		{"report.2026.q3.xlsx", "Report 2026 Q3 (v2).xlsx"},
	}
	for _, group := range same {
		want := DocKey(group[0], parties)
		for _, name := range group[1:] {
			if got := DocKey(name, parties); got != want {
				t.Errorf("DocKey(%q) = %q, want %q (the key of %q)", name, got, want, group[0])
			}
		}
	}
	different := [][2]string{
		{"contract.pdf", "contract.docx"},
		{"Schedule A.docx", "Schedule B.docx"},
		{"report.2026.q3.xlsx", "report.2026.q4.xlsx"},
		{"Exhibit 1.docx", "Exhibit 2.docx"},
	}
	for _, d := range different {
		if a, b := DocKey(d[0], parties), DocKey(d[1], parties); a == b {
			t.Errorf("DocKey(%q) = DocKey(%q) = %q, want different keys", d[0], d[1], a)
		}
	}
}

func TestDocKeyNoParties(t *testing.T) {
	if got := DocKey("contract v2 - AXE.docx", nil); got != "contract axe.docx" {
		t.Errorf("DocKey without parties = %q, want %q", got, "contract axe.docx")
	}
}

func TestMatchDocuments(t *testing.T) {
	parties := []string{"AXE", "ACME"}
	contract := Doc{ID: "d1", Name: "contract.docx"}
	sheet := Doc{ID: "d2", Name: "prices.xlsx"}
	schedA := Doc{ID: "d3", Name: "Agreement (Schedule A).docx"}
	schedB := Doc{ID: "d4", Name: "Agreement (Schedule B).docx"}
	tests := []struct {
		name  string
		files []string
		docs  []Doc
		want  []string
	}{
		{"by key", []string{"contract v2 - AXE comments.docx", "prices final.xlsx"}, []Doc{contract, sheet}, []string{"d1", "d2"}},
		{"new document", []string{"memo.pdf"}, []Doc{contract, sheet}, []string{""}},
		{"no documents yet", []string{"contract.docx"}, nil, []string{""}},
		{"extension fallback", []string{"AXE markup of the deal.docx"}, []Doc{contract, sheet}, []string{"d1"}},
		{"extension is case-insensitive", []string{"deal.DOCX"}, []Doc{contract}, []string{"d1"}},
		{"two unmatched of one extension: no fallback", []string{"a.docx", "b.docx"}, []Doc{contract}, []string{"", ""}},
		{"doc already matched by key is not reused", []string{"contract v2.docx", "side letter.docx"}, []Doc{contract}, []string{"d1", ""}},
		{"two documents of the extension: no fallback", []string{"deal.docx"}, []Doc{schedA, contract}, []string{""}},
		{"no extension: no fallback", []string{"README"}, []Doc{{ID: "d9", Name: "notes"}}, []string{""}},
		{"fallback per extension", []string{"deal.docx", "numbers.xlsx"}, []Doc{contract, sheet}, []string{"d1", "d2"}},
		{"a clean copy and a redline both match by key", []string{"contract clean.docx", "contract redline.docx"}, []Doc{contract}, []string{"d1", "d1"}},
		{"shared key: bracketed text decides", []string{"Agreement (Schedule B) (v2).docx", "Agreement (Schedule A) v3 (AXE comments).docx"}, []Doc{schedA, schedB}, []string{"d4", "d3"}},
		{"shared key: exact name decides", []string{"agreement (schedule a).docx"}, []Doc{schedA, schedB}, []string{"d3"}},
		{"shared key and nothing decides: new", []string{"Agreement v2.docx"}, []Doc{schedA, schedB}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MatchDocuments(tt.files, tt.docs, parties)
			if !slices.Equal(got, tt.want) {
				t.Errorf("MatchDocuments(%q) = %q, want %q", tt.files, got, tt.want)
			}
		})
	}
}

func TestVersionedName(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want string
	}{
		{"contract.docx", 2, "contract (v2).docx"},
		{"Contract.DOCX", 12, "Contract (v12).DOCX"},
		{"notes", 2, "notes (v2)"},
		{".env", 3, ".env (v3)"},
		{"report.2026.q3.xlsx", 2, "report.2026.q3 (v2).xlsx"},
		{"backup.tar.gz", 2, "backup (v2).tar.gz"},
		{"notes v2.1", 4, "notes v2.1 (v4)"},
		{"contract (v1).docx", 2, "contract (v2).docx"},
		{"", 2, "document (v2)"},
	}
	for _, tt := range tests {
		if got := VersionedName(tt.name, tt.n); got != tt.want {
			t.Errorf("VersionedName(%q, %d) = %q, want %q", tt.name, tt.n, got, tt.want)
		}
	}
}

func FuzzDocKey(f *testing.F) {
	for _, s := range []string{
		"contract v2 - AXE.docx", "Copy of contract (1).DOCX", "v2.docx", ".env", "a.İ", "((x]", "..docx",
		"report.2026.q3.xlsx", "contract 24 Nov 2026.docx", "final_r2.docx", "  ", "Vertrag_v2_Änderungen.docx",
	} {
		f.Add(s)
	}
	parties := []string{"AXE", "Acme Corp"}
	f.Fuzz(func(t *testing.T, name string) {
		key := DocKey(name, parties)
		if name != "" && key == "" {
			t.Fatalf("DocKey(%q) is empty", name)
		}
		_, ext := splitExt(key)
		again := DocKey(key, parties)
		if _, ext2 := splitExt(again); ext2 != ext {
			t.Fatalf("DocKey(%q) = %q, DocKey of that = %q: extension %q became %q", name, key, again, ext, ext2)
		}
		if strings.ToLower(ext) != ext {
			t.Fatalf("DocKey(%q) = %q: extension not lower-case", name, key)
		}
	})
}
