package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/store"
)

// idem is an Idempotency for key and request body, valid for ttl.
func idem(key, request string, ttl time.Duration) *store.Idempotency {
	var fp [32]byte
	copy(fp[:], request)
	return &store.Idempotency{Key: key, Fingerprint: fp, Expires: time.Now().Add(ttl),
		Outcome: func(t *store.Task) store.Outcome {
			return store.Outcome{Status: 201, Header: map[string]string{"Location": "/tasks/" + strconv.FormatUint(t.ID, 10)}, Body: t.AppendJSON(nil)}
		}}
}

// testIdempotency: a write with a key records its outcome in the same
// transaction; the same request again replays it and writes nothing.
func testIdempotency(t *testing.T, s store.Store) {
	first, err := s.Create(ctx, "alice", store.NewTask{Title: "once", Idem: idem("k1", "POST once", time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var r *store.Replayed
	for range 2 {
		_, err := s.Create(ctx, "alice", store.NewTask{Title: "once", Idem: idem("k1", "POST once", time.Hour)})
		if !errors.As(err, &r) || r.Outcome.Status != 201 || string(r.Outcome.Body) != string(first.AppendJSON(nil)) ||
			r.Outcome.Header["Location"] != "/tasks/1" {
			t.Fatalf("a repeat: %v %+v", err, r)
		}
	}
	if _, total := list(t, s, "alice", store.DefaultQuery()); total != 1 {
		t.Fatalf("%d tasks after a create and two replays", total)
	}
	if _, err := s.Create(ctx, "alice", store.NewTask{Title: "other", Idem: idem("k1", "POST other", time.Hour)}); !errors.Is(err, store.ErrKeyReused) {
		t.Fatalf("the key with another request: %v", err)
	}
	if b, err := s.Create(ctx, "bob", store.NewTask{Title: "once", Idem: idem("k1", "POST once", time.Hour)}); err != nil || b.ID != 1 {
		t.Fatalf("another owner's key of the same name: %+v %v", b, err)
	}

	toggle := func() (store.Task, error) {
		return s.Update(ctx, "alice", first.ID, store.Patch{ToggleCompleted: true, Idem: idem("k2", "PATCH complete", time.Hour)})
	}
	done, err := toggle()
	if err != nil || !done.Completed {
		t.Fatalf("a toggle with a key: %+v %v", done, err)
	}
	if _, err := toggle(); !errors.As(err, &r) {
		t.Fatalf("the toggle again: %v", err)
	}
	if got, _ := s.Get(ctx, "alice", first.ID); !got.Completed {
		t.Fatal("a replayed toggle flipped the task back")
	}

	// An expired key is free again; the sweep drops expired records.
	if _, err := s.Create(ctx, "carol", store.NewTask{Title: "short", Idem: idem("k3", "POST short", 50*time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if c, err := s.Create(ctx, "carol", store.NewTask{Title: "short", Idem: idem("k3", "POST short", time.Hour)}); err != nil || c.ID != 2 {
		t.Fatalf("after the key expired: %+v %v", c, err)
	}
	if sw, ok := s.(store.IdempotencySweeper); ok {
		n, err := sw.SweepIdempotency(ctx, time.Now().Add(2*time.Hour))
		if err != nil || n != 4 {
			t.Fatalf("sweep: %d %v, want 4 records", n, err)
		}
		if _, err := s.Create(ctx, "alice", store.NewTask{Title: "once", Idem: idem("k1", "POST once", time.Hour)}); err != nil {
			t.Fatalf("a swept key: %v", err)
		}
	} else {
		t.Fatal("the store cannot sweep idempotency records (store.IdempotencySweeper)")
	}

	// The same request many times at once: one write, the rest replay it.
	var wg sync.WaitGroup
	var created, replayed sync.Map
	for i := range 16 {
		wg.Go(func() {
			c, err := s.Create(ctx, "dave", store.NewTask{Title: "racing", Idem: idem("k4", "POST racing", time.Hour)})
			var r *store.Replayed
			switch {
			case err == nil:
				created.Store(i, c.ID)
			case errors.As(err, &r):
				replayed.Store(i, true)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, total := list(t, s, "dave", store.DefaultQuery()); total != 1 {
		t.Errorf("16 racing requests with one key made %d tasks", total)
	}
	Check(t, s)
}
