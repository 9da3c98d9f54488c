package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"
)

// A packed bucket is a sorted map of small keys and values kept in blocks:
// each bbolt entry holds a run of consecutive entries, under the key of the
// first one, each key stored as the bytes it does not share with the key
// before it. An index entry is a stream prefix, a sort part and an id,
// 15-40 bytes of which most repeat the entry before; as one bbolt entry
// each it cost those bytes again plus bbolt's 16-byte element header, and
// the indexes were two thirds of the file. Packed, an entry costs the bytes
// that differ plus three.
//
// A block's value is its entries one after another:
//
//	[shared uvarint][suffix length uvarint][suffix][value length uvarint][value]
//
// where shared counts the bytes the key has in common with the key before
// it; the first entry's "key before" is the block's own key, so it is stored
// as shared = len(block key) and no suffix. A write rewrites one block and
// splits it in two when it outgrows maxBlock; a block left small by deletes
// takes in the one after it.
//
// Blocks never overlap: every key of a block sorts after every key of the
// block before and before the next block's key.
type packed struct {
	b     *bbolt.Bucket
	tails *blockTails // nil in readers and bulk writers
}

// maxBlock bounds a block's encoded size. A seek decodes one block, so a
// larger block costs every page more; a smaller one costs more bbolt
// elements (16 bytes and a key each). Measured on a user of 100,000 tasks
// (BenchmarkListFlat, TestBytesPerTask): 512 made a page 36 µs, 256 20 µs,
// 128 18 µs, for 644, 650 and 658 bytes a task.
const maxBlock = 256

// entry is one key and value of a packed bucket.
type entry struct{ k, v []byte }

// decodeBlock appends the entries of the block (key, value) to es, their
// bytes copied into arena (grown as needed), and returns both. The entries
// stay valid while arena's bytes are not reused.
func decodeBlock(key, value []byte, es []entry, arena []byte) ([]entry, []byte, error) {
	bad := func(what string) ([]entry, []byte, error) {
		return es, arena, fmt.Errorf("packed block %x: %s: %w", key, what, errCorrupt)
	}
	first := len(es)
	prev := key
	for off := 0; off < len(value); {
		e, what := readEntry(value, off, len(prev))
		if what != "" {
			return bad(what)
		}
		off = e.end
		start, klen := len(arena), e.shared+len(e.suffix)
		arena = append(append(append(arena, prev[:e.shared]...), e.suffix...), e.value...)
		k := arena[start : start+klen : start+klen]
		var v []byte
		if len(e.value) > 0 {
			v = arena[start+klen : len(arena) : len(arena)]
		}
		// A key sorts after the one before it when the first byte it does
		// not share is greater, or when it only adds bytes to it.
		switch {
		case len(es) == first && (e.shared != len(key) || len(e.suffix) != 0):
			return bad("first entry is not the block's key")
		case len(es) > first && (len(e.suffix) == 0 || e.shared < len(prev) && e.suffix[0] <= prev[e.shared]):
			return bad("keys out of order")
		}
		es = append(es, entry{k, v})
		prev = k
	}
	if len(es) == first {
		return bad("empty")
	}
	return es, arena, nil
}

// encodeBlock encodes es, whose first key is the block's key. bbolt keeps
// the slice until the transaction commits, so it is always a new one.
func encodeBlock(es []entry) []byte {
	out := make([]byte, 0, blockSize(es))
	prev := es[0].k
	for _, e := range es {
		out = appendEntry(out, prev, e.k, e.v)
		prev = e.k
	}
	return out
}

