package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// This file turns untrusted request bodies, query strings and path segments
// into store inputs, collecting every problem in pydantic v2's vocabulary so
// that a FastAPI frontend's error handling keeps working unchanged.

// decodeObject parses a JSON body that must be an object. A body that is
// empty or only whitespace is reported as missing unless optional is set, in
// which case it yields a nil map and no error.
func decodeObject(body []byte, optional bool) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil, nil
		}
		return nil, &ValidationError{[]Problem{{Type: "missing", Loc: []any{"body"}, Msg: "Field required", Input: nil}}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // echo numbers back exactly as sent
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonInvalid(body, err)
	}
	// Anything after the first value is as invalid as Python's json.loads finds it.
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, jsonProblem(len(body)-len(rest), "Extra data")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{[]Problem{{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: v}}}
	}
	return obj, nil
}

// jsonInvalid reports a syntax error at its byte offset, as FastAPI does.
func jsonInvalid(body []byte, err error) error {
	pos := len(body)
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 && se.Offset <= int64(len(body)) {
		pos = int(se.Offset) - 1
	}
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		pos, msg = len(body), "unexpected end of JSON input"
	}
	return jsonProblem(pos, msg)
}

func jsonProblem(pos int, msg string) error {
	return &ValidationError{[]Problem{{Type: "json_invalid", Loc: []any{"body", pos}, Msg: "JSON decode error",
		Input: map[string]any{}, Ctx: map[string]any{"error": msg}}}}
}

// problem places a store rule's problem at loc with the input it refused.
func problem(p *store.Problem, loc []any, input any) Problem {
	return Problem{Type: p.Type, Loc: loc, Msg: p.Msg, Input: input, Ctx: p.Ctx}
}

// fieldTitle validates a title: a string, trimmed, 1..MaxTitleLen code points.
func fieldTitle(ve *ValidationError, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		ve.add(stringType("title", v))
		return "", false
	}
	t, p := store.CleanTitle(s)
	if p != nil {
		ve.add(problem(p, []any{"body", "title"}, s))
		return "", false
	}
	return t, true
}

// fieldDescription validates a description: a string of at most
// MaxDescriptionLen code points, or null.
func fieldDescription(ve *ValidationError, v any) (*string, bool) {
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		ve.add(stringType("description", v))
		return nil, false
	}
	if p := store.CheckDescription(s); p != nil {
		ve.add(problem(p, []any{"body", "description"}, s))
		return nil, false
	}
	return &s, true
}

// fieldPriority validates a priority: one of store.Priorities.
func fieldPriority(ve *ValidationError, v any) (store.Priority, bool) {
	// pydantic answers literal_error for any value outside the literal
	// set, whatever its JSON type (3, true, {}): not string_type. A
	// non-string reads as "", which no literal is.
	s, _ := v.(string)
	p, prob := store.ParsePriority(s)
	if prob != nil {
		ve.add(problem(prob, []any{"body", "priority"}, v))
		return 0, false
	}
	return p, true
}

// fieldRecurrence validates a recurrence: one of store.Recurrences, or null.
func fieldRecurrence(ve *ValidationError, v any) (store.Recurrence, bool) {
	if v == nil {
		return store.RecurNone, true
	}
	s, _ := v.(string) // literal_error whatever the JSON type, as for priority
	r, prob := store.ParseRecurrence(s)
	if prob != nil {
		ve.add(problem(prob, []any{"body", "recurrence"}, v))
		return "", false
	}
	return r, true
}

