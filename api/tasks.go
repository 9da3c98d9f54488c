package api

import (
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// owner is the authenticated user. Handlers use it, never the URL parameter:
// RequireOwner has proved them equal, and the principal's string does not
// alias Fiber's reusable request buffer.
func owner(c *fiber.Ctx) string {
	p, _ := auth.FromContext(c)
	return p.UserID
}

// bufPool holds response buffers; fasthttp copies the body out of them.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func sendJSON(c *fiber.Ctx, status int, body []byte) error {
	c.Status(status)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	c.Response().SetBody(body) // copies
	return nil
}

func sendTask(c *fiber.Ctx, status int, t *store.Task) error {
	c.Set(fiber.HeaderETag, etag(t))
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	*bp = t.AppendJSON((*bp)[:0])
	return sendJSON(c, status, *bp)
}

func (a *app) listTasks(c *fiber.Ctx) error {
	args := c.Context().QueryArgs()
	q, err := parseListQuery(func(key string) []string {
		var out []string
		for _, v := range args.PeekMulti(key) {
			out = append(out, string(v))
		}
		return out
	}, time.Now())
	if err != nil {
		return err
	}
	// The list's ETag: the user's change sequence (read before the list, so a
	// tag is never newer than its body) and the query; a query that depends on
	// the clock (overdue) also hashes its body. Without a clock, a matching
	// If-None-Match is answered before anything is listed.
	var (
		seq    uint64
		seqSet bool
	)
	if a.changes != nil && (c.Get(fiber.HeaderIfNoneMatch) != "" || a.seqLister == nil && a.lister == nil) {
		if seq, err = a.changes.Seq(c.UserContext(), owner(c)); err != nil {
			return err
		}
		seqSet = true
		if q.Overdue == nil && notModified(c, newListTag(seq, args.QueryString()).String()) {
			return nil
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var total int
	start := time.Now()
	switch {
	case a.lister != nil:
		// The sequence read with the page: never older than the If-None-Match
		// check's, and exactly the page's.
		*bp, total, seq, err = a.lister.ListJSON(c.UserContext(), owner(c), q, (*bp)[:0])
	case a.seqLister != nil && !seqSet:
		var tasks []store.Task
		tasks, total, seq, err = a.seqLister.ListWithSeq(c.UserContext(), owner(c), q)
		*bp = store.AppendTasksJSON((*bp)[:0], tasks)
	default:
		var tasks []store.Task
		tasks, total, err = a.store.List(c.UserContext(), owner(c), q)
		*bp = store.AppendTasksJSON((*bp)[:0], tasks)
	}
	a.timeStore("list", start, err)
	if err != nil {
		return err
	}
	if a.changes != nil {
		tag := newListTag(seq, args.QueryString())
		if q.Overdue != nil {
			tag.addBody(*bp)
			if notModified(c, tag.String()) {
				return nil
			}
		}
		c.Set(fiber.HeaderETag, tag.String())
	}
	c.Response().Header.Set("X-Total-Count", strconv.Itoa(total))
	return sendJSON(c, fiber.StatusOK, *bp)
}

func (a *app) createTask(c *fiber.Ctx) error {
	in, err := parseCreate(c.Body())
	if err != nil {
		return err
	}
	if in.Idem, err = a.idempotency(c, taskOutcome(fiber.StatusCreated, true)); err != nil {
		return err
	}
	return a.withKey(c, in.Idem, func() error {
		start := time.Now()
		t, err := a.store.Create(c.UserContext(), owner(c), in)
		a.timeStore("create", start, err)
		if err != nil {
			return err
		}
		c.Location(taskLocation(&t))
		return sendTask(c, fiber.StatusCreated, &t)
	})
}

// taskLocation is the URL of a task.
func taskLocation(t *store.Task) string {
	return "/api/" + url.PathEscape(t.UserID) + "/tasks/" + strconv.FormatUint(t.ID, 10)
}

func (a *app) getTask(c *fiber.Ctx) error {
	id, err := parseTaskID(c.Params("id"))
	if err != nil {
		return err
	}
	start := time.Now()
	t, err := a.store.Get(c.UserContext(), owner(c), id)
	a.timeStore("get", start, err)
	if err != nil {
		return err
	}
	if notModified(c, etag(&t)) {
		return nil
	}
	return sendTask(c, fiber.StatusOK, &t)
}

// updateTask serves PUT and PATCH alike: a partial update.
func (a *app) updateTask(c *fiber.Ctx) error {
	return a.patch(c, parseUpdate, false)
}

// completeTask toggles completion, or sets it from {"completed": b}. It
// takes an Idempotency-Key: a retried toggle must not flip the task back.
func (a *app) completeTask(c *fiber.Ctx) error {
	return a.patch(c, parseComplete, true)
}

// patch applies what parse reads; keyed takes an Idempotency-Key.
func (a *app) patch(c *fiber.Ctx, parse func([]byte) (store.Patch, error), keyed bool) error {
	id, idErr := parseTaskID(c.Params("id"))
	p, bodyErr := parse(c.Body())
	if err := joinValidation(idErr, bodyErr); err != nil {
		return err
	}
	version, ifMatch, err := a.ifMatchVersion(c, id)
	if err != nil {
		return a.withCurrentTag(c, id, err)
	}
	p.IfVersion = version
	if keyed {
		if p.Idem, err = a.idempotency(c, taskOutcome(fiber.StatusOK, false)); err != nil {
			return err
		}
	}
	return a.withKey(c, p.Idem, func() error {
		start := time.Now()
		t, err := a.store.Update(c.UserContext(), owner(c), id, p)
		a.timeStore("update", start, err)
		if err != nil {
			return a.withCurrentTag(c, id, preconditionOf(err, ifMatch))
		}
		if t.NextOccurrence != 0 {
			c.Set(headerNextOccurrence, strconv.FormatUint(t.NextOccurrence, 10))
		}
		return sendTask(c, fiber.StatusOK, &t)
	})
}

// headerNextOccurrence names the task that completing a recurring one created.
const headerNextOccurrence = "X-Next-Occurrence"

// listTags serves every tag on the user's tasks with its count.
func (a *app) listTags(c *fiber.Ctx) error {
	start := time.Now()
	tags, err := a.store.Tags(c.UserContext(), owner(c))
	a.timeStore("tags", start, err)
	if err != nil {
		return err
	}
	return writeJSON(c, fiber.StatusOK, tags)
}

func (a *app) deleteTask(c *fiber.Ctx) error {
	id, err := parseTaskID(c.Params("id"))
	if err != nil {
		return err
	}
	version, ifMatch, err := a.ifMatchVersion(c, id)
	if err != nil {
		return a.withCurrentTag(c, id, err)
	}
	start := time.Now()
	err = a.deleteIf(c.UserContext(), owner(c), id, version, ifMatch)
	a.timeStore("delete", start, err)
	if err != nil {
		return a.withCurrentTag(c, id, err)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// joinValidation reports the problems of the path and the body together, as
// FastAPI lists every problem found. Validation (422) comes before a lookup
// that cannot succeed (404), as FastAPI validates before the handler runs.
func joinValidation(pathErr, bodyErr error) error {
	pv, pOK := pathErr.(*ValidationError)
	bv, bOK := bodyErr.(*ValidationError)
	switch {
	case pOK && bOK:
		return &ValidationError{append(append([]Problem{}, pv.Problems...), bv.Problems...)}
	case bOK, pathErr == nil:
		return bodyErr
	}
	return pathErr
}
