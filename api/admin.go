package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
	"github.com/taskbolt/taskbolt/store/dump"
)

// MinAdminTokenLen is the shortest ADMIN_TOKEN accepted.
const MinAdminTokenLen = 16

// adminRoutes exist only when an admin token is configured. They are for the
// operator and for test fixtures, never for the app's users.
func (a *app) adminRoutes(f *fiber.App) {
	if a.cfg.AdminToken == "" {
		return
	}
	admin := f.Group("/admin", a.requireAdmin)
	admin.Post("/reset", a.reset)
	admin.Get("/backup", a.backup)
	admin.Get("/export", a.export)
	admin.Post("/import", a.importUser)
}

func (a *app) requireAdmin(c *fiber.Ctx) error {
	tok, ok := auth.ParseBearer(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return auth.ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.AdminToken)) != 1 {
		return fmt.Errorf("%w: not the admin token", auth.ErrInvalidToken)
	}
	return c.Next()
}

// reset removes every task of every user: a fixture's fresh start.
func (a *app) reset(c *fiber.Ctx) error {
	r, ok := a.store.(store.Resetter)
	if !ok {
		return fiber.NewError(fiber.StatusNotImplemented, "This store cannot reset")
	}
	if err := r.Reset(c.UserContext()); err != nil {
		return err
	}
	a.log.Warn("admin: every task of every user was removed", "request_id", requestID(c), "ip", c.IP())
	return c.SendStatus(fiber.StatusNoContent)
}

// backup streams a consistent snapshot of the database while serving.
func (a *app) backup(c *fiber.Ctx) error {
	snap, ok := a.store.(store.Snapshotter)
	if !ok {
		return fiber.NewError(fiber.StatusNotImplemented, "This store cannot be backed up through the API")
	}
	name := "taskbolt-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	// Too late for a status once it streams: a failure cuts the stream, and
	// `taskbolt backup` refuses a file that is not a whole database.
	a.serveLong(c, func(w *longResponse) error {
		_, err := snap.Snapshot(context.Background(), w)
		return err
	})
	return nil
}

// export streams every user's tasks (or ?user=U's) as an export document.
func (a *app) export(c *fiber.Ctx) error {
	d, ok := a.store.(store.Dumper)
	if !ok {
		return fiber.NewError(fiber.StatusNotImplemented, "This store cannot export")
	}
	user := utils.CopyString(c.Query("user"))
	if user != "" && !store.ValidUserID(user) {
		return &ValidationError{Problems: []Problem{{Type: "string_pattern_mismatch", Loc: []any{"query", "user"},
			Msg: "String should be 1-128 visible ASCII characters without '/'", Input: user}}}
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	a.serveLong(c, func(w *longResponse) error {
		_, err := dump.Export(context.Background(), d, w, user, nil)
		return err
	})
	return nil
}

// importUser loads one user's part of an export document (the body), as
// `taskbolt import` sends it while a server holds the database: a whole
// document split by user and into batches that fit in BodyLimit.
func (a *app) importUser(c *fiber.Ctx) error {
	l, ok := a.store.(store.Loader)
	if !ok {
		return fiber.NewError(fiber.StatusNotImplemented, "This store cannot import")
	}
	var u dump.User
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return detail(c, fiber.StatusUnprocessableEntity, "Not one user of a taskbolt export: "+err.Error())
	}
	if err := u.Validate(); err != nil {
		return detail(c, fiber.StatusUnprocessableEntity, err.Error())
	}
	n, err := u.Load(c.UserContext(), l)
	if err != nil {
		return err
	}
	a.log.Info("admin: imported", "request_id", requestID(c), "user_id", u.UserID, "tasks", n)
	return writeJSON(c, fiber.StatusOK, map[string]int{"imported": n})
}
