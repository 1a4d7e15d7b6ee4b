package message

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// DMARC verdicts of DMARCVerdict.
const (
	DMARCNone = ""     // no trusted server said pass or fail for the From domain
	DMARCPass = "pass" // a trusted server found the From domain aligned and authenticated
	DMARCFail = "fail" // a trusted server found it failing the domain's DMARC policy
)

// DMARCVerdict reads the Authentication-Results fields of a message (RFC 8601,
// given top to bottom as the header holds them) and returns what a trusted
// server said of DMARC for fromDomain: DMARCPass, DMARCFail or DMARCNone.
//
// Only a field whose authserv-id is in trusted counts, and of those only the
// topmost: the trusted server adds its own field above everything the sender
// wrote, and removes fields bearing its authserv-id from incoming mail (RFC
// 8601 §5), so a sender who forges one with that id can only put it below. A
// result naming another header.from domain than fromDomain does not count.
// Results other than pass and fail (none, neutral, temperror, permerror) vouch
// for nothing and accuse of nothing.
func DMARCVerdict(fields []string, trusted []string, fromDomain string) string {
	if len(trusted) == 0 {
		return DMARCNone
	}
	for _, f := range fields {
		id, results, err := authres.Parse(f)
		if !isTrusted(id, trusted) {
			continue
		}
		if err != nil {
			// The trusted server's own field is unreadable: it vouches for
			// nothing, and no field below it can stand in for it.
			return DMARCNone
		}
		for _, r := range results {
			d, ok := r.(*authres.DMARCResult)
			if !ok || (d.From != "" && !strings.EqualFold(d.From, fromDomain)) {
				continue
			}
			switch d.Value {
			case authres.ResultPass:
				return DMARCPass
			case authres.ResultFail:
				return DMARCFail
			}
		}
		return DMARCNone
	}
	return DMARCNone
}

func isTrusted(id string, trusted []string) bool {
	for _, t := range trusted {
		if id != "" && strings.EqualFold(id, t) {
			return true
		}
	}
	return false
}
