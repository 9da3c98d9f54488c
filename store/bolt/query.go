package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// How a list is answered. Each plan returns the page's ids and the total.
// A user of at most IndexAfter tasks has no indexes: every list scans its
// task headers (scanList). An indexed user's list takes the first that fits:
//
//   - status and priority filters only: merge the base streams of the
//     statuses and priorities asked for; total from the counts. O(page).
//   - one tag alone: walk that tag's stream; total from its count. O(page).
//   - due_before/due_after or overdue (with a status, no other filter):
//     sorted by due date, the streams are cut to the range: O(page); sorted
//     otherwise, the sort's streams are walked skipping tasks out of range
//     (each entry carries its due date) for at most walkBudget entries, and
//     if that is not enough the range itself is read from the due streams
//     and sorted. Total from the due-date histograms.
//   - anything else (q, several tags, a tag with another filter, a priority
//     with a due filter): scan the user's rec entries, compact records of
//     the filter fields and folded text, then page from the matches (sorted
//     when they are few, else found by walking the sort's streams).
//
// README "Listing cost" says the same for users.

// Plan limits (variables so that tests can make them tiny, to run every
// branch on little data).
var (
	// walkBudget is how many index entries a filtered walk may skip before
	// the plan switches to reading the due range.
	walkBudget = 4096
	// smallSet is the number of scan matches below which the page is sorted
	// from the matches themselves rather than found by walking an index.
	smallSet = 1024
)

// listIDs runs the plan for q and returns the ids of the page, in order,
// and their task values when the plan read them already (a small user's
// scan), else nil.
func listIDs(u *userBuckets, q *store.ListQuery) (ids []uint64, values [][]byte, total int, err error) {
	if q.Status == "" {
		q.Status = store.StatusAll
	}
	if q.None {
		return nil, nil, 0, nil
	}
	if !u.indexed() {
		return scanList(u, q)
	}
	dueFilter := q.DueBefore != nil || q.DueAfter != nil || q.Overdue != nil
	switch {
	case q.Search == "" && len(q.Tags) == 0 && !dueFilter:
		ids, _ = walk(baseStreams(u, q, nil), q, nil, 0)
		return ids, nil, statusCount(u, q), nil
	case q.Search == "" && len(q.Tags) == 1 && !dueFilter && q.Status == store.StatusAll && len(q.Priorities) == 0:
		ids, _ = walk(tagStream(u, q), q, nil, 0)
		return ids, nil, getCount(u.counts, append([]byte{cntTag}, q.Tags[0]...)), nil
	case q.Search == "" && len(q.Tags) == 0 && dueFilter && len(q.Priorities) == 0 && !(q.Overdue != nil && (q.DueBefore != nil || q.DueAfter != nil)):
		ids, err = dueList(u, q)
		return ids, nil, dueCount(u, q), err
	}
	return scanList(u, q)
}

// statuses are the status bytes q's status filter lets through.
func statuses(s store.Status) []byte {
	switch s {
	case store.StatusPending:
		return []byte{0}
	case store.StatusCompleted:
		return []byte{1}
	}
	return []byte{0, 1}
}

func priorities(q *store.ListQuery) []store.Priority {
	if len(q.Priorities) == 0 {
		return []store.Priority{store.PriorityNone, store.PriorityLow, store.PriorityMedium, store.PriorityHigh}
	}
	return q.Priorities
}

func statusCount(u *userBuckets, q *store.ListQuery) int {
	n := 0
	for _, s := range statuses(q.Status) {
		for _, p := range priorities(q) {
			n += getCount(u.counts, []byte{cntStatus, s, byte(p)})
		}
	}
	return n
}

// span is a key range [lo, hi) of one bucket; hi nil is the end of lo as a
// prefix.
type span struct{ lo, hi []byte }

func prefixSpan(p []byte) span { return span{lo: p, hi: prefixEnd(p)} }

// prefixEnd is the first key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// stream walks the spans of one bucket in order, each in the list's
// direction. skip is the length of the prefix before the sort part.
type stream struct {
	c     *packedCursor
	spans []span
	skip  int
	desc  bool
	si    int
	k, v  []byte
}

func (s *stream) start() {
	s.si = -1
	s.nextSpan()
}

