package changes_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/turnmail/turnmail/workflow/changes"
)

func ExampleCompare() {
	v1 := "Minutes of the kick-off\r\nPresent: Alice, Bob\r\nBudget: EUR 10,000\r\nNext meeting: 12 March\r\n"
	v2 := "Minutes of the kick-off\r\nPresent: Alice, Bob, Carol\r\nBudget: EUR 10,000\r\nNext meeting: 19 March\r\nAction: Carol drafts Annex A\r\n"
	older, newer := strings.NewReader(v1), strings.NewReader(v2)
	s, err := changes.Compare(context.Background(), "minutes.txt", older, older.Size(), newer, newer.Size(), changes.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d %s added, %d removed, %d changed\n", s.Format, s.Counts.Added, s.Unit, s.Counts.Removed, s.Counts.Changed)
	for _, p := range s.Passages {
		switch p.Kind {
		case changes.Changed:
			fmt.Printf("line %d: %q → %q\n", p.At, p.Old, p.New)
		case changes.Added:
			fmt.Printf("line %d added: %q\n", p.At, p.New)
		case changes.Removed:
			fmt.Printf("line %d removed: %q\n", p.At, p.Old)
		}
	}
	// Output:
	// txt: 1 lines added, 0 removed, 2 changed
	// line 2: "Present: Alice, Bob" → "Present: Alice, Bob, Carol"
	// line 4: "Next meeting: 12 March" → "Next meeting: 19 March"
	// line 5 added: "Action: Carol drafts Annex A"
}