// blockSize is es's encoded size, near enough to split by (one byte per
// length: keys and values are short).
func blockSize(es []entry) int {
	n, prev := 0, es[0].k
	for _, e := range es {
		n += 3 + len(e.k) - commonPrefix(prev, e.k) + len(e.v)
		prev = e.k
	}
	return n
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// blockFor positions c on the block whose range holds k: the last block
// whose key is at most k, or the first block when k comes before them all.
// It returns nil when the bucket is empty, and next, the key of the block
// after, when the seek passed it (nil for the last block).
func blockFor(c *bbolt.Cursor, k []byte) (bk, bv, next []byte) {
	bk, bv = c.Seek(k)
	if bk != nil && bytes.Equal(bk, k) {
		return bk, bv, nil
	}
	next = bk
	if bk == nil {
		bk, bv = c.Last()
	} else {
		bk, bv = c.Prev()
	}
	if bk == nil {
		bk, bv = c.First()
		return bk, bv, nil
	}
	return bk, bv, next
}

// search returns where k is or would be in es.
func search(es []entry, k []byte) (int, bool) {
	return slices.BinarySearchFunc(es, k, func(e entry, k []byte) int { return bytes.Compare(e.k, k) })
}

// Put sets k to v.
//
// Most writes change one entry in the middle or at the end of a block that
// keeps room for it (a create appends to the newest block of its streams),
// so Put splices the block's bytes: the entries before the change and after
// it are copied as they are, and only the new entry and the one after it are
// encoded. Decoding every entry and encoding them again cost a create of an
// indexed user a third of its CPU. A change that moves the block's key or
// makes it outgrow maxBlock takes the decoding path, which splits.
//
// An append to a block this transaction appended to before (tails) costs
// less again: no seek and no walk, only the new entry.
func (p packed) Put(k, v []byte) error {
	if t := p.tails.holding(k); t != nil {
		return p.appendTo(t, k, v)
	}
	c := p.b.Cursor()
	bk, bv, next := blockFor(c, k)
	if bk == nil {
		return p.b.Put(k, encodeBlock([]entry{{k, v}}))
	}
	if bytes.Compare(k, bk) > 0 {
		var w blockWalk
		var room keyRoom
		at, found, err := w.find(bk, bv, k, &room)
		if err != nil {
			return err
		}
		if found && bytes.Equal(w.val, v) {
			return nil
		}
		p.tails.forget(bk) // the block is rewritten below
		var out []byte
		switch {
		case found: // the same key, another value
			out = make([]byte, 0, len(bv)+len(v)+2)
			out = append(out, bv[:w.valAt]...)
			out = appendValue(out, v)
			out = append(out, bv[at.end:]...)
		case at.start == len(bv): // after the block's last key
			value := append(make([]byte, 0, maxBlock+tailSlack), bv...)
			return p.appendTo(p.tails.remember(bk, value, w.prev, next), k, v)
		default: // k goes before the entry at at.start
			out = make([]byte, 0, len(bv)+len(k)+len(v)+6)
			out = append(out, bv[:at.start]...)
			out = appendEntry(out, w.prev, k, v)
			out = appendEntry(out, k, w.key, w.val)
			out = append(out, bv[at.end:]...)
		}
		if len(out) <= maxBlock {
			return p.b.Put(bk, out) // bbolt copies the key, and keeps the value until the commit
		}
	}
	return p.putDecoded(bk, bv, k, v)
}

// appendTo appends (k, v) to the tail block t, whose last key k follows;
// when t is full, k starts a new block after it, which leaves the blocks
// of keys written in order full rather than split in halves.
func (p packed) appendTo(t *blockTail, k, v []byte) error {
	// The new bytes go past the end of the value bbolt holds, which keeps
	// its own length: what it will write is unchanged.
	if grown := appendEntry(t.value, t.last, k, v); len(grown) <= maxBlock {
		t.value, t.last = grown, append(t.last[:0], k...)
		return p.b.Put(t.key, t.value)
	}
	block := appendEntry(make([]byte, 0, maxBlock+tailSlack), k, k, v)
	t.key, t.value, t.last = append(t.key[:0], k...), block, append(t.last[:0], k...)
	return p.b.Put(t.key, t.value)
}

// blockTails are the blocks of one packed bucket that appends of this
// transaction went to, one per stream written (a task's base stream and
// each of its tags'). They are only ever the blocks as this transaction
// wrote them: every other change to a block forgets it.
type blockTails struct {
	ts   [4]blockTail
	n    int // how many of ts are in use
	turn int // the one to replace next
}

// blockTail is a block that ends with the key last, with its bytes as put;
// next is the key of the block after it, nil for the bucket's last.
type blockTail struct {
	key, value, last, next []byte
}

// tailSlack is room past maxBlock for the entry that overflows a block.
const tailSlack = 64

// holding returns the tail whose block k belongs at the end of: after its
// last key and before the next block.
func (ts *blockTails) holding(k []byte) *blockTail {
	if ts == nil {
		return nil
	}
	for i := range ts.n {
		t := &ts.ts[i]
		if bytes.Compare(k, t.last) > 0 && (t.next == nil || bytes.Compare(k, t.next) < 0) {
			return t
		}
	}
	return nil
}

// remember adds a tail (key, value ending with the key last, next),
// replacing the oldest when all are in use, and returns it; without tails
// (nil), the one it returns is the caller's alone.
func (ts *blockTails) remember(key, value, last, next []byte) *blockTail {
	if ts == nil {
		return &blockTail{key: slices.Clone(key), value: value, last: slices.Clone(last), next: next}
	}
	i := ts.n
	if i == len(ts.ts) {
		i, ts.turn = ts.turn, (ts.turn+1)%len(ts.ts)
	} else {
		ts.n++
	}
	t := &ts.ts[i]
	t.key, t.value, t.last = append(t.key[:0], key...), value, append(t.last[:0], last...)
	t.next = nil
	if next != nil {
		t.next = append(t.next[:0:0], next...)
	}
	return t
}

// forget drops the tail of the block key, which is changing otherwise.
func (ts *blockTails) forget(key []byte) {
	if ts == nil {
		return
	}
	for i := range ts.n {
		if bytes.Equal(ts.ts[i].key, key) {
			ts.n--
			ts.ts[i], ts.ts[ts.n] = ts.ts[ts.n], blockTail{}
			return
		}
	}
}

// clear drops every tail: blocks were split, merged or loaded.
func (ts *blockTails) clear() {
	if ts != nil {
		*ts = blockTails{}
	}
}

// putDecoded is Put by decoding the whole block (bk, bv), for a key before
// the block's first or a block that must split.
func (p packed) putDecoded(bk, bv, k, v []byte) error {
	buf := takeRoom()
	defer buf.put()
	es, arena, err := decodeBlock(bk, bv, buf.es[:0], buf.arena[:0])
	buf.es, buf.arena = es, arena
	if err != nil {
		return err
	}
	i, found := search(es, k)
	if found {
		if bytes.Equal(es[i].v, v) {
			return nil
		}
		es[i].v = v
	} else {
		es = slices.Insert(es, i, entry{k, v})
		buf.es = es
	}
	return p.replace(bk, es) // encodeBlock copies what it writes
}

// Delete removes k; a missing k is not an error. Like Put, it splices the
// block's bytes, unless k is the block's key or the block would be left
// small enough to take in the one after it.
func (p packed) Delete(k []byte) error {
	c := p.b.Cursor()
	bk, bv, _ := blockFor(c, k)
	if bk == nil {
		return nil
	}
	if bytes.Compare(k, bk) > 0 {
		var w blockWalk
		var room keyRoom
		at, found, err := w.find(bk, bv, k, &room)
		if err != nil || !found {
			return err
		}
		out := make([]byte, 0, len(bv))
		out = append(out, bv[:at.start]...)
		if at.end < len(bv) {
			// The entry after k is stored against k; store it against the
			// key before k instead.
			var spare [128]byte
			next := blockWalk{key: w.key, prev: spare[:0]} // step builds the next key in spare
			nextAt, err := next.step(bv, at.end)
			if err != nil {
				return err
			}
			out = appendEntry(out, w.prev, next.key, next.val)
			out = append(out, bv[nextAt.end:]...)
		}
		if len(out) >= maxBlock/4 {
			p.tails.forget(bk)
			return p.b.Put(bk, out)
		}
	}
	return p.deleteDecoded(c, bk, bv, k)
}

// deleteDecoded is Delete by decoding the whole block, merging it with the
// next one when it is left small.
func (p packed) deleteDecoded(c *bbolt.Cursor, bk, bv, k []byte) error {
	buf := takeRoom()
	defer buf.put()
	es, arena, err := decodeBlock(bk, bv, buf.es[:0], buf.arena[:0])
	buf.es, buf.arena = es, arena
	if err != nil {
		return err
	}
	i, found := search(es, k)
	if !found {
		return nil
	}
	es = slices.Delete(es, i, i+1)
	old := slices.Clone(bk)
	if blockSize1(es) < maxBlock/4 {
		// Take in the next block, so that deletes do not leave a trail of
		// near-empty blocks.
		if nk, nv := c.Next(); nk != nil {
			if es, buf.arena, err = decodeBlock(nk, nv, es, arena); err != nil {
				return err
			}
			buf.es = es
			if err := p.b.Delete(slices.Clone(nk)); err != nil {
				return err
			}
		}
	}
	return p.replace(old, es)
}

// blockWalk reads a block's entries in place, one after another, keeping
// the current key and the one before it rebuilt in room (the caller's, so
// that a walk allocates nothing for keys that fit).
type blockWalk struct {
	key, prev []byte
	shared    int    // how many bytes key shares with prev
	val       []byte // the current entry's value, in the block's bytes
	valAt     int    // where the current entry's value length starts
}

// keyRoom holds a walk's two keys; index keys are 10-60 bytes.
type keyRoom [2][128]byte

// entrySpan is where an entry sits in a block's bytes: [start, end).
type entrySpan struct{ start, end int }

// step reads the entry at off of block bv, stored against w.key (the key
// before it): the entry's key becomes w.key, and the one before w.prev.
// The new key is built in the room of the key before the old one, so the
// two rooms alternate and only the shared bytes are copied.
func (w *blockWalk) step(bv []byte, off int) (entrySpan, error) {
	e, what := readEntry(bv, off, len(w.key))
	if what != "" {
		return entrySpan{}, fmt.Errorf("packed block at %d: %s: %w", off, what, errCorrupt)
	}
	w.key, w.prev = append(append(w.prev[:0], w.key[:e.shared]...), e.suffix...), w.key
	w.shared, w.val, w.valAt = e.shared, e.value, e.valAt
	return entrySpan{off, e.end}, nil
}

// storedEntry is one entry as a block stores it: how many bytes of the key
// before it its key shares, the rest of its key and its value, in the
// block's bytes; valAt (where its value's length starts) and end are
// offsets in the block.
type storedEntry struct {
	shared        int
	suffix, value []byte
	valAt, end    int
}

// readEntry reads the entry at off of block bv, stored against a key of
// prevLen bytes. what says what is wrong with a damaged one.
func readEntry(bv []byte, off, prevLen int) (e storedEntry, what string) {
	rest := bv[off:]
	shared, n := binary.Uvarint(rest)
	if n <= 0 || shared > uint64(prevLen) {
		return e, "bad shared length"
	}
	rest = rest[n:]
	suffix, n := binary.Uvarint(rest)
	if n <= 0 || suffix > uint64(len(rest)-n) {
		return e, "bad suffix length"
	}
	e.shared, e.suffix = int(shared), rest[n:n+int(suffix)]
	rest = rest[n+int(suffix):]
	e.valAt = len(bv) - len(rest)
	vlen, n := binary.Uvarint(rest)
	if n <= 0 || vlen > uint64(len(rest)-n) {
		return e, "bad value length"
	}
	e.value, e.end = rest[n:n+int(vlen)], e.valAt+n+int(vlen)
	return e, ""
}

// find walks block (bk, bv) to the first entry whose key is at least k,
// which must sort after bk. It returns that entry's span and whether its key
// is k, with w holding its key, its value and the key before it; past the
// last entry the span is empty at len(bv) and w.prev is the last key.
//
// It compares few bytes: while the keys sort below k, match is how many
// bytes the current one shares with k. The next key then sorts below k too
// when it keeps more than match bytes of the one before, and above k when
// it keeps fewer (it is greater than the one before where they differ, and
// the one before equals k there); only when it keeps exactly match bytes
// are its own bytes compared with k's.
func (w *blockWalk) find(bk, bv, k []byte, room *keyRoom) (entrySpan, bool, error) {
	w.key, w.prev = append(room[0][:0], bk...), room[1][:0]
	match := commonPrefix(bk, k)
	for off := 0; off < len(bv); {
		at, err := w.step(bv, off)
		if err != nil {
			return at, false, err
		}
		switch s := w.shared; {
		case s < match:
			return at, false, nil
		case s == match:
			rest := w.key[s:]
			if c := bytes.Compare(rest, k[s:]); c >= 0 {
				return at, c == 0, nil
			}
			match = s + commonPrefix(rest, k[s:])
		}
		off = at.end
	}
	w.prev = w.key
	return entrySpan{len(bv), len(bv)}, false, nil
}

// appendEntry encodes the entry (k, v) stored after the key prev.
func appendEntry(out, prev, k, v []byte) []byte {
	shared := commonPrefix(prev, k)
	out = binary.AppendUvarint(out, uint64(shared))
	out = binary.AppendUvarint(out, uint64(len(k)-shared))
	out = append(out, k[shared:]...)
	return appendValue(out, v)
}

func appendValue(out, v []byte) []byte {
	return append(binary.AppendUvarint(out, uint64(len(v))), v...)
}

// blockSize1 is blockSize that allows an empty block.
func blockSize1(es []entry) int {
	if len(es) == 0 {
		return 0
	}
	return blockSize(es)
}

// replace writes es in place of the block under old: under their first key,
// split into blocks of at most maxBlock, or nothing when es is empty.
func (p packed) replace(old []byte, es []entry) error {
	p.tails.clear()
	if len(es) == 0 || !bytes.Equal(es[0].k, old) {
		if err := p.b.Delete(old); err != nil {
			return err
		}
	}
	for len(es) > 0 {
		n := len(es)
		if size := blockSize(es); size > maxBlock {
			n = splitAt(es, min(size/2, maxBlock))
		}
		if err := p.b.Put(es[0].k, encodeBlock(es[:n])); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

// splitAt is how many of es fill a block of about size bytes (at least one).
func splitAt(es []entry, size int) int {
	n, prev := 0, es[0].k
	for i, e := range es {
		n += 3 + len(e.k) - commonPrefix(prev, e.k) + len(e.v)
		if n > size && i > 0 {
			return i
		}
		prev = e.k
	}
	return len(es)
}

// load writes es, sorted and with distinct keys, into an empty packed
// bucket in full blocks (imports, migrations, a user's first index).
func (p packed) load(es []entry) error {
	p.tails.clear()
	for len(es) > 0 {
		n := splitAt(es, maxBlock)
		if err := p.b.Put(es[0].k, encodeBlock(es[:n])); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

// ForEach calls fn for every entry in key order, checking the blocks as it
// reads them.
func (p packed) ForEach(fn func(k, v []byte) error) error {
	c := p.Cursor()
	defer c.release()
	var last []byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if last != nil && bytes.Compare(last, k) >= 0 {
			return fmt.Errorf("packed blocks overlap at %x: %w", k, errCorrupt)
		}
		if err := fn(k, v); err != nil {
			return err
		}
		last = append(last[:0], k...)
	}
	return c.err
}

// Cursor returns a cursor over the entries, with bbolt's cursor's methods.
// Its user releases it when done, which gives its decoding room back to
// blockBufs: a cursor left unreleased makes the next one allocate.
func (p packed) Cursor() *packedCursor { return &packedCursor{c: p.b.Cursor()} }

// packedCursor walks a packed bucket's entries. The key and value it
// returns stay valid until the cursor moves to another block. A corrupt
// block ends the walk as the end of the bucket does, and sets err.
type packedCursor struct {
	c     *bbolt.Cursor
	es    []entry
	arena []byte
	i     int
	err   error
	*blockBuf
}

// blockBuf is room for a decoded block. A list walks eight or more streams,
// each decoding blocks; taking the room from a pool rather than allocating
// it halved a big user's page.
type blockBuf struct {
	es    []entry
	arena []byte
}

var blockBufs = sync.Pool{New: func() any {
	return &blockBuf{es: make([]entry, 0, maxBlock/8), arena: make([]byte, 0, 4*maxBlock)}
}}

// roomsOut counts the rooms taken from blockBufs and not yet given back: a
// cursor that is never released leaves one out, and makes the next
// cursor allocate (TestCursorsGiveRoomBack).
var roomsOut atomic.Int64

func takeRoom() *blockBuf {
	roomsOut.Add(1)
	return blockBufs.Get().(*blockBuf)
}

// put gives the room back to the pool, keeping what it grew to.
func (b *blockBuf) put() {
	roomsOut.Add(-1)
	b.es, b.arena = b.es[:0], b.arena[:0]
	clear(b.es[:cap(b.es)]) // drop references into the database
	blockBufs.Put(b)
}

// release gives the cursor's room back to the pool; what the cursor
// returned is no longer valid, and the cursor is not used again.
func (pc *packedCursor) release() {
	if pc.blockBuf == nil {
		return
	}
	pc.blockBuf.es, pc.blockBuf.arena = pc.es, pc.arena
	pc.blockBuf.put()
	pc.blockBuf, pc.es, pc.arena = nil, nil, nil
}

// load decodes the block (bk, bv), or empties the cursor at the end.
func (pc *packedCursor) load(bk, bv []byte) bool {
	pc.es = pc.es[:0]
	if bk == nil {
		return false
	}
	if pc.arena == nil {
		pc.blockBuf = takeRoom()
		pc.es, pc.arena = pc.blockBuf.es[:0], pc.blockBuf.arena[:0]
	}
	var err error
	if pc.es, pc.arena, err = decodeBlock(bk, bv, pc.es, pc.arena[:0]); err != nil {
		pc.es, pc.err = pc.es[:0], err
		return false
	}
	return true
}

func (pc *packedCursor) at(i int) ([]byte, []byte) {
	if i < 0 || i >= len(pc.es) {
		return nil, nil
	}
	pc.i = i
	return pc.es[i].k, pc.es[i].v
}

func (pc *packedCursor) First() ([]byte, []byte) {
	if !pc.load(pc.c.First()) {
		return nil, nil
	}
	return pc.at(0)
}

func (pc *packedCursor) Last() ([]byte, []byte) {
	if !pc.load(pc.c.Last()) {
		return nil, nil
	}
	return pc.at(len(pc.es) - 1)
}

func (pc *packedCursor) Next() ([]byte, []byte) {
	if pc.i+1 < len(pc.es) {
		return pc.at(pc.i + 1)
	}
	if !pc.load(pc.c.Next()) {
		return nil, nil
	}
	return pc.at(0)
}

func (pc *packedCursor) Prev() ([]byte, []byte) {
	if pc.i > 0 && pc.i <= len(pc.es) {
		return pc.at(pc.i - 1)
	}
	if !pc.load(pc.c.Prev()) {
		return nil, nil
	}
	return pc.at(len(pc.es) - 1)
}

// Seek moves to the first entry at or after k.
func (pc *packedCursor) Seek(k []byte) ([]byte, []byte) {
	bk, bv, _ := blockFor(pc.c, k)
	if !pc.load(bk, bv) {
		return nil, nil
	}
	if i, _ := search(pc.es, k); i < len(pc.es) {
		return pc.at(i)
	}
	pc.i = len(pc.es) - 1
	return pc.Next()
}

// tailsIfWritable is room for b's tails in a write transaction.
func tailsIfWritable(b *bbolt.Bucket) *blockTails {
	if b.Writable() {
		return &blockTails{}
	}
	return nil
}
