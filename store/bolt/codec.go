package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"taskbolt/store"
)

// A stored task value (format 2) is a fixed header followed by the task's
// wire JSON:
//
//	[0]      format version (valueFormat)
//	[1]      flags: completed, spawned, has due date, has reminder
//	[2]      priority (store.Priority)
//	[3]      recurrence (recurrenceCodes)
//	[4:12]   created_at, Unix microseconds, big-endian
//	[12:20]  updated_at
//	[20:28]  due_date (when flagDue)
//	[28:36]  remind_at (when flagRemind)
//	[36:]    the JSON that the API serves for this task
//
// The header lets writes keep the indexes and reads sort candidates without
// decoding JSON, and the JSON tail lets a list copy each task straight into
// the response: a byte copy per task instead of a decode and an encode. A
// change to the wire format of a task needs a new format and a migration.
//
// Format 1 (schema version 1) was [0]=1, [1] flags, [2:10] created,
// [10:18] updated, then the JSON; migration 2 rewrites it.
const (
	valueFormat = 2
	headerLen   = 36

	flagComplete = 1 << 0
	flagSpawned  = 1 << 1
	flagDue      = 1 << 2
	flagRemind   = 1 << 3

	v1Format    = 1
	v1HeaderLen = 18
)

var errCorrupt = errors.New("bolt: corrupt stored data")

// recurrenceCodes maps recurrences to their stored byte; the index is the code.
var recurrenceCodes = []store.Recurrence{store.RecurNone, store.RecurDaily, store.RecurWeekly, store.RecurMonthly, store.RecurYearly}

func recurrenceCode(r store.Recurrence) byte {
	for i, c := range recurrenceCodes {
		if c == r {
			return byte(i)
		}
	}
	return 0
}

func encodeTask(t *store.Task) []byte {
	v := make([]byte, headerLen, headerLen+240+len(t.Title)+descLen(t))
	v[0] = valueFormat
	if t.Completed {
		v[1] |= flagComplete
	}
	if t.Spawned {
		v[1] |= flagSpawned
	}
	v[2] = byte(t.Priority)
	v[3] = recurrenceCode(t.Recurrence)
	binary.BigEndian.PutUint64(v[4:12], uint64(t.CreatedAt.UnixMicro()))
	binary.BigEndian.PutUint64(v[12:20], uint64(t.UpdatedAt.UnixMicro()))
	if t.DueDate != nil {
		v[1] |= flagDue
		binary.BigEndian.PutUint64(v[20:28], uint64(t.DueDate.UnixMicro()))
	}
	if t.RemindAt != nil {
		v[1] |= flagRemind
		binary.BigEndian.PutUint64(v[28:36], uint64(t.RemindAt.UnixMicro()))
	}
	return t.AppendJSON(v)
}

func descLen(t *store.Task) int {
	if t.Description == nil {
		return 0
	}
	return len(*t.Description)
}

// header is the decoded fixed part of a value. json aliases the value and is
// only valid inside the transaction that read it.
type header struct {
	completed, spawned bool
	priority           store.Priority
	recurrence         store.Recurrence
	created, updated   int64
	hasDue             bool
	due                int64
	hasRemind          bool
	remind             int64
	json               []byte
}

func decodeHeader(v []byte) (header, error) {
	if len(v) > 0 && v[0] == v1Format {
		return decodeHeaderV1(v)
	}
	if len(v) < headerLen+2 || v[0] != valueFormat || v[2] > byte(store.PriorityHigh) || int(v[3]) >= len(recurrenceCodes) {
		return header{}, errCorrupt
	}
	return header{
		completed:  v[1]&flagComplete != 0,
		spawned:    v[1]&flagSpawned != 0,
		priority:   store.Priority(v[2]),
		recurrence: recurrenceCodes[v[3]],
		created:    int64(binary.BigEndian.Uint64(v[4:12])),
		updated:    int64(binary.BigEndian.Uint64(v[12:20])),
		hasDue:     v[1]&flagDue != 0,
		due:        int64(binary.BigEndian.Uint64(v[20:28])),
		hasRemind:  v[1]&flagRemind != 0,
		remind:     int64(binary.BigEndian.Uint64(v[28:36])),
		json:       v[headerLen:],
	}, nil
}

// decodeHeaderV1 reads a schema-1 value, for the migration.
func decodeHeaderV1(v []byte) (header, error) {
	if len(v) < v1HeaderLen+2 {
		return header{}, errCorrupt
	}
	return header{
		completed: v[1]&flagComplete != 0,
		created:   int64(binary.BigEndian.Uint64(v[2:10])),
		updated:   int64(binary.BigEndian.Uint64(v[10:18])),
		json:      v[v1HeaderLen:],
	}, nil
}

