package api

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"
)

type streamingKey struct{}

// requestConfig is fasthttp's per-request hook, called once the headers are
// read and before the body is: it answers an oversized Expect: 100-continue
// request at once.
func (a *app) requestConfig(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	// A client that waits for "100 Continue" before sending a body too large
	// should get the 413 instead, and never send the body. Without the
	// Expect header fasthttp refuses on Content-Length before reading any
	// of the body, which is that 413; with it, fasthttp would send 100
	// Continue first and the client would send the body we then refuse.
	if h.ContentLength() > a.cfg.BodyLimit && strings.EqualFold(string(h.Peek(fiber.HeaderExpect)), "100-continue") {
		h.Del(fiber.HeaderExpect)
	}
	return fasthttp.RequestConfig{}
}

// streamBody sends the body write produces as a chunked stream, after the
// handler returns. fasthttp gives a whole response one write deadline, which
// would cut a long stream at WriteTimeout; here each write moves the
// deadline on instead. So each write must reach the client within WriteTimeout: a
// client that stops reading is cut off while one that keeps reading gets the
// whole stream however long it takes. The access log line and the metrics are
// written when the stream ends, with its size and outcome. When write fails
// midway the connection is closed without the final chunk, so the client
// sees a broken stream, never a short one that looks whole.
func (a *app) streamBody(c *fiber.Ctx, write func(w io.Writer) (int64, error)) {
	conn := c.Context().Conn()
	facts := factsOf(c)
	facts.route = utils.CopyString(facts.route) // logged after the handler returns
	start, timeout := time.Now(), a.cfg.WriteTimeout
	c.Locals(streamingKey{}, true)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		dw := &deadlineWriter{w: w, conn: conn, timeout: timeout}
		n, err := write(dw)
		if err == nil {
			err = dw.Flush()
		}
		if err != nil {
			conn.Close()
		}
		level, outcome := slog.LevelInfo, "complete"
		if err != nil {
			level, outcome = slog.LevelWarn, "cut: "+err.Error()
		}
		a.logRequest(context.Background(), level, "stream ended", facts, fiber.StatusOK, time.Since(start),
			slog.Int64("bytes", n), slog.String("outcome", outcome))
	})
}

// deadlineWriter gives each write to a streamed body its own deadline.
type deadlineWriter struct {
	w       *bufio.Writer
	conn    net.Conn
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if len(p) > d.w.Available() { // only a write that reaches the connection needs one
		d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.w.Write(p)
}

func (d *deadlineWriter) Flush() error {
	d.conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.w.Flush()
}
