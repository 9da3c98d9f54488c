package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store"
)

// columns are a task's columns in the order scanTask reads them.
const columns = `id, owner, title, description, completed, priority, tags, due_date, recurrence, remind_at, spawned, created_at, updated_at`

// row is what scanTask reads from.
type row interface{ Scan(dest ...any) error }

func scanTask(r row) (store.Task, error) { return scanTaskAnd(r) }

// scanTaskAnd scans a task row followed by more columns, into more.
func scanTaskAnd(r row, more ...any) (store.Task, error) {
	var (
		t           store.Task
		title, desc []byte
		priority    int16
		recur       string
	)
	dest := make([]any, 0, 13+len(more)) // one allocation per row, where append would make two
	dest = append(dest, &t.ID, &t.UserID, &title, &desc, &t.Completed, &priority, &t.Tags, &t.DueDate, &recur,
		&t.RemindAt, &t.Spawned, &t.CreatedAt, &t.UpdatedAt)
	err := r.Scan(append(dest, more...)...)
	if err != nil {
		return t, err
	}
	t.Title = string(title)
	if desc != nil {
		d := string(desc)
		t.Description = &d
	}
	t.Priority, t.Recurrence = store.Priority(priority), store.Recurrence(recur)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.DueDate, t.RemindAt = utc(t.DueDate), utc(t.RemindAt)
	if t.Tags == nil {
		t.Tags = []string{}
	}
	return t, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// values are a task's stored columns, from owner on, for insertTask.
func values(t *store.Task) []any {
	folded := make([]string, len(t.Tags))
	for i, tag := range t.Tags {
		folded[i] = store.FoldTag(tag)
	}
	var desc, searchDesc []byte // nil: NULL
	if t.Description != nil {
		desc, searchDesc = []byte(*t.Description), []byte(store.FoldText(*t.Description))
	}
	tags := t.Tags
	if tags == nil {
		tags = []string{}
	}
	return []any{t.UserID, []byte(t.Title), desc, t.Completed, int16(t.Priority), tags, folded,
		[]byte(store.FoldText(t.Title)), searchDesc, t.DueDate, string(t.Recurrence), t.RemindAt, t.Spawned, t.CreatedAt, t.UpdatedAt}
}

// nextID takes the owner's next id and change sequence, and counts the new
// task ($16 is its slot in counts, $17 the counts of an owner's first task):
// the owner's row is created on first use and locked until the transaction
// ends, so concurrent creates of one owner queue on it and the ids have no
// gaps (a rolled-back create gives its id back). Owners never wait for each
// other.
const nextID = `INSERT INTO taskbolt_users AS u (owner, last_id, counts, seq) VALUES ($1, 1, $17, 1)
	ON CONFLICT (owner) DO UPDATE SET last_id = u.last_id + 1, counts[$16] = u.counts[$16] + 1, seq = u.seq + 1
	RETURNING last_id, seq`

// insertTask stores a new task under the owner's next id and logs it, in one
// statement ($18: the task's JSON after its `{"id":0`).
const insertTask = `WITH next AS (` + nextID + `),
	task AS (INSERT INTO taskbolt_tasks (id, owner, title, description, completed, priority, tags, tags_fold, search, search_desc,
		due_date, recurrence, remind_at, spawned, created_at, updated_at)
		SELECT next.last_id, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM next),
	log AS (INSERT INTO taskbolt_changes (owner, seq, kind, task_id, data)
		SELECT $1, next.seq, 1, next.last_id, '{"id":' || next.last_id || $18 FROM next)
	SELECT next.last_id, next.seq FROM next`

// channel is the NOTIFY channel of changes.
const channel = "taskbolt_changes"

// logChange logs a change of the owner ($1) made in the transaction: the
// next seq and the entry; it returns the seq. counts moves a task from slot
// $2 to slot $3 (equal: no move). Replicas hear of it after the commit
// (publish), never from inside the transaction: a NOTIFY there would
// serialize every commit on PostgreSQL's notification lock.
const logChange = `WITH next AS (UPDATE taskbolt_users SET seq = seq + 1%s WHERE owner = $1 AND %s RETURNING seq)
	INSERT INTO taskbolt_changes (owner, seq, kind, task_id, data) SELECT $1, next.seq, $4, $5, $6 FROM next
	RETURNING seq`

func logChangeSQL(moves bool) string {
	if moves { // two assignments to one element would keep only the last: only when they differ
		return fmt.Sprintf(logChange, ", counts[$2] = counts[$2] - 1, counts[$3] = counts[$3] + 1", "$2::int <> $3::int")
	}
	return fmt.Sprintf(logChange, "", "$2::int = $3::int")
}

// taskData is a task's event data.
func taskData(t *store.Task) string { return string(t.AppendJSON(nil)) }

// slot is a task's place in its owner's counts (1-based, as SQL arrays are).
func slot(completed bool, p store.Priority) int {
	if completed {
		return 5 + int(p)
	}
	return 1 + int(p)
}

// slotSQL is slot in SQL, over a task row.
const slotSQL = `(CASE WHEN completed THEN 5 ELSE 1 END + priority)`

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// create stores t under the owner's next id and returns its change's seq.
func create(ctx context.Context, q querier, t *store.Task) (uint64, error) {
	k := slot(t.Completed, t.Priority)
	first := make([]int64, 8)
	first[k-1] = 1
	t.ID = 0
	tail := strings.TrimPrefix(string(t.AppendJSON(nil)), `{"id":0`)
	var seq int64
	err := q.QueryRow(ctx, insertTask, append(values(t), k, first, tail)...).Scan(&t.ID, &seq)
	return uint64(seq), err
}

// logged runs logChangeSQL and returns the seq.
func logged(ctx context.Context, q querier, moves bool, owner string, from, to int, kind store.ChangeKind, id uint64, data string) (uint64, error) {
	var seq uint64
	err := q.QueryRow(ctx, logChangeSQL(moves), logArgs(owner, from, to, kind, id, data)...).Scan(&seq)
	return seq, err
}

// queueLog queues logChangeSQL in a batch; its QueryRow gets the seq.
func queueLog(b *pgx.Batch, moves bool, owner string, from, to int, kind store.ChangeKind, id uint64, data string) *pgx.QueuedQuery {
	return b.Queue(logChangeSQL(moves), logArgs(owner, from, to, kind, id, data)...)
}

func logArgs(owner string, from, to int, kind store.ChangeKind, id uint64, data string) []any {
	return []any{owner, from, to, int16(kind), int64(id), data}
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, owner string, in store.NewTask) (store.Task, error) {
	if err := s.check(ctx, owner); err != nil {
		return store.Task{}, err
	}
	t := in.New(owner, 0, s.clock())
	if in.Idem == nil {
		seq, err := create(ctx, s.pool, &t)
		if err != nil {
			return store.Task{}, classify(ctx, err)
		}
		s.publish(owner, seq)
		return t, nil
	}
	var seq uint64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := claimKey(ctx, tx, owner, in.Idem); err != nil {
			return err
		}
		var err error
		if seq, err = create(ctx, tx, &t); err != nil {
			return err
		}
		return recordOutcome(ctx, tx, owner, in.Idem, &t)
	})
	if err != nil {
		return store.Task{}, classifyIdem(ctx, err)
	}
	s.publish(owner, seq)
	return t, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, owner string, id uint64) (store.Task, error) {
	if err := s.check(ctx, owner); err != nil {
		return store.Task{}, err
	}
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM taskbolt_tasks WHERE owner = $1 AND id = $2`, owner, int64(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Task{}, store.ErrNotFound
	}
	return t, classify(ctx, err)
}

// Update implements store.Store: the task's row is locked, the patch
// applied by store.Task.Apply, and a recurring task that completes spawns
// its next occurrence, all in one transaction.
func (s *Store) Update(ctx context.Context, owner string, id uint64, p store.Patch) (store.Task, error) {
	if err := s.check(ctx, owner); err != nil {
		return store.Task{}, err
	}
	var t store.Task
	var seq uint64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := claimKey(ctx, tx, owner, p.Idem); err != nil {
			return err
		}
		var err error
		t, err = scanTask(tx.QueryRow(ctx, `SELECT `+columns+` FROM taskbolt_tasks WHERE owner = $1 AND id = $2 FOR UPDATE`, owner, int64(id)))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if p.IfVersion != 0 && t.Version() != p.IfVersion {
			return store.ErrPreconditionFailed
		}
		was, wasCompleted := slot(t.Completed, t.Priority), t.Completed
		now := s.clock()
		if spawn := t.Apply(p, now); spawn {
			next := t.Recur(now).New(owner, 0, now)
			if _, err := create(ctx, tx, &next); err != nil {
				return err
			}
			t.NextOccurrence = next.ID
		}
		// A reopened task does not bring back a reminder whose time has passed:
		// it counts as sent.
		reopened := wasCompleted && !t.Completed && t.RemindAt != nil && !t.RemindAt.After(now)
		v := values(&t) // owner, then the columns from title to updated_at; created_at never changes
		is := slot(t.Completed, t.Priority)
		// The update and its log entry go in one round trip.
		var b pgx.Batch
		b.Queue(`UPDATE taskbolt_tasks SET title = $3, description = $4, completed = $5, priority = $6, tags = $7,
			tags_fold = $8, search = $9, search_desc = $10, due_date = $11, recurrence = $12, remind_at = $13, spawned = $14,
			updated_at = $15, reminded_at = CASE WHEN $16 THEN $13 ELSE reminded_at END WHERE owner = $1 AND id = $2`,
			append([]any{owner, int64(id)}, append(v[1:13:13], v[14], reopened)...)...)
		queueLog(&b, is != was, owner, was, is, store.ChangeUpdated, id, taskData(&t)).QueryRow(func(r pgx.Row) error {
			return r.Scan(&seq)
		})
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
		return recordOutcome(ctx, tx, owner, p.Idem, &t)
	})
	if err != nil {
		return store.Task{}, classifyIdem(ctx, err)
	}
	s.publish(owner, seq)
	return t, nil
}

// classifyIdem is classify, keeping a replay or a reused key as it is.
func classifyIdem(ctx context.Context, err error) error {
	var r *store.Replayed
	if errors.As(err, &r) || errors.Is(err, store.ErrKeyReused) {
		return err
	}
	return classify(ctx, err)
}

// Delete implements store.Store. The id is never handed out again: the
// owner's counter stays where it is.
func (s *Store) Delete(ctx context.Context, owner string, id uint64) error {
	return s.DeleteIf(ctx, owner, id, 0)
}

// DeleteIf implements store.ConditionalDeleter: version 0 is any version.
func (s *Store) DeleteIf(ctx context.Context, owner string, id uint64, version int64) error {
	if err := s.check(ctx, owner); err != nil {
		return err
	}
	var seq int64
	err := s.pool.QueryRow(ctx, `WITH gone AS (DELETE FROM taskbolt_tasks WHERE owner = $1 AND id = $2
			AND ($3::bigint = 0 OR (extract(epoch FROM updated_at) * 1000000)::bigint = $3) RETURNING `+slotSQL+` AS k),
		next AS (UPDATE taskbolt_users u SET counts[gone.k] = u.counts[gone.k] - 1, seq = u.seq + 1 FROM gone WHERE u.owner = $1 RETURNING u.seq)
		INSERT INTO taskbolt_changes (owner, seq, kind, task_id, data) SELECT $1, next.seq, 3, $2, $4 FROM next
		RETURNING seq`, owner, int64(id), version, string(store.DeletedData(id))).Scan(&seq)
	if err == nil {
		s.publish(owner, uint64(seq))
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return classify(ctx, err)
	}
	if version != 0 {
		if _, err := s.Get(ctx, owner, id); err == nil {
			return store.ErrPreconditionFailed
		}
	}
	return store.ErrNotFound
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, owner string, q store.ListQuery) ([]store.Task, int, error) {
	tasks, total, _, err := s.ListWithSeq(ctx, owner, q)
	return tasks, total, err
}

// ListWithSeq implements store.SeqLister: the page carries the owner's
// change sequence, read in the same statement. A page that is not full
// tells the total by itself (the offset plus its length), so the usual list
// of a small user is one statement; a full page is followed by a count.
func (s *Store) ListWithSeq(ctx context.Context, owner string, q store.ListQuery) ([]store.Task, int, uint64, error) {
	if err := s.check(ctx, owner); err != nil {
		return nil, 0, 0, err
	}
	if q.None {
		seq, err := s.Seq(ctx, owner)
		return []store.Task{}, 0, seq, err
	}
	where, args := filter(owner, q)
	lo, hi := q.Page(q.PageEnd())
	rows, err := s.pool.Query(ctx, `SELECT `+columns+`, (SELECT seq FROM taskbolt_users WHERE owner = $1)
		FROM taskbolt_tasks WHERE `+where+` ORDER BY `+orderBy(q)+fmt.Sprintf(` LIMIT %d OFFSET %d`, hi-lo, lo), args...)
	if err != nil {
		return nil, 0, 0, classify(ctx, err)
	}
	var seq int64
	tasks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Task, error) { return scanTaskAnd(r, &seq) })
	if err != nil {
		return nil, 0, 0, classify(ctx, err)
	}
	if len(tasks) == 0 {
		tasks = []store.Task{}
		seqNow, err := s.Seq(ctx, owner)
		if err != nil {
			return nil, 0, 0, err
		}
		seq = int64(seqNow)
	}
	if len(tasks) < hi-lo && (len(tasks) > 0 || lo == 0) {
		return tasks, lo + len(tasks), uint64(seq), nil
	}
	total, err := s.count(ctx, owner, q, where, args)
	if err != nil {
		return nil, 0, 0, classify(ctx, err)
	}
	return tasks, total, uint64(seq), nil
}

// count is the number of the owner's tasks q matches: from the kept counts
// when q filters by status and priority alone, else counted.
func (s *Store) count(ctx context.Context, owner string, q store.ListQuery, where string, args []any) (int, error) {
	if len(q.Tags) > 0 || q.Search != "" || q.DueBefore != nil || q.DueAfter != nil || q.Overdue != nil {
		var n int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM taskbolt_tasks WHERE `+where, args...).Scan(&n)
		return n, err
	}
	var counts []int64
	err := s.pool.QueryRow(ctx, `SELECT counts FROM taskbolt_users WHERE owner = $1`, owner).Scan(&counts)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, err
	case len(counts) != 8:
		return 0, fmt.Errorf("postgres: user %q has %d counts, want 8", owner, len(counts))
	}
	n := 0
	for _, completed := range []bool{false, true} {
		for p := store.PriorityNone; p <= store.PriorityHigh; p++ {
			if q.Status.Matches(completed) && (len(q.Priorities) == 0 || slices.Contains(q.Priorities, p)) {
				n += int(counts[slot(completed, p)-1])
			}
		}
	}
	return n, nil
}

