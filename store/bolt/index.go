package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"taskbolt/store"
)

// Per-user indexes, kept in the same write transaction as the task:
//
//	users/<id>/idx/<sort>/b<status><priority><sort part>  = due (8 bytes) or empty
//	users/<id>/idx/<sort>/t<tag><0x00 0x01><sort part>   = empty
//	users/<id>/rec/<id>    = the task's filter fields and folded text (for scans)
//	users/<id>/counts/s<status><priority>                = number of tasks
//	users/<id>/counts/t<folded tag>                      = number of tasks, then the first spelling
//	users/<id>/counts/d<pending?><M|D><month or day>     = number of tasks due then
//
// <sort> is one bucket per sort key. A sort part orders the entries of one
// stream as the list asks, and ends with the big-endian id, so ties break by
// id. The base entries are split into eight streams by status and priority:
// a list with no filter merges the eight, a status or priority filter merges
// fewer, so a page costs the same however many tasks the user has. A tag
// filter walks that tag's stream. Counts give X-Total-Count without a scan.
var (
	idxBucket    = []byte("idx")
	recBucket    = []byte("rec")
	countsBucket = []byte("counts")
)

// sortBuckets names each sort key's index bucket.
var sortBuckets = map[store.SortKey][]byte{
	store.SortCreated: []byte("created"), store.SortUpdated: []byte("updated"), store.SortTitle: []byte("title"),
	store.SortID: []byte("id"), store.SortDueDate: []byte("due"), store.SortPriority: []byte("priority"),
}

const (
	famBase = 'b'
	famTag  = 't'

	cntStatus = 's'
	cntTag    = 't'
	cntDue    = 'd'

	dueSeg   = 0 // sort part of a task with a due date: [0][due][id]
	noDueSeg = 1 // and without: [1][id], after every dated one
)

// userBuckets are one user's buckets in a write transaction.
type userBuckets struct {
	user, tasks, idx, rec, counts *bbolt.Bucket
	sorts                         map[store.SortKey]*bbolt.Bucket
}

func (u *userBuckets) sortBucket(k store.SortKey) *bbolt.Bucket { return u.sorts[k] }

// openUser returns the owner's buckets, creating them when the owner writes
// for the first time. Only for write transactions.
func openUser(tx *bbolt.Tx, owner string) (*userBuckets, error) {
	user, err := tx.Bucket(usersBucket).CreateBucketIfNotExists([]byte(owner))
	if err != nil {
		return nil, err
	}
	return userBucketsOf(user)
}

