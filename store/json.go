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
	dst = AppendTimestamp(dst, t.CreatedAt)
	dst = append(dst, `","updated_at":"`...)
	dst = AppendTimestamp(dst, t.UpdatedAt)
	return append(dst, `"}`...)
}

func appendTime(dst []byte, t *time.Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = AppendTimestamp(dst, *t)
	return append(dst, '"')
}

// AppendTimestamp appends t in TimeLayout, as t.UTC().AppendFormat does. It
// is written out because a list formats two to four timestamps a task, and
// AppendFormat, which reads its layout on every call, took twice as long.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	us := t.UnixMicro()
	if us < 0 || us >= year10000 {
		return t.UTC().AppendFormat(dst, TimeLayout)
	}
	const dayMicros = 86400 * 1_000_000
	year, month, day := civilDate(uint64(us) / dayMicros)
	inDay := uint64(us) % dayMicros
	sec, frac := inDay/1_000_000, inDay%1_000_000
	n := len(dst)
	dst = append(dst, "0000-00-00T00:00:00.000000Z"...)
	b := dst[n:]
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	put2(b[5:], month)
	put2(b[8:], day)
	put2(b[11:], sec/3600)
	put2(b[14:], sec/60%60)
	put2(b[17:], sec%60)
	put2(b[20:], frac/10000)
	put2(b[22:], frac/100%100)
	put2(b[24:], frac%100)
	return dst
}

// year10000 is 10000-01-01T00:00:00Z in Unix microseconds: AppendTimestamp
// writes four-digit years itself and leaves the rest to AppendFormat.
const year10000 = 253402300800 * 1_000_000

// put2 writes n (below 100) as two decimal digits.
func put2(b []byte, n uint64) { b[0], b[1] = byte('0'+n/10), byte('0'+n%10) }

// civilDate converts days since 1970-01-01 to a proleptic Gregorian date, by
// Howard Hinnant's days-to-civil algorithm.
func civilDate(days uint64) (year, month, day uint64) {
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	doe := z - era*146097                                  // day of the 400-year era
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year, from March 1
	mp := (5*doy + 2) / 153                                // month, March = 0
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
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

// plainPrefix is the length of s's leading run of bytes that a JSON string
// holds as they are (printable ASCII but '"' and '\\'), rounded down to 8:
// it tests 8 bytes at a time, and most text is all of them.
func plainPrefix(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q, b := x^(ones*'"'), x^(ones*'\\')
		// (v-ones)&^v has a byte's high bit set when some byte of v is 0,
		// and (x-ones*0x20)&^x when some byte of x is below 0x20 (Hacker's
		// Delight 6-1; a borrow may mark a later byte too, which only ends
		// the run early). q and b are zero where x has a quote or a
		// backslash, and x itself marks bytes past ASCII.
		if ((x-ones*0x20)&^x|(q-ones)&^q|(b-ones)&^b|x)&highs != 0 {
			break
		}
	}
	return i
}

// appendJSONString appends s as a JSON string. Control characters, quote and
// backslash are escaped, as are U+2028 and U+2029 (line terminators to
// JavaScript); invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	return appendJSONStringFrom(dst, s, plainPrefix(s))
}

// appendJSONStringFrom is appendJSONString of a string whose first plain
// bytes need no escaping.
func appendJSONStringFrom(dst []byte, s string, plain int) []byte {
	dst = append(dst, '"')
	start := 0
	for i := plain; i < len(s); {
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