// filter is the WHERE clause of q and its arguments, $1 being the owner.
// Every condition has the form of store.ListQuery.Match's.
func filter(owner string, q store.ListQuery) (string, []any) {
	var w strings.Builder
	args := []any{owner}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	w.WriteString("owner = $1")
	switch q.Status {
	case store.StatusPending:
		w.WriteString(" AND NOT completed")
	case store.StatusCompleted:
		w.WriteString(" AND completed")
	}
	if len(q.Priorities) > 0 {
		ps := make([]int16, len(q.Priorities))
		for i, p := range q.Priorities {
			ps[i] = int16(p)
		}
		w.WriteString(" AND priority = ANY(" + arg(ps) + "::smallint[])")
	}
	if len(q.Tags) > 0 {
		w.WriteString(" AND tags_fold @> " + arg(q.Tags) + "::text[]")
	}
	if q.Search != "" {
		p := arg([]byte(q.Search))
		w.WriteString(" AND (position(" + p + "::bytea in search) > 0 OR position(" + p + "::bytea in search_desc) > 0)")
	}
	if q.DueBefore != nil {
		w.WriteString(" AND due_date < " + arg(*q.DueBefore))
	}
	if q.DueAfter != nil {
		w.WriteString(" AND due_date >= " + arg(*q.DueAfter))
	}
	if q.Overdue != nil {
		now := arg(q.Now)
		if *q.Overdue {
			w.WriteString(" AND NOT completed AND due_date < " + now)
		} else {
			w.WriteString(" AND (completed OR due_date IS NULL OR due_date >= " + now + ")")
		}
	}
	return w.String(), args
}

