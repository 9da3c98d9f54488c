// Package api is the HTTP layer: routes, handlers, request validation and the
// one error handler that maps every error to CONTRACT.md.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/valyala/fasthttp"

	"github.com/taskbolt/taskbolt/auth"
	"github.com/taskbolt/taskbolt/store"
)

// Config configures New.
type Config struct {
	Store    store.Store   // required
	Verifier auth.Verifier // required: checks bearer tokens
	// Sources are credentials besides the Authorization header (cookies),
	// tried after it, each with its own verifier.
	Sources []auth.Source
	Logger  *slog.Logger // default slog.Default()
	Version string       // shown by /healthz
	// BodyLimit is the largest request body accepted, in bytes; larger ones
	// get 413 before they are read whole. Default 1 MiB.
	BodyLimit int
	// CORSOrigins lists the browser origins allowed to call the API, with
	// credentials. A lone "*" allows any origin, without credentials.
	CORSOrigins []string
	// ReadTimeout bounds reading one request (headers and body), so slow
	// clients cannot pin connections. Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response. Default ReadTimeout.
	WriteTimeout time.Duration
	// StallTimeout is how long a long response (an event stream, a backup,
	// an export) waits for its client to take more before it is cut: it has
	// no overall deadline, so it lasts as long as the client keeps reading.
	// Longer than WriteTimeout because readers pause: curl --limit-rate
	// reads all its receive buffer holds (10 MB here), then sleeps until its
	// average is back under the limit, about 10 s at 1 MB/s. Default
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection between requests. Default 60s.
	IdleTimeout time.Duration
	// RateLimit turns on the per-IP and per-user limiters (off by default).
	RateLimit RateLimit
	// Middleware runs after authentication, the owner check and the per-user
	// limiter on every task route.
	Middleware []fiber.Handler
	// AdminToken, when set, turns on /admin/reset and /admin/backup for
	// requests bearing it. At least MinAdminTokenLen characters.
	AdminToken string
	// Observer receives request, authentication and store measurements.
	Observer Observer
	// IdempotencyTTL is how long an Idempotency-Key's outcome is kept.
	// Default 24h.
	IdempotencyTTL time.Duration
	// Heartbeat is how often an idle event stream sends a comment, so that
	// proxies keep it open. Default DefaultHeartbeat (15s).
	Heartbeat time.Duration
	// Done, when closed, ends the event streams (the server is shutting
	// down); close it before shutting the app down.
	Done <-chan struct{}
	// MetricsHandler, when set, is served at GET /metrics.
	MetricsHandler http.Handler
	// MCP, when set, serves the task tools for agents at /mcp (mcp.go).
	MCP *MCPConfig
	// Chat configures POST /api/{user_id}/chat (chat.go); nil or without
	// an agent, the route answers 501. The conversation routes are served
	// whenever the store keeps conversations.
	Chat *ChatConfig
}

// MCPConfig configures the MCP door.
type MCPConfig struct {
	// Resource is the MCP server's URL, as OAuth access tokens for it name it
	// in aud. Empty: the request's own origin + "/mcp".
	Resource string
	// AuthorizationServers are the issuers a client gets tokens from
	// (Better Auth's), named in the protected resource metadata.
	AuthorizationServers []string
}

type app struct {
	store     store.Store
	lister    store.JSONLister // nil when the store cannot list JSON directly
	changes   store.Changelog  // nil when the store keeps no change log
	seqLister store.SeqLister  // lists with the change sequence; nil: Seq, then List
	broker    *broker          // wakes event streams; nil without a change log
	long      *longResponses   // event streams, backups and exports running
	inFlight  inFlight         // Idempotency-Keys of requests running here
	chatTools agentTools       // the tools a chat turn offers its model, made once
	// background is the context of work that outlives a handler (a stream).
	background context.Context
	log        *slog.Logger
	obs        Observer
	cfg        Config
}

