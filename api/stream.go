package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// A long response (an event stream, a backup, an export) owns its
// connection. Through fasthttp's body-stream pipe it would get one write
// deadline for the whole response (a slow backup cut at WriteTimeout), two
// goroutine hand-offs per write, and no word of a client that went away
// until a write failed (a closed event stream holding its slot for 45 s).
// So the handler hijacks the connection and longResponse writes HTTP/1.1
// itself: a chunked body, a deadline per write, a reader that sees the
// client's FIN or RST at once, the access-log line and the metrics when it
// ends, and an end at shutdown.

// DefaultStallTimeout is Config.StallTimeout's default.
const DefaultStallTimeout = 30 * time.Second

// longChunk is the most a longResponse buffers before it sends a chunk.
const longChunk = 64 << 10

// longSendBuffer is a long response's socket send buffer: 256 KiB, which
// the kernel doubles, drains in a quarter of a second at 1 MB/s and still
// keeps a 100 ms link busy at 5 MB/s.
const longSendBuffer = 256 << 10

// chunkHeadRoom is room before a chunk for its size line: up to 8 hex digits
// and CRLF.
const chunkHeadRoom = 10

// errClientGone is a long response's write after its client closed the
// connection.
var errClientGone = errors.New("the client closed the connection")

// longResponse is the body writer of a long response; one goroutine (the
// hijack handler's) writes to it.
type longResponse struct {
	conn    net.Conn
	timeout time.Duration
	buf     []byte        // chunkHeadRoom bytes, then the pending chunk
	n       int64         // body bytes written
	gone    chan struct{} // closed once the client has closed its side
	err     error         // the first failure: every later write returns it
	chunked bool          // HTTP/1.1; an HTTP/1.0 body ends when the connection closes
	cut     atomic.Bool   // set by shutdown before it ends the connection
	// End, when set by the body, says why a stream that ended without error
	// ended ("client closed", "expired", "shutdown"): the log's outcome.
	End string
}

// Gone is closed once the client has closed the connection.
func (w *longResponse) Gone() <-chan struct{} { return w.gone }

