package bolt

// SetPlanLimits makes the plans' thresholds tiny for a test and returns what
// puts them back.
func SetPlanLimits(small, budget int) (restore func()) {
	s, b := smallSet, walkBudget
	smallSet, walkBudget = small, budget
	return func() { smallSet, walkBudget = s, b }
}
