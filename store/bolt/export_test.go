package bolt

import (
	"testing"
	"time"
)

// SetPlanLimits makes the plans' thresholds tiny for a test and returns what
// puts them back.
func SetPlanLimits(small, budget int) (restore func()) {
	s, b := smallSet, walkBudget
	smallSet, walkBudget = small, budget
	return func() { smallSet, walkBudget = s, b }
}

// SetLogClock moves the change log's clock until the test ends.
func SetLogClock(tb testing.TB, now func() time.Time) {
	old := logClock
	logClock = now
	tb.Cleanup(func() { logClock = old })
}
