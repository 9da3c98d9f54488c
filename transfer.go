package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/atomicfile"
	"github.com/taskbolt/taskbolt/store/dump"
)

func export(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("export", stderr)
	user := fs.String("user", "", "only this user's tasks")
	out := fs.String("out", "", "write to FILE (replaced only by a whole export) instead of standard output")
	server := serverFlag(fs, "export it")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	if *user != "" && !store.ValidUserID(*user) {
		return usageError{errors.New("export: --user must be 1-128 visible ASCII characters without '/'")}
	}
	progress := progressTo(stderr, "exported")
	var write func(w io.Writer) (int, error)
	st, err := openStore(ctx, cfg, openOptions{ReadOnly: true})
	switch {
	case errors.Is(err, store.ErrLocked):
		write = func(w io.Writer) (int, error) { return exportFromServer(ctx, server(cfg), *user, w, progress) }
	case err != nil:
		return err
	default:
		defer st.Close()
		d, ok := st.(store.Dumper)
		if !ok {
			return fmt.Errorf("export: %s cannot export", cfg.describeDatabase())
		}
		write = func(w io.Writer) (int, error) { return dump.Export(ctx, d, w, *user, progress) }
	}
	report := func(w io.Writer) error {
		n, err := write(w)
		progress(-n)
		return err
	}
	if *out != "" {
		err = atomicfile.Write(*out, report, nil)
	} else {
		err = report(stdout)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// exportFromServer streams the running server's /admin/export into w, as a
// local export would have written it; a stream cut short is an error.
func exportFromServer(ctx context.Context, admin adminClient, user string, w io.Writer, progress func(int)) (int, error) {
	path := "/admin/export"
	if user != "" {
		path += "?user=" + url.QueryEscape(user)
	}
	resp, err := admin.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return dump.Copy(w, resp.Body, progress)
}

func importCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flags("import", stderr)
	server := serverFlag(fs, "import into it")
	from := fs.String("from", "", "read a FastAPI backend's task table from this postgres:// URL instead of FILE")
	table := fs.String("table", "task", "with --from: the table (schema.table works too)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if (*from == "") != (len(pos) == 1) || len(pos) > 1 {
		return usageError{errors.New("import: name one FILE (an export or a seed file), or --from URL")}
	}
	cfg, _, err := loadConfig(environ)
	if err != nil {
		return err
	}
	var doc *dump.Document
	if *from != "" {
		doc, err = readFastAPI(ctx, *from, *table, progressTo(stderr, "read"))
	} else {
		doc, err = readDocument(pos[0])
	}
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	progress := progressTo(stderr, "imported")
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// A user's load is one transaction that holds all of its pages until
		// the commit; collecting early keeps the import of 100,000 tasks at
		// 125 MB RSS rather than 170, for a fifth more time. Edge hosts are
		// small, and an import is a batch job.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(importMemoryLimit))
	}
	var n int
	st, err := openStore(ctx, cfg, openOptions{Logger: newLogger(cfg, stderr)})
	switch {
	case errors.Is(err, store.ErrLocked):
		n, err = importThroughServer(ctx, server(cfg), doc, cfg.BodyLimit, progress)
	case err != nil:
		return err
	default:
		defer st.Close()
		l, ok := st.(store.Loader)
		if !ok {
			return fmt.Errorf("import: %s cannot import", cfg.describeDatabase())
		}
		n, err = dump.Import(ctx, l, doc, progress)
	}
	progress(-n)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

// importMemoryLimit is the Go heap `taskbolt import` aims to stay under
// (runtime/debug.SetMemoryLimit; GOMEMLIMIT overrides it). It is a soft
// limit: a load that needs more gets it.
const importMemoryLimit = 100 << 20

// importThroughServer sends a validated document to the running server one
// user at a time, split into requests that fit in its body limit. Each
// request is one transaction; the whole import is idempotent, so after a
// failure running it again finishes it.
func importThroughServer(ctx context.Context, admin adminClient, doc *dump.Document, bodyLimit int, progress func(int)) (int, error) {
	maxBatch := max(4<<10, min(512<<10, bodyLimit/2)) // room for the user's header, and a server whose BODY_LIMIT differs
	n := 0
	for _, u := range doc.Users {
		batches, err := u.Batches(maxBatch)
		if err != nil {
			return n, err
		}
		for _, b := range batches {
			body, err := json.Marshal(b)
			if err != nil {
				return n, err
			}
			resp, err := admin.do(ctx, http.MethodPost, "/admin/import", "application/json", bytes.NewReader(body))
			if err != nil {
				return n, fmt.Errorf("user %q: %w (%d tasks were imported; importing again is safe)", u.UserID, err, n)
			}
			resp.Body.Close()
			n += len(b.Tasks)
			progress(n)
		}
	}
	return n, nil
}

// importFile loads an export or seed file into st (serve --seed).
func importFile(ctx context.Context, st store.Store, path string, progress func(int)) (int, error) {
	l, ok := st.(store.Loader)
	if !ok {
		return 0, errors.New("this store cannot import")
	}
	doc, err := readDocument(path)
	if err != nil {
		return 0, err
	}
	return dump.Import(ctx, l, doc, progress)
}

// readDocument reads and validates a whole export or seed file: nothing is
// loaded from a file with problems.
func readDocument(path string) (*dump.Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := dump.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// progressTo reports running counts on a terminal, and nothing when w is a
// pipe or a file. A negative count is the final one.
func progressTo(w io.Writer, verb string) func(int) {
	f, ok := w.(*os.File)
	if !ok {
		return func(int) {}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return func(int) {}
	}
	last := time.Time{}
	return func(n int) {
		if n < 0 {
			fmt.Fprintf(f, "\r%s %d tasks\n", verb, -n)
			return
		}
		if time.Since(last) > 100*time.Millisecond {
			fmt.Fprintf(f, "\r%s %d tasks…", verb, n)
			last = time.Now()
		}
	}
}
