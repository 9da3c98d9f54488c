package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store"
)

// Dump implements store.Dumper: every owner in order, with its counter and
// its tasks in id order, read in one repeatable-read snapshot.
func (s *Store) Dump(ctx context.Context, fn func(owner string, lastID uint64, tasks []store.Task) error) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		type user struct {
			owner string
			last  int64
		}
		rows, err := tx.Query(ctx, `SELECT owner, last_id FROM taskbolt_users ORDER BY owner`)
		if err != nil {
			return err
		}
		users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (user, error) {
			var u user
			return u, r.Scan(&u.owner, &u.last)
		})
		if err != nil {
			return err
		}
		for _, u := range users {
			rows, err := tx.Query(ctx, `SELECT `+columns+` FROM taskbolt_tasks WHERE owner = $1 ORDER BY id`, u.owner)
			if err != nil {
				return err
			}
			tasks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Task, error) { return scanTask(r) })
			if err != nil {
				return err
			}
			if err := fn(u.owner, uint64(u.last), tasks); err != nil {
				return &callerError{err}
			}
		}
		return nil
	})
	var ce *callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	return classify(ctx, err)
}

// callerError carries fn's own error through the transaction untouched.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

// Load implements store.Loader, in one transaction: a task with an id
// replaces the task of that id, one without gets the next id, and the
// owner's counter ends at or above lastID and every id loaded. A load that
// changes anything logs one reset (CONTRACT.md "Events"). The tasks travel
// by COPY into a temporary table, then one upsert moves them, and the
// owner's row is written once at the end: updating one row per task in one
// transaction would grow its version chain with every task.
func (s *Store) Load(ctx context.Context, owner string, lastID uint64, tasks []store.Task) ([]store.Task, error) {
	if err := s.check(ctx, owner); err != nil {
		return nil, err
	}
	out := make([]store.Task, len(tasks))
	last := map[uint64]int{} // a task listed twice: the last one counts
	top := lastID
	for i, t := range tasks {
		if t.ID != 0 {
			last[t.ID] = i
			top = max(top, t.ID)
		}
	}
	var seq int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var counter, base int64
		err := tx.QueryRow(ctx, `INSERT INTO taskbolt_users AS u (owner, last_id) VALUES ($1, $2)
			ON CONFLICT (owner) DO UPDATE SET last_id = greatest(u.last_id, $2) RETURNING last_id, seq`, owner, int64(top)).Scan(&counter, &base)
		if err != nil {
			return err
		}
		now := s.clock()
		// The tasks go to a temporary table by COPY (one stream, no statement
		// per task), then into taskbolt_tasks by one upsert that leaves alone
		// a task loaded before as it is now: importing twice changes nothing.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE taskbolt_load (LIKE taskbolt_tasks INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		var rows [][]any
		for i, t := range tasks {
			if t.ID != 0 && last[t.ID] != i {
				continue
			}
			if t.ID == 0 {
				counter++
				t.ID = uint64(counter)
			}
			t.UserID, t.NextOccurrence = owner, 0
			if t.CreatedAt.IsZero() {
				t.CreatedAt = now
			}
			if t.UpdatedAt.Before(t.CreatedAt) {
				t.UpdatedAt = t.CreatedAt
			}
			t.CreatedAt, t.UpdatedAt = micro(t.CreatedAt), micro(t.UpdatedAt)
			if t.Tags == nil {
				t.Tags = []string{}
			}
			out[i] = t
			rows = append(rows, append([]any{int64(t.ID)}, values(&t)...))
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"taskbolt_load"}, loadColumns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, loadTasks)
		if err != nil {
			return err
		}
		// One reset for the whole load, not a change per task: a bulk load
		// is a refetch for the owner's streams, and must not fill the log.
		if tag.RowsAffected() > 0 {
			if _, err := tx.Exec(ctx, logReset, owner, base, string(store.ResetData)); err != nil {
				return err
			}
		}
		// The owner's row once: the counter, the log's last seq, the counts.
		if err := tx.QueryRow(ctx, `UPDATE taskbolt_users SET last_id = greatest(last_id, $2),
			seq = greatest(seq, coalesce((SELECT max(seq) FROM taskbolt_changes WHERE owner = $1), 0)),
			counts = `+countsOf+` WHERE owner = $1 RETURNING seq`, owner, counter).Scan(&seq); err != nil {
			return err
		}
		// A loaded reminder whose time has passed belongs to the system the
		// task came from: only the ones still to come are pending.
		ids := make([]int64, 0, len(out))
		for _, t := range out {
			ids = append(ids, int64(t.ID))
		}
		_, err = tx.Exec(ctx, `UPDATE taskbolt_tasks SET reminded_at = remind_at WHERE owner = $1 AND id = ANY($2)
			AND remind_at <= $3 AND reminded_at IS DISTINCT FROM remind_at`, owner, ids, now)
		return err
	})
	if err != nil {
		return nil, classify(ctx, err)
	}
	s.publish(owner, uint64(seq))
	if len(tasks) >= 1000 {
		// A bulk load changes what the planner should know; autovacuum
		// would tell it only later. A failure here loses nothing.
		s.pool.Exec(ctx, `ANALYZE taskbolt_tasks`)
	}
	// Duplicates of an id answer as the one that was kept.
	for i, t := range tasks {
		if t.ID != 0 && last[t.ID] != i {
			out[i] = out[last[t.ID]]
		}
	}
	return out, nil
}

