package httpserve

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what clients can hold of supd: file descriptors (one per
// connection) and time. Serve applies DefaultLimits to every server.
type Limits struct {
	// MaxConns is the number of connections served at once. Past it,
	// Accept waits: new connections wait in the kernel's accept queue
	// (costing supd no fd) until one closes.
	MaxConns int
	// HeaderTimeout bounds reading a request's headers (slowloris).
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body, which is read whole
	// before the handler runs (at most MaxBody bytes: more is 413).
	// Responses are not bounded: streams (/events, logs -f) last as long
	// as the client reads them.
	BodyTimeout time.Duration
	MaxBody     int64
	// IdleTimeout closes a keep-alive connection with no request.
	IdleTimeout time.Duration
}

// DefaultLimits: 64 connections per server (the control socket and the
// HTTP endpoint each), so two full servers hold at most 128 fds of a
// supd started with `ulimit -n 256`.
var DefaultLimits = Limits{
	MaxConns:      64,
	HeaderTimeout: 5 * time.Second,
	BodyTimeout:   5 * time.Second,
	MaxBody:       1 << 20,
	IdleTimeout:   30 * time.Second,
}

// apply sets srv's timeouts and wraps its handler and ln.
func (l Limits) apply(srv *http.Server, ln net.Listener) net.Listener {
	if srv.ReadHeaderTimeout == 0 || srv.ReadHeaderTimeout > l.HeaderTimeout {
		srv.ReadHeaderTimeout = l.HeaderTimeout
	}
	if srv.IdleTimeout == 0 || srv.IdleTimeout > l.IdleTimeout {
		srv.IdleTimeout = l.IdleTimeout
	}
	srv.Handler = ReadBody(srv.Handler, l.BodyTimeout, l.MaxBody)
	return LimitListener(ln, l.MaxConns)
}

// ReadBody reads a request's body whole, within timeout and at most max
// bytes, before calling next with it in memory: a client that sends its
// body slowly or never is answered 408 and holds nothing after timeout.
// Requests without a body go straight through.
func ReadBody(next http.Handler, timeout time.Duration, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var tooLarge *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, "request body over 1 MiB", http.StatusRequestEntityTooLarge)
			return
		case errors.As(err, &ne) && ne.Timeout():
			w.Header().Set("Connection", "close")
			http.Error(w, "request body not received within "+timeout.String(), http.StatusRequestTimeout)
			return
		case err != nil:
			return // the client left
		}
		// The body is in: no read deadline from here on (a wait may last
		// minutes; the server's background read must not end it).
		_ = rc.SetReadDeadline(time.Time{})
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}

// LimitListener returns a listener that has at most n accepted
// connections open at once: Accept waits for one to close. Closing the
// listener ends a waiting Accept.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
