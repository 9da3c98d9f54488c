package store

import (
	"context"
	"strconv"
	"time"
)

// ChangeKind names an event of the change log (CONTRACT.md "Events").
type ChangeKind uint8

const (
	ChangeCreated  ChangeKind = 1 // task.created
	ChangeUpdated  ChangeKind = 2 // task.updated (toggles included)
	ChangeDeleted  ChangeKind = 3 // task.deleted
	ChangeReminder ChangeKind = 4 // task.reminder
	// ChangeReset is a bulk change (an import, a move-in): one entry for
	// all it loaded, not one per task. Readers refetch, as after a gap.
	ChangeReset ChangeKind = 5 // reset
)

// ResetData is a reset's event data: browsers drop an event without data.
var ResetData = []byte("{}")

// Event is the SSE event name of a kind.
func (k ChangeKind) Event() string {
	switch k {
	case ChangeCreated:
		return "task.created"
	case ChangeUpdated:
		return "task.updated"
	case ChangeDeleted:
		return "task.deleted"
	case ChangeReminder:
		return "task.reminder"
	case ChangeReset:
		return "reset"
	}
	return "unknown"
}

// Change is one entry of an owner's change log, written in the same
// transaction as the change it records.
type Change struct {
	Seq    uint64 // the owner's change sequence: 1, 2, 3, … in commit order
	Kind   ChangeKind
	TaskID uint64
	Data   []byte // the event's data: the task's JSON, {"id":N} for a deletion, {} for a reset
	At     time.Time
}

// Log retention: a change stays in the log while it is among the owner's
// last LogKeep changes or younger than LogMinAge.
const (
	LogKeep   = 1000
	LogMinAge = time.Hour
)

// Changelog is a store that keeps each owner's changes (every write path:
// the API, recurrence, reminders; an import logs one ChangeReset).
type Changelog interface {
	// Changes returns up to limit changes with a Seq above after, in order,
	// and the owner's last Seq. gap is true when changes after `after` have
	// left the log (or after is ahead of the log): the reader must refetch.
	Changes(ctx context.Context, owner string, after uint64, limit int) (changes []Change, last uint64, gap bool, err error)
	// Seq is the owner's last change sequence (0 before its first change).
	Seq(ctx context.Context, owner string) (uint64, error)
	// OnChange registers fn, called after each commit with the owner and its
	// new last Seq (owner "" means any owner may have changed: a listener
	// reconnected). fn must not block. Register before serving.
	OnChange(fn func(owner string, seq uint64))
}

// Reminders is a store that fires reminders: each task whose remind_at has
// passed while it is not completed gets one task.reminder change, exactly
// once, even with several replicas sweeping (a reminder that passed while no
// replica ran fires at the next sweep).
type Reminders interface {
	// FireReminders fires up to limit due reminders and returns how many.
	FireReminders(ctx context.Context, now time.Time, limit int) (int, error)
}

// SeqLister is an optional Changelog capability: List that also returns the
// owner's change sequence, read with the page (one round trip where that
// matters), for the list's ETag.
type SeqLister interface {
	ListWithSeq(ctx context.Context, owner string, q ListQuery) (tasks []Task, total int, seq uint64, err error)
}

// DeletedData is a deletion's event data.
func DeletedData(id uint64) []byte {
	return append(strconv.AppendUint([]byte(`{"id":`), id, 10), '}')
}
