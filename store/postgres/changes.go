package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store"
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
					for line := range strings.SplitSeq(n.Payload, "\n") {
						owner, seq, _ := strings.Cut(line, " ")
						if v, err := strconv.ParseUint(seq, 10, 64); err == nil {
							s.changed(owner, v) // owner "": anyone may have changed
						}
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

// note is one committed change to tell the replicas of.
type note struct {
	owner string
	seq   uint64
}

// publish tells every replica (this one too) after a commit that owner is at
// seq. It never blocks a writer: notes queue for notifier, and when the queue
// is full a single "anything may have changed" goes out instead.
func (s *Store) publish(owner string, seq uint64) {
	select {
	case s.notes <- note{owner, seq}:
	default:
		s.overflow.Store(true)
	}
}

// notifier sends the queued notes as NOTIFYs of their own, a few
// milliseconds' worth at a time, each line "owner seq". A NOTIFY inside the
// writes' transactions would serialize their commits on PostgreSQL's
// notification lock; these commit without a WAL flush. A note lost to a
// crash between commit and NOTIFY only delays delivery: streams reread the
// log at every heartbeat.
func (s *Store) notifier() {
	const maxPayload = 7000 // PostgreSQL's limit is 8000 bytes
	for {
		var first note
		select {
		case <-s.background.Done():
			return
		case first = <-s.notes:
		}
		latest := map[string]uint64{first.owner: first.seq}
		window := time.After(2 * time.Millisecond)
	collect:
		for len(latest) < 500 {
			select {
			case n := <-s.notes:
				latest[n.owner] = max(latest[n.owner], n.seq)
			case <-window:
				break collect
			}
		}
		var lines []string
		if s.overflow.Swap(false) {
			lines = append(lines, " 0") // everyone: notes were dropped
		}
		for owner, seq := range latest {
			lines = append(lines, owner+" "+strconv.FormatUint(seq, 10))
		}
		for len(lines) > 0 {
			payload, n := "", 0
			for n < len(lines) && len(payload)+len(lines[n])+1 < maxPayload {
				payload += lines[n] + "\n"
				n++
			}
			lines = lines[n:]
			if _, err := s.pool.Exec(s.background, `SELECT pg_notify($1, $2)`, channel, strings.TrimSuffix(payload, "\n")); err != nil {
				s.overflow.Store(true) // tell everyone at the next chance
			}
		}
	}
}