// fieldTags validates a tag list: a list of at most MaxTags tags, each
// cleaned; duplicates by case collapse to the first spelling.
func fieldTags(ve *ValidationError, v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		ve.add(Problem{Type: "list_type", Loc: []any{"body", "tags"}, Msg: "Input should be a valid list", Input: v})
		return nil, false
	}
	tags := make([]string, 0, len(list))
	valid := true
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			ve.add(Problem{Type: "string_type", Loc: []any{"body", "tags", i}, Msg: "Input should be a valid string", Input: item})
			valid = false
			continue
		}
		t, p := store.CleanTag(s)
		if p != nil {
			ve.add(problem(p, []any{"body", "tags", i}, s))
			valid = false
			continue
		}
		tags = append(tags, t)
	}
	if !valid {
		return nil, false
	}
	tags = store.DedupTags(tags)
	if len(tags) > store.MaxTags {
		ve.add(problem(store.TooManyTags(len(tags)), []any{"body", "tags"}, v))
		return nil, false
	}
	return tags, true
}

// fieldDateTime validates a due date or a reminder time, or null.
func fieldDateTime(ve *ValidationError, field string, v any) (*time.Time, bool) {
	if v == nil {
		return nil, true
	}
	s, ok := v.(string)
	if !ok {
		ve.add(Problem{Type: "datetime_parsing", Loc: []any{"body", field}, Msg: "Input should be a valid datetime, input is not a string", Input: v, Ctx: map[string]any{"error": "input is not a string"}})
		return nil, false
	}
	t, p := store.ParseDateTime(s)
	if p != nil {
		ve.add(problem(p, []any{"body", field}, s))
		return nil, false
	}
	return &t, true
}

// fieldBool validates a boolean the way pydantic's lax mode does: true/false,
// 0/1, and the strings it accepts ("true", "yes", "on", "1", ...).
func fieldBool(ve *ValidationError, loc []any, v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		if b, ok := parseLaxBool(x); ok {
			return b, true
		}
		ve.add(boolParsing(loc, x))
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err == nil && (f == 0 || f == 1) {
			return f == 1, true
		}
		ve.add(boolParsing(loc, x))
	default:
		ve.add(Problem{Type: "bool_type", Loc: loc, Msg: "Input should be a valid boolean", Input: v})
	}
	return false, false
}

func parseLaxBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "on", "t", "true", "y", "yes":
		return true, true
	case "0", "off", "f", "false", "n", "no":
		return false, true
	}
	return false, false
}

func boolParsing(loc []any, input any) Problem {
	return Problem{Type: "bool_parsing", Loc: loc, Msg: "Input should be a valid boolean, unable to interpret input", Input: input}
}

func stringType(field string, v any) Problem {
	return Problem{Type: "string_type", Loc: []any{"body", field}, Msg: "Input should be a valid string", Input: v}
}

// parseCreate validates a TaskCreate body.
func parseCreate(body []byte) (store.NewTask, error) {
	obj, err := decodeObject(body, false)
	if err != nil {
		return store.NewTask{}, err
	}
	var (
		ve ValidationError
		in store.NewTask
	)
	if v, ok := obj["title"]; !ok {
		ve.add(Problem{Type: "missing", Loc: []any{"body", "title"}, Msg: "Field required", Input: obj})
	} else {
		in.Title, _ = fieldTitle(&ve, v)
	}
	if v, ok := obj["description"]; ok {
		in.Description, _ = fieldDescription(&ve, v)
	}
	if v, ok := obj["priority"]; ok {
		in.Priority, _ = fieldPriority(&ve, v)
	}
	if v, ok := obj["tags"]; ok {
		in.Tags, _ = fieldTags(&ve, v)
	}
	if v, ok := obj["due_date"]; ok {
		in.DueDate, _ = fieldDateTime(&ve, "due_date", v)
	}
	if v, ok := obj["recurrence"]; ok {
		in.Recurrence, _ = fieldRecurrence(&ve, v)
	}
	if v, ok := obj["remind_at"]; ok {
		in.RemindAt, _ = fieldDateTime(&ve, "remind_at", v)
	}
	return in, ve.err()
}