func (s *stream) nextSpan() {
	for s.si++; s.si < len(s.spans); s.si++ {
		sp := s.spans[s.si]
		if s.desc {
			if sp.hi == nil {
				s.k, s.v = s.c.Last()
			} else if s.k, s.v = s.c.Seek(sp.hi); s.k == nil {
				s.k, s.v = s.c.Last()
			} else {
				s.k, s.v = s.c.Prev()
			}
		} else {
			s.k, s.v = s.c.Seek(sp.lo)
		}
		if s.inSpan() {
			return
		}
	}
	s.k, s.v = nil, nil
}

func (s *stream) inSpan() bool {
	if s.k == nil {
		return false
	}
	sp := s.spans[s.si]
	return bytes.Compare(s.k, sp.lo) >= 0 && (sp.hi == nil || bytes.Compare(s.k, sp.hi) < 0)
}

func (s *stream) next() {
	if s.desc {
		s.k, s.v = s.c.Prev()
	} else {
		s.k, s.v = s.c.Next()
	}
	if !s.inSpan() {
		s.nextSpan()
	}
}

// before reports whether a's sort part comes before b's in the list's order.
// A due-date sort part starts with its segment, which is always ascending:
// tasks without a due date come last in either direction.
func before(a, b []byte, dueSort, desc bool) bool {
	if dueSort && a[0] != b[0] {
		return a[0] < b[0]
	}
	c := bytes.Compare(a, b)
	if desc {
		return c > 0
	}
	return c < 0
}

// keep decides, from a stream's key and value, whether the entry matches.
type keep func(k, v []byte) bool

// walk merges streams and returns the ids of the page. With keep, entries it
// refuses are skipped; budget > 0 makes walk give up (nil, false) after that
// many skipped entries, and with budget 0 it never does.
func walk(streams []*stream, q *store.ListQuery, keep keep, budget int) ([]uint64, bool) {
	dueSort := q.Sort == store.SortDueDate
	for _, s := range streams {
		s.start()
		defer s.c.release()
	}
	want := q.PageEnd()
	ids := make([]uint64, 0, min(want, store.MaxLimit))
	seen, skipped := 0, 0
	for seen < want {
		var best *stream
		for _, s := range streams {
			if s.k != nil && (best == nil || before(s.k[s.skip:], best.k[best.skip:], dueSort, q.Desc)) {
				best = s
			}
		}
		if best == nil {
			break
		}
		if keep == nil || keep(best.k, best.v) {
			if seen >= q.Offset {
				ids = append(ids, keyID(best.k))
			}
			seen++
		} else if skipped++; budget > 0 && skipped > budget {
			return nil, false
		}
		best.next()
	}
	return ids, true
}

