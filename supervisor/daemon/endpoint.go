package daemon

import (
	"context"
	"errors"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
)

// endpoint is the HTTP endpoint (/readyz, /healthz, /metrics).
type endpoint struct{ done chan struct{} }

func (e *endpoint) wait() { <-e.done }

// startEndpoint serves the HTTP endpoint on addr until ctx is done; nil
// when addr is empty.
func startEndpoint(ctx context.Context, addr string, sup *supervisor.Supervisor, log zerolog.Logger) (*endpoint, error) {
	if addr == "" {
		return nil, nil
	}
	return nil, errors.New("the HTTP endpoint is not built yet")
}
