// Package metrics is taskbolt's Prometheus instrumentation
// (github.com/prometheus/client_golang): requests and latency by route
// pattern and status, authentication failures by reason and verifier, store
// operation latency, the database file's size and JWKS fetches. It has its
// own registry, so tests and several servers in one process do not collide.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskbolt/taskbolt/store"
)

// Metrics implements api.Observer.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	authFailures   *prometheus.CounterVec
	storeLatency   *prometheus.HistogramVec
	keyFetches     *prometheus.CounterVec
	streamsOpen    prometheus.Gauge
	streamsEnded   *prometheus.CounterVec
	eventsSent     prometheus.Counter
	streamsRefused prometheus.Counter
	chatTurns      *prometheus.HistogramVec
	chatTokens     *prometheus.CounterVec
}

// New registers every metric.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbolt_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskbolt_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"method", "route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbolt_auth_failures_total", Help: "Refused requests by reason (missing, invalid, expired, forbidden, unavailable) and verifier.",
		}, []string{"reason", "verifier"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskbolt_store_operation_duration_seconds", Help: "Store operation latency by operation and outcome.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1},
		}, []string{"op", "outcome"}),
		keyFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbolt_jwks_fetches_total", Help: "Fetches of the JWKS by result (ok, error).",
		}, []string{"result"}),
	}
	m.streamsOpen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "taskbolt_event_streams_open", Help: "Event streams open on this replica."})
	m.streamsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskbolt_event_streams_closed_total",
		Help: "Event streams ended, by reason: client, expired, shutdown, slow (the client read too slowly: dropped), error."}, []string{"reason"})
	m.eventsSent = prometheus.NewCounter(prometheus.CounterOpts{Name: "taskbolt_events_sent_total", Help: "Events sent on event streams."})
	m.streamsRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "taskbolt_event_streams_refused_total",
		Help: "Event streams refused: the user already had the most allowed on this replica."})
	m.chatTurns = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "taskbolt_chat_turn_duration_seconds",
		Help:    "Chat turns by outcome (ok, model_error, timeout, error), model time included.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120}}, []string{"outcome"})
	m.chatTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "taskbolt_chat_tokens_total",
		Help: "Tokens the model reported using, by model and kind (prompt, completion)."}, []string{"model", "kind"})
	reg.MustRegister(m.streamsOpen, m.streamsEnded, m.eventsSent, m.streamsRefused, m.chatTurns, m.chatTokens)
	reg.MustRegister(m.requests, m.latency, m.authFailures, m.storeLatency, m.keyFetches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchStoreSize reports size, called at each scrape, as
// taskbolt_db_file_size_bytes (the store's data size; for bolt, its file).
func (m *Metrics) WatchStoreSize(size func(context.Context) (int64, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "taskbolt_db_file_size_bytes", Help: "Size of the store's data in bytes (for bolt, the database file).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := size(ctx)
		if err != nil {
			return 0
		}
		return float64(n)
	}))
}

// StreamOpened implements api.StreamObserver.
func (m *Metrics) StreamOpened() { m.streamsOpen.Inc() }

// StreamClosed implements api.StreamObserver.
func (m *Metrics) StreamClosed(reason string) {
	m.streamsOpen.Dec()
	m.streamsEnded.WithLabelValues(reason).Inc()
}

// EventsSent implements api.StreamObserver.
func (m *Metrics) EventsSent(n int) { m.eventsSent.Add(float64(n)) }

// StreamRefused implements api.StreamObserver.
func (m *Metrics) StreamRefused() { m.streamsRefused.Inc() }

// WatchPool reports a database connection pool at each scrape:
// taskbolt_db_pool_connections{state=max|open|idle|in_use},
// taskbolt_db_pool_acquires_total, taskbolt_db_pool_waits_total (acquires
// that found no idle connection) and taskbolt_db_pool_wait_seconds_total.
func (m *Metrics) WatchPool(stats func() store.PoolStats) {
	m.reg.MustRegister(poolCollector(stats))
}

type poolCollector func() store.PoolStats

var (
	poolConns    = prometheus.NewDesc("taskbolt_db_pool_connections", "Database pool connections by state (max, open, idle, in_use).", []string{"state"}, nil)
	poolAcquires = prometheus.NewDesc("taskbolt_db_pool_acquires_total", "Connections taken from the database pool.", nil, nil)
	poolWaits    = prometheus.NewDesc("taskbolt_db_pool_waits_total", "Takes from the database pool that had to wait for a connection.", nil, nil)
	poolWaitTime = prometheus.NewDesc("taskbolt_db_pool_wait_seconds_total", "Time spent taking connections from the database pool.", nil, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolAcquires
	ch <- poolWaits
	ch <- poolWaitTime
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	for state, n := range map[string]int{"max": s.Max, "open": s.Total, "idle": s.Idle, "in_use": s.InUse} {
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(s.Acquires))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquires))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, s.AcquireWait)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request records one answered request.
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// AuthFailure records one refused request.
func (m *Metrics) AuthFailure(reason, verifier string) {
	m.authFailures.WithLabelValues(reason, verifier).Inc()
}

// StoreOp records one store operation.
func (m *Metrics) StoreOp(op string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.storeLatency.WithLabelValues(op, outcome).Observe(d.Seconds())
}

// KeyFetch records one JWKS fetch.
func (m *Metrics) KeyFetch(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.keyFetches.WithLabelValues(result).Inc()
}

// KeyFetchHook returns KeyFetch as a func, or nil when m is nil (metrics off).
func (m *Metrics) KeyFetchHook() func(error) {
	if m == nil {
		return nil
	}
	return m.KeyFetch
}

// ChatTurn implements api.ChatObserver.
func (m *Metrics) ChatTurn(outcome string, d time.Duration) {
	m.chatTurns.WithLabelValues(outcome).Observe(d.Seconds())
}

// ChatTokens implements api.ChatObserver. The model is the configured
// CHAT_MODEL: one label value per server.
func (m *Metrics) ChatTokens(model string, prompt, completion int64) {
	m.chatTokens.WithLabelValues(model, "prompt").Add(float64(prompt))
	m.chatTokens.WithLabelValues(model, "completion").Add(float64(completion))
}
