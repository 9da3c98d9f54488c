package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// A stored task value (format 3) is a small binary record. The task's id is
// its key and its owner the bucket it is in, so neither is stored:
//
//	[0]      format version (valueFormat)
//	[1]      flags: completed, spawned, has due date, has reminder, has description
//	[2]      priority (store.Priority)
//	[3]      recurrence (recurrenceCodes)
//	[4:12]   created_at, Unix microseconds, big-endian
//	[12:20]  updated_at
//	         due_date, 8 bytes (when flagDue)
//	         remind_at, 8 bytes (when flagRemind)
//	         title: uvarint length, bytes
//	      description: uvarint length, bytes (when flagDesc)
//	      tags: uvarint count, then each as uvarint length, bytes
//
// A list encodes each task's JSON from this (appendValueJSON) rather than
// copying JSON kept in the value, as format 2 did: for 100,000 short tasks
// the file is 56 → 30 MB, and a 900-byte task fits four to a page, not
// three. Writes keep the indexes and reads sort candidates from the leading
// fields without touching the text. The times are fixed-width: a varint of
// today's microseconds takes 8 bytes too, and a list or scan reads them
// for every task.
//
// Format 2 (schemas 2 to 5) was a 36-byte header (the fields above, fixed
// width) and then the task's wire JSON; format 1 (schema 1) [0]=1, [1]
// flags, [2:10] created, [10:18] updated, then the JSON. Migrations read them
// (decodeHeader, decodeTask) and migrateTo6 rewrites them.
const (
	valueFormat = 3
	fixedLen    = 20 // through updated_at

	flagComplete = 1 << 0
	flagSpawned  = 1 << 1
	flagDue      = 1 << 2
	flagRemind   = 1 << 3
	flagDesc     = 1 << 4

	v2Format    = 2
	v2HeaderLen = 36
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
	n := fixedLen + 16 + 2*binary.MaxVarintLen32 + len(t.Title)
	if t.Description != nil {
		n += binary.MaxVarintLen32 + len(*t.Description)
	}
	for _, tag := range t.Tags {
		n += 1 + len(tag)
	}
	v := make([]byte, fixedLen, n)
	putFixed(v, valueFormat, t)
	if t.DueDate != nil {
		v = binary.BigEndian.AppendUint64(v, uint64(t.DueDate.UnixMicro()))
	}
	if t.RemindAt != nil {
		v = binary.BigEndian.AppendUint64(v, uint64(t.RemindAt.UnixMicro()))
	}
	v = appendText(v, t.Title)
	if t.Description != nil {
		v[1] |= flagDesc
		v = appendText(v, *t.Description)
	}
	v = binary.AppendUvarint(v, uint64(len(t.Tags)))
	for _, tag := range t.Tags {
		v = appendText(v, tag)
	}
	return v
}

// putFixed writes the first fixedLen bytes of a value, which formats 2 and 3
// share.
func putFixed(v []byte, format byte, t *store.Task) {
	v[0], v[1] = format, 0
	if t.Completed {
		v[1] |= flagComplete
	}
	if t.Spawned {
		v[1] |= flagSpawned
	}
	if t.DueDate != nil {
		v[1] |= flagDue
	}
	if t.RemindAt != nil {
		v[1] |= flagRemind
	}
	v[2] = byte(t.Priority)
	v[3] = recurrenceCode(t.Recurrence)
	binary.BigEndian.PutUint64(v[4:12], uint64(t.CreatedAt.UnixMicro()))
	binary.BigEndian.PutUint64(v[12:20], uint64(t.UpdatedAt.UnixMicro()))
}

func appendText(v []byte, s string) []byte {
	return append(binary.AppendUvarint(v, uint64(len(s))), s...)
}

// header is the decoded leading part of a value. body aliases the value and
// is only valid inside the transaction that read it: in format 3 the text
// fields (readText), in formats 1 and 2 the task's JSON.
type header struct {
	format             byte
	completed, spawned bool
	priority           store.Priority
	recurrence         store.Recurrence
	created, updated   int64
	hasDue             bool
	due                int64
	hasRemind          bool
	remind             int64
	hasDesc            bool
	body               []byte
}

