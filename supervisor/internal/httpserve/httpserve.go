// Package httpserve runs an http.Server for the lifetime of a context: the
// one serve-then-shut-down sequence of supd's control socket and its HTTP
// endpoint.
package httpserve

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// ShutdownTimeout bounds the graceful shutdown: requests in flight see
// their context cancelled at once, so this only bounds a handler that
// ignores it.
const ShutdownTimeout = 5 * time.Second

// Serve serves srv on ln until ctx is done, then shuts down: it stops
// accepting, lets the requests in flight finish (their context, from
// srv.BaseContext, is ctx: they end promptly), and force-closes what is
// left after ShutdownTimeout. It returns nil after such a shutdown, or the
// error, prefixed with what, that stopped serving before. ln is closed
// either way. srv.BaseContext and, when nil, srv.ErrorLog are set here,
// and DefaultLimits applied (a connection cap, header, body and idle
// timeouts: see Limits).
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, what string, lg zerolog.Logger) error {
	ln = DefaultLimits.apply(srv, ln)
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	if srv.ErrorLog == nil {
		srv.ErrorLog = log.New(lg, what+": ", 0)
	}
	shutdownDone := make(chan struct{})
	stopShutdown := context.AfterFunc(ctx, func() {
		defer close(shutdownDone)
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			lg.Warn().Err(err).Msg(what + ": forced close")
			_ = srv.Close() // its error is Shutdown's, already reported
		}
	})
	err := srv.Serve(ln) // closes ln when it returns
	if stopShutdown() {  // ctx is not done: serving failed on its own
		return fmt.Errorf("%s %s: %w", what, ln.Addr(), err)
	}
	<-shutdownDone
	return nil
}
