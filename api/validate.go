package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"taskbolt/store"
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

// fieldTitle validates a title: a string, trimmed, 1..MaxTitleLen code points.
func fieldTitle(ve *ValidationError, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		ve.add(stringType("title", v))
		return "", false
	}
	t := strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(t); {
	case n < 1:
		ve.add(Problem{Type: "string_too_short", Loc: []any{"body", "title"}, Msg: "String should have at least 1 character",
			Input: s, Ctx: map[string]any{"min_length": 1}})
		return "", false
	case n > store.MaxTitleLen:
		ve.add(tooLong("title", s, store.MaxTitleLen))
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
	if utf8.RuneCountInString(s) > store.MaxDescriptionLen {
		ve.add(tooLong("description", s, store.MaxDescriptionLen))
		return nil, false
	}
	return &s, true
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

func tooLong(field, s string, max int) Problem {
	return Problem{Type: "string_too_long", Loc: []any{"body", field},
		Msg: fmt.Sprintf("String should have at most %d characters", max), Input: s, Ctx: map[string]any{"max_length": max}}
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

// queryArgs is what a list handler needs from the query string; a function
// so that tests and handlers need not share Fiber types.
type queryArgs func(key string) (value string, present bool)

// parseListQuery validates the list parameters of CONTRACT.md. status and
// completed are two spellings of one filter; given both, a task must pass
// both, so contradicting values (status=pending&completed=true) select
// nothing and none is true.
func parseListQuery(arg queryArgs) (q store.ListQuery, none bool, err error) {
	var ve ValidationError
	q = store.DefaultQuery()
	if v, ok := arg("status"); ok {
		if s, ok := literal(&ve, "status", v, "all", "pending", "completed"); ok {
			q.Status = store.Status(s)
		}
	}
	if v, ok := arg("completed"); ok {
		if b, ok := fieldBool(&ve, []any{"query", "completed"}, v); ok {
			want := store.StatusPending
			if b {
				want = store.StatusCompleted
			}
			none = q.Status != store.StatusAll && q.Status != want
			q.Status = want
		}
	}
	if v, ok := arg("sort"); ok {
		if s, ok := literal(&ve, "sort", v, "created", "updated", "title", "id"); ok {
			q.Sort = store.SortKey(s)
		}
	}
	q.Desc = store.DefaultDesc(q.Sort)
	if v, ok := arg("order"); ok {
		if s, ok := literal(&ve, "order", v, "asc", "desc"); ok {
			q.Desc = s == "desc"
		}
	}
	if v, ok := arg("limit"); ok {
		if n, ok := boundedInt(&ve, "limit", v, 1, store.MaxLimit); ok {
			q.Limit = n
		}
	}
	if v, ok := arg("offset"); ok {
		if n, ok := boundedInt(&ve, "offset", v, 0, -1); ok {
			q.Offset = n
		}
	}
	return q, none, ve.err()
}

func literal(ve *ValidationError, name, v string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if v == a {
			return v, true
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	expected := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	ve.add(Problem{Type: "literal_error", Loc: []any{"query", name}, Msg: "Input should be " + expected,
		Input: v, Ctx: map[string]any{"expected": expected}})
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