// New returns the Fiber app serving CONTRACT.md.
func New(cfg Config) *fiber.App {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = cfg.ReadTimeout
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	a := &app{store: cfg.Store, log: cfg.Logger, obs: cfg.Observer, cfg: cfg, long: newLongResponses()}
	a.lister, _ = cfg.Store.(store.JSONLister)
	if cfg.Chat != nil && cfg.Chat.Agent != nil {
		a.chatTools = a.agentTools()
	}
	a.background = context.Background()
	a.seqLister, _ = cfg.Store.(store.SeqLister)
	if a.changes, _ = cfg.Store.(store.Changelog); a.changes != nil {
		a.broker = newBroker()
		a.changes.OnChange(func(owner string, _ uint64) { a.broker.publish(owner) })
	}

	f := fiber.New(fiber.Config{
		AppName:        "taskbolt",
		CaseSensitive:  true, // /API/x/TASKS is not our route, as in FastAPI
		BodyLimit:      cfg.BodyLimit,
		ReadBufferSize: 16 << 10, // room for an 8 KiB token, which then gets a clean 401
		// A response goes out in one write when it fits: a page of 20 short
		// tasks is 6-7 KB, of tasks with descriptions 15-20 KB, and at
		// fasthttp's 4 KiB every list took two or more writes, a tenth of
		// its CPU over loopback. The buffer stays with a keep-alive
		// connection (28 KiB more each than the default) and is let go when
		// the connection hijacks itself for a long response.
		WriteBufferSize:       32 << 10,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ErrorHandler:          a.errorHandler,
		DisableStartupMessage: true,
	})
	f.Use(a.requestMeta, a.accessLog, recoverPanics, corsMiddleware(cfg.CORSOrigins))

	f.Get("/healthz", a.healthz)
	f.Get("/readyz", a.readyz)
	f.Get("/openapi.json", openAPI)
	f.Get("/docs", docsPage)
	f.Get("/docs/:asset", docsAsset)
	if cfg.MetricsHandler != nil {
		f.Get("/metrics", adaptor.HTTPHandler(cfg.MetricsHandler))
	}

	// Authentication is attached per route, not to the group, so that an
	// unknown path or a wrong method is a 404/405 whether or not a token was
	// sent, as in FastAPI, where routing comes before dependencies.
	chain := guard(cfg, "user_id")
	with := func(h fiber.Handler) []fiber.Handler { return append(chain[:len(chain):len(chain)], h) }

	tasks := f.Group("/api/:user_id/tasks")
	tasks.Get("/", with(a.listTasks)...)
	tasks.Post("/", with(a.createTask)...)
	tasks.Get("/:id", with(a.getTask)...)
	tasks.Put("/:id", with(a.updateTask)...)
	tasks.Patch("/:id", with(a.updateTask)...)
	tasks.Patch("/:id/complete", with(a.completeTask)...)
	tasks.Delete("/:id", with(a.deleteTask)...)
	f.Get("/api/:user_id/tags", with(a.listTags)...)
	f.Get("/api/:user_id/events", with(a.events)...)
	chat := with(a.chat)
	if cfg.Chat != nil && cfg.Chat.RateLimit > 0 { // per user, so after authentication
		chat = append(with(limit(cfg.Chat.RateLimit, time.Minute, perUser)), a.chat)
	}
	f.Post("/api/:user_id/chat", chat...)
	f.Get("/api/:user_id/conversations", with(a.conversations)...)
	f.Get("/api/:user_id/conversations/:id/messages", with(a.messages)...)
	f.Delete("/api/:user_id/conversations/:id", with(a.deleteConversation)...)
	a.adminRoutes(f)
	if cfg.MCP != nil {
		f.Post("/mcp", append(guard(cfg, ""), a.newMCP())...)
		f.Get(mcpMetadataPath, a.mcpMetadata)
	}
	answerUnknownMethods(f)
	f.Server().HeaderReceived = a.requestConfig
	// Long responses run on hijacked connections, which fasthttp's shutdown
	// does not wait for: end them here, before the caller closes the store.
	f.Hooks().OnShutdown(func() error {
		if !a.long.shutdown(a.cfg.WriteTimeout) {
			a.log.Warn("shutdown: long responses still running were abandoned")
		}
		return nil
	})
	return f
}

// answerUnknownMethods makes a request method Fiber does not know (BREW,
// PROPFIND) a JSON 405 like any other wrong method: Fiber itself answers
// those with a plain-text 400 before any middleware runs.
func answerUnknownMethods(f *fiber.App) {
	srv := f.Server()
	next := srv.Handler
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		if slices.Contains(fiber.DefaultMethods, string(ctx.Method())) {
			next(ctx)
			return
		}
		ctx.SetStatusCode(fiber.StatusMethodNotAllowed)
		ctx.Response.Header.Set(headerRequestID, newRequestID())
		ctx.SetContentType(fiber.MIMEApplicationJSON)
		ctx.SetBodyString(`{"detail":"` + errMethodNotAllowed.detail + `"}`)
	}
}

func corsMiddleware(origins []string) fiber.Handler {
	if len(origins) == 0 {
		origins = []string{"http://localhost:3000"}
	}
	wildcard := len(origins) == 1 && origins[0] == "*"
	return cors.New(cors.Config{
		AllowOrigins:     strings.Join(origins, ","),
		AllowMethods:     "GET,POST,PUT,PATCH,DELETE,OPTIONS",
		AllowHeaders:     "Authorization,Content-Type,If-Match,If-None-Match,Idempotency-Key,Last-Event-ID",
		ExposeHeaders:    "X-Total-Count,Location,X-Request-ID,ETag,X-Next-Occurrence,Idempotent-Replayed",
		AllowCredentials: !wildcard, // never * with credentials
		MaxAge:           600,
	})
}

func (a *app) healthz(c *fiber.Ctx) error {
	return writeJSON(c, fiber.StatusOK, map[string]string{"status": "ok", "version": a.cfg.Version})
}

// readyz reports whether the store answers and whether every verifier that
// depends on something outside the process can verify now.
func (a *app) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok"}
	ready := true
	if err := a.store.Ping(ctx); err != nil {
		checks["store"], ready = "unavailable", false
		a.log.Warn("readyz: store", "err", err)
	}
	verifiers := []auth.Verifier{a.cfg.Verifier}
	for _, src := range a.cfg.Sources {
		verifiers = append(verifiers, src.Verifier)
	}
	for _, v := range verifiers {
		if r, ok := v.(auth.Readier); ok {
			if checks["keys"] == "" {
				checks["keys"] = "ok"
			}
			if err := r.Ready(ctx); err != nil {
				checks["keys"], ready = "unavailable", false
				a.log.Warn("readyz: keys", "err", err)
			}
		}
	}
	if !ready {
		return writeJSON(c, fiber.StatusServiceUnavailable, map[string]any{"detail": "Service Unavailable", "status": "unavailable", "checks": checks})
	}
	return writeJSON(c, fiber.StatusOK, map[string]any{"status": "ok", "checks": checks})
}