func decodeHeader(v []byte) (header, error) {
	if len(v) > 0 && v[0] == v1Format {
		return decodeHeaderV1(v)
	}
	if len(v) < fixedLen || v[0] != valueFormat && v[0] != v2Format ||
		v[2] > byte(store.PriorityHigh) || int(v[3]) >= len(recurrenceCodes) {
		return header{}, errCorrupt
	}
	if v[0] == v2Format {
		return decodeHeaderV2(v)
	}
	h := header{
		format:     v[0],
		completed:  v[1]&flagComplete != 0,
		spawned:    v[1]&flagSpawned != 0,
		priority:   store.Priority(v[2]),
		recurrence: recurrenceCodes[v[3]],
		hasDue:     v[1]&flagDue != 0,
		hasRemind:  v[1]&flagRemind != 0,
		hasDesc:    v[1]&flagDesc != 0,
	}
	h.created = int64(binary.BigEndian.Uint64(v[4:12]))
	h.updated = int64(binary.BigEndian.Uint64(v[12:20]))
	rest := v[fixedLen:]
	if h.hasDue {
		if len(rest) < 8 {
			return header{}, errCorrupt
		}
		h.due, rest = int64(binary.BigEndian.Uint64(rest)), rest[8:]
	}
	if h.hasRemind {
		if len(rest) < 8 {
			return header{}, errCorrupt
		}
		h.remind, rest = int64(binary.BigEndian.Uint64(rest)), rest[8:]
	}
	h.body = rest
	return h, nil
}

// reader reads uvarints and length-prefixed bytes from a value; bad records
// that a read ran past its end.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) bytes() []byte {
	var n uint64
	if len(r.b) > 0 && r.b[0] < 0x80 { // a length under 128, most of them
		n, r.b = uint64(r.b[0]), r.b[1:]
	} else {
		n = r.uvarint()
	}
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// text is a format-3 value's text fields, aliasing the value: desc is nil
// when the task has none.
type text struct {
	title, desc []byte
	tags        [][]byte
}

// readText reads a format-3 value's text fields. The tags are appended to
// tags, room the caller may reuse.
func readText(h *header, tags [][]byte) (text, error) {
	if h.format != valueFormat {
		return text{}, fmt.Errorf("a format-%d value read as format %d: %w", h.format, valueFormat, errCorrupt)
	}
	r := reader{b: h.body}
	x := text{title: r.bytes(), tags: tags}
	if h.hasDesc {
		if x.desc = r.bytes(); x.desc == nil {
			x.desc = []byte{}
		}
	}
	for count := r.uvarint(); count > 0 && !r.bad; count-- {
		x.tags = append(x.tags, r.bytes())
	}
	if r.bad || len(r.b) != 0 {
		return text{}, errCorrupt
	}
	return x, nil
}

// decodeHeaderV2 reads a format-2 value (schemas 2 to 5), for the migration.
func decodeHeaderV2(v []byte) (header, error) {
	if len(v) < v2HeaderLen+2 {
		return header{}, errCorrupt
	}
	return header{
		format:     v[0],
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
		body:       v[v2HeaderLen:],
	}, nil
}

// decodeHeaderV1 reads a schema-1 value, for the migration.
func decodeHeaderV1(v []byte) (header, error) {
	if len(v) < v1HeaderLen+2 {
		return header{}, errCorrupt
	}
	return header{
		format:    v[0],
		completed: v[1]&flagComplete != 0,
		created:   int64(binary.BigEndian.Uint64(v[2:10])),
		updated:   int64(binary.BigEndian.Uint64(v[10:18])),
		body:      v[v1HeaderLen:],
	}, nil
}