// parseUpdate validates a TaskUpdate body: every field optional, absent
// fields untouched, description may be null.
func parseUpdate(body []byte) (store.Patch, error) {
	obj, err := decodeObject(body, false)
	if err != nil {
		return store.Patch{}, err
	}
	var (
		ve ValidationError
		p  store.Patch
	)
	if v, ok := obj["title"]; ok {
		if t, ok := fieldTitle(&ve, v); ok {
			p.Title = &t
		}
	}
	if v, ok := obj["description"]; ok {
		p.Description, p.SetDescription = fieldDescription(&ve, v)
	}
	if v, ok := obj["completed"]; ok {
		if b, ok := fieldBool(&ve, []any{"body", "completed"}, v); ok {
			p.Completed = &b
		}
	}
	if v, ok := obj["priority"]; ok {
		if pr, ok := fieldPriority(&ve, v); ok {
			p.Priority = &pr
		}
	}
	if v, ok := obj["tags"]; ok {
		if tags, ok := fieldTags(&ve, v); ok {
			p.Tags = &tags
		}
	}
	if v, ok := obj["due_date"]; ok {
		p.DueDate, p.SetDueDate = fieldDateTime(&ve, "due_date", v)
	}
	if v, ok := obj["recurrence"]; ok {
		if r, ok := fieldRecurrence(&ve, v); ok {
			p.Recurrence = &r
		}
	}
	if v, ok := obj["remind_at"]; ok {
		p.RemindAt, p.SetRemindAt = fieldDateTime(&ve, "remind_at", v)
	}
	return p, ve.err()
}

// parseComplete validates the optional body of PATCH .../complete: none or
// {} toggles, {"completed": b} sets.
func parseComplete(body []byte) (store.Patch, error) {
	obj, err := decodeObject(body, true)
	if err != nil {
		return store.Patch{}, err
	}
	v, ok := obj["completed"]
	if !ok {
		return store.Patch{ToggleCompleted: true}, nil
	}
	var ve ValidationError
	b, _ := fieldBool(&ve, []any{"body", "completed"}, v)
	return store.Patch{Completed: &b}, ve.err()
}

// parseTaskID reads the {id} path segment. A segment that is not an integer
// is a 422; an integer that cannot be a task id (zero, negative, too large)
// names no task, so it is a 404 like any other missing task.
func parseTaskID(raw string) (uint64, error) {
	digits := strings.TrimLeft(raw, "+-")
	if len(raw)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, &ValidationError{[]Problem{{Type: "int_parsing", Loc: []any{"path", "id"},
			Msg: "Input should be a valid integer, unable to parse string as an integer", Input: raw}}}
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(raw, "+"), 10, 64)
	if err != nil || id == 0 {
		return 0, store.ErrNotFound
	}
	return id, nil
}

// queryArgs is what a list handler needs from the query string: every
// value of a parameter, in order; a function so that tests and handlers need
// not share Fiber types.
type queryArgs func(key string) []string

