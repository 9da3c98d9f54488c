package store

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Status filters a list by completion.
type Status string

const (
	StatusAll       Status = "all"
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
)

// Statuses are the wire names of the status filter.
var Statuses = []string{string(StatusAll), string(StatusPending), string(StatusCompleted)}

// SortKey names the field a list is ordered by. Ties are broken by id, in the
// same direction, so every order is total and paging is stable.
type SortKey string

const (
	SortCreated  SortKey = "created"
	SortUpdated  SortKey = "updated"
	SortTitle    SortKey = "title" // by Unicode code point, case-sensitive
	SortID       SortKey = "id"
	SortDueDate  SortKey = "due_date" // tasks without a due date last, in either direction
	SortPriority SortKey = "priority" // high > medium > low > none
)

// SortKeys are the wire names of the sort keys; the API's parser and the
// OpenAPI enum derive from it.
var SortKeys = []string{string(SortCreated), string(SortUpdated), string(SortTitle), string(SortID), string(SortDueDate), string(SortPriority)}

// List paging bounds.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// ListQuery selects and orders one page of an owner's tasks. Filters
// combine with AND.
type ListQuery struct {
	Status     Status
	Priorities []Priority // any of them; empty: any priority
	Tags       []string   // FoldTag'd; every one of them
	Search     string     // FoldText'd; a substring of the title or the description
	DueBefore  *time.Time // due_date < DueBefore
	DueAfter   *time.Time // due_date >= DueAfter
	Overdue    *bool      // true: not completed and due before Now; false: the rest
	Now        time.Time  // the "now" of Overdue; set by the caller
	None       bool       // contradicting filters: nothing matches
	Sort       SortKey
	Desc       bool
	Limit      int // 1..MaxLimit
	Offset     int // >= 0
}

// DefaultQuery is the query of a list request without parameters: all tasks,
// newest first, the first DefaultLimit.
func DefaultQuery() ListQuery {
	return ListQuery{Status: StatusAll, Sort: SortCreated, Desc: true, Limit: DefaultLimit}
}

// DefaultDesc reports the default direction for a sort key: newest first for
// timestamps, highest first for priority, ascending otherwise.
func DefaultDesc(k SortKey) bool {
	return k == SortCreated || k == SortUpdated || k == SortPriority
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

// Match reports whether t passes every filter of q: the definition every
// store's plans must agree with (store/storetest checks them against it).
func (q *ListQuery) Match(t *Task) bool {
	if q.None || !q.Status.Matches(t.Completed) {
		return false
	}
	if len(q.Priorities) > 0 && !slices.Contains(q.Priorities, t.Priority) {
		return false
	}
	for _, want := range q.Tags {
		if !slices.ContainsFunc(t.Tags, func(tag string) bool { return FoldTag(tag) == want }) {
			return false
		}
	}
	if q.Search != "" && !strings.Contains(FoldText(t.Title), q.Search) &&
		(t.Description == nil || !strings.Contains(FoldText(*t.Description), q.Search)) {
		return false
	}
	return q.MatchDue(t.Completed, t.DueDate)
}

// MatchDue applies the due-date filters alone.
func (q *ListQuery) MatchDue(completed bool, due *time.Time) bool {
	if q.DueBefore != nil && (due == nil || !due.Before(*q.DueBefore)) {
		return false
	}
	if q.DueAfter != nil && (due == nil || due.Before(*q.DueAfter)) {
		return false
	}
	if q.Overdue != nil {
		overdue := !completed && due != nil && due.Before(q.Now)
		if overdue != *q.Overdue {
			return false
		}
	}
	return true
}

// Compare orders two tasks as q asks, ties by id in the same direction;
// tasks without a due date come last in either direction.
func (q *ListQuery) Compare(a, b *Task) int {
	if q.Sort == SortDueDate && (a.DueDate == nil) != (b.DueDate == nil) {
		if a.DueDate == nil {
			return 1
		}
		return -1
	}
	var c int
	switch q.Sort {
	case SortCreated:
		c = a.CreatedAt.Compare(b.CreatedAt)
	case SortUpdated:
		c = a.UpdatedAt.Compare(b.UpdatedAt)
	case SortTitle:
		c = strings.Compare(a.Title, b.Title)
	case SortDueDate:
		if a.DueDate != nil {
			c = a.DueDate.Compare(*b.DueDate)
		}
	case SortPriority:
		c = cmp.Compare(a.Priority, b.Priority)
	}
	return q.Order(c, a.ID, b.ID)
}

// Order finishes a comparison c by the sort key: ties break by id, and then
// the direction applies. A store that compares its own records ends with it,
// so that it orders exactly as Compare does.
func (q *ListQuery) Order(c int, aID, bID uint64) int {
	if c == 0 {
		c = cmp.Compare(aID, bID)
	}
	if q.Desc {
		return -c
	}
	return c
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

// PageEnd is offset+limit: how many matches a page needs in all.
func (q ListQuery) PageEnd() int {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	return max(q.Offset, 0) + limit
}
