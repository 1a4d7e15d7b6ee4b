package mail

import (
	"sync"
	"time"
)

// RateLimit counts messages per envelope sender in fixed one-hour
// windows, so that one sender, real or forged, cannot make the gateway do
// unbounded work or send unbounded notices (DESIGN §6). It lives in memory:
// a restart forgives, which is fine for a guard against floods.
type RateLimit struct {
	max int // per sender and hour; 0 or less: no limit

	mu     sync.Mutex
	window time.Time // start of the current hour
	counts map[string]int
}

// NewRateLimit returns a RateLimit of max messages per sender and hour; 0 or
// less means no limit.
func NewRateLimit(max int) *RateLimit { return &RateLimit{max: max} }

// Max is the limit per sender and hour.
func (l *RateLimit) Max() int { return l.max }

// Allow counts one message from sender at now and reports whether it is
// within the limit. A refused message is not counted.
func (l *RateLimit) Allow(sender string, now time.Time) bool {
	if l.max <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := now.Truncate(time.Hour); !w.Equal(l.window) {
		l.window, l.counts = w, make(map[string]int)
	}
	if l.counts[sender] >= l.max {
		return false
	}
	l.counts[sender]++
	return true
}
