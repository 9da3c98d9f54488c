package api

import (
	"bufio"
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"taskbolt/auth"
	"taskbolt/store"
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
		return fiber.NewError(fiber.StatusNotImplemented, "this store cannot reset")
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
		return fiber.NewError(fiber.StatusNotImplemented, "this store cannot snapshot")
	}
	rid := requestID(c)
	name := "taskbolt-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	c.Set(fiber.HeaderContentType, "application/octet-stream")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	// The stream runs after the handler returns, on the connection's goroutine.
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		n, err := snap.Snapshot(context.Background(), w)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			// Too late for a status: the client sees a truncated body, and
			// restore refuses a file that is not a whole database.
			a.log.Error("admin: backup failed mid-stream", "request_id", rid, "err", err)
			return
		}
		a.log.Info("admin: backup streamed", "request_id", rid, "bytes", n)
	})
	return nil
}
