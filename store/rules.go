package store

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The task rules of CONTRACT.md, shared by the API, the export format and
// every store, so that no two places can drift apart. Each check returns a
// *Problem in pydantic v2's vocabulary; the API adds where it was found.

// Problem is one rule a value broke: its pydantic error type, message and
// context. The API renders it with its location and input.
type Problem struct {
	Type string
	Msg  string
	Ctx  map[string]any
}

func (p *Problem) Error() string { return p.Msg }

// Priority orders tasks: PriorityNone < PriorityLow < PriorityMedium < PriorityHigh.
type Priority uint8

const (
	PriorityNone Priority = iota
	PriorityLow
	PriorityMedium
	PriorityHigh
)

// Priorities are the wire names, indexed by Priority.
var Priorities = []string{"none", "low", "medium", "high"}

func (p Priority) String() string {
	if int(p) < len(Priorities) {
		return Priorities[p]
	}
	return "none"
}

// ParsePriority reads a wire name.
func ParsePriority(s string) (Priority, *Problem) {
	for i, name := range Priorities {
		if s == name {
			return Priority(i), nil
		}
	}
	return 0, LiteralProblem(Priorities...)
}

// Recurrence is how often a task comes back once completed; "" is never.
type Recurrence string

const (
	RecurNone    Recurrence = ""
	RecurDaily   Recurrence = "daily"
	RecurWeekly  Recurrence = "weekly"
	RecurMonthly Recurrence = "monthly"
	RecurYearly  Recurrence = "yearly"
)

// Recurrences are the wire names of the recurrences other than none (null).
var Recurrences = []string{"daily", "weekly", "monthly", "yearly"}

// ParseRecurrence reads a wire name.
func ParseRecurrence(s string) (Recurrence, *Problem) {
	for _, name := range Recurrences {
		if s == name {
			return Recurrence(s), nil
		}
	}
	return "", LiteralProblem(Recurrences...)
}

// LiteralProblem is pydantic's literal_error for a value outside allowed.
func LiteralProblem(allowed ...string) *Problem {
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	expected := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return &Problem{Type: "literal_error", Msg: "Input should be " + expected, Ctx: map[string]any{"expected": expected}}
}

func tooShort(min int) *Problem {
	s := "s"
	if min == 1 {
		s = ""
	}
	return &Problem{Type: "string_too_short", Msg: fmt.Sprintf("String should have at least %d character%s", min, s), Ctx: map[string]any{"min_length": min}}
}

func tooLong(max int) *Problem {
	return &Problem{Type: "string_too_long", Msg: fmt.Sprintf("String should have at most %d characters", max), Ctx: map[string]any{"max_length": max}}
}

// CleanChatMessage trims a chat message and checks its length.
func CleanChatMessage(s string) (string, *Problem) { return trimmed(s, MaxChatMessage) }

// CleanTitle trims a title and checks its length.
func CleanTitle(s string) (string, *Problem) { return trimmed(s, MaxTitleLen) }

// trimmed trims s and checks that 1..max characters are left.
func trimmed(s string, max int) (string, *Problem) {
	t := strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(t); {
	case n < 1:
		return "", tooShort(1)
	case n > max:
		return "", tooLong(max)
	}
	return t, nil
}

// CheckDescription checks a description's length.
func CheckDescription(s string) *Problem { return atMost(s, MaxDescriptionLen) }

// CheckSearch checks a search's length.
func CheckSearch(s string) *Problem { return atMost(s, MaxSearchLen) }

func atMost(s string, max int) *Problem {
	if utf8.RuneCountInString(s) > max {
		return tooLong(max)
	}
	return nil
}

// CleanTag trims a tag and checks it: 1–MaxTagLen characters, no control
// characters and no comma (so a comma list in a query stays unambiguous).
func CleanTag(s string) (string, *Problem) {
	t, p := trimmed(s, MaxTagLen)
	if p != nil {
		return "", p
	}
	if strings.ContainsFunc(t, func(r rune) bool { return r == ',' || unicode.IsControl(r) }) {
		return "", &Problem{Type: "string_pattern_mismatch", Msg: "String should match pattern '^[^,\\x00-\\x1f\\x7f-\\x9f]+$'",
			Ctx: map[string]any{"pattern": "^[^,\\x00-\\x1f\\x7f-\\x9f]+$"}}
	}
	return t, nil
}

// TooManyTags is pydantic's too_long for a tag list over MaxTags.
func TooManyTags(n int) *Problem {
	return &Problem{Type: "too_long", Msg: fmt.Sprintf("List should have at most %d items after validation, not %d", MaxTags, n),
		Ctx: map[string]any{"field_type": "List", "max_length": MaxTags, "actual_length": n}}
}

// DedupTags drops tags equal, by FoldTag, to an earlier one: the first
// spelling wins and the order is kept. The result is never nil.
func DedupTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		f := FoldTag(t)
		if !seen[f] {
			seen[f] = true
			out = append(out, t)
		}
	}
	return out
}

// FoldTag is the form tags are compared in: each character replaced by the
// smallest of its Unicode simple case folding orbit, so "Errands",
// "ERRANDS" and "errands" are one tag (and K, k and the Kelvin sign).
func FoldTag(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf { // ASCII: the smallest of {X, x} (and of k's, s's orbits) is the capital
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r))
			continue
		}
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// FoldText is the case-insensitive form of a search and of what it searches.
func FoldText(s string) string { return FoldTag(s) }

// ParseDateTime reads a due date or reminder time: RFC 3339 with Z or an
// offset; a date-time without an offset is UTC; a date alone is that day at
// 00:00 UTC. The result is UTC at microsecond precision.
func ParseDateTime(s string) (time.Time, *Problem) {
	bad := func(why string) (time.Time, *Problem) {
		return time.Time{}, &Problem{Type: "datetime_parsing", Msg: "Input should be a valid datetime, " + why, Ctx: map[string]any{"error": why}}
	}
	if len(s) == len("2006-01-02") {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad("invalid date")
		}
		return t, nil
	}
	if len(s) < len("2006-01-02T15:04") {
		return bad("input is too short")
	}
	if s[10] == ' ' || s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	if n := len(s); s[n-1] == 'z' {
		s = s[:n-1] + "Z"
	}
	var t time.Time
	var err error
	if hasOffset(s) {
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil && len(s) >= 16 && strings.Count(s[10:], ":") >= 1 {
			t, err = time.Parse("2006-01-02T15:04Z07:00", s)
		}
	} else {
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
		if err != nil {
			t, err = time.ParseInLocation("2006-01-02T15:04", s, time.UTC)
		}
	}
	if err != nil {
		return bad("invalid character or value in date-time")
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// hasOffset reports whether a date-time ends in Z or ±hh:mm.
func hasOffset(s string) bool {
	if strings.HasSuffix(s, "Z") {
		return true
	}
	if n := len(s); n > 16 && (s[n-6] == '+' || s[n-6] == '-') && s[n-3] == ':' {
		return true
	}
	return false
}

// ValidUserIDProblem explains an invalid owner id in pydantic's words.
func ValidUserIDProblem() *Problem {
	return &Problem{Type: "string_pattern_mismatch", Msg: "String should be 1-128 visible ASCII characters without '/'"}
}