func userBucketsOf(user *bbolt.Bucket) (*userBuckets, error) {
	u := &userBuckets{user: user, sorts: make(map[store.SortKey]*bbolt.Bucket, len(sortBuckets))}
	var err error
	for _, b := range []struct {
		dst  **bbolt.Bucket
		name []byte
	}{{&u.tasks, tasksBucket}, {&u.idx, idxBucket}, {&u.rec, recBucket}, {&u.counts, countsBucket}} {
		if *b.dst, err = bucketIn(user, b.name); err != nil {
			return nil, err
		}
	}
	for k, name := range sortBuckets {
		if u.sorts[k], err = bucketIn(u.idx, name); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// bucketIn returns parent's bucket name, creating it when the transaction is
// writable and returning nil when it is not there and cannot be made.
func bucketIn(parent *bbolt.Bucket, name []byte) (*bbolt.Bucket, error) {
	if b := parent.Bucket(name); b != nil || !parent.Writable() {
		return b, nil
	}
	return parent.CreateBucket(name)
}

// readUser returns the owner's buckets in a read transaction, or nil when the
// owner has never written.
func readUser(tx *bbolt.Tx, owner string) *userBuckets {
	users := tx.Bucket(usersBucket)
	if users == nil {
		return nil
	}
	user := users.Bucket([]byte(owner))
	if user == nil {
		return nil
	}
	u, err := userBucketsOf(user)
	if err != nil || u.tasks == nil || u.idx == nil || u.rec == nil || u.counts == nil {
		return nil
	}
	return u
}

// putTask is the one way a task is written: it stores t and moves every
// index entry and count from old (nil for a new task) to t.
func putTask(u *userBuckets, old, t *store.Task) error {
	if old != nil {
		if err := unindex(u, old); err != nil {
			return err
		}
	}
	if err := u.tasks.Put(idKey(t.ID), encodeTask(t)); err != nil {
		return err
	}
	return index(u, t)
}

// deleteTask is the one way a task is removed.
func deleteTask(u *userBuckets, old *store.Task) error {
	if err := unindex(u, old); err != nil {
		return err
	}
	return u.tasks.Delete(idKey(old.ID))
}

func index(u *userBuckets, t *store.Task) error {
	for _, e := range indexEntries(t) {
		if err := u.sortBucket(e.sort).Put(e.key, e.value); err != nil {
			return err
		}
	}
	if err := u.rec.Put(idKey(t.ID), encodeRec(t)); err != nil {
		return err
	}
	for _, c := range countKeys(t) {
		if err := addCount(u.counts, c.key, 1, c.name); err != nil {
			return err
		}
	}
	return nil
}

// indexAll indexes many new tasks at once: their tasks entries must be put
// already. It puts each bucket's keys in key order. bbolt splits nodes only at
// commit, so within one large transaction a key put in the middle of a big
// node moves everything after it: a hundred thousand tasks indexed one by
// one take minutes, in key order a second (imports, migrations).
func indexAll(u *userBuckets, tasks []*store.Task) error {
	type kv struct{ k, v []byte }
	bySort := map[store.SortKey][]kv{}
	recs := make([]kv, 0, len(tasks))
	counts := map[string]int64{}
	names := map[string]string{}
	for _, t := range tasks {
		for _, e := range indexEntries(t) {
			bySort[e.sort] = append(bySort[e.sort], kv{e.key, e.value})
		}
		recs = append(recs, kv{idKey(t.ID), encodeRec(t)})
		for _, c := range countKeys(t) {
			counts[string(c.key)]++
			if _, ok := names[string(c.key)]; !ok {
				names[string(c.key)] = c.name
			}
		}
	}
	put := func(b *bbolt.Bucket, entries []kv) error {
		slices.SortFunc(entries, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		for _, e := range entries {
			if err := b.Put(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	}
	for k, entries := range bySort {
		if err := put(u.sortBucket(k), entries); err != nil {
			return err
		}
	}
	if err := put(u.rec, recs); err != nil {
		return err
	}
	keys := slices.Sorted(maps.Keys(counts))
	for _, k := range keys {
		if err := addCount(u.counts, []byte(k), counts[k], names[k]); err != nil {
			return err
		}
	}
	return nil
}

func unindex(u *userBuckets, t *store.Task) error {
	for _, e := range indexEntries(t) {
		if err := u.sortBucket(e.sort).Delete(e.key); err != nil {
			return err
		}
	}
	if err := u.rec.Delete(idKey(t.ID)); err != nil {
		return err
	}
	for _, c := range countKeys(t) {
		if err := addCount(u.counts, c.key, -1, ""); err != nil {
			return err
		}
	}
	return nil
}

// indexEntry is one key of one sort bucket.
type indexEntry struct {
	sort       store.SortKey
	key, value []byte
}

// indexEntries are every index key of t: per sort key, its base entry and
// one entry per tag.
func indexEntries(t *store.Task) []indexEntry {
	var dueValue []byte
	if t.DueDate != nil {
		dueValue = binary.BigEndian.AppendUint64(nil, uint64(t.DueDate.UnixMicro()))
	}
	folded := make([][]byte, len(t.Tags))
	for i, tag := range t.Tags {
		folded[i] = tagPrefix(store.FoldTag(tag))
	}
	out := make([]indexEntry, 0, len(sortBuckets)*(1+len(t.Tags)))
	for _, k := range store.SortKeys {
		sk := store.SortKey(k)
		part := sortPart(sk, t)
		out = append(out, indexEntry{sk, append(basePrefix(statusByte(t.Completed), t.Priority), part...), dueValue})
		for _, tp := range folded {
			out = append(out, indexEntry{sk, append(append([]byte{}, tp...), part...), nil})
		}
	}
	return out
}

func statusByte(completed bool) byte {
	if completed {
		return 1
	}
	return 0
}

func basePrefix(status byte, p store.Priority) []byte {
	return []byte{famBase, status, byte(p)}
}

// tagPrefix is the prefix of a folded tag's stream: the tag escaped so that
// no tag's prefix is a prefix of another's.
func tagPrefix(folded string) []byte {
	return append(append([]byte{famTag}, escape(folded)...), 0x00, 0x01)
}

// escape makes s safe to end with the terminator 0x00 0x01 while keeping
// byte order: 0x00 becomes 0x00 0xFF.
func escape(s string) []byte {
	out := make([]byte, 0, len(s)+2)
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == 0 {
			out = append(out, 0xFF)
		}
	}
	return out
}

// sortPart orders one stream by sort key k, then by id.
func sortPart(k store.SortKey, t *store.Task) []byte {
	var b []byte
	switch k {
	case store.SortCreated:
		b = appendMicro(b, t.CreatedAt)
	case store.SortUpdated:
		b = appendMicro(b, t.UpdatedAt)
	case store.SortTitle:
		b = append(append(b, escape(t.Title)...), 0x00, 0x01)
	case store.SortDueDate:
		if t.DueDate == nil {
			b = append(b, noDueSeg)
		} else {
			b = appendMicro(append(b, dueSeg), *t.DueDate)
		}
	case store.SortPriority:
		b = append(b, byte(t.Priority))
	}
	return binary.BigEndian.AppendUint64(b, t.ID)
}

// appendMicro appends a time as 8 bytes that sort as the times do, before
// 1970 included.
func appendMicro(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro())^(1<<63))
}

// countKey is one counter a task adds one to.
type countKey struct {
	key  []byte
	name string // for a tag, its spelling
}

func countKeys(t *store.Task) []countKey {
	out := []countKey{{key: []byte{cntStatus, statusByte(t.Completed), byte(t.Priority)}}}
	for _, tag := range t.Tags {
		out = append(out, countKey{key: append([]byte{cntTag}, store.FoldTag(tag)...), name: tag})
	}
	if t.DueDate != nil {
		for _, kind := range dueKinds(t.Completed) {
			out = append(out, countKey{key: dueCountKey(kind, 'M', monthOf(*t.DueDate))}, countKey{key: dueCountKey(kind, 'D', dayOf(*t.DueDate))})
		}
	}
	return out
}

// Due-date histograms, for counting a due range without walking it: one for
// every task with a due date, one for the pending ones (overdue).
const (
	dueAll     = 0
	duePending = 1
)

func dueKinds(completed bool) []byte {
	if completed {
		return []byte{dueAll}
	}
	return []byte{dueAll, duePending}
}

func dueCountKey(kind byte, level byte, n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{cntDue, kind, level}, n)
}

// monthOf numbers months from year 0; dayOf numbers days from 1970 shifted
// to stay positive. Both orders are the times' order.
func monthOf(t time.Time) uint32 { return uint32(t.Year()*12 + int(t.Month()) - 1) }
func dayOf(t time.Time) uint32 {
	return uint32(floorDiv(t.UnixMicro(), int64(24*time.Hour/time.Microsecond)) + 1<<30)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// addCount adds delta to a counter, deleting it at zero so that a tag no task
// has is gone. name is kept as the counter's label when it is created.
func addCount(b *bbolt.Bucket, key []byte, delta int64, name string) error {
	v := b.Get(key)
	var n uint64
	label := name
	if len(v) >= 8 {
		n = binary.BigEndian.Uint64(v)
		label = string(v[8:])
	}
	n = uint64(int64(n) + delta)
	if int64(n) < 0 {
		return fmt.Errorf("bolt: count %q below zero", key)
	}
	if n == 0 {
		return b.Delete(key)
	}
	return b.Put(key, append(binary.BigEndian.AppendUint64(nil, n), label...))
}

func getCount(b *bbolt.Bucket, key []byte) int {
	v := b.Get(key)
	if len(v) < 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// A rec value holds what a scan filters on, so that filters no index serves
// (search, several tags, combinations) read compact data and never JSON:
//
//	[0] completed  [1] priority  [2] has due  [3:11] due
//	[11:13] length of the folded title  [13:15] length of the folded description
//	[15:] folded title, folded description, then per tag: length byte, folded tag
func encodeRec(t *store.Task) []byte {
	title, desc := store.FoldText(t.Title), ""
	if t.Description != nil {
		desc = store.FoldText(*t.Description)
	}
	v := make([]byte, 15, 15+len(title)+len(desc)+8*len(t.Tags))
	v[0], v[1] = statusByte(t.Completed), byte(t.Priority)
	if t.DueDate != nil {
		v[2] = 1
		binary.BigEndian.PutUint64(v[3:11], uint64(t.DueDate.UnixMicro()))
	}
	binary.BigEndian.PutUint16(v[11:13], uint16(len(title)))
	binary.BigEndian.PutUint16(v[13:15], uint16(len(desc)))
	v = append(append(v, title...), desc...)
	for _, tag := range t.Tags {
		f := store.FoldTag(tag)
		v = append(append(v, byte(len(f))), f...)
	}
	return v
}

// rec is a decoded rec value; its slices alias the database.
type rec struct {
	completed bool
	priority  store.Priority
	due       *time.Time
	title     []byte
	desc      []byte
	tags      []byte // length-prefixed folded tags
}

func decodeRec(v []byte) (rec, error) {
	if len(v) < 15 {
		return rec{}, errCorrupt
	}
	r := rec{completed: v[0] == 1, priority: store.Priority(v[1])}
	if v[2] == 1 {
		r.due = microTime(true, int64(binary.BigEndian.Uint64(v[3:11])))
	}
	tl, dl := int(binary.BigEndian.Uint16(v[11:13])), int(binary.BigEndian.Uint16(v[13:15]))
	rest := v[15:]
	if len(rest) < tl+dl {
		return rec{}, errCorrupt
	}
	r.title, r.desc, r.tags = rest[:tl], rest[tl:tl+dl], rest[tl+dl:]
	for b := r.tags; len(b) > 0; b = b[1+int(b[0]):] {
		if b[0] == 0 || len(b) < 1+int(b[0]) {
			return rec{}, errCorrupt
		}
	}
	return r, nil
}

// hasTag reports whether the rec carries the folded tag.
func (r *rec) hasTag(folded string) bool {
	for b := r.tags; len(b) > 0; b = b[1+int(b[0]):] {
		if string(b[1:1+int(b[0])]) == folded {
			return true
		}
	}
	return false
}

// match applies q's filters to a rec: store.ListQuery.Match on compact
// data. search is q.Search as bytes.
func (r *rec) match(q *store.ListQuery, search []byte) bool {
	if !q.Status.Matches(r.completed) {
		return false
	}
	if len(q.Priorities) > 0 && !containsPriority(q.Priorities, r.priority) {
		return false
	}
	for _, tag := range q.Tags {
		if !r.hasTag(tag) {
			return false
		}
	}
	if len(search) > 0 && !bytes.Contains(r.title, search) && !bytes.Contains(r.desc, search) {
		return false
	}
	return q.MatchDue(r.completed, r.due)
}

func containsPriority(ps []store.Priority, p store.Priority) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}