// decodeTask copies a stored value into a Task; the result does not alias v.
func decodeTask(v []byte) (store.Task, error) {
	h, err := decodeHeader(v)
	if err != nil {
		return store.Task{}, err
	}
	var t store.Task
	if err := json.Unmarshal(h.json, &t); err != nil {
		return store.Task{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	// The header is the source of truth for what it holds.
	t.Completed, t.Spawned = h.completed, h.spawned
	t.CreatedAt = time.UnixMicro(h.created).UTC()
	t.UpdatedAt = time.UnixMicro(h.updated).UTC()
	if v[0] == valueFormat {
		t.Priority, t.Recurrence = h.priority, h.recurrence
		t.DueDate, t.RemindAt = microTime(h.hasDue, h.due), microTime(h.hasRemind, h.remind)
	}
	return t, nil
}

func microTime(ok bool, us int64) *time.Time {
	if !ok {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// decodeTitle reads only the title, for sorting candidates by title.
func decodeTitle(h header) (string, error) {
	title, _, _, err := textFields(h.json)
	return title, err
}

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

func keyID(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// byID reads one bucket's values by task id through one cursor. A list
// reads 20 or more values: bbolt's Bucket.Get makes a new cursor, and grows
// its search stack, on every call, and those allocations were a third of a
// list's.
type byID struct {
	c    *bbolt.Cursor
	k, v []byte // where the cursor is; k nil before the first read
	key  [8]byte
}

func newByID(b *bbolt.Bucket) *byID { return &byID{c: b.Cursor()} }

// nearSteps is how far get steps forward from the last key before it seeks.
const nearSteps = 8

// get returns the value of id, nil when there is none. Reading ids in
// ascending order is cheapest: an id a few keys after the last one read is
// reached by stepping, not by a search from the root of a big bucket.
func (r *byID) get(id uint64) []byte {
	binary.BigEndian.PutUint64(r.key[:], id)
	for i := 0; i < nearSteps && r.k != nil && bytes.Compare(r.k, r.key[:]) < 0; i++ {
		r.k, r.v = r.c.Next()
	}
	if !bytes.Equal(r.k, r.key[:]) {
		r.k, r.v = r.c.Seek(r.key[:])
	}
	if !bytes.Equal(r.k, r.key[:]) {
		return nil
	}
	return r.v
}

// textFields reads the title, description and tags from a stored task's
// JSON without encoding/json, which would scan and reflect over the whole
// object: this JSON is ours (store.Task.AppendJSON), so its fields come in
// a known order. Anything unexpected falls back to encoding/json.
func textFields(js []byte) (title string, desc *string, tags []string, err error) {
	p := jsonCursor{b: js}
	if p.skipTo(`,"title":`) {
		if title, ok := p.str(); ok && p.expect(`,"description":`) {
			var d *string
			if p.expect("null") || func() bool { s, ok := p.str(); d = &s; return ok }() {
				if p.skipTo(`,"tags":[`) {
					var ts []string
					ok := true
					for ok && !p.expect("]") {
						if len(ts) > 0 && !p.expect(",") {
							ok = false
							break
						}
						var s string
						if s, ok = p.str(); ok {
							ts = append(ts, s)
						}
					}
					if ok {
						return title, d, ts, nil
					}
				}
			}
		}
	}
	var w struct {
		Title       string   `json:"title"`
		Description *string  `json:"description"`
		Tags        []string `json:"tags"`
	}
	if err := json.Unmarshal(js, &w); err != nil {
		return "", nil, nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return w.Title, w.Description, w.Tags, nil
}

// jsonCursor walks a JSON text we wrote.
type jsonCursor struct{ b []byte }

// skipTo moves past the first occurrence of s. An unescaped `,"` cannot
// occur inside a JSON string, so s is never found inside one.
func (c *jsonCursor) skipTo(s string) bool {
	i := bytes.Index(c.b, []byte(s))
	if i < 0 {
		return false
	}
	c.b = c.b[i+len(s):]
	return true
}

func (c *jsonCursor) expect(s string) bool {
	if !bytes.HasPrefix(c.b, []byte(s)) {
		return false
	}
	c.b = c.b[len(s):]
	return true
}

// str reads a JSON string; one with escapes goes through encoding/json.
func (c *jsonCursor) str() (string, bool) {
	if len(c.b) == 0 || c.b[0] != '"' {
		return "", false
	}
	escaped := false
	for i := 1; i < len(c.b); i++ {
		switch c.b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			lit := c.b[:i+1]
			c.b = c.b[i+1:]
			if !escaped {
				return string(lit[1 : len(lit)-1]), true
			}
			var s string
			if json.Unmarshal(lit, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}
