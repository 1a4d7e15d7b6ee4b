package mail

import (
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	l := NewRateLimit(2)
	t0 := time.Date(2026, 11, 24, 10, 5, 0, 0, time.UTC)
	for i, tc := range []struct {
		sender string
		at     time.Time
		want   bool
	}{
		{"a@x", t0, true},
		{"a@x", t0.Add(time.Minute), true},
		{"a@x", t0.Add(2 * time.Minute), false},
		{"b@x", t0.Add(3 * time.Minute), true}, // others are counted apart
		{"a@x", t0.Add(54 * time.Minute), false},
		{"a@x", t0.Add(56 * time.Minute), true}, // a new hour
	} {
		if got := l.Allow(tc.sender, tc.at); got != tc.want {
			t.Errorf("%d: allow(%s, %s) = %v, want %v", i, tc.sender, tc.at.Format("15:04"), got, tc.want)
		}
	}
	if !(&RateLimit{}).Allow("a@x", t0) {
		t.Error("a zero limit refused")
	}
}
