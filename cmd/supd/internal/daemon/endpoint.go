package daemon

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/sup-sh/sup/supervisor"
	httpendpoint "github.com/sup-sh/sup/supervisor/endpoint"
)

// endpoint is supd's HTTP endpoint (/readyz, /healthz, /metrics), served
// in its own goroutine until the context given to startEndpoint is done.
type endpoint struct {
	*httpendpoint.Endpoint
	done chan struct{} // closed when serving has stopped
}

// startEndpoint opens addr now, so that a taken port is an error before
// anything is started, and serves the endpoint for sup on it until ctx is
// done. It returns nil, nil when addr is empty (no endpoint configured).
func startEndpoint(ctx context.Context, addr string, sup *supervisor.Supervisor, log zerolog.Logger) (*endpoint, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http endpoint (supervisor { http = %q }): %w", addr, err)
	}
	log = log.With().Str("component", "http").Logger()
	e := &endpoint{Endpoint: httpendpoint.New(sup, log), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		if err := e.Serve(ctx, ln); err != nil {
			log.Error().Err(err).Msg("http endpoint failed")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("http endpoint: /readyz /healthz /metrics")
	return e, nil
}

// observeReady feeds the endpoint's ready-time histogram; it is the
// supervisor's OnReady option. A nil endpoint (none configured, or not
// built yet) ignores it.
func (e *endpoint) observeReady(process string, instance int, d time.Duration) {
	if e != nil {
		e.ObserveReady(process, instance, d)
	}
}

// forget drops the metrics of a removed process; a nil endpoint ignores it.
func (e *endpoint) forget(process string) {
	if e != nil {
		e.Forget(process)
	}
}

// wait returns once the endpoint has stopped serving; at once when e is nil.
func (e *endpoint) wait() {
	if e != nil {
		<-e.done
	}
}
