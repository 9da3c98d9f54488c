package store

import "time"

// New builds the task Create stores: id and timestamps from the store.
func (in NewTask) New(owner string, id uint64, now time.Time) Task {
	tags := in.Tags
	if tags == nil {
		tags = []string{}
	}
	return Task{ID: id, UserID: owner, Title: in.Title, Description: in.Description, Priority: in.Priority,
		Tags: tags, DueDate: in.DueDate, Recurrence: in.Recurrence, RemindAt: in.RemindAt,
		CreatedAt: now, UpdatedAt: now}
}

// Apply applies p to t at time now: every store's one way to change a task.
// updated_at moves to now, or a microsecond past its old value when the
// clock has not moved on. It reports whether the change completed a
// recurring task that must now spawn its next occurrence (see Recur).
func (t *Task) Apply(p Patch, now time.Time) (spawn bool) {
	wasCompleted := t.Completed
	if p.Title != nil {
		t.Title = *p.Title
	}
	if p.SetDescription {
		t.Description = p.Description
	}
	switch {
	case p.Completed != nil:
		t.Completed = *p.Completed
	case p.ToggleCompleted:
		t.Completed = !t.Completed
	}
	if p.Priority != nil {
		t.Priority = *p.Priority
	}
	if p.Tags != nil {
		t.Tags = append([]string{}, (*p.Tags)...)
	}
	if p.SetDueDate {
		t.DueDate = p.DueDate
	}
	if p.Recurrence != nil {
		t.Recurrence = *p.Recurrence
	}
	if p.SetRemindAt {
		t.RemindAt = p.RemindAt
	}
	floor := t.UpdatedAt.Add(time.Microsecond)
	t.UpdatedAt = now
	if t.UpdatedAt.Before(floor) {
		t.UpdatedAt = floor
	}
	if t.Completed && !wasCompleted && t.Recurrence != RecurNone && !t.Spawned {
		t.Spawned = true
		return true
	}
	return false
}

// Recur is the task that completing t at now creates: the same
// title, description, priority, tags and recurrence, not completed, due one
// period after its due date, then more whole periods until it is after now
// (from now when it had no due date), and reminded as long before that as t
// was. Months and years count from the due date and are clamped to the
// month's last day: Jan 31 + 1 month is Feb 28, + 2 months Mar 31. The
// caller gives it an id.
func (t Task) Recur(now time.Time) NewTask {
	base := now
	if t.DueDate != nil {
		base = *t.DueDate
	}
	next := nextAfter(base, t.Recurrence, now)
	in := NewTask{Title: t.Title, Description: t.Description, Priority: t.Priority,
		Tags: append([]string{}, t.Tags...), Recurrence: t.Recurrence, DueDate: &next}
	if t.RemindAt != nil {
		r := t.RemindAt.Add(next.Sub(base))
		in.RemindAt = &r
	}
	return in
}

// nextAfter is base moved on by the smallest number n >= 1 of periods that
// puts it after now.
func nextAfter(base time.Time, r Recurrence, now time.Time) time.Time {
	var step func(n int) time.Time
	var longest time.Duration // the longest a period can be
	switch r {
	case RecurDaily:
		step, longest = func(n int) time.Time { return base.AddDate(0, 0, n) }, 24*time.Hour
	case RecurWeekly:
		step, longest = func(n int) time.Time { return base.AddDate(0, 0, 7*n) }, 7*24*time.Hour
	case RecurMonthly:
		step, longest = func(n int) time.Time { return addMonths(base, n) }, 31*24*time.Hour
	case RecurYearly:
		step, longest = func(n int) time.Time { return addMonths(base, 12*n) }, 366*24*time.Hour
	default:
		return base
	}
	// n periods take at most n*longest, so this n is never past the answer:
	// a due date years ago costs a few steps, not one per period.
	n := max(1, int(now.Sub(base)/longest))
	for !step(n).After(now) {
		n++
	}
	return step(n)
}

// addMonths adds n months to t, clamping the day to the month's last day.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}