// loadColumns are the columns Load copies, in the order of id, then values.
var loadColumns = []string{"id", "owner", "title", "description", "completed", "priority", "tags", "tags_fold",
	"search", "search_desc", "due_date", "recurrence", "remind_at", "spawned", "created_at", "updated_at"}

// loadTasks moves a load's tasks from the temporary table into
// taskbolt_tasks, inserting or replacing each; a task loaded before as it is
// now is left alone (no row affected).
const loadTasks = `INSERT INTO taskbolt_tasks AS t (id, owner, title, description, completed, priority, tags, tags_fold,
		search, search_desc, due_date, recurrence, remind_at, spawned, created_at, updated_at)
		SELECT id, owner, title, description, completed, priority, tags, tags_fold,
		search, search_desc, due_date, recurrence, remind_at, spawned, created_at, updated_at FROM taskbolt_load
		ON CONFLICT (owner, id) DO UPDATE SET title = excluded.title, description = excluded.description,
		completed = excluded.completed, priority = excluded.priority, tags = excluded.tags, tags_fold = excluded.tags_fold,
		search = excluded.search, search_desc = excluded.search_desc, due_date = excluded.due_date,
		recurrence = excluded.recurrence, remind_at = excluded.remind_at, spawned = excluded.spawned,
		created_at = excluded.created_at, updated_at = excluded.updated_at
		WHERE (t.title, t.description, t.completed, t.priority, t.tags, t.due_date, t.recurrence, t.remind_at, t.spawned,
			t.created_at, t.updated_at) IS DISTINCT FROM (excluded.title, excluded.description, excluded.completed,
			excluded.priority, excluded.tags, excluded.due_date, excluded.recurrence, excluded.remind_at, excluded.spawned,
			excluded.created_at, excluded.updated_at)`

// logReset logs a load's one reset ($1 the owner, $2 its seq before the
// load, $3 the data).
const logReset = `INSERT INTO taskbolt_changes (owner, seq, kind, task_id, data)
	SELECT $1, greatest((SELECT max(seq) FROM taskbolt_changes WHERE owner = $1), $2) + 1, 5, 0, $3`

