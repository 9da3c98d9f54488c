package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"taskbolt/store"
)

// A stored task value is a fixed header followed by the task's wire JSON:
//
//	[0]      format version (valueFormat)
//	[1]      flags: bit 0 = completed
//	[2:10]   created_at, Unix microseconds, big-endian
//	[10:18]  updated_at, Unix microseconds, big-endian
//	[18:]    the JSON that the API serves for this task
//
// The header lets a list filter and order tasks without decoding them, and
// the JSON tail lets it copy each task straight into the response. This is why
// a list costs a byte copy per task instead of a decode and an encode. The
// price: a change to the wire format of a task needs a schema version bump.
const (
	valueFormat  = 1
	headerLen    = 18
	flagComplete = 1 << 0
)

var errCorrupt = errors.New("bolt: corrupt task value")

func encodeTask(t *store.Task) []byte {
	v := make([]byte, headerLen, headerLen+160+len(t.Title)+descLen(t))
	v[0] = valueFormat
	if t.Completed {
		v[1] = flagComplete
	}
	binary.BigEndian.PutUint64(v[2:10], uint64(t.CreatedAt.UnixMicro()))
	binary.BigEndian.PutUint64(v[10:18], uint64(t.UpdatedAt.UnixMicro()))
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
	completed bool
	created   int64
	updated   int64
	json      []byte
}

func decodeHeader(v []byte) (header, error) {
	if len(v) < headerLen+2 || v[0] != valueFormat {
		return header{}, errCorrupt
	}
	return header{
		completed: v[1]&flagComplete != 0,
		created:   int64(binary.BigEndian.Uint64(v[2:10])),
		updated:   int64(binary.BigEndian.Uint64(v[10:18])),
		json:      v[headerLen:],
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
	t.Completed = h.completed
	t.CreatedAt = time.UnixMicro(h.created).UTC()
	t.UpdatedAt = time.UnixMicro(h.updated).UTC()
	return t, nil
}

// decodeTitle reads only the title, for sorting by title.
func decodeTitle(h header) (string, error) {
	var w struct {
		Title string `json:"title"`
	}
	if err := json.Unmarshal(h.json, &w); err != nil {
		return "", fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return w.Title, nil
}

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

func keyID(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