// orderBy is store.ListQuery.Compare in SQL: the key, then the id, both in
// the query's direction; tasks without a due date last either way.
func orderBy(q store.ListQuery) string {
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	key := map[store.SortKey]string{store.SortCreated: "created_at", store.SortUpdated: "updated_at",
		store.SortTitle: "title", store.SortPriority: "priority", store.SortDueDate: "due_date"}[q.Sort]
	switch {
	case key == "":
		return "id" + dir
	case q.Sort == store.SortDueDate:
		return "due_date" + dir + " NULLS LAST, id" + dir
	}
	return key + dir + ", id" + dir
}

// Tags implements store.Store: each tag as spelled on the lowest-id task
// that has it, with its count, ordered by the folded name.
func (s *Store) Tags(ctx context.Context, owner string) ([]store.TagCount, error) {
	if err := s.check(ctx, owner); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (f COLLATE "C") tag, count(*) OVER (PARTITION BY f)
		FROM taskbolt_tasks t, unnest(t.tags, t.tags_fold) AS u(tag, f)
		WHERE owner = $1 ORDER BY f COLLATE "C", t.id`, owner)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out := []store.TagCount{}
	for rows.Next() {
		var tc store.TagCount
		var n int64
		if err := rows.Scan(&tc.Name, &n); err != nil {
			rows.Close()
			return nil, classify(ctx, err)
		}
		tc.Count = int(n)
		out = append(out, tc)
	}
	return out, classify(ctx, rows.Err())
}
