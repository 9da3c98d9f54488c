package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// Per-user indexes, kept in the same write transaction as the task:
//
//	users/<id>/n           = how many tasks the user has
//	users/<id>/rec/<id>    = the task's filter and sort fields and folded text
//	users/<id>/idx/<sort>/b<status><priority><sort part>  = due (8 bytes) or empty (packed: packed.go)
//	users/<id>/idx/<sort>/t<tag><0x00 0x01><sort part>   = empty
//	users/<id>/counts/s<status><priority>                = number of tasks
//	users/<id>/counts/t<folded tag>                      = number of tasks, then a spelling
//	users/<id>/counts/d<pending?><M|D><month or day>     = number of tasks due then
//
// A user with a few hundred tasks has none of them: a list reads the task
// headers (and, for a search, a tag filter or a title sort, the tasks), as a
// database scans a small table rather than use an index. A user with more
// than DefaultIndexAfter tasks (Options.IndexAfter) gets rec, idx and counts, built in the
// transaction that crosses the threshold and kept from then on. rec entries
// are compact records that a scan reads instead of JSON; idx has one
// bucket per sort key, whose entries are split into eight streams by status
// and priority (a list with no filter merges the eight, a status or priority
// filter fewer) plus one stream per tag, so a page costs the same however
// many tasks the user has, and counts give X-Total-Count without a scan.
// A sort part orders a stream as the list asks and ends with the big-endian
// id, so ties break by id. Small users pay for none of it on writes: a
// create touches the tasks pages only, as before indexes existed.
var (
	idxBucket    = []byte("idx")
	recBucket    = []byte("rec")
	countsBucket = []byte("counts")
	taskCountKey = []byte("n")
)

// DefaultIndexAfter is the task count past which a user is indexed, unless
// Options.IndexAfter says otherwise. Below it a scan of the task headers
// costs less than keeping the indexes would on every write; above it the
// indexes keep a page flat.
const DefaultIndexAfter = 512

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

// userBuckets are one user's buckets. rec, idx, counts and sorts are nil
// until the user is indexed.
type userBuckets struct {
	user, tasks, rec, idx, counts *bbolt.Bucket
	sorts                         map[store.SortKey]packed
	indexAfter                    int    // the store's Options.IndexAfter
	seq                           uint64 // the last change logged in this transaction (changes.go)
}

func (u *userBuckets) indexed() bool                     { return u.idx != nil }
func (u *userBuckets) sortBucket(k store.SortKey) packed { return u.sorts[k] }