// decodeTask copies the stored value of owner's task id into a Task; the
// result does not alias v. The header holds every field but the text, in
// every format (format 1's missing ones are their zero values).
func decodeTask(owner string, id uint64, v []byte) (store.Task, error) {
	h, err := decodeHeader(v)
	if err != nil {
		return store.Task{}, err
	}
	title, desc, tags, err := textFields(h)
	if err != nil {
		return store.Task{}, err
	}
	if tags == nil {
		tags = []string{}
	}
	return store.Task{ID: id, UserID: owner, Title: title, Description: desc, Tags: tags,
		Completed: h.completed, Spawned: h.spawned, Priority: h.priority, Recurrence: h.recurrence,
		DueDate: microTime(h.hasDue, h.due), RemindAt: microTime(h.hasRemind, h.remind),
		CreatedAt: time.UnixMicro(h.created).UTC(), UpdatedAt: time.UnixMicro(h.updated).UTC()}, nil
}

// taskView is room appendValueJSON reuses from task to task of a list.
type taskView struct {
	t           store.Task
	tags        [][]byte
	desc        string
	due, remind time.Time
}

// appendValueJSON appends the wire JSON of owner's task id, stored as v: what
// decodeTask(owner, id, v).AppendJSON would, without copying the text out of
// v.
func appendValueJSON(dst []byte, view *taskView, owner string, id uint64, v []byte) ([]byte, error) {
	h, err := decodeHeader(v)
	if err != nil {
		return dst, err
	}
	if h.format != valueFormat { // not after Open's migrations; kept whole
		t, err := decodeTask(owner, id, v)
		return t.AppendJSON(dst), err
	}
	x, err := readText(&h, view.tags[:0])
	if err != nil {
		return dst, err
	}
	view.tags = x.tags
	// The strings alias the value: they live only for the AppendJSON below,
	// inside the transaction that read v, and are cleared after it.
	tags := view.t.Tags[:0]
	for _, tag := range x.tags {
		tags = append(tags, aliasString(tag))
	}
	view.t = store.Task{ID: id, UserID: owner, Title: aliasString(x.title),
		Completed: h.completed, Priority: h.priority, Tags: tags, Recurrence: h.recurrence,
		CreatedAt: time.UnixMicro(h.created), UpdatedAt: time.UnixMicro(h.updated)}
	if x.desc != nil {
		view.desc = aliasString(x.desc)
		view.t.Description = &view.desc
	}
	if h.hasDue {
		view.due = time.UnixMicro(h.due)
		view.t.DueDate = &view.due
	}
	if h.hasRemind {
		view.remind = time.UnixMicro(h.remind)
		view.t.RemindAt = &view.remind
	}
	dst = view.t.AppendJSON(dst)
	clear(tags)
	clear(x.tags)
	*view = taskView{t: store.Task{Tags: tags[:0]}, tags: x.tags[:0]}
	return dst, nil
}

// aliasString is b as a string without a copy: only for bytes that do not
// change while the string is in use.
func aliasString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func microTime(ok bool, us int64) *time.Time {
	if !ok {
		return nil
	}
	t := time.UnixMicro(us).UTC()
	return &t
}

// decodeTitle reads only the title, for sorting candidates by title.
func decodeTitle(h header) (string, error) {
	title, _, _, err := textFields(h)
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

// textFields copies out the title, description and tags of a value of any
// format.
func textFields(h header) (title string, desc *string, tags []string, err error) {
	if h.format != valueFormat {
		return jsonTextFields(h.body)
	}
	var room [store.MaxTags][]byte
	x, err := readText(&h, room[:0])
	if err != nil {
		return "", nil, nil, err
	}
	if x.desc != nil {
		d := string(x.desc)
		desc = &d
	}
	tags = make([]string, len(x.tags))
	for i, tag := range x.tags {
		tags[i] = string(tag)
	}
	return string(x.title), desc, tags, nil
}

// jsonTextFields reads the title, description and tags from a format-1 or 2
// value's JSON without encoding/json, which would scan and reflect over the
// whole object: this JSON is ours (store.Task.AppendJSON), so its fields
// come in a known order. Anything unexpected falls back to encoding/json.
func jsonTextFields(js []byte) (title string, desc *string, tags []string, err error) {
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
