package bolt

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// bbolt's meta page, as laid out on disk (little-endian on every platform Go
// runs bbolt on): a 16-byte page header, then magic, version, page size,
// flags, the root bucket (16 bytes), the freelist page id, and the high-water
// page id.
const (
	metaMagic     = 0xED0CDAED
	metaOffMagic  = 16
	metaOffPgSize = 24
	metaOffPgid   = 56
)

// checkNotTruncated refuses a file shorter than its own meta pages say it
// is. bbolt maps the file and would fault (SIGBUS, which kills the process)
// on the first page past the end; a truncated copy or a half-written backup
// must be an error instead.
func checkNotTruncated(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	// The first meta page tells the page size; the second is one page later.
	head := make([]byte, 64)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil // too short to be bbolt: Open reports it as invalid
	}
	pageSize := int64(binary.LittleEndian.Uint32(head[metaOffPgSize:]))
	if binary.LittleEndian.Uint32(head[metaOffMagic:]) != metaMagic || pageSize < 512 || pageSize > 1<<20 {
		return nil // not a bbolt meta page: Open reports it
	}
	var need int64
	for i := int64(0); i < 2; i++ {
		m := make([]byte, 64)
		if _, err := f.ReadAt(m, i*pageSize); err != nil {
			return fmt.Errorf("open %s: truncated (%d bytes): the file was left untouched", path, fi.Size())
		}
		if binary.LittleEndian.Uint32(m[metaOffMagic:]) != metaMagic {
			continue
		}
		need = max(need, int64(binary.LittleEndian.Uint64(m[metaOffPgid:]))*pageSize)
	}
	if fi.Size() < need {
		return fmt.Errorf("open %s: truncated: %d bytes, its meta pages need %d; not a whole taskbolt database, and the file was left untouched",
			path, fi.Size(), need)
	}
	return nil
}
