package workflow

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Command is one "/command args" line from the top of a body (DESIGN §2.6).
type Command struct {
	Name string   // lower-case, without the slash: "done", "skip", "status", "help", "wrapup", "reopen", "add", …
	Args []string // whitespace-separated arguments
	Line string   // the line as written, for error notices
}

// ParseCommands reads the commands at the top of a reply text (already
// quote-stripped): leading blank lines are skipped, then every line that
// starts with "/" followed by a letter is a command, until the first line that
// is not one; blank lines between commands are allowed. rest is the remaining
// text (the note), trimmed. Lines starting with "/" further down are not
// commands: people write paths. Trailing punctuation on a command's name
// ("/done." "/done!") is dropped.
func ParseCommands(text string) (cmds []Command, rest string) {
	lines := strings.Split(text, "\n")
	i := 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		cmd, ok := parseCommand(line)
		if !ok {
			break
		}
		cmds = append(cmds, cmd)
	}
	return cmds, strings.TrimSpace(strings.Join(lines[i:], "\n"))
}

// parseCommand parses one trimmed line as a command.
func parseCommand(line string) (Command, bool) {
	if !strings.HasPrefix(line, "/") {
		return Command{}, false
	}
	if r, _ := utf8.DecodeRuneInString(line[1:]); !unicode.IsLetter(r) {
		return Command{}, false
	}
	fields := strings.Fields(line[1:])
	cmd := Command{Name: strings.ToLower(strings.TrimRightFunc(fields[0], unicode.IsPunct)), Line: line}
	if len(fields) > 1 {
		cmd.Args = fields[1:]
	}
	return cmd, true
}
