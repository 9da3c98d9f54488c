package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is the wire form of timestamps: RFC 3339 in UTC with exactly six
// fractional digits and a literal Z, so string order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// AppendJSON appends the task's wire encoding to dst. It is hand-written
// because it runs for every task of every response, and because the exact
// field order and timestamp form are part of the contract.
func (t *Task) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, t.ID, 10)
	dst = append(dst, `,"user_id":`...)
	dst = appendJSONString(dst, t.UserID)
	dst = append(dst, `,"title":`...)
	dst = appendJSONString(dst, t.Title)
	dst = append(dst, `,"description":`...)
	if t.Description == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, *t.Description)
	}
	dst = append(dst, `,"completed":`...)
	dst = strconv.AppendBool(dst, t.Completed)
	dst = append(dst, `,"priority":"`...)
	dst = append(dst, t.Priority.String()...)
	dst = append(dst, `","tags":[`...)
	for i, tag := range t.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, tag)
	}
	dst = append(dst, `],"due_date":`...)
	dst = appendTime(dst, t.DueDate)
	dst = append(dst, `,"recurrence":`...)
	if t.Recurrence == RecurNone {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, string(t.Recurrence))
	}
	dst = append(dst, `,"remind_at":`...)
	dst = appendTime(dst, t.RemindAt)
	dst = append(dst, `,"created_at":"`...)
	dst = t.CreatedAt.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","updated_at":"`...)
	dst = t.UpdatedAt.UTC().AppendFormat(dst, TimeLayout)
	return append(dst, `"}`...)
}

func appendTime(dst []byte, t *time.Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, TimeLayout)
	return append(dst, '"')
}

// AppendTasksJSON appends tasks as a JSON array (never null).
func AppendTasksJSON(dst []byte, tasks []Task) []byte {
	dst = append(dst, '[')
	for i := range tasks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = tasks[i].AppendJSON(dst)
	}
	return append(dst, ']')
}

// MarshalJSON implements json.Marshaler with the wire encoding.
func (t Task) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// UnmarshalJSON reads the wire encoding back, for stores and test clients.
func (t *Task) UnmarshalJSON(b []byte) error {
	var w struct {
		ID          uint64   `json:"id"`
		UserID      string   `json:"user_id"`
		Title       string   `json:"title"`
		Description *string  `json:"description"`
		Completed   bool     `json:"completed"`
		Priority    string   `json:"priority"`
		Tags        []string `json:"tags"`
		DueDate     *string  `json:"due_date"`
		Recurrence  *string  `json:"recurrence"`
		RemindAt    *string  `json:"remind_at"`
		CreatedAt   string   `json:"created_at"`
		UpdatedAt   string   `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var prio Priority
	if w.Priority != "" {
		var p *Problem
		if prio, p = ParsePriority(w.Priority); p != nil {
			return fmt.Errorf("priority: %w", p)
		}
	}
	var rec Recurrence
	if w.Recurrence != nil {
		rec = Recurrence(*w.Recurrence)
	}
	due, err := parseOptionalTime(w.DueDate)
	if err != nil {
		return fmt.Errorf("due_date: %w", err)
	}
	remind, err := parseOptionalTime(w.RemindAt)
	if err != nil {
		return fmt.Errorf("remind_at: %w", err)
	}
	if w.Tags == nil {
		w.Tags = []string{}
	}
	created, err := time.Parse(TimeLayout, w.CreatedAt)
	if err != nil {
		return fmt.Errorf("created_at: %w", err)
	}
	updated, err := time.Parse(TimeLayout, w.UpdatedAt)
	if err != nil {
		return fmt.Errorf("updated_at: %w", err)
	}
	*t = Task{ID: w.ID, UserID: w.UserID, Title: w.Title, Description: w.Description, Completed: w.Completed,
		Priority: prio, Tags: w.Tags, DueDate: due, Recurrence: rec, RemindAt: remind, CreatedAt: created, UpdatedAt: updated}
	return nil
}

func parseOptionalTime(s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(TimeLayout, *s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Control characters, quote and
// backslash are escaped, as are U+2028 and U+2029 (line terminators to
// JavaScript); invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
