package bolt

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store/atomicfile"
)

// compactTxSize is how many bytes Compact copies per write transaction of the
// new file: large enough to be fast, small enough to bound its memory.
const compactTxSize = 64 << 20

// Compact rewrites the database at src into a fresh, dense file and puts it
// at out (over src itself when out is ""), only once the new file verifies
// (Verify). bbolt never gives freed pages back to the file system: after
// deletions, or an old change log, this is how the space comes back. src
// must not be held by a running server (ErrLocked otherwise); a file of an
// older schema is migrated first. It returns the file's size before and
// after.
func Compact(src, out string, opt Options) (before, after int64, err error) {
	if out == "" {
		out = src
	}
	fi, err := os.Stat(src)
	if err != nil {
		return 0, 0, err
	}
	before = fi.Size()
	opt.ReadOnly = false // the lock is exclusive, so no server starts on src meanwhile
	opt.LockTimeout = 200 * time.Millisecond
	s, err := Open(src, opt)
	if err != nil {
		return before, 0, err
	}
	defer s.Close()
	dir, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".compact-*")
	if err != nil {
		return before, 0, err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "compact.db")
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return before, 0, err
	}
	// As Open does: past 16 MiB bbolt would grow the new file 16 MiB at a
	// time, and a compacted 30 MB file came out at 45 MB.
	dst.AllocSize = growStep
	if err := bbolt.Compact(dst, s.db, compactTxSize); err != nil {
		dst.Close()
		return before, 0, fmt.Errorf("compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		return before, 0, err
	}
	err = atomicfile.Write(out, func(w io.Writer) error {
		f, err := os.Open(tmp)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}, Verify)
	if err != nil {
		return before, 0, err
	}
	if fi, err = os.Stat(out); err != nil {
		return before, 0, err
	}
	return before, fi.Size(), nil
}
