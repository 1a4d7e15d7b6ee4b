package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Millisecond)
		}
		return ds
	}
	oneTo := func(n int) []time.Duration {
		var ds []time.Duration
		for i := 1; i <= n; i++ {
			ds = append(ds, time.Duration(i)*time.Millisecond)
		}
		return ds
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one value is every percentile", ms(7), 1, 7 * time.Millisecond},
		{"one value, max", ms(7), 100, 7 * time.Millisecond},
		{"median of two is the lower", ms(1, 2), 50, time.Millisecond},
		{"median of ten", oneTo(10), 50, 5 * time.Millisecond},
		{"p90 of ten", oneTo(10), 90, 9 * time.Millisecond},
		{"p99 of ten is the max", oneTo(10), 99, 10 * time.Millisecond},
		{"p99 of 100", oneTo(100), 99, 99 * time.Millisecond},
		{"p99 of 1000", oneTo(1000), 99, 990 * time.Millisecond},
		{"p99 of 101 rounds up", oneTo(101), 99, 100 * time.Millisecond},
		{"max", oneTo(1000), 100, time.Second},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%d values, %g) = %s; want %s", tc.name, len(tc.sorted), tc.p, got, tc.want)
		}
	}
}

// percentiles sorts what it is given, and reports milliseconds.
func TestPercentilesUnsorted(t *testing.T) {
	got := percentiles([]time.Duration{30 * time.Millisecond, 1500 * time.Microsecond, 10 * time.Millisecond, 20 * time.Millisecond})
	want := Percentiles{P50: 10, P90: 30, P99: 30, Max: 30}
	if got != want {
		t.Errorf("percentiles = %+v; want %+v", got, want)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"4096": 4096, "200KB": 200_000, "100MiB": 100 << 20, "1MB": 1_000_000, "3KiB": 3072} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KB", "-1", "1GB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}