func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// countsOf is an owner's ($1) counts, counted.
const countsOf = `(SELECT array_agg(coalesce(c.n, 0) ORDER BY k) FROM generate_series(1, 8) AS k
	LEFT JOIN (SELECT ` + slotSQL + ` AS k, count(*) AS n FROM taskbolt_tasks WHERE owner = $1 GROUP BY 1) c USING (k))`

// Reset implements store.Resetter: every task and counter goes.
func (s *Store) Reset(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `TRUNCATE taskbolt_tasks, taskbolt_users, taskbolt_changes, taskbolt_idempotency, taskbolt_conversations, taskbolt_messages`)
	return classify(ctx, err)
}

// Size implements store.Sizer: the bytes of taskbolt's tables and indexes.
func (s *Store) Size(ctx context.Context) (int64, error) {
	if err := s.open(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		WHERE c.relname IN ('taskbolt_tasks', 'taskbolt_users', 'taskbolt_conversations', 'taskbolt_messages') AND pg_table_is_visible(c.oid)`).Scan(&n)
	return n, classify(ctx, err)
}

// Check implements store.Checker: every owner's counter is at or above its
// ids, and the derived columns (folded tags and text) agree with the task.
func (s *Store) Check(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	var problems []string
	rows, err := s.pool.Query(ctx, `SELECT t.owner, max(t.id), coalesce(max(u.last_id), -1) FROM taskbolt_tasks t
		LEFT JOIN taskbolt_users u USING (owner) GROUP BY t.owner HAVING max(t.id) > coalesce(max(u.last_id), -1)`)
	if err != nil {
		return classify(ctx, err)
	}
	for rows.Next() {
		var owner string
		var top, counter int64
		if err := rows.Scan(&owner, &top, &counter); err != nil {
			rows.Close()
			return err
		}
		problems = append(problems, fmt.Sprintf("user %q: task %d is above its counter %d", owner, top, counter))
	}
	if err := rows.Err(); err != nil {
		return classify(ctx, err)
	}
	rows, err = s.pool.Query(ctx, `SELECT owner, counts, `+strings.ReplaceAll(countsOf, "$1", "u.owner")+` FROM taskbolt_users u
		WHERE counts <> `+strings.ReplaceAll(countsOf, "$1", "u.owner"))
	if err != nil {
		return classify(ctx, err)
	}
	for rows.Next() {
		var owner string
		var kept, counted []int64
		if err := rows.Scan(&owner, &kept, &counted); err != nil {
			rows.Close()
			return err
		}
		problems = append(problems, fmt.Sprintf("user %q: kept counts %v, counted %v", owner, kept, counted))
	}
	if err := rows.Err(); err != nil {
		return classify(ctx, err)
	}
	rows, err = s.pool.Query(ctx, `SELECT owner, id, title, description, tags, tags_fold, search, search_desc FROM taskbolt_tasks`)
	if err != nil {
		return classify(ctx, err)
	}
	for rows.Next() {
		var t store.Task
		var title, desc, search, searchDesc []byte
		var folded []string
		if err := rows.Scan(&t.UserID, &t.ID, &title, &desc, &t.Tags, &folded, &search, &searchDesc); err != nil {
			rows.Close()
			return err
		}
		t.Title = string(title)
		if desc != nil {
			d := string(desc)
			t.Description = &d
		}
		want := values(&t) // owner, title, description, completed, priority, tags, tags_fold, search, search_desc, ...
		if !slices.Equal(folded, want[6].([]string)) || !bytes.Equal(search, want[7].([]byte)) ||
			(searchDesc == nil) != (want[8].([]byte) == nil) || !bytes.Equal(searchDesc, want[8].([]byte)) {
			problems = append(problems, fmt.Sprintf("user %q task %d: folded tags or text disagree with the task", t.UserID, t.ID))
		}
	}
	if err := rows.Err(); err != nil {
		return classify(ctx, err)
	}
	chats, err := s.checkChats(ctx)
	if err != nil {
		return err
	}
	if problems = append(problems, chats...); len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
