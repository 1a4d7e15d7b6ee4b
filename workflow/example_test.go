package workflow_test

import (
	"fmt"

	"github.com/turnmail/turnmail/workflow"
)

// ExampleParseCommands reads the commands at the top of a reply. The rest is
// the turn's note; a line starting with "/" below it is a path, not a
// command.
func ExampleParseCommands() {
	text := "/Done!\n/add carol@globex.example Carol\n\nClause 4 reworded, see /shared/contract.docx.\n/skip"
	cmds, rest := workflow.ParseCommands(text)
	for _, c := range cmds {
		fmt.Printf("%s %q\n", c.Name, c.Args)
	}
	fmt.Printf("note: %q\n", rest)
	// Output:
	// done []
	// add ["carol@globex.example" "Carol"]
	// note: "Clause 4 reworded, see /shared/contract.docx.\n/skip"
}
