// Package endpoint serves supd's optional HTTP endpoint
// (`supervisor { http = "127.0.0.1:9900" }`), for orchestrators and
// monitoring:
//
//   - GET /readyz: 200 when every instance that is not stopped is ready,
//     else 503; the text body names the ones that are not, and why.
//   - GET /healthz: 200 while the supervisor loop answers and no critical
//     process is fatal, else 503 with the reason.
//   - GET /metrics: Prometheus text format (see metrics.go).
//
// Every answer is computed from the Source when the request arrives; the
// endpoint keeps no copy of the process table. Other methods get 405.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/httpserve"
)

// Source is what the endpoint reads; *supervisor.Supervisor implements it.
type Source interface {
	// Status returns the named instances (all when names is empty).
	Status(ctx context.Context, names []string) ([]api.Status, error)
	// Ping returns once supd's loop answered: proof supd is working.
	Ping(ctx context.Context) error
}

// Time limits of the Source calls made for one request. Kubernetes probes
// time out after 1s by default, so the liveness answer must come in time.
const (
	pingTimeout   = time.Second
	statusTimeout = 5 * time.Second
)

// Endpoint serves /readyz, /healthz and /metrics from a Source. Create it
// with New; it is safe for concurrent use.
type Endpoint struct {
	src      Source
	log      zerolog.Logger
	registry *prometheus.Registry
	ready    *prometheus.HistogramVec
}

// New returns an endpoint reading src. Nothing is served until Serve, or
// until Handler's handler is mounted somewhere.
func New(src Source, log zerolog.Logger) *Endpoint {
	e := &Endpoint{src: src, log: log, ready: newReadyHistogram()}
	e.registry = newRegistry(src, e.ready)
	return e
}

// ObserveReady records that instance of process became ready d after it
// was spawned (the sup_process_ready_seconds histogram). It is meant to be
// the supervisor's OnReady option: it never blocks and does no I/O.
func (e *Endpoint) ObserveReady(process string, instance int, d time.Duration) {
	e.ready.WithLabelValues(process).Observe(d.Seconds())
}

// Forget drops the metrics of a process that was removed from the config.
// Like ObserveReady, it never blocks and does no I/O.
func (e *Endpoint) Forget(process string) {
	e.ready.DeleteLabelValues(process)
}

// Handler returns the endpoint's routes.
func (e *Endpoint) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", e.handleReadyz)
	mux.HandleFunc("GET /healthz", e.handleHealthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{
		ErrorLog: log.New(e.log, "metrics: ", 0),
		// A scrape that cannot read the process table fails (Prometheus
		// records up=0) rather than silently dropping every sup_ series.
		ErrorHandling: promhttp.HTTPErrorOnError,
	}))
	return mux
}

// Serve serves ln until ctx is done, then shuts down gracefully (see
// httpserve.Serve): it returns nil after a shutdown, or the error that
// stopped serving earlier. ln is closed either way.
func (e *Endpoint) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           e.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
	}
	return httpserve.Serve(ctx, srv, ln, "http endpoint", e.log)
}

func (e *Endpoint) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	sts, err := e.src.Status(ctx, nil)
	if err != nil {
		writeText(w, http.StatusServiceUnavailable, "supd is not answering: "+err.Error())
		return
	}
	var notReady []string
	total := 0
	for _, st := range sts {
		if stoppedByRequest(st) {
			continue
		}
		total++
		if !st.Ready {
			notReady = append(notReady, describe(st))
		}
	}
	if len(notReady) > 0 {
		writeText(w, http.StatusServiceUnavailable, strings.Join(notReady, "\n"))
		return
	}
	writeText(w, http.StatusOK, fmt.Sprintf("ok: %d/%d ready", total, total))
}

func (e *Endpoint) handleHealthz(w http.ResponseWriter, r *http.Request) {
	if err := e.health(r.Context()); err != nil {
		writeText(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// health returns nil when the supervisor loop answers within pingTimeout
// and no critical instance is fatal, else what is wrong.
func (e *Endpoint) health(ctx context.Context) error {
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := e.src.Ping(pingCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("supd's supervisor loop did not answer within %s", pingTimeout)
		}
		return fmt.Errorf("supd's supervisor loop is not answering: %w", err)
	}
	statusCtx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	sts, err := e.src.Status(statusCtx, nil)
	if err != nil {
		return fmt.Errorf("supd is not answering: %w", err)
	}
	var fatal []string
	for _, st := range sts {
		if st.Critical && st.State == api.StateFatal {
			fatal = append(fatal, "critical process "+describe(st))
		}
	}
	if len(fatal) > 0 {
		return errors.New(strings.Join(fatal, "\n"))
	}
	return nil
}

// describe is one line about an instance: its name, state and reason, as
// in "api:1 starting: nothing listening yet (starting 2.1s)".
func describe(st api.Status) string {
	if st.Reason == "" {
		return st.Name + " " + st.State
	}
	return st.Name + " " + st.State + ": " + st.Reason
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, body) // the client went away: nothing to do
}

// stoppedByRequest: /readyz leaves out what an operator stopped (supctl
// stop, or supd shutting down) once it is stopped; while it is stopping,
// it still counts as not ready.
func stoppedByRequest(st api.Status) bool {
	return st.State == api.StateStopped && st.StoppedByRequest()
}
