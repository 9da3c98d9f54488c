package store_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskbolt/taskbolt/store"
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRecur(t *testing.T) {
	at := func(s string) *time.Time { d := date(s); return &d }
	cases := []struct {
		name       string
		rec        store.Recurrence
		due        *time.Time
		now        string
		want       string
		remindWant string
	}{
		{"DailyFromDue", store.RecurDaily, at("2026-12-24T17:00:00Z"), "2026-12-20T09:00:00Z", "2026-12-25T17:00:00Z", ""},
		{"DailyCatchesUp", store.RecurDaily, at("2026-12-01T08:00:00Z"), "2026-12-10T09:00:00Z", "2026-12-11T08:00:00Z", ""},
		{"DailyExactlyNowIsNotAfter", store.RecurDaily, at("2026-12-01T08:00:00Z"), "2026-12-02T08:00:00Z", "2026-12-03T08:00:00Z", ""},
		{"Weekly", store.RecurWeekly, at("2026-12-24T17:00:00Z"), "2026-12-20T09:00:00Z", "2026-12-31T17:00:00Z", ""},
		{"WeeklyYearsLate", store.RecurWeekly, at("2020-01-06T10:00:00Z"), "2026-12-01T00:00:00Z", "2026-12-07T10:00:00Z", ""},
		{"MonthEndClamps", store.RecurMonthly, at("2027-01-31T12:00:00Z"), "2027-01-15T00:00:00Z", "2027-02-28T12:00:00Z", ""},
		{"MonthEndLeapYear", store.RecurMonthly, at("2028-01-31T12:00:00Z"), "2028-01-15T00:00:00Z", "2028-02-29T12:00:00Z", ""},
		{"MonthsCountFromTheDueDate", store.RecurMonthly, at("2027-01-31T12:00:00Z"), "2027-03-01T00:00:00Z", "2027-03-31T12:00:00Z", ""},
		{"MonthlyDecemberToJanuary", store.RecurMonthly, at("2026-12-15T00:00:00Z"), "2026-12-01T00:00:00Z", "2027-01-15T00:00:00Z", ""},
		{"MonthlyYearsLate", store.RecurMonthly, at("2016-05-31T00:00:00Z"), "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z", ""},
		{"YearlyLeapDay", store.RecurYearly, at("2028-02-29T09:00:00Z"), "2028-01-01T00:00:00Z", "2029-02-28T09:00:00Z", ""},
		{"YearlyLeapDayToLeapDay", store.RecurYearly, at("2028-02-29T09:00:00Z"), "2031-06-01T00:00:00Z", "2032-02-29T09:00:00Z", ""},
		{"NoDueDateCountsFromCompletion", store.RecurWeekly, nil, "2026-12-01T10:00:00Z", "2026-12-08T10:00:00Z", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			task := store.Task{Title: "x", Recurrence: c.rec, DueDate: c.due, Priority: store.PriorityHigh, Tags: []string{"a"}}
			next := task.Recur(date(c.now))
			if next.DueDate == nil || !next.DueDate.Equal(date(c.want)) {
				t.Errorf("next due %v, want %s", next.DueDate, c.want)
			}
			if next.Title != "x" || next.Priority != store.PriorityHigh || next.Recurrence != c.rec || len(next.Tags) != 1 {
				t.Errorf("next = %+v", next)
			}
		})
	}
	t.Run("RemindKeepsItsDistance", func(t *testing.T) {
		due, remind := date("2027-01-31T12:00:00Z"), date("2027-01-31T11:30:00Z")
		next := store.Task{Recurrence: store.RecurMonthly, DueDate: &due, RemindAt: &remind}.Recur(date("2027-01-15T00:00:00Z"))
		if !next.RemindAt.Equal(date("2027-02-28T11:30:00Z")) {
			t.Errorf("remind %v", next.RemindAt)
		}
	})
}

func TestApplySpawnsOnce(t *testing.T) {
	now := date("2026-12-01T10:00:00Z")
	task := store.Task{Recurrence: store.RecurDaily, UpdatedAt: now}
	yes, no := true, false
	if !task.Apply(store.Patch{Completed: &yes}, now) || !task.Spawned {
		t.Fatal("completing a recurring task must spawn")
	}
	task.Apply(store.Patch{Completed: &no}, now)
	if task.Apply(store.Patch{ToggleCompleted: true}, now) {
		t.Error("completing again after un-completing spawned again")
	}
	if !task.UpdatedAt.After(now) {
		t.Error("updated_at did not move past a frozen clock")
	}
	plain := store.Task{}
	if plain.Apply(store.Patch{Completed: &yes}, now) {
		t.Error("a task without recurrence spawned")
	}
}

func TestParseDateTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-12-24":                       "2026-12-24T00:00:00Z",
		"2026-12-24T17:00:00Z":             "2026-12-24T17:00:00Z",
		"2026-12-24T17:00:00.1234567Z":     "2026-12-24T17:00:00.123456Z",
		"2026-12-24T17:00:00+02:00":        "2026-12-24T15:00:00Z",
		"2026-12-24T17:00:00-05:30":        "2026-12-24T22:30:00Z",
		"2026-12-24T17:00:00":              "2026-12-24T17:00:00Z",
		"2026-12-24T17:00":                 "2026-12-24T17:00:00Z",
		"2026-12-24 17:00:00":              "2026-12-24T17:00:00Z",
		"2026-12-24t17:00:00z":             "2026-12-24T17:00:00Z",
		"2026-12-24T17:00:00.000001+00:00": "2026-12-24T17:00:00.000001Z",
	} {
		got, p := store.ParseDateTime(in)
		if p != nil || !got.Equal(date(want)) || got.Location() != time.UTC {
			t.Errorf("%q -> %v %v, want %s", in, got, p, want)
		}
	}
	for _, in := range []string{"", "tomorrow", "2026-13-01", "2026-02-30", "2026-12-24T25:00:00Z", "2026-12-24T17:00:00+25:00", "12/24/2026", "2026-12-24T17", "2026-12-24T17:00:00ZZ"} {
		if _, p := store.ParseDateTime(in); p == nil || p.Type != "datetime_parsing" {
			t.Errorf("%q: %v, want datetime_parsing", in, p)
		}
	}
}

func TestTagRules(t *testing.T) {
	for in, want := range map[string]string{" home ": "home", "Éclair": "Éclair", strings.Repeat("x", 50): strings.Repeat("x", 50)} {
		if got, p := store.CleanTag(in); p != nil || got != want {
			t.Errorf("%q -> %q %v", in, got, p)
		}
	}
	for in, typ := range map[string]string{"": "string_too_short", "   ": "string_too_short", strings.Repeat("x", 51): "string_too_long",
		"a,b": "string_pattern_mismatch", "a\nb": "string_pattern_mismatch", "a\x00": "string_pattern_mismatch", "a\u0085b": "string_pattern_mismatch"} {
		if _, p := store.CleanTag(in); p == nil || p.Type != typ {
			t.Errorf("%q: %v, want %s", in, p, typ)
		}
	}
	if got := store.DedupTags([]string{"Home", "work", "HOME", "home", "Work", "k", "\u212a"}); strings.Join(got, "|") != "Home|work|k" {
		t.Errorf("dedup = %q (the Kelvin sign folds to k)", got)
	}
	if store.FoldTag("ΣΑΣ") != store.FoldTag("σας") {
		t.Error("Greek sigma forms do not fold together")
	}
}

// FuzzParseDateTime: any input is refused with datetime_parsing or read as
// a UTC time at microsecond precision that prints and parses back the same.
func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"2026-12-24", "2026-12-24T17:00:00Z", "2026-12-24T17:00:00.1234567+05:30", "2026-12-24 17:00", "0000-01-01", "9999-12-31T23:59:59.999999Z", "2026-12-24T17:00:00-00:00z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, p := store.ParseDateTime(s)
		if p != nil {
			if p.Type != "datetime_parsing" {
				t.Fatalf("%q: problem type %q", s, p.Type)
			}
			return
		}
		if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
			t.Fatalf("%q -> %v: not UTC at microseconds", s, got)
		}
		back, err := time.Parse(store.TimeLayout, got.Format(store.TimeLayout))
		if err == nil && !back.Equal(got) {
			t.Fatalf("%q -> %v prints as %s", s, got, got.Format(store.TimeLayout))
		}
	})
}

// FuzzTag: a cleaned tag is trimmed, 1-50 characters, without commas or
// control characters; folding is idempotent and ignores case.
func FuzzTag(f *testing.F) {
	for _, s := range []string{"home", " Work ", "a,b", "\x00", "ΣΑΣ", "\u212a", strings.Repeat("é", 51)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clean, p := store.CleanTag(s)
		if p == nil {
			if clean != strings.TrimSpace(clean) || strings.ContainsAny(clean, ",\x00\n") || clean == "" || len([]rune(clean)) > store.MaxTagLen {
				t.Fatalf("%q cleaned to %q", s, clean)
			}
		}
		f1 := store.FoldTag(s)
		if store.FoldTag(f1) != f1 {
			t.Fatalf("folding %q is not idempotent: %q, then %q", s, f1, store.FoldTag(f1))
		}
		if isASCII(s) && store.FoldTag(strings.ToUpper(s)) != store.FoldTag(strings.ToLower(s)) {
			t.Fatalf("%q: upper and lower case fold apart", s)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
