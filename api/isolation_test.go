package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/taskbolt/taskbolt/api"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/bolt"
)

// modelTask is what a user's task must look like, by a simple model.
type modelTask struct {
	title     string
	completed bool
}

// TestIsolationProperty runs random interleavings of every operation by
// several users, each with its own token, and checks after every step that
// the API matches a simple model: no user observes or changes another's tasks.
func TestIsolationProperty(t *testing.T) {
	t.Run("Scanned", func(t *testing.T) { testIsolation(t, bolt.Options{}) })
	t.Run("Indexed", func(t *testing.T) { testIsolation(t, bolt.Options{IndexAfter: -1}) })
	t.Run("IndexedMidway", func(t *testing.T) { testIsolation(t, bolt.Options{IndexAfter: 20}) })
}

func testIsolation(t *testing.T, opt bolt.Options) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	e := newEnvOpts(t, api.Config{}, opt)
	users := []string{"alice", "bob", "carol"}
	tokens := map[string]string{}
	model := map[string]map[uint64]modelTask{}
	next := map[string]uint64{}
	for _, u := range users {
		tokens[u] = token(t, u)
		model[u] = map[uint64]modelTask{}
		next[u] = 1
	}
	// anyID is an id that exists for some user, or a fresh one: the most
	// tempting ids for a cross-user attempt.
	anyID := func() uint64 {
		owner := users[rng.IntN(len(users))]
		for id := range model[owner] {
			return id
		}
		return uint64(rng.IntN(5) + 1)
	}
	const steps = 400
	for step := range steps {
		u := users[rng.IntN(len(users))]
		tok := tokens[u]
		base := "/api/" + u + "/tasks"
		id := anyID()
		want, exists := model[u][id]
		path := base + "/" + strconv.FormatUint(id, 10)
		var op string
		var r response
		switch rng.IntN(7) {
		case 0:
			op = "create"
			title := fmt.Sprintf("%s-%d", u, step)
			// Tags and a due date so that every index moves with each step.
			r = e.do("POST", base, tok, fmt.Sprintf(`{"title":%q,"tags":["t%d","shared"],"priority":%q,"due_date":"2030-01-%02d"}`,
				title, rng.IntN(3), store.Priorities[rng.IntN(4)], 1+rng.IntN(28)))
			if r.status != 201 || r.task(t).ID != next[u] || r.task(t).UserID != u {
				t.Fatalf("step %d %s %s: %d %s", step, u, op, r.status, r.body)
			}
			model[u][next[u]] = modelTask{title: title}
			next[u]++
		case 1:
			op = "get"
			r = e.do("GET", path, tok, "")
		case 2:
			op = "update"
			title := fmt.Sprintf("upd-%s-%d", u, step)
			r = e.do("PATCH", path, tok, `{"title":"`+title+`"}`)
			if exists {
				want.title = title
				model[u][id] = want
			}
		case 3:
			op = "toggle"
			r = e.do("PATCH", path+"/complete", tok, "")
			if exists {
				want.completed = !want.completed
				model[u][id] = want
			}
		case 4:
			op = "delete"
			r = e.do("DELETE", path, tok, "")
			if exists && r.status == 204 {
				delete(model[u], id)
			}
		case 5:
			op = "cross-user"
			other := users[(slices.Index(users, u)+1+rng.IntN(len(users)-1))%len(users)]
			method := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}[rng.IntN(5)]
			target := "/api/" + other + "/tasks"
			if method == "PUT" || method == "PATCH" || method == "DELETE" || (method == "GET" && rng.IntN(2) == 0) {
				target += "/" + strconv.FormatUint(id, 10)
			}
			r = e.do(method, target, tok, `{"title":"pwned"}`)
			if r.status != 403 {
				t.Fatalf("step %d: %s %s %s with %s's token: %d %s", step, op, method, target, u, r.status, r.body)
			}
		case 6:
			op = "list"
			r = e.do("GET", base+"?sort=id&limit=100", tok, "")
		}
		if op != "create" && op != "cross-user" && op != "list" {
			switch {
			case !exists && r.status != 404:
				t.Fatalf("step %d: %s %s of a task it does not have (%d): %d %s", step, u, op, id, r.status, r.body)
			case exists && op == "delete" && r.status != 204, exists && op != "delete" && r.status != 200:
				t.Fatalf("step %d: %s %s of its task %d: %d %s", step, u, op, id, r.status, r.body)
			}
		}
		// After every step the indexes and counts agree with the tasks, and
		// every user's whole list matches the model.
		if err := e.store.Check(context.Background()); err != nil {
			t.Fatalf("step %d (%s %s): %v", step, u, op, err)
		}
		for _, v := range users {
			r := e.do("GET", "/api/"+v+"/tasks?sort=id&limit=100", tokens[v], "")
			var got []store.Task
			r.json(t, &got)
			if len(got) != len(model[v]) {
				t.Fatalf("step %d (%s %s): %s has %d tasks, model %d", step, u, op, v, len(got), len(model[v]))
			}
			for _, task := range got {
				m, ok := model[v][task.ID]
				if !ok || task.UserID != v || task.Title != m.title || task.Completed != m.completed {
					t.Fatalf("step %d (%s %s): %s sees %+v, model %+v (%v)", step, u, op, v, task, m, ok)
				}
			}
		}
	}
}
