package bolt

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// groupCommit shares one write transaction, and so one commit and its two
// fsyncs, among the writes waiting for the database. bbolt's DB.Batch does
// the same but waits MaxBatchDelay for more writes before every commit, even
// when none can come: a client that sends its next write only after the last
// one is answered (a browser, a test, each of wrk's 64 connections) paid the
// delay on every batch, and the writer sat idle for it. Here the first write
// commits at once, and the writes that arrive meanwhile queue and go
// together in the next commit: under load the queue is the batch.
//
// The write that finds no commit under way leads: it commits the queue,
// hands the lead to the oldest write queued meanwhile, and returns. A write
// function may run more than once (a failing one makes its group roll
// back: it then runs alone, and the others again without it), so it must
// set its results on every run, as with DB.Batch.
type groupCommit struct {
	db    *bbolt.DB
	endTx func() // run at the end of every transaction, inside it (nil: nothing)
	mu    sync.Mutex
	queue []*groupWrite
	busy  bool // a leader is committing; new writes queue
}

type groupWrite struct {
	fn   func(*bbolt.Tx) error
	done chan error // the outcome, or errLead
}

// errLead tells a queued write that it leads the next commit.
var errLead = errors.New("lead the next commit")

// write runs fn in a shared write transaction and returns once it is
// committed (nil) or failed (fn's error, or the commit's).
func (g *groupCommit) write(fn func(*bbolt.Tx) error) error {
	w := &groupWrite{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		if err := <-w.done; err != errLead {
			return err
		}
	}
	g.mu.Lock()
	group := g.queue
	g.queue = nil
	g.mu.Unlock()
	g.commit(group) // answers every write of the group, w included
	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0] // busy stays true: only next may take the queue
		g.mu.Unlock()
		next.done <- errLead
	} else {
		g.busy = false
		g.mu.Unlock()
	}
	return <-w.done
}

// commit runs the writes in one transaction and answers each. A write that
// fails (or panics) rolls the transaction back: it runs alone for its own
// answer, and the rest are committed again without it.
func (g *groupCommit) commit(group []*groupWrite) {
	for len(group) > 0 {
		failed := -1
		err := g.db.Update(func(tx *bbolt.Tx) error {
			defer g.end()
			for i, w := range group {
				if err := safely(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, w := range group {
				w.done <- err // nil, or the commit's error
			}
			return
		}
		w := group[failed]
		group = slices.Delete(group, failed, failed+1)
		w.done <- g.db.Update(func(tx *bbolt.Tx) error {
			defer g.end()
			return safely(w.fn, tx)
		})
	}
}

func (g *groupCommit) end() {
	if g.endTx != nil {
		g.endTx()
	}
}

// safely turns a panic in a write into its error: the leader commits for
// others, who would otherwise wait forever.
func safely(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("a write panicked: %v", p)
		}
	}()
	return fn(tx)
}
