package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store"
)

// pendingSQL is a task waiting for its reminder.
const pendingSQL = `remind_at IS NOT NULL AND NOT completed AND reminded_at IS DISTINCT FROM remind_at`

// FireReminders implements store.Reminders. Each due task is locked with
// SKIP LOCKED, marked (reminded_at = remind_at) and logged as a
// task.reminder in one transaction: replicas sweeping together never fire
// one reminder twice, and a reminder that passed while none ran fires now.
func (s *Store) FireReminders(ctx context.Context, now time.Time, limit int) (int, error) {
	if err := s.open(ctx); err != nil {
		return 0, err
	}
	n := 0
	fired := map[string]uint64{}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		clear(fired)
		rows, err := tx.Query(ctx, `SELECT owner, id FROM taskbolt_tasks WHERE `+pendingSQL+` AND remind_at <= $1
			ORDER BY remind_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
		if err != nil {
			return err
		}
		type due struct {
			owner string
			id    int64
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
			var d due
			return d, r.Scan(&d.owner, &d.id)
		})
		if err != nil {
			return err
		}
		for _, d := range list {
			t, err := scanTask(tx.QueryRow(ctx, `UPDATE taskbolt_tasks SET reminded_at = remind_at WHERE owner = $1 AND id = $2
				RETURNING `+columns, d.owner, d.id))
			if err != nil {
				return err
			}
			seq, err := logged(ctx, tx, false, d.owner, 0, 0, store.ChangeReminder, uint64(d.id), taskData(&t))
			if err != nil {
				return err
			}
			fired[d.owner] = seq
			n++
		}
		return nil
	})
	if err != nil {
		return 0, classify(ctx, err)
	}
	for owner, seq := range fired {
		s.publish(owner, seq)
	}
	return n, nil
}
