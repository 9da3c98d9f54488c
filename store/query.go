package store

// Status filters a list by completion.
type Status string

const (
	StatusAll       Status = "all"
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
)

// SortKey names the field a list is ordered by. Ties are broken by id, in the
// same direction, so every order is total and paging is stable.
type SortKey string

const (
	SortCreated SortKey = "created"
	SortUpdated SortKey = "updated"
	SortTitle   SortKey = "title" // by Unicode code point, case-sensitive
	SortID      SortKey = "id"
)

// List paging bounds.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// ListQuery selects and orders one page of an owner's tasks.
type ListQuery struct {
	Status Status
	Sort   SortKey
	Desc   bool
	Limit  int // 1..MaxLimit
	Offset int // >= 0
}

// DefaultQuery is the query of a list request without parameters: all tasks,
// newest first, the first DefaultLimit.
func DefaultQuery() ListQuery {
	return ListQuery{Status: StatusAll, Sort: SortCreated, Desc: true, Limit: DefaultLimit}
}

// DefaultDesc reports the default direction for a sort key: newest first for
// timestamps, ascending otherwise.
func DefaultDesc(k SortKey) bool {
	return k == SortCreated || k == SortUpdated
}

// Matches reports whether a task with the given completion passes the filter.
func (s Status) Matches(completed bool) bool {
	switch s {
	case StatusPending:
		return !completed
	case StatusCompleted:
		return completed
	default:
		return true
	}
}

// Page applies offset and limit to n matching items and returns the index
// range [lo, hi) to serve.
func (q ListQuery) Page(n int) (lo, hi int) {
	lo = min(max(q.Offset, 0), n)
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	return lo, min(lo+limit, n)
}
