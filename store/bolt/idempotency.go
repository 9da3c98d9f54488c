package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"go.etcd.io/bbolt"

	"github.com/taskbolt/taskbolt/store"
)

// Idempotency records live in one root bucket, keyed by owner, NUL, key
// (owner ids hold no NUL), written in the transaction of the change they
// record; SweepIdempotency drops the expired ones.
var idemBucket = []byte("idempotency")

type idemRecord struct {
	Fingerprint []byte        `json:"fp"`
	Expires     int64         `json:"exp"` // unix µs
	Outcome     store.Outcome `json:"outcome"`
}

func idemKey(owner, key string) []byte { return append(append([]byte(owner), 0), key...) }

// idemVerdict is what a write learns from its key: go on (nil), replay the
// recorded outcome, or refuse a key reused for another request.
type idemVerdict struct {
	replay *store.Outcome
	reused bool
}

func (v idemVerdict) stop() bool { return v.replay != nil || v.reused }

func (v idemVerdict) err() error {
	switch {
	case v.replay != nil:
		return &store.Replayed{Outcome: *v.replay}
	case v.reused:
		return store.ErrKeyReused
	}
	return nil
}

// idemCheck reads the key's record inside the write.
func idemCheck(tx *bbolt.Tx, owner string, idem *store.Idempotency, now time.Time) (idemVerdict, error) {
	if idem == nil {
		return idemVerdict{}, nil
	}
	b := tx.Bucket(idemBucket)
	if b == nil {
		return idemVerdict{}, nil
	}
	v := b.Get(idemKey(owner, idem.Key))
	if v == nil {
		return idemVerdict{}, nil
	}
	var r idemRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return idemVerdict{}, err
	}
	if r.Expires <= now.UnixMicro() {
		return idemVerdict{}, nil // expired: the key is free again
	}
	if !bytes.Equal(r.Fingerprint, idem.Fingerprint[:]) {
		return idemVerdict{reused: true}, nil
	}
	return idemVerdict{replay: &r.Outcome}, nil
}

// idemRecordOutcome records the outcome of the write that made t.
func idemRecordOutcome(tx *bbolt.Tx, owner string, idem *store.Idempotency, t *store.Task) error {
	if idem == nil {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(idemBucket)
	if err != nil {
		return err
	}
	v, err := json.Marshal(idemRecord{Fingerprint: idem.Fingerprint[:], Expires: idem.Expires.UnixMicro(), Outcome: idem.Outcome(t)})
	if err != nil {
		return err
	}
	return b.Put(idemKey(owner, idem.Key), v)
}

// SweepIdempotency implements store.IdempotencySweeper.
func (s *Store) SweepIdempotency(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		n = 0
		b := tx.Bucket(idemBucket)
		if b == nil {
			return nil
		}
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r idemRecord
			if json.Unmarshal(v, &r) != nil || r.Expires <= now.UnixMicro() {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, classify(err)
}
