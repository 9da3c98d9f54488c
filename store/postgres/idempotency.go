package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/taskbolt/taskbolt/store"
)

// claimKey takes idem's key for this transaction: a fresh row (or an
// expired one taken over) that the change then fills with its outcome. A
// concurrent request with the same key waits here until the first commits,
// and then replays its outcome; every replica sees the same rows.
func claimKey(ctx context.Context, tx pgx.Tx, owner string, idem *store.Idempotency) error {
	if idem == nil {
		return nil
	}
	var claimed bool
	err := tx.QueryRow(ctx, `INSERT INTO taskbolt_idempotency AS i (owner, key, fingerprint, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (owner, key) DO UPDATE SET fingerprint = excluded.fingerprint, expires_at = excluded.expires_at,
			status = 0, header = NULL, body = NULL
		WHERE i.expires_at <= now()
		RETURNING true`, owner, idem.Key, idem.Fingerprint[:], idem.Expires).Scan(&claimed)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return recorded(tx.QueryRow(ctx, `SELECT fingerprint, status, header, body FROM taskbolt_idempotency WHERE owner = $1 AND key = $2`,
		owner, idem.Key), idem)
}

// recorded reads a key's record (fingerprint, status, header, body) and
// answers with it: the recorded outcome to replay, or ErrKeyReused for a
// different request; pgx.ErrNoRows when there is none.
func recorded(r pgx.Row, idem *store.Idempotency) error {
	var (
		fp     []byte
		status int
		header *string
		body   []byte
	)
	if err := r.Scan(&fp, &status, &header, &body); err != nil {
		return err
	}
	if !bytes.Equal(fp, idem.Fingerprint[:]) {
		return store.ErrKeyReused
	}
	out := store.Outcome{Status: status, Body: body}
	if header != nil {
		if err := json.Unmarshal([]byte(*header), &out.Header); err != nil {
			return err
		}
	}
	return &store.Replayed{Outcome: out}
}

// recordOutcome fills the claimed key with the outcome of the change.
func recordOutcome(ctx context.Context, tx pgx.Tx, owner string, idem *store.Idempotency, t *store.Task) error {
	if idem == nil {
		return nil
	}
	out := idem.Outcome(t)
	header, err := json.Marshal(out.Header)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE taskbolt_idempotency SET status = $3, header = $4, body = $5 WHERE owner = $1 AND key = $2`,
		owner, idem.Key, out.Status, string(header), out.Body)
	return err
}

// SweepIdempotency implements store.IdempotencySweeper.
func (s *Store) SweepIdempotency(ctx context.Context, now time.Time) (int, error) {
	if err := s.open(ctx); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM taskbolt_idempotency WHERE expires_at <= $1`, now)
	return int(tag.RowsAffected()), classify(ctx, err)
}