// taskCount is how many tasks the user has.
func (u *userBuckets) taskCount() int {
	v := u.user.Get(taskCountKey)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func (u *userBuckets) addTasks(delta int) error {
	return u.user.Put(taskCountKey, binary.BigEndian.AppendUint64(nil, uint64(u.taskCount()+delta)))
}

// openUser returns the owner's buckets, creating them when the owner writes
// for the first time. Only for write transactions.
//
// The writes a group commit shares open their users' buckets once: the
// second write of a user in the transaction gets the buckets the first
// opened, and with them the blocks its index writes appended to (packed.go's
// tails). A user's bucket deleted and made again is opened anew.
func (s *Store) openUser(tx *bbolt.Tx, owner string) (*userBuckets, error) {
	user, err := tx.Bucket(usersBucket).CreateBucketIfNotExists([]byte(owner))
	if err != nil {
		return nil, err
	}
	// bbolt makes a bucket anew in every transaction, and a remembered one
	// keeps its address taken, so an entry of another transaction, or of
	// a user's bucket deleted and made again, never matches.
	if u := s.openUsers[owner]; u != nil && u.user == user {
		u.seq = 0 // seq is the last change of the write asking
		return u, nil
	}
	u, err := userBucketsOf(user, s.indexAfter)
	if err != nil {
		return nil, err
	}
	if s.openUsers == nil {
		s.openUsers = map[string]*userBuckets{}
	}
	s.openUsers[owner] = u
	return u, nil
}

// forgetOpenUsers ends openUser's memory of the current transaction; every
// write transaction that calls openUser calls it before it ends, since the
// buckets would hold the transaction's pages and nodes (all of an
// import's) until the next write.
func (s *Store) forgetOpenUsers() { s.openUsers = nil }

// userBucketsOf opens a user's buckets, creating tasks in a write
// transaction when it is missing.
func userBucketsOf(user *bbolt.Bucket, indexAfter int) (*userBuckets, error) {
	u := &userBuckets{user: user, indexAfter: indexAfter}
	var err error
	if u.tasks, err = bucketIn(user, tasksBucket); err != nil {
		return nil, err
	}
	if u.tasks != nil {
		u.tasks.FillPercent = appendFill
	}
	if u.idx = user.Bucket(idxBucket); u.idx != nil {
		u.counts, u.rec = user.Bucket(countsBucket), user.Bucket(recBucket)
		if u.counts == nil || u.rec == nil {
			return nil, fmt.Errorf("counts or rec bucket missing: %w", errCorrupt)
		}
		u.rec.FillPercent = appendFill
		u.sorts = make(map[store.SortKey]packed, len(sortBuckets))
		for k, name := range sortBuckets {
			b := u.idx.Bucket(name)
			if b == nil {
				return nil, fmt.Errorf("index bucket %s missing: %w", name, errCorrupt)
			}
			b.FillPercent = fillOf(k)
			u.sorts[k] = packed{b: b, tails: tailsIfWritable(b)}
		}
	}
	return u, nil
}

// Pages of buckets whose keys mostly grow at the end (ids, creation and
// update times) are split nearly full rather than half full: the file is
// smaller and a page holds more of a list. Buckets written anywhere keep
// bbolt's default, which leaves room for inserts.
const appendFill = 0.9

// bulkFill is the fill of pages written in key order all at once (indexAll:
// an import, a migration, a user crossing IndexAfter). At bbolt's default
// half of every index page would be empty; nothing will be inserted between
// keys laid down this way until the next write, which splits only the page
// it lands in. It holds for the transaction's bucket handles only.
const bulkFill = 1.0

func fillOf(k store.SortKey) float64 {
	switch k {
	case store.SortCreated, store.SortUpdated, store.SortID:
		return appendFill
	}
	return bbolt.DefaultFillPercent
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
func readUser(tx *bbolt.Tx, owner string) (*userBuckets, error) {
	users := tx.Bucket(usersBucket)
	if users == nil {
		return nil, nil
	}
	user := users.Bucket([]byte(owner))
	if user == nil {
		return nil, nil
	}
	u, err := userBucketsOf(user, 0)
	if err != nil {
		return nil, err
	}
	if u.tasks == nil {
		return nil, nil
	}
	return u, nil
}

// buildIndex creates the user's rec entries, indexes and counts from its
// tasks.
func buildIndex(u *userBuckets, owner string) error {
	if err := createIndex(u); err != nil {
		return err
	}
	var all []*store.Task
	err := u.tasks.ForEach(func(k, v []byte) error {
		t, err := decodeTask(owner, keyID(k), v)
		all = append(all, &t)
		return err
	})
	if err != nil {
		return err
	}
	return indexAll(u, all)
}

// createIndex creates a user's empty rec, idx and counts buckets.
func createIndex(u *userBuckets) error {
	idx, err := u.user.CreateBucket(idxBucket)
	if err != nil {
		return err
	}
	if u.counts, err = u.user.CreateBucket(countsBucket); err != nil {
		return err
	}
	if u.rec, err = u.user.CreateBucket(recBucket); err != nil {
		return err
	}
	u.rec.FillPercent = appendFill
	u.idx, u.sorts = idx, make(map[store.SortKey]packed, len(sortBuckets))
	for k, name := range sortBuckets {
		b, err := idx.CreateBucket(name)
		if err != nil {
			return err
		}
		b.FillPercent = fillOf(k)
		u.sorts[k] = packed{b: b, tails: tailsIfWritable(b)}
	}
	return nil
}

// putTask is the one way a task is written: it stores t and moves its rec
// entry, and its index entries and counts when the user is indexed, from old
// (nil for a new task) to t. The create that takes a user past
// its indexAfter builds its indexes.
func putTask(u *userBuckets, old, t *store.Task) error {
	value := encodeTask(t)
	if err := u.tasks.Put(idKey(t.ID), value); err != nil {
		return err
	}
	kind := store.ChangeUpdated
	if old == nil {
		kind = store.ChangeCreated
	}
	if err := logTask(u, kind, t); err != nil {
		return err
	}
	if err := keepReminder(u.user.Tx(), t.UserID, old, t); err != nil {
		return err
	}
	if old == nil {
		if err := u.addTasks(1); err != nil {
			return err
		}
	}
	switch {
	case u.indexed():
		if old != nil {
			if err := unindex(u, old); err != nil {
				return err
			}
		}
		return index(u, t)
	case u.taskCount() > u.indexAfter:
		return buildIndex(u, t.UserID)
	}
	return nil
}

// deleteTask is the one way a task is removed.
func deleteTask(u *userBuckets, old *store.Task) error {
	if err := u.tasks.Delete(idKey(old.ID)); err != nil {
		return err
	}
	if err := logChange(u, store.ChangeDeleted, old.ID, store.DeletedData(old.ID)); err != nil {
		return err
	}
	if err := keepReminder(u.user.Tx(), old.UserID, old, nil); err != nil {
		return err
	}
	if err := u.addTasks(-1); err != nil {
		return err
	}
	if u.indexed() {
		return unindex(u, old)
	}
	return nil
}

func index(u *userBuckets, t *store.Task) error {
	if err := u.rec.Put(idKey(t.ID), encodeRec(t)); err != nil {
		return err
	}
	for _, e := range indexEntries(t) {
		if err := u.sortBucket(e.sort).Put(e.key, e.value); err != nil {
			return err
		}
	}
	for _, c := range countKeys(t) {
		if err := addCount(u.counts, c.key, 1, c.name); err != nil {
			return err
		}
	}
	return nil
}

// indexAll indexes many tasks at once into an indexed user's buckets (rec
// entries, index entries, counts): their tasks entries must be put already.
// It puts each bucket's keys in key order. bbolt splits nodes only at
// commit, so within one large transaction a key put in the middle of a big
// node moves everything after it: a hundred thousand tasks indexed one by
// one take minutes, in key order a second (imports, migrations).
func indexAll(u *userBuckets, tasks []*store.Task) error {
	recs := make([]entry, 0, len(tasks))
	counts := map[string]int64{}
	names := map[string]string{}
	perSort := 0 // entries in each sort bucket
	for _, t := range tasks {
		perSort += 1 + len(t.Tags)
		recs = append(recs, entry{idKey(t.ID), encodeRec(t)})
		for _, c := range countKeys(t) {
			counts[string(c.key)]++
			if _, ok := names[string(c.key)]; !ok {
				names[string(c.key)] = c.name
			}
		}
	}
	byKey := func(a, b entry) int { return bytes.Compare(a.k, b.k) }
	slices.SortFunc(recs, byKey)
	u.rec.FillPercent = bulkFill
	for _, e := range recs {
		if err := u.rec.Put(e.k, e.v); err != nil {
			return err
		}
	}
	// One sort at a time: for 100,000 tasks each holds some 15 MB of entries
	// until its bucket is written.
	entries := make([]entry, 0, perSort)
	for k := range sortBuckets {
		entries = entries[:0]
		for _, t := range tasks {
			entries = sortEntries(entries, k, t, headsOf(t)) // again per sort: holding every task's would cost the memory saved
		}
		slices.SortFunc(entries, byKey)
		p := u.sortBucket(k)
		p.b.FillPercent = bulkFill
		if first, _ := p.b.Cursor().First(); first == nil {
			if err := p.load(entries); err != nil {
				return err
			}
			continue
		}
		for _, e := range entries {
			if err := p.Put(e.k, e.v); err != nil {
				return err
			}
		}
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
	if err := u.rec.Delete(idKey(t.ID)); err != nil {
		return err
	}
	for _, e := range indexEntries(t) {
		if err := u.sortBucket(e.sort).Delete(e.key); err != nil {
			return err
		}
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
	out := make([]indexEntry, 0, len(sortBuckets)*(1+len(t.Tags)))
	heads := headsOf(t)
	var es []entry
	for _, k := range store.SortKeys {
		es = sortEntries(es[:0], store.SortKey(k), t, heads)
		for _, e := range es {
			out = append(out, indexEntry{store.SortKey(k), e.k, e.v})
		}
	}
	return out
}

// entryHeads are what t's entries in every sort bucket share: the due date,
// the value of its base entry, and each tag's stream prefix.
type entryHeads struct {
	due  []byte
	tags [][]byte
}

func headsOf(t *store.Task) entryHeads {
	var h entryHeads
	if t.DueDate != nil {
		h.due = binary.BigEndian.AppendUint64(nil, uint64(t.DueDate.UnixMicro()))
	}
	h.tags = make([][]byte, len(t.Tags))
	for i, tag := range t.Tags {
		h.tags[i] = tagPrefix(store.FoldTag(tag))
	}
	return h
}

// sortEntries appends t's entries in the bucket of sort sk to dst: one in
// its base stream (with the due date as its value, for due_before and
// overdue), one in each tag's.
func sortEntries(dst []entry, sk store.SortKey, t *store.Task, heads entryHeads) []entry {
	part := sortPart(sk, t)
	dst = append(dst, entry{append(basePrefix(statusByte(t.Completed), t.Priority), part...), heads.due})
	for _, tp := range heads.tags {
		dst = append(dst, entry{append(slices.Clip(tp), part...), nil})
	}
	return dst
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

// A rec value holds what a scan filters and sorts on, so that scans read
// compact data and never JSON:
//
//	[0] completed  [1] priority  [2] flags (recDue, recTitleFolded, recDescFolded)
//	[3:11] due  [11:19] created  [19:27] updated
//	[27:29] title length  [29:31] folded title length  [31:33] folded description length
//	[33:] title, folded title, folded description, then per tag: length byte,
//	      spelling, length byte, folded
//
// An ASCII text's folded form is not stored: folding ASCII is upper-casing
// a-z, which a search does on the fly (containsFolded). recTitleASCII says
// the title is ASCII; recDescASCII that the description is ASCII and longer
// than recDescInline, to be read from the task value by the search that
// needs it. A 900-byte description was stored twice, and a short title
// took a third of its rec entry. A short description stays: reading the
// task value for it made a search of 100,000 tasks 7 → 20 ms.
const (
	recDue        = 1 << 0
	recTitleASCII = 1 << 1
	recDescASCII  = 1 << 2

	recDescInline = 128
)

func encodeRec(t *store.Task) []byte {
	ftitle, fdesc := store.FoldText(t.Title), ""
	if t.Description != nil {
		fdesc = store.FoldText(*t.Description)
	}
	v := make([]byte, 33, 33+len(t.Title)+len(ftitle)+len(fdesc)+16*len(t.Tags))
	v[0], v[1] = statusByte(t.Completed), byte(t.Priority)
	if t.DueDate != nil {
		v[2] |= recDue
		binary.BigEndian.PutUint64(v[3:11], uint64(t.DueDate.UnixMicro()))
	}
	if isASCII(t.Title) {
		v[2] |= recTitleASCII
		ftitle = ""
	}
	if t.Description != nil && len(*t.Description) > recDescInline && isASCII(*t.Description) {
		v[2] |= recDescASCII
		fdesc = ""
	}
	binary.BigEndian.PutUint64(v[11:19], uint64(t.CreatedAt.UnixMicro()))
	binary.BigEndian.PutUint64(v[19:27], uint64(t.UpdatedAt.UnixMicro()))
	binary.BigEndian.PutUint16(v[27:29], uint16(len(t.Title)))
	binary.BigEndian.PutUint16(v[29:31], uint16(len(ftitle)))
	binary.BigEndian.PutUint16(v[31:33], uint16(len(fdesc)))
	v = append(append(append(v, t.Title...), ftitle...), fdesc...)
	for _, tag := range t.Tags {
		f := store.FoldTag(tag)
		v = append(append(append(append(v, byte(len(tag))), tag...), byte(len(f))), f...)
	}
	return v
}

// rec is a decoded rec value; its slices alias the database.
type rec struct {
	completed        bool
	priority         store.Priority
	hasDue           bool
	due              int64
	created, updated int64
	title            []byte
	ftitle, fdesc    []byte
	titleASCII       bool   // ftitle is empty: fold title on the fly
	descInTask       bool   // an ASCII description, not in the rec: read it from the task value
	tags             []byte // spelling, folded; each length-prefixed
}

func decodeRec(v []byte) (rec, error) {
	if len(v) < 33 {
		return rec{}, errCorrupt
	}
	r := rec{completed: v[0] == 1, priority: store.Priority(v[1]), hasDue: v[2]&recDue != 0, titleASCII: v[2]&recTitleASCII != 0, descInTask: v[2]&recDescASCII != 0,
		due: int64(binary.BigEndian.Uint64(v[3:11])), created: int64(binary.BigEndian.Uint64(v[11:19])),
		updated: int64(binary.BigEndian.Uint64(v[19:27]))}
	tl, fl, dl := int(binary.BigEndian.Uint16(v[27:29])), int(binary.BigEndian.Uint16(v[29:31])), int(binary.BigEndian.Uint16(v[31:33]))
	rest := v[33:]
	if len(rest) < tl+fl+dl {
		return rec{}, errCorrupt
	}
	r.title, r.ftitle, r.fdesc, r.tags = rest[:tl], rest[tl:tl+fl], rest[tl+fl:tl+fl+dl], rest[tl+fl+dl:]
	for b := r.tags; len(b) > 0; {
		var ok bool
		if _, _, b, ok = nextTag(b); !ok {
			return rec{}, errCorrupt
		}
	}
	return r, nil
}

// nextTag splits the first tag (spelling, folded) off a rec's tags.
func nextTag(b []byte) (spelling, folded, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0])+1 {
		return nil, nil, nil, false
	}
	spelling, b = b[1:1+int(b[0])], b[1+int(b[0]):]
	if len(b) < 1+int(b[0]) {
		return nil, nil, nil, false
	}
	return spelling, b[1 : 1+int(b[0])], b[1+int(b[0]):], true
}

// hasTag reports whether the rec carries the folded tag.
func (r *rec) hasTag(folded string) bool {
	for b := r.tags; len(b) > 0; {
		_, f, rest, _ := nextTag(b)
		if string(f) == folded {
			return true
		}
		b = rest
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
	if len(search) > 0 && !r.titleHas(search) && !r.descHas(search) {
		return false
	}
	return dueMatches(q, r.completed, r.hasDue, r.due)
}

// titleHas and descHas report whether the folded title or description
// holds the folded search.
func (r *rec) titleHas(search []byte) bool {
	if r.titleASCII {
		return containsFolded(r.title, search)
	}
	return bytes.Contains(r.ftitle, search)
}

func (r *rec) descHas(search []byte) bool {
	if r.descInTask {
		return containsFolded(r.fdesc, search)
	}
	return bytes.Contains(r.fdesc, search)
}

// containsFolded reports whether the ASCII text, folded (a-z upper-cased,
// as store.FoldText does), contains the folded search.
func containsFolded(text, search []byte) bool {
	for i := 0; i+len(search) <= len(text); i++ {
		j := 0
		for j < len(search) && upper(text[i+j]) == search[j] {
			j++
		}
		if j == len(search) {
			return true
		}
	}
	return false
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// dueMatches is store.ListQuery.MatchDue on a due date in microseconds,
// without allocating: it runs for every entry a filtered walk or scan reads.
func dueMatches(q *store.ListQuery, completed, hasDue bool, dueMicro int64) bool {
	due := time.UnixMicro(dueMicro)
	if q.DueBefore != nil && (!hasDue || !due.Before(*q.DueBefore)) {
		return false
	}
	if q.DueAfter != nil && (!hasDue || due.Before(*q.DueAfter)) {
		return false
	}
	if q.Overdue != nil && *q.Overdue != (!completed && hasDue && due.Before(q.Now)) {
		return false
	}
	return true
}

func containsPriority(ps []store.Priority, p store.Priority) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}
