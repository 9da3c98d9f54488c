package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"taskbolt/store"
)

// Changes implements store.Changelog.
func (s *Store) Changes(ctx context.Context, owner string, after uint64, limit int) ([]store.Change, uint64, bool, error) {
	if err := s.check(ctx, owner); err != nil {
		return nil, 0, false, err
	}
	var last int64
	var oldest *int64
	err := s.pool.QueryRow(ctx, `SELECT u.seq, (SELECT min(seq) FROM taskbolt_changes c WHERE c.owner = u.owner)
		FROM taskbolt_users u WHERE u.owner = $1`, owner).Scan(&last, &oldest)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, 0, after > 0, nil
	case err != nil:
		return nil, 0, false, classify(ctx, err)
	}
	if after > uint64(last) || oldest != nil && uint64(*oldest) > after+1 || oldest == nil && after < uint64(last) {
		return nil, uint64(last), true, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, kind, task_id, data, at FROM taskbolt_changes
		WHERE owner = $1 AND seq > $2 ORDER BY seq LIMIT $3`, owner, int64(after), limit)
	if err != nil {
		return nil, 0, false, classify(ctx, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Change, error) {
		var (
			c       store.Change
			seq, id int64
			kind    int16
			data    string
		)
		err := r.Scan(&seq, &kind, &id, &data, &c.At)
		c.Seq, c.Kind, c.TaskID, c.Data, c.At = uint64(seq), store.ChangeKind(kind), uint64(id), []byte(data), c.At.UTC()
		return c, err
	})
	if err != nil {
		return nil, 0, false, classify(ctx, err)
	}
	if n := len(out); n > 0 && out[n-1].Seq > uint64(last) { // committed since the first read
		last = int64(out[n-1].Seq)
	}
	return out, uint64(last), false, nil
}

// Seq implements store.Changelog.
func (s *Store) Seq(ctx context.Context, owner string) (uint64, error) {
	if err := s.check(ctx, owner); err != nil {
		return 0, err
	}
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM taskbolt_users WHERE owner = $1`, owner).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(seq), classify(ctx, err)
}

// listeners are the functions OnChange registered, fed by one LISTEN
// connection: a change committed through any replica reaches them all.
type listeners struct {
	mu   sync.RWMutex
	fns  []func(owner string, seq uint64)
	once sync.Once
}

// OnChange implements store.Changelog: the first registration starts
// listening for the NOTIFY every change sends at commit.
func (s *Store) OnChange(fn func(owner string, seq uint64)) {
	s.listeners.mu.Lock()
	s.listeners.fns = append(s.listeners.fns, fn)
	s.listeners.mu.Unlock()
	s.listeners.once.Do(func() { go s.listen() })
}

func (s *Store) changed(owner string, seq uint64) {
	s.listeners.mu.RLock()
	defer s.listeners.mu.RUnlock()
	for _, fn := range s.listeners.fns {
		fn(owner, seq)
	}
}

// listen holds a connection of its own on LISTEN until the store closes,
// reconnecting after failures. After each (re)connection it tells every
// listener that anything may have changed (owner ""), since notifications
// sent while it was away are lost; readers then read the log, which has
// everything.
func (s *Store) listen() {
	ctx := s.background
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+channel); err == nil {
				s.changed("", 0)
				for {
					n, err := conn.WaitForNotification(ctx)
					if err != nil {
						break
					}
					owner, seq, ok := strings.Cut(n.Payload, " ")
					if v, err := strconv.ParseUint(seq, 10, 64); ok && err == nil {
						s.changed(owner, v)
					}
				}
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// prune removes what the log need not keep (past both store.LogKeep changes
// and store.LogMinAge), every minute until the store closes.
func (s *Store) prune() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.background.Done():
			return
		case <-t.C:
			s.pool.Exec(s.background, `DELETE FROM taskbolt_changes c USING taskbolt_users u
				WHERE c.owner = u.owner AND c.seq <= u.seq - $1 AND c.at < now() - $2::interval`,
				store.LogKeep, store.LogMinAge.String())
		}
	}
}
