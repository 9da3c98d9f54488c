package api

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Serve serves app on ln until app is shut down. Unlike app.Listener, a
// request that is refused before its body is read (a body over BodyLimit)
// is closed with a lingering close, so the client reads the 413 instead of
// a reset connection.
func Serve(app *fiber.App, ln net.Listener) error {
	limit := app.Config().BodyLimit
	l := &lingerListener{Listener: ln, budget: lingerBudget{
		bytes: int64(max(lingerMinBytes, lingerBodies*limit)),
		total: lingerTotal,
		idle:  lingerIdle,
	}, slots: make(chan struct{}, maxLingering)}
	srv := app.Server()
	answer := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		var ne net.Error
		if lc, ok := ctx.Conn().(*lingerConn); ok && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, os.ErrDeadlineExceeded) {
			lc.linger.Store(true) // the client may still be sending what we refused
		}
		answer(ctx, err)
	}
	return app.Listener(l)
}

// The lingering close, after nginx's lingering_close and Go's net/http: once
// the refusal is sent, the server stops writing (FIN), then reads and drops
// what the client still sends, until the client closes, LingerIdle passes
// without data, LingerTotal passes, or the byte budget is spent; only then
// does it close. Closing with unread data would make the kernel send a reset,
// which destroys the response the client has not read yet.
const (
	lingerBodies   = 32               // drain up to 32 × BodyLimit…
	lingerMinBytes = 16 << 20         // …and at least 16 MiB
	lingerTotal    = 10 * time.Second // a slow sender cannot hold a connection longer
	lingerIdle     = 2 * time.Second
	maxLingering   = 256 // connections draining at once; beyond that, close at once
)

type lingerBudget struct {
	bytes       int64
	total, idle time.Duration
}

type lingerListener struct {
	net.Listener
	budget lingerBudget
	slots  chan struct{}
}

func (l *lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c, l: l}, nil
}

type lingerConn struct {
	net.Conn
	l      *lingerListener
	linger atomic.Bool
	once   sync.Once
}

// Close closes at once, or, for a connection whose request was refused
// unread, drains it in the background first.
func (c *lingerConn) Close() error {
	if !c.linger.Load() {
		return c.Conn.Close()
	}
	var err error
	c.once.Do(func() {
		tcp, ok := c.Conn.(*net.TCPConn)
		if !ok {
			err = c.Conn.Close()
			return
		}
		select {
		case c.l.slots <- struct{}{}:
		default:
			err = c.Conn.Close() // too many draining: a reset is the lesser harm
			return
		}
		go func() {
			defer func() { <-c.l.slots }()
			drain(tcp, c.l.budget)
			tcp.Close()
		}()
	})
	return err
}

func drain(c *net.TCPConn, b lingerBudget) {
	if c.CloseWrite() != nil {
		return
	}
	buf := make([]byte, 32<<10)
	end := time.Now().Add(b.total)
	for left := b.bytes; left > 0; {
		deadline := time.Now().Add(b.idle)
		if deadline.After(end) {
			deadline = end
		}
		if c.SetReadDeadline(deadline) != nil {
			return
		}
		n, err := c.Read(buf[:min(int64(len(buf)), left)])
		left -= int64(n)
		if err != nil {
			return // EOF: the client closed; or a deadline passed
		}
	}
}
