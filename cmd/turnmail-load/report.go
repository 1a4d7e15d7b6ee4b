package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured. Its JSON (--json) is for scripts such as
// .ci/bench; durations are in milliseconds there.
type Report struct {
	Mode        string `json:"mode"`
	Addr        string `json:"addr"`
	Mails       int    `json:"mails"`
	Concurrency int    `json:"concurrency"`
	Bytes       int    `json:"bytes"` // of each mail's attachment, or of the first file

	Accepted int     `json:"accepted"`
	Failed   int     `json:"failed"`
	Seconds  float64 `json:"seconds"` // from the first timed mail to the last reply
	Rate     float64 `json:"rate"`    // accepted mails a second
	// Latency is of the SMTP transaction: the end of DATA to the 250.
	Latency Percentiles `json:"latency_ms"`
	// Failures counts the mails that failed by what ended them ("554
	// 5.7.1", "connection"), Retries the attempts that were tried again by
	// what they got.
	Failures map[string]int `json:"failures"`
	Retries  map[string]int `json:"retries"`
	// BDAT counts the accepted mails that went in one BDAT chunk (the
	// server offered CHUNKING, and --chunking was auto) rather than DATA.
	BDAT int `json:"bdat"`

	// Handoff is the delay from a mail's 250 to its handoff reaching the
	// sink or the outbox; nil when neither was watched.
	Handoff *HandoffReport `json:"handoff,omitempty"`
}

// HandoffReport is the delay from 250 to handoff.
type HandoffReport struct {
	Where       string      `json:"where"` // "sink" or "outbox"
	Seen        int         `json:"seen"`
	Missing     int         `json:"missing"`
	Unreadable  int         `json:"unreadable"` // gateway mail whose header could not be read
	Latency     Percentiles `json:"latency_ms"`
	FirstUnread string      `json:"first_unreadable,omitempty"`
}

// Percentiles of a set of durations, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value that at least p % of the values
// do not exceed, always one of the values. It is 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// percentiles sorts ds in place and summarises it.
func percentiles(ds []time.Duration) Percentiles {
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Percentiles{
		P50: ms(percentile(ds, 50)), P90: ms(percentile(ds, 90)),
		P99: ms(percentile(ds, 99)), Max: ms(percentile(ds, 100)),
	}
}

func (r *Report) writeJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func (r *Report) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s mails to %s, %d clients, %d-byte attachments\n", r.Mode, r.Addr, r.Concurrency, r.Bytes)
	fmt.Fprintf(&b, "  rate      %.1f mails/s (%d accepted, %d failed, in %.2f s)\n", r.Rate, r.Accepted, r.Failed, r.Seconds)
	if r.BDAT > 0 {
		fmt.Fprintf(&b, "  chunking  %d of the accepted mails went with BDAT\n", r.BDAT)
	}
	fmt.Fprintf(&b, "  latency   end of DATA → 250: %s\n", r.Latency)
	writeCounts(&b, "  failures  ", r.Failures)
	writeCounts(&b, "  retried   ", r.Retries)
	if h := r.Handoff; h != nil {
		fmt.Fprintf(&b, "  handoff   250 → handoff at the %s: %s (%d seen, %d missing)\n", h.Where, h.Latency, h.Seen, h.Missing)
		if h.Unreadable > 0 {
			fmt.Fprintf(&b, "  unreadable gateway mail: %d, the first: %s\n", h.Unreadable, h.FirstUnread)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p Percentiles) String() string {
	return fmt.Sprintf("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", p.P50, p.P90, p.P99, p.Max)
}

func writeCounts(b *strings.Builder, label string, counts map[string]int) {
	if len(counts) == 0 {
		return
	}
	b.WriteString(label)
	for i, k := range slices.Sorted(maps.Keys(counts)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s: %d", k, counts[k])
	}
	b.WriteString("\n")
}