// baseStreams are the base streams of q's sort key for q's statuses and
// priorities; spans, when not nil, cut each stream's sort part to ranges.
func baseStreams(u *userBuckets, q *store.ListQuery, spans func(status byte) []span) []*stream {
	b := u.sortBucket(q.Sort)
	var out []*stream
	for _, st := range statuses(q.Status) {
		for _, p := range priorities(q) {
			prefix := basePrefix(st, p)
			s := &stream{c: b.Cursor(), skip: len(prefix), desc: q.Desc, spans: wholeStream(prefix, q.Sort)}
			if spans != nil {
				s.spans = nil
				for _, sp := range spans(st) {
					s.spans = append(s.spans, span{lo: append(slices.Clone(prefix), sp.lo...), hi: appendOrEnd(prefix, sp.hi)})
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// appendOrEnd is prefix+hi, or the end of prefix when hi is nil.
func appendOrEnd(prefix, hi []byte) []byte {
	if hi == nil {
		return prefixEnd(prefix)
	}
	return append(slices.Clone(prefix), hi...)
}

func tagStream(u *userBuckets, q *store.ListQuery) []*stream {
	prefix := tagPrefix(q.Tags[0])
	return []*stream{{c: u.sortBucket(q.Sort).Cursor(), skip: len(prefix), desc: q.Desc, spans: wholeStream(prefix, q.Sort)}}
}

// wholeStream is every entry under prefix, in the order of sort k: for the
// due-date sort, dated tasks then undated ones, each part in the list's
// direction, so undated tasks come last either way.
func wholeStream(prefix []byte, k store.SortKey) []span {
	if k == store.SortDueDate {
		return []span{prefixSpan(append(slices.Clone(prefix), dueSeg)), prefixSpan(append(slices.Clone(prefix), noDueSeg))}
	}
	return []span{prefixSpan(prefix)}
}

// dueSpans are the ranges of a due-date sort part ([seg][due][id]) that q's
// due filters let through, for tasks of one status.
func dueSpans(q *store.ListQuery, status byte) []span {
	lo, hi := []byte{dueSeg}, []byte{dueSeg + 1}
	if q.DueAfter != nil {
		lo = appendMicro([]byte{dueSeg}, *q.DueAfter)
	}
	if q.DueBefore != nil {
		hi = appendMicro([]byte{dueSeg}, *q.DueBefore)
	}
	if q.Overdue == nil {
		return []span{{lo, hi}}
	}
	now := appendMicro([]byte{dueSeg}, q.Now)
	switch {
	case *q.Overdue && status == 0:
		return []span{{[]byte{dueSeg}, now}}
	case *q.Overdue:
		return nil // a completed task is never overdue
	case status == 0:
		return []span{{now, []byte{dueSeg + 1}}, prefixSpan([]byte{noDueSeg})}
	}
	return []span{prefixSpan([]byte{dueSeg}), prefixSpan([]byte{noDueSeg})}
}

// dueList pages a list whose only filters are due-date ones (and a status).
func dueList(u *userBuckets, q *store.ListQuery) ([]uint64, error) {
	inRange := func(status byte) []span { return dueSpans(q, status) }
	if q.Sort == store.SortDueDate {
		ids, _ := walk(baseStreams(u, q, inRange), q, nil, 0)
		return ids, nil
	}
	keepDue := func(k, v []byte) bool {
		completed := k[1] == 1 // base key: [b][status][priority]...
		if len(v) != 8 {
			return dueMatches(q, completed, false, 0)
		}
		return dueMatches(q, completed, true, int64(binary.BigEndian.Uint64(v)))
	}
	streams := *q
	if q.Overdue != nil && *q.Overdue && q.Status == store.StatusAll {
		streams.Status = store.StatusPending // a completed task is never overdue: skip its streams
	}
	if ids, ok := walk(baseStreams(u, &streams, nil), q, keepDue, walkBudget); ok {
		return ids, nil
	}
	// Few tasks are in range: read them all from the due streams and sort.
	byDue := *q
	byDue.Sort, byDue.Desc, byDue.Offset, byDue.Limit = store.SortDueDate, false, 0, 1<<30
	var matches []uint64
	for _, s := range baseStreams(u, &byDue, inRange) {
		for s.start(); s.k != nil; s.next() {
			matches = append(matches, keyID(s.k))
		}
		s.c.release()
	}
	return sortPage(u, q, matches)
}

// dueCount counts the tasks a due-only list matches, from the histograms.
func dueCount(u *userBuckets, q *store.ListQuery) int {
	if q.Overdue != nil {
		now := q.Now
		overdue := countDueBefore(u, duePending, &now)
		switch {
		case *q.Overdue && q.Status == store.StatusCompleted:
			return 0
		case *q.Overdue:
			return overdue
		case q.Status == store.StatusCompleted:
			return statusCount(u, q)
		}
		return statusCount(u, q) - overdue // "the rest"
	}
	inRange := func(kind byte) int {
		n := countDueBefore(u, kind, q.DueBefore)
		if q.DueAfter != nil {
			n -= countDueBefore(u, kind, q.DueAfter)
		}
		return max(n, 0)
	}
	switch q.Status {
	case store.StatusPending:
		return inRange(duePending)
	case store.StatusCompleted:
		return inRange(dueAll) - inRange(duePending)
	}
	return inRange(dueAll)
}

// countDueBefore counts tasks of a kind due before t (every dated one when t
// is nil): whole months and days from the histograms, then the entries of
// t's own day from the due streams.
func countDueBefore(u *userBuckets, kind byte, t *time.Time) int {
	c := u.counts.Cursor()
	n := 0
	sum := func(level byte, upTo uint32, from uint32) {
		lo := dueCountKey(kind, level, from)
		hi := dueCountKey(kind, level, upTo)
		for k, v := c.Seek(lo); k != nil && bytes.Compare(k, hi) < 0; k, v = c.Next() {
			n += int(binary.BigEndian.Uint64(v))
		}
	}
	if t == nil {
		sum('M', ^uint32(0), 0)
		return n
	}
	month := monthOf(*t)
	sum('M', month, 0)
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	sum('D', dayOf(*t), dayOf(first))
	dayStart := time.UnixMicro(int64(dayOf(*t)-1<<30) * int64(24*time.Hour/time.Microsecond)).UTC()
	if t.Equal(dayStart) {
		return n // a date alone: whole days only
	}
	st := []byte{0, 1}
	if kind == duePending {
		st = []byte{0}
	}
	b := u.sortBucket(store.SortDueDate)
	for _, s := range st {
		for p := store.PriorityNone; p <= store.PriorityHigh; p++ {
			prefix := append(basePrefix(s, p), dueSeg)
			lo, hi := appendMicro(slices.Clone(prefix), dayStart), appendMicro(slices.Clone(prefix), *t)
			cur := b.Cursor()
			for k, _ := cur.Seek(lo); k != nil && bytes.Compare(k, hi) < 0; k, _ = cur.Next() {
				n++
			}
			cur.release()
		}
	}
	return n
}

// Which parts of a task a scan of task values needs beyond its header.
const (
	needHeader = iota
	needTitle  // a title sort: the title alone is decoded
	needTags   // a tag filter, or tag counts: the whole task is decoded
	needText   // a search: also the folded description
)

// eachRec calls fn with every task's rec, in id order: from the rec entries
// of an indexed user, else made from the task values, reading the JSON only
// as far as need asks. r is valid during the call only; value is the task's
// stored value when the scan read it (a user without indexes), else nil.
func eachRec(u *userBuckets, need int, fn func(id uint64, value []byte, r *rec) error) error {
	b := u.rec
	if b == nil {
		b = u.tasks
	}
	c := b.Cursor()
	var values *byID // the task values of an indexed user, for a description
	var r rec        // one for the scan: fn takes its address, so it is on the heap
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r = rec{}
		var err error
		switch {
		case u.rec != nil:
			if r, err = decodeRec(v); err == nil && r.descInTask && need == needText {
				if values == nil {
					values = newByID(u.tasks)
				}
				r.fdesc, err = taskDescription(values.get(keyID(k)))
			}
		case need >= needTags:
			r, err = textRec(v)
		default:
			var h header
			if h, err = decodeHeader(v); err == nil {
				r = rec{completed: h.completed, priority: h.priority, hasDue: h.hasDue, due: h.due, created: h.created, updated: h.updated}
				if need == needTitle {
					var title string
					title, err = decodeTitle(h)
					r.title = []byte(title)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("task %d: %w", keyID(k), err)
		}
		value := v
		if u.rec != nil {
			value = nil
		}
		if err := fn(keyID(k), value, &r); err != nil {
			return err
		}
	}
	return nil
}

// scanList answers any query by scanning: the plan for a user too small to
// have indexes, and for combinations no index serves.
func scanList(u *userBuckets, q *store.ListQuery) ([]uint64, [][]byte, int, error) {
	search := []byte(q.Search)
	need := needHeader
	switch {
	case len(search) > 0:
		need = needText
	case len(q.Tags) > 0:
		need = needTags
	case q.Sort == store.SortTitle:
		need = needTitle
	}
	walkIndex := false
	var matches []candidate
	if !u.indexed() {
		// A small user's list matches most of its tasks (at most IndexAfter).
		matches = make([]candidate, 0, u.taskCount())
	}
	err := eachRec(u, need, func(id uint64, value []byte, r *rec) error {
		if !r.match(q, search) {
			return nil
		}
		c := newCandidate(id, r, q.Sort, !walkIndex)
		c.value = value
		matches = append(matches, c)
		// Many matches of an indexed user: cheaper to walk its index.
		walkIndex = u.indexed() && q.Sort != store.SortID && len(matches) > max(smallSet, 4*q.PageEnd())
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	total := len(matches)
	if !walkIndex {
		// The scan is in id order, which most lists follow (tasks are
		// mostly created in id order): reversed for a descending list, the
		// matches are often in order already.
		if q.Desc {
			slices.Reverse(matches)
		}
		order := func(a, b candidate) int { return compareCandidates(q, &a, &b) }
		if q.Sort != store.SortID && !slices.IsSortedFunc(matches, order) {
			slices.SortFunc(matches, order)
		}
		lo, hi := q.Page(total)
		page := matches[lo:hi]
		var values [][]byte
		if !u.indexed() {
			values = make([][]byte, len(page))
			for i, m := range page {
				values[i] = m.value
			}
		}
		return candidateIDs(page), values, total, nil
	}
	set := make(map[uint64]struct{}, total)
	for _, m := range matches {
		set[m.id] = struct{}{}
	}
	all := *q
	all.Priorities = nil
	all.Status = store.StatusAll
	ids, _ := walk(baseStreams(u, &all, nil), q, func(k, _ []byte) bool {
		_, ok := set[keyID(k)]
		return ok
	}, 0)
	return ids, nil, total, nil
}

// candidate is a scan's match with what its sort needs: small, so that
// sorting a few hundred is cheap.
type candidate struct {
	id    uint64
	value []byte // the task's value, when the scan read it
	num   int64  // created, updated, due date or priority
	title string // for a title sort
	noDue bool
}

func newCandidate(id uint64, r *rec, k store.SortKey, withSort bool) candidate {
	c := candidate{id: id}
	if !withSort {
		return c
	}
	switch k {
	case store.SortCreated:
		c.num = r.created
	case store.SortUpdated:
		c.num = r.updated
	case store.SortTitle:
		c.title = string(r.title)
	case store.SortDueDate:
		c.num, c.noDue = r.due, !r.hasDue
	case store.SortPriority:
		c.num = int64(r.priority)
	}
	return c
}

// compareCandidates is store.ListQuery.Compare on candidates.
func compareCandidates(q *store.ListQuery, a, b *candidate) int {
	if q.Sort == store.SortDueDate && a.noDue != b.noDue {
		if a.noDue {
			return 1
		}
		return -1
	}
	var c int
	if q.Sort == store.SortTitle {
		c = strings.Compare(a.title, b.title)
	} else {
		c = cmp.Compare(a.num, b.num)
	}
	return q.Order(c, a.id, b.id)
}

func candidateIDs(cs []candidate) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

// sortPage sorts a set of an indexed user's ids by q's order and returns
// the page.
func sortPage(u *userBuckets, q *store.ListQuery, ids []uint64) ([]uint64, error) {
	cands := make([]candidate, 0, len(ids))
	recs := newByID(u.rec)
	for _, id := range ids {
		r, err := decodeRec(recs.get(id))
		if err != nil {
			return nil, fmt.Errorf("rec %d: %w", id, err)
		}
		cands = append(cands, newCandidate(id, &r, q.Sort, true))
	}
	slices.SortFunc(cands, func(a, b candidate) int { return compareCandidates(q, &a, &b) })
	lo, hi := q.Page(len(cands))
	return candidateIDs(cands[lo:hi]), nil
}

// scanTags counts a small user's tags: the spelling of the task with the
// lowest id, ordered by folded name.
func scanTags(u *userBuckets) ([]store.TagCount, error) {
	byFold := map[string]*store.TagCount{}
	err := eachRec(u, needTags, func(_ uint64, _ []byte, r *rec) error {
		for b := r.tags; len(b) > 0; {
			spelling, folded, rest, _ := nextTag(b)
			if tc, ok := byFold[string(folded)]; ok {
				tc.Count++
			} else {
				byFold[string(folded)] = &store.TagCount{Name: string(spelling), Count: 1}
			}
			b = rest
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.TagCount, 0, len(byFold))
	for _, f := range slices.Sorted(maps.Keys(byFold)) {
		out = append(out, *byFold[f])
	}
	return out, nil
}

// taskDescription is the description of a stored task (nil when it has
// none), for a search of a rec that does not hold it: the value's own bytes.
func taskDescription(v []byte) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("rec of a task that is not there: %w", errCorrupt)
	}
	h, err := decodeHeader(v)
	if err != nil {
		return nil, err
	}
	if h.format != valueFormat { // not after Open's migrations
		_, desc, _, err := textFields(h)
		if desc == nil {
			return nil, err
		}
		return []byte(*desc), err
	}
	x, err := readText(&h, nil)
	return x.desc, err
}

// textRec is the rec of a task value, read from its header and, for the
// title, description and tags, the least of its JSON.
func textRec(v []byte) (rec, error) {
	h, err := decodeHeader(v)
	if err != nil {
		return rec{}, err
	}
	title, desc, tags, err := textFields(h)
	if err != nil {
		return rec{}, err
	}
	r := rec{completed: h.completed, priority: h.priority, hasDue: h.hasDue, due: h.due, created: h.created, updated: h.updated,
		title: []byte(title), ftitle: []byte(store.FoldText(title))}
	if desc != nil {
		r.fdesc = []byte(store.FoldText(*desc))
	}
	for _, tag := range tags {
		f := store.FoldTag(tag)
		r.tags = append(append(append(append(r.tags, byte(len(tag))), tag...), byte(len(f))), f...)
	}
	return r, nil
}
