package main

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

const versionUsage = `version

Prints the version of turnmail and the revision it was built from, as the Go
toolchain recorded them: "turnmail v1.2.0", or for a build from a checkout
"turnmail v0.0.0-20260301120000-abc1234def56+dirty (rev abc1234def56, modified)".
turnmail --version does the same.`

func runVersion(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if _, err := parseFlags(fs, versionUsage, args, 0); err != nil {
		return err
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, versionString(bi))
	return nil
}

// versionString words what bi says of the build: the main module's version
// and, when the toolchain stamped it, the VCS revision (12 digits) and
// whether the tree had uncommitted changes. A nil bi (a binary built without
// module support) gives "turnmail (unknown version)".
func versionString(bi *debug.BuildInfo) string {
	if bi == nil {
		return "turnmail (unknown version)"
	}
	v := bi.Main.Version
	if v == "" {
		// go test, and binaries of a main package outside a module.
		v = "(devel)"
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "turnmail " + v
	}
	rev = rev[:min(len(rev), 12)]
	if modified {
		return fmt.Sprintf("turnmail %s (rev %s, modified)", v, rev)
	}
	return fmt.Sprintf("turnmail %s (rev %s)", v, rev)
}
