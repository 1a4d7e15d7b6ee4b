package main

import (
	"flag"
	"strings"
)

// interleave reorders args so that the flag package, which stops at the first
// argument that is not a flag, sees every flag: the flags of args in their
// order, then "--", then the other arguments in theirs. So
// `turnmail show ID --json` parses as `turnmail show --json -- ID`.
//
// A flag of fs that takes a value and is written without "=" takes the next
// argument with it, as the flag package would; one at the very end is left
// last, for fs.Parse to refuse. A lone "-" is an argument, and "--" ends the
// flags: what follows it is arguments however it looks, so a directory named
// -out is written `turnmail export ID -- -out`. Flags fs does not define stay
// flags, for fs.Parse to refuse by name.
func interleave(fs *flag.FlagSet, args []string) []string {
	flags := make([]string, 0, len(args)+1)
	var rest []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			rest = append(rest, arg)
			continue
		}
		flags = append(flags, arg)
		name := strings.TrimPrefix(arg[1:], "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) {
			if i+1 == len(args) {
				// Its value is missing: with no "--" after it,
				// fs.Parse says so.
				return flags
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(flags, "--"), rest...)
}

// isBoolFlag says whether f is set by its name alone (--json), as the flag
// package decides it.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// collabID is the id of a collaboration as typed on a command line. The
// store's ids are lower case (store.NewCollabID) and mail matches them
// whatever their case, so the command line does too: show PDLID6 is show
// pdlid6.
func collabID(arg string) string {
	return strings.ToLower(arg)
}