// Write buffers p, sending a chunk whenever longChunk bytes are pending.
func (w *longResponse) Write(p []byte) (int, error) {
	if w.err == nil {
		select {
		case <-w.gone:
			w.err = errClientGone
		default:
		}
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		k := min(len(p), chunkHeadRoom+longChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, written = p[k:], written+k
		if len(w.buf) == chunkHeadRoom+longChunk {
			if err := w.Flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Flush sends what is pending as one chunk, in one write with its own
// deadline: a client that keeps reading gets the whole response however long
// it takes, one that stops is cut once a write waits StallTimeout.
func (w *longResponse) Flush() error {
	if w.err != nil || len(w.buf) == chunkHeadRoom {
		return w.err
	}
	size := len(w.buf) - chunkHeadRoom
	out := w.buf[chunkHeadRoom:]
	if w.chunked { // size line before, CRLF after
		head := strconv.AppendUint(make([]byte, 0, chunkHeadRoom), uint64(size), 16)
		head = append(head, '\r', '\n')
		start := chunkHeadRoom - len(head)
		copy(w.buf[start:], head)
		out = append(w.buf, '\r', '\n')[start:]
	}
	if err := w.send(out); err != nil {
		return err
	}
	w.n += int64(size)
	w.buf = w.buf[:chunkHeadRoom]
	return nil
}

// send writes b to the connection, cutting it once StallTimeout passes with
// no byte taken: a slow reader that keeps taking bytes is never cut, however
// long one chunk takes it (a deadline that only the whole chunk could meet
// with the kernel's wake-ups had to meet could cut a steady slow reader).
func (w *longResponse) send(b []byte) error {
	for {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		n, err := w.conn.Write(b)
		b = b[n:]
		if err == nil {
			return nil
		}
		if n > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !w.cut.Load() {
			continue // slow, not stalled
		}
		w.err = err
		select {
		case <-w.gone:
			w.err = errClientGone
		default:
		}
		return w.err
	}
}

// finish ends the body with the last chunk, so the client knows it is whole.
func (w *longResponse) finish() error {
	if err := w.Flush(); err != nil || !w.chunked {
		return err
	}
	return w.send([]byte("0\r\n\r\n"))
}

// watch reads the connection until the client closes it (or sends anything
// we would not answer: the response ends with Connection: close), then
// closes gone. stop ends it and waits for it, so the hijacked connection's
// reader is never used after its handler returns.
func (w *longResponse) watch() (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(w.gone)
		var b [512]byte
		for {
			if _, err := w.conn.Read(b[:]); err != nil {
				return
			}
		}
	}()
	return func() {
		w.conn.SetReadDeadline(time.Now())
		<-done
	}
}

// longResponses tracks the running long responses, so that shutdown can end
// them and wait for them before the store closes.
type longResponses struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[*longResponse]struct{}
	quit    chan struct{} // closed at shutdown
	once    sync.Once
}

func newLongResponses() *longResponses {
	return &longResponses{running: map[*longResponse]struct{}{}, quit: make(chan struct{})}
}

// shutdown tells the long responses to end (event streams end at once),
// gives the others grace to finish, cuts what is left, and waits until none
// runs, at most grace more.
func (l *longResponses) shutdown(grace time.Duration) bool {
	l.once.Do(func() { close(l.quit) })
	ended := make(chan struct{})
	go func() { l.wg.Wait(); close(ended) }()
	select {
	case <-ended:
		return true
	case <-time.After(grace):
	}
	l.mu.Lock()
	for w := range l.running {
		w.cut.Store(true)              // and send does not take it for a slow client
		w.conn.SetDeadline(time.Now()) // every read and write fails now
	}
	l.mu.Unlock()
	select {
	case <-ended:
		return true
	case <-time.After(grace):
		return false
	}
}

func (l *longResponses) add(w *longResponse) {
	l.mu.Lock()
	l.running[w] = struct{}{}
	l.mu.Unlock()
}

func (l *longResponses) remove(w *longResponse) {
	l.mu.Lock()
	delete(l.running, w)
	l.mu.Unlock()
	l.wg.Done()
}

// serveLong answers c with the status and headers set so far and a chunked
// body that body writes once the handler has returned, on the hijacked
// connection. A HEAD request gets the headers alone, and body never runs.
// When body fails midway the connection is closed without the last chunk,
// so the client sees a broken response, never a short one that looks whole.
func (a *app) serveLong(c *fiber.Ctx, body func(w *longResponse) error) {
	if c.Method() == fiber.MethodHead {
		return
	}
	h := &c.Response().Header
	chunked := c.Request().Header.IsHTTP11()
	if chunked {
		h.SetContentLength(-1) // Transfer-Encoding: chunked
	} else {
		// An HTTP/1.0 client (nginx's proxy_pass by default) knows no
		// chunks: the body ends when the connection closes.
		h.SetContentLength(-2)
		h.Del(fiber.HeaderTransferEncoding)
	}
	h.SetConnectionClose() // the connection is this response's alone
	head := append([]byte(nil), h.Header()...)
	facts := factsOf(c)
	facts.route = utils.CopyString(facts.route) // logged after the handler returns
	status := c.Response().StatusCode()
	start := time.Now()
	c.Locals(streamingKey{}, true) // the access log line is written here, at the end
	a.long.wg.Add(1)
	ctx := c.Context()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(conn net.Conn) {
		if tcp, ok := conn.(*net.TCPConn); ok {
			// The kernel wakes a blocked writer once half its send buffer
			// has drained; autotuned to megabytes, that half can take a
			// slow reader longer than the stall timeout even while it
			// reads steadily. A fixed buffer keeps a wake well inside it
			// (and a slow client's kernel memory bounded).
			tcp.SetWriteBuffer(longSendBuffer)
		}
		w := &longResponse{conn: conn, timeout: a.cfg.StallTimeout, gone: make(chan struct{}), chunked: chunked,
			buf: make([]byte, chunkHeadRoom, chunkHeadRoom+longChunk+2)}
		a.long.add(w)
		defer a.long.remove(w)
		stop := w.watch()
		defer stop()
		err := w.send(head)
		if err == nil {
			err = body(w)
		}
		if err == nil {
			err = w.finish()
		}
		level, outcome := slog.LevelInfo, "complete"
		switch {
		case err != nil:
			level, outcome = slog.LevelWarn, "cut: "+err.Error()
		case w.End != "":
			outcome = w.End
		}
		a.logRequest(context.Background(), level, "stream ended", facts, status, time.Since(start),
			slog.Int64("bytes", w.n), slog.String("outcome", outcome))
	})
}
