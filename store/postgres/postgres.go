// Package postgres is the store.Store of taskbolt on PostgreSQL, for running
// many stateless replicas over one database (DATABASE_URL=postgres://…).
//
// It keeps the same contract as store/bolt, proven by the same conformance
// suite (store/storetest): per-owner ids from a counter row that is never
// lowered (a deleted id is never reused), timestamps at microsecond
// precision, titles ordered by code point (COLLATE "C"), and every rule of a
// change applied by store.Task.Apply inside the transaction that holds the
// task's row lock, so replicas never lose or reorder each other's writes.
//
// Connections come from a pgx pool. When the database cannot be reached,
// every method answers store.ErrUnavailable (the API's 503), and the pool
// reconnects by itself when it comes back.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskbolt/taskbolt/store"
)

// ErrSchemaTooNew refuses a database migrated by a newer taskbolt.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this taskbolt")

// Options tune Open. The zero value is the production default.
type Options struct {
	// PoolSize is the most connections the pool opens. Default 16.
	PoolSize int
	// ConnectTimeout bounds opening one connection. Default 5s.
	ConnectTimeout time.Duration
	// StatementTimeout bounds one statement on the server (statement_timeout).
	// Default 5s; negative: none (0 in DATABASE_STATEMENT_TIMEOUT).
	StatementTimeout time.Duration
	// ReadOnly opens for reading (export, check): the schema is never
	// created or migrated, and must be the one this taskbolt knows.
	ReadOnly bool
	// Logger reports migrations. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
}

// Store is a store.Store on PostgreSQL.
type Store struct {
	pool      *pgxpool.Pool
	now       func() time.Time
	closed    atomic.Bool
	listeners listeners
	notes     chan note   // committed changes for the notifier
	overflow  atomic.Bool // notes were dropped: tell everyone
	// background lives until Close: the change listener and the log's pruning.
	background context.Context
	stop       context.CancelFunc
}

func newStore(pool *pgxpool.Pool, now func() time.Time) *Store {
	s := &Store{pool: pool, now: now, notes: make(chan note, 4096)}
	s.background, s.stop = context.WithCancel(context.Background())
	return s
}

// Open connects to the database at url (a postgres:// or postgresql://
// URL; sslmode and the other libpq parameters pass through), and migrates
// its schema under an advisory lock, so that replicas starting together
// migrate it once.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", redact(err))
	}
	cfg.MaxConns = 16
	if opt.PoolSize > 0 {
		cfg.MaxConns = int32(opt.PoolSize)
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if opt.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	}
	statement := 5 * time.Second
	if opt.StatementTimeout != 0 {
		statement = opt.StatementTimeout
	}
	if statement > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(statement.Milliseconds(), 10)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "taskbolt"
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", redact(err))
	}
	if opt.ReadOnly {
		if err := checkVersion(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
		return newStore(pool, opt.Now), nil
	}
	applied, err := migrate(ctx, pool)
	if err != nil {
		pool.Close()
		if errors.Is(err, ErrSchemaTooNew) {
			return nil, err
		}
		return nil, fmt.Errorf("postgres: %w", classify(ctx, err))
	}
	if len(applied) > 0 {
		opt.Logger.Info("postgres: schema migrated", "versions", applied, "now", SchemaVersion())
	}
	s := newStore(pool, opt.Now)
	go s.prune()
	go s.notifier()
	return s, nil
}

// Pool is the connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// PoolStats implements store.Pooler.
func (s *Store) PoolStats() store.PoolStats {
	st := s.pool.Stat()
	return store.PoolStats{Max: int(st.MaxConns()), Total: int(st.TotalConns()), Idle: int(st.IdleConns()),
		InUse: int(st.AcquiredConns()), Acquires: st.AcquireCount(), EmptyAcquires: st.EmptyAcquireCount(),
		AcquireWait: st.AcquireDuration().Seconds()}
}

// clock is now, in UTC at the microsecond precision PostgreSQL keeps.
func (s *Store) clock() time.Time { return time.UnixMicro(s.now().UnixMicro()).UTC() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	return classify(ctx, s.pool.Ping(ctx))
}

// Close closes the pool. Calls after it answer store.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.stop()
		s.pool.Close()
	}
	return nil
}

// open refuses work on a closed store and with a done context.
func (s *Store) open(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: the store is closed", store.ErrUnavailable)
	}
	return ctx.Err()
}

// check is open, and refuses an invalid owner before any query.
func (s *Store) check(ctx context.Context, owner string) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if !store.ValidUserID(owner) {
		return store.ErrInvalidOwner
	}
	return nil
}

// classify marks the errors that mean "cannot serve now, data intact" as
// store.ErrUnavailable, so the API answers 503, not 500: the server is
// unreachable, restarting, out of connections or space, or too slow.
func classify(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err() // the caller went away; not the database's fault
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch class := pgErr.Code[:2]; {
		case class == "08", // connection exception
			class == "53",         // insufficient resources (disk full, too many connections)
			class == "57",         // operator intervention: shutdown, cannot connect now, statement timeout
			class == "40",         // serialization failure, deadlock: retry
			pgErr.Code == "25006": // read-only transaction (a standby)
			return fmt.Errorf("%w: %s (SQLSTATE %s)", store.ErrUnavailable, pgErr.Message, pgErr.Code)
		}
		return err
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || connectionLost(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, redact(err))
	}
	return err
}

// connectionLost: the connection broke mid-query, or the pool is closing.
// pgx reports these without a typed error.
func connectionLost(err error) bool {
	msg := err.Error()
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgx.ErrTxClosed) || strings.Contains(msg, "closed pool") || strings.Contains(msg, "conn closed")
}

// redact keeps a connection string's password out of an error message:
// pgx's parse and connect errors quote the config.
func redact(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("cannot connect to %s: %w", ce.Config.Host, errors.Unwrap(ce))
	}
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse DATABASE_URL (its password is not shown)")
	}
	return err
}
