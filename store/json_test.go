package store_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskbolt/taskbolt/store"
)

func sample(title string) store.Task {
	d := title
	ts := time.Date(2026, 11, 30, 8, 51, 42, 120000000, time.UTC)
	return store.Task{ID: 17, UserID: "hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa", Title: title, Description: &d,
		CreatedAt: ts, UpdatedAt: ts.Add(time.Microsecond)}
}

func TestAppendJSON(t *testing.T) {
	task := sample("Buy milk")
	want := `{"id":17,"user_id":"hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa","title":"Buy milk","description":"Buy milk","completed":false,` +
		`"priority":"none","tags":[],"due_date":null,"recurrence":null,"remind_at":null,` +
		`"created_at":"2026-11-30T08:51:42.120000Z","updated_at":"2026-11-30T08:51:42.120001Z"}`
	if got := string(task.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	due := time.Date(2026, 12, 24, 17, 0, 0, 0, time.UTC)
	remind := due.Add(-time.Hour)
	full := task
	full.Priority, full.Tags, full.DueDate, full.Recurrence, full.RemindAt = store.PriorityHigh, []string{"home", "err\"ands"}, &due, store.RecurWeekly, &remind
	want = `{"id":17,"user_id":"hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa","title":"Buy milk","description":"Buy milk","completed":false,` +
		`"priority":"high","tags":["home","err\"ands"],"due_date":"2026-12-24T17:00:00.000000Z","recurrence":"weekly","remind_at":"2026-12-24T16:00:00.000000Z",` +
		`"created_at":"2026-11-30T08:51:42.120000Z","updated_at":"2026-11-30T08:51:42.120001Z"}`
	if got := string(full.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var back store.Task
	if err := json.Unmarshal([]byte(want), &back); err != nil || back.Priority != store.PriorityHigh || len(back.Tags) != 2 ||
		!back.DueDate.Equal(due) || back.Recurrence != store.RecurWeekly || !back.RemindAt.Equal(remind) {
		t.Errorf("round trip: %+v %v", back, err)
	}
	task.Description = nil
	if got := string(task.AppendJSON(nil)); !strings.Contains(got, `"description":null`) {
		t.Errorf("nil description: %s", got)
	}
	if got := string(store.AppendTasksJSON(nil, nil)); got != "[]" {
		t.Errorf("no tasks = %s, want []", got)
	}
	local := sample("x")
	local.CreatedAt = local.CreatedAt.In(time.FixedZone("X", 3600))
	if got := string(local.AppendJSON(nil)); !strings.Contains(got, `"created_at":"2026-11-30T08:51:42.120000Z"`) {
		t.Errorf("non-UTC time not converted: %s", got)
	}
}

// FuzzAppendJSON checks the hand-written encoder against encoding/json: the
// output always parses, and a valid UTF-8 title comes back unchanged.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "\x00\x1f\x7f", "\u2028\u2029", "🧑‍🚀", "\xff\xfe", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		task := sample(title)
		b := task.AppendJSON(nil)
		var back store.Task
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("output %q does not parse: %v", b, err)
		}
		if utf8.ValidString(title) && (back.Title != title || *back.Description != title) {
			t.Fatalf("round trip %q -> %q", title, back.Title)
		}
		if !back.CreatedAt.Equal(task.CreatedAt) || back.ID != task.ID {
			t.Fatalf("fields changed: %+v", back)
		}
	})
}

func TestValidUserID(t *testing.T) {
	for _, ok := range []string{"a", "hV2pX0yq8wQm3nZr7tLk4sBc9dFg1jEa", "550e8400-e29b-41d4-a716-446655440000", "~!@#$%^&*()", strings.Repeat("x", 128)} {
		if !store.ValidUserID(ok) {
			t.Errorf("ValidUserID(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a/b", "a b", " a", "a\n", "\x00", "é", strings.Repeat("x", 129), "\x7f"} {
		if store.ValidUserID(bad) {
			t.Errorf("ValidUserID(%q) = true", bad)
		}
	}
}
