package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

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
	b *bbolt.Bucket
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
	for len(value) > 0 {
		shared, n := binary.Uvarint(value)
		if n <= 0 || shared > uint64(len(prev)) {
			return bad("bad shared length")
		}
		value = value[n:]
		suffix, n := binary.Uvarint(value)
		if n <= 0 || suffix > uint64(len(value)-n) {
			return bad("bad suffix length")
		}
		suffixBytes := value[n : n+int(suffix)]
		value = value[n+int(suffix):]
		vlen, n := binary.Uvarint(value)
		if n <= 0 || vlen > uint64(len(value)-n) {
			return bad("bad value length")
		}
		vbytes := value[n : n+int(vlen)]
		value = value[n+int(vlen):]

		start := len(arena)
		arena = append(append(append(arena, prev[:shared]...), suffixBytes...), vbytes...)
		k := arena[start : start+int(shared)+int(suffix) : start+int(shared)+int(suffix)]
		var v []byte
		if vlen > 0 {
			v = arena[start+len(k) : len(arena) : len(arena)]
		}
		// A key sorts after the one before it when the first byte it does
		// not share is greater, or when it only adds bytes to it.
		switch {
		case len(es) == first && (shared != uint64(len(key)) || suffix != 0):
			return bad("first entry is not the block's key")
		case len(es) > first && (suffix == 0 || shared < uint64(len(prev)) && suffixBytes[0] <= prev[shared]):
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
		shared := commonPrefix(prev, e.k)
		out = binary.AppendUvarint(out, uint64(shared))
		out = binary.AppendUvarint(out, uint64(len(e.k)-shared))
		out = append(out, e.k[shared:]...)
		out = binary.AppendUvarint(out, uint64(len(e.v)))
		out = append(out, e.v...)
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
// It returns nil when the bucket is empty.
func blockFor(c *bbolt.Cursor, k []byte) (bk, bv []byte) {
	bk, bv = c.Seek(k)
	if bk != nil && bytes.Equal(bk, k) {
		return bk, bv
	}
	if bk == nil {
		bk, bv = c.Last()
	} else {
		bk, bv = c.Prev()
	}
	if bk == nil {
		return c.First()
	}
	return bk, bv
}

// search returns where k is or would be in es.
func search(es []entry, k []byte) (int, bool) {
	return slices.BinarySearchFunc(es, k, func(e entry, k []byte) int { return bytes.Compare(e.k, k) })
}

// Put sets k to v.
func (p packed) Put(k, v []byte) error {
	c := p.b.Cursor()
	bk, bv := blockFor(c, k)
	if bk == nil {
		return p.b.Put(k, encodeBlock([]entry{{slices.Clone(k), slices.Clone(v)}}))
	}
	buf := blockBufs.Get().(*blockBuf)
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
		es[i].v = slices.Clone(v)
	} else {
		es = slices.Insert(es, i, entry{slices.Clone(k), slices.Clone(v)})
		buf.es = es
	}
	return p.replace(slices.Clone(bk), es)
}

// Delete removes k; a missing k is not an error.
func (p packed) Delete(k []byte) error {
	c := p.b.Cursor()
	bk, bv := blockFor(c, k)
	if bk == nil {
		return nil
	}
	buf := blockBufs.Get().(*blockBuf)
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

// put gives the room back to the pool, keeping what it grew to.
func (b *blockBuf) put() {
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
		pc.blockBuf = blockBufs.Get().(*blockBuf)
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
	if !pc.load(blockFor(pc.c, k)) {
		return nil, nil
	}
	if i, _ := search(pc.es, k); i < len(pc.es) {
		return pc.at(i)
	}
	pc.i = len(pc.es) - 1
	return pc.Next()
}
