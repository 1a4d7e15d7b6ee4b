package workflow

import (
	"reflect"
	"testing"
)

func TestParseCommands(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		wantCmds []Command
		wantRest string
	}{
		{"no commands", "Looks good to me.\nBob", nil, "Looks good to me.\nBob"},
		{"empty", "", nil, ""},
		{"blank only", "\n \n\t\n", nil, ""},
		{"bare", "/done", []Command{{Name: "done", Line: "/done"}}, ""},
		{"with note", "/done\nHere is our markup.", []Command{{Name: "done", Line: "/done"}}, "Here is our markup."},
		{"leading blank lines", "\n\n  \n/skip\n\nNothing from us.", []Command{{Name: "skip", Line: "/skip"}}, "Nothing from us."},
		{"upper case", "/DONE", []Command{{Name: "done", Line: "/DONE"}}, ""},
		{"trailing punctuation", "/done.\n/status!", []Command{{Name: "done", Line: "/done."}, {Name: "status", Line: "/status!"}}, ""},
		{"args", "/add carol@acme.com  contributor", []Command{{Name: "add", Args: []string{"carol@acme.com", "contributor"}, Line: "/add carol@acme.com  contributor"}}, ""},
		{"deadline", "/deadline 2026-12-01\nPlease.", []Command{{Name: "deadline", Args: []string{"2026-12-01"}, Line: "/deadline 2026-12-01"}}, "Please."},
		{"blank line between commands", "/add bob@axe.com\n\n/done\n\nThanks", []Command{
			{Name: "add", Args: []string{"bob@axe.com"}, Line: "/add bob@axe.com"},
			{Name: "done", Line: "/done"},
		}, "Thanks"},
		{"indented", "  /wrapup  \nbye", []Command{{Name: "wrapup", Line: "/wrapup"}}, "bye"},
		{"CRLF", "/reopen\r\nAgain.\r\n", []Command{{Name: "reopen", Line: "/reopen"}}, "Again."},
		{"later slash lines are text", "See the file.\n/home/bob/contract.docx\n/done", nil, "See the file.\n/home/bob/contract.docx\n/done"},
		{"commands stop at the first text line", "/done\nNote\n/skip", []Command{{Name: "done", Line: "/done"}}, "Note\n/skip"},
		{"slash not followed by a letter", "/ done\n//done\n/1", nil, "/ done\n//done\n/1"},
		{"unknown command is still a command", "/frobnicate now", []Command{{Name: "frobnicate", Args: []string{"now"}, Line: "/frobnicate now"}}, ""},
		{"unicode letter", "/état", []Command{{Name: "état", Line: "/état"}}, ""},
		{"non-breaking space between args", "/add\u00a0bob@axe.com", []Command{{Name: "add", Args: []string{"bob@axe.com"}, Line: "/add\u00a0bob@axe.com"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, rest := ParseCommands(tt.text)
			if !reflect.DeepEqual(cmds, tt.wantCmds) {
				t.Errorf("ParseCommands(%q) commands = %#v, want %#v", tt.text, cmds, tt.wantCmds)
			}
			if rest != tt.wantRest {
				t.Errorf("ParseCommands(%q) rest = %q, want %q", tt.text, rest, tt.wantRest)
			}
		})
	}
}