// last is a parameter's value when it counts by its last value, as in
// Starlette.
func last(arg queryArgs, key string) (string, bool) {
	vs := arg(key)
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// parseListQuery validates the list parameters of CONTRACT.md. status and
// completed are two spellings of one filter; given both, a task must pass
// both, so contradicting values (status=pending&completed=true) select
// nothing: q.None.
func parseListQuery(arg queryArgs, now time.Time) (q store.ListQuery, err error) {
	var ve ValidationError
	q = store.DefaultQuery()
	q.Now = now
	if v, ok := last(arg, "status"); ok {
		if s, ok := literal(&ve, "status", v, store.Statuses...); ok {
			q.Status = store.Status(s)
		}
	}
	if v, ok := last(arg, "completed"); ok {
		if b, ok := fieldBool(&ve, []any{"query", "completed"}, v); ok {
			want := store.StatusPending
			if b {
				want = store.StatusCompleted
			}
			q.None = q.Status != store.StatusAll && q.Status != want
			q.Status = want
		}
	}
	// priority: a comma list, or repeated: any of them.
	for _, v := range arg("priority") {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			pr, p := store.ParsePriority(name)
			if p != nil {
				ve.add(problem(p, []any{"query", "priority"}, name))
				continue
			}
			if !slices.Contains(q.Priorities, pr) {
				q.Priorities = append(q.Priorities, pr)
			}
		}
	}
	// tag, repeated: tasks having every one of them.
	for _, v := range arg("tag") {
		t, p := store.CleanTag(v)
		if p != nil {
			ve.add(problem(p, []any{"query", "tag"}, v))
			continue
		}
		if f := store.FoldTag(t); !slices.Contains(q.Tags, f) {
			q.Tags = append(q.Tags, f)
		}
	}
	for _, name := range []string{"search", "q"} { // q wins when both are given
		if v, ok := last(arg, name); ok {
			if p := store.CheckSearch(v); p != nil {
				ve.add(problem(p, []any{"query", name}, v))
				continue
			}
			q.Search = store.FoldText(v)
		}
	}
	for _, d := range []struct {
		name string
		dst  **time.Time
	}{{"due_before", &q.DueBefore}, {"due_after", &q.DueAfter}} {
		if v, ok := last(arg, d.name); ok {
			t, p := store.ParseDateTime(v)
			if p != nil {
				ve.add(problem(p, []any{"query", d.name}, v))
				continue
			}
			*d.dst = &t
		}
	}
	if v, ok := last(arg, "overdue"); ok {
		if b, ok := fieldBool(&ve, []any{"query", "overdue"}, v); ok {
			q.Overdue = &b
		}
	}
	if v, ok := last(arg, "sort"); ok {
		if s, ok := literal(&ve, "sort", v, store.SortKeys...); ok {
			q.Sort = store.SortKey(s)
		}
	}
	q.Desc = store.DefaultDesc(q.Sort)
	if v, ok := last(arg, "order"); ok {
		if s, ok := literal(&ve, "order", v, "asc", "desc"); ok {
			q.Desc = s == "desc"
		}
	}
	if v, ok := last(arg, "limit"); ok {
		if n, ok := boundedInt(&ve, "limit", v, 1, store.MaxLimit); ok {
			q.Limit = n
		}
	}
	if v, ok := last(arg, "offset"); ok {
		if n, ok := boundedInt(&ve, "offset", v, 0, -1); ok {
			q.Offset = n
		}
	}
	return q, ve.err()
}

func literal(ve *ValidationError, name, v string, allowed ...string) (string, bool) {
	if slices.Contains(allowed, v) {
		return v, true
	}
	ve.add(problem(store.LiteralProblem(allowed...), []any{"query", name}, v))
	return "", false
}

// boundedInt parses a query integer in [lo, hi] (hi < 0: no upper bound).
// Integers too large for an int are still integers: they fail the bound
// check, not the parse, as they do in Python.
func boundedInt(ve *ValidationError, name, v string, lo, hi int) (int, bool) {
	n, ok := new(big.Int).SetString(strings.TrimSpace(v), 10)
	if !ok {
		ve.add(Problem{Type: "int_parsing", Loc: []any{"query", name},
			Msg: "Input should be a valid integer, unable to parse string as an integer", Input: v})
		return 0, false
	}
	if n.Cmp(big.NewInt(int64(lo))) < 0 {
		ve.add(Problem{Type: "greater_than_equal", Loc: []any{"query", name},
			Msg: fmt.Sprintf("Input should be greater than or equal to %d", lo), Input: v, Ctx: map[string]any{"ge": lo}})
		return 0, false
	}
	if hi >= 0 && n.Cmp(big.NewInt(int64(hi))) > 0 {
		ve.add(Problem{Type: "less_than_equal", Loc: []any{"query", name},
			Msg: fmt.Sprintf("Input should be less than or equal to %d", hi), Input: v, Ctx: map[string]any{"le": hi}})
		return 0, false
	}
	if !n.IsInt64() || n.Int64() > int64(^uint32(0)>>1) {
		return int(^uint32(0) >> 1), true // an offset past any list: an empty page
	}
	return int(n.Int64()), true
}
