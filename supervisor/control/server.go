package control

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/didyoumean"
	"github.com/sup-sh/sup/supervisor/internal/httpserve"
)

// Defaults of the Server's zero fields.
const (
	DefaultWaitTimeout = 60 * time.Second
	DefaultLogLines    = 50
)

// Server serves a Backend over HTTP. Set its fields before calling Serve
// or Handler; it is not modified afterwards.
type Server struct {
	Backend Backend
	Log     zerolog.Logger

	// WaitTimeout bounds a wait whose request gives no timeout;
	// DefaultWaitTimeout when zero.
	WaitTimeout time.Duration
}

// Serve serves ln until ctx is done, then cancels the requests in flight
// (streams end, waits answer 503), closes ln and returns nil. It returns an
// error only if serving fails before that. ln is closed either way.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	return httpserve.Serve(ctx, srv, ln, "control socket", s.Log)
}

// Handler returns the HTTP API (see the package doc).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.handleStatus)
	for a := range operations {
		mux.HandleFunc("POST /"+string(a), s.handleAction(a))
	}
	mux.HandleFunc("POST /scale", s.handleScale)
	mux.HandleFunc("POST /signal", s.handleSignal)
	mux.HandleFunc("GET /why", s.handleWhy)
	mux.HandleFunc("POST /check-proxy", s.handleCheckProxy)
	mux.HandleFunc("GET /logs", s.handleLogs)
	mux.HandleFunc("GET /events", s.handleEvents)
	return s.logRequests(mux)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	names, err := s.expandAll(r.Context(), r.URL.Query()["name"])
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	s.answerStatus(w, r, names)
}

// answerStatus answers the status of names (all when empty).
func (s *Server) answerStatus(w http.ResponseWriter, r *http.Request, names []string) {
	sts, err := s.Backend.Status(r.Context(), names)
	if err != nil {
		s.fail(w, r, names, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(sts))
}

func (s *Server) handleAction(a Action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.ActionRequest
		if err := decodeBody(w, r, &req); err != nil {
			s.fail(w, r, nil, err)
			return
		}
		timeout, err := s.timeout(req.Timeout)
		if err == nil {
			req.Names, err = s.expandAll(r.Context(), req.Names)
		}
		if err != nil {
			s.fail(w, r, req.Names, err)
			return
		}
		sts, err := s.act(r.Context(), a, req, timeout)
		if err != nil {
			s.fail(w, r, req.Names, err)
			return
		}
		writeJSON(w, http.StatusOK, nonNil(sts))
	}
}

func (s *Server) handleWhy(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	switch name {
	case "":
		s.fail(w, r, nil, badRequest("missing name"))
		return
	case All:
		s.fail(w, r, nil, badRequest("why answers for one process or instance, not all: supctl status shows them all"))
		return
	}
	why, err := s.Backend.Why(r.Context(), name)
	if err != nil {
		s.fail(w, r, []string{name}, err)
		return
	}
	writeJSON(w, http.StatusOK, why)
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		s.fail(w, r, nil, badRequest("missing name"))
		return
	}
	n := DefaultLogLines
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < -1 {
			s.fail(w, r, nil, badRequest("bad n %q: want a number of lines", v))
			return
		}
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		var err error
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			s.fail(w, r, nil, badRequest("bad since %q: want an RFC 3339 time", v))
			return
		}
	}
	follow := false
	if v := q.Get("follow"); v != "" {
		var err error
		if follow, err = strconv.ParseBool(v); err != nil {
			s.fail(w, r, nil, badRequest("bad follow %q: want 1 or 0", v))
			return
		}
	}
	target := name
	if name == All {
		target = "" // every instance, interleaved
	}
	lines, err := s.Backend.Logs(r.Context(), target, n, since, follow)
	if err != nil {
		s.fail(w, r, []string{name}, err)
		return
	}
	streamNDJSON(w, r, lines)
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	streamNDJSON(w, r, s.Backend.Subscribe(r.Context()))
}

// streamNDJSON writes every value received from ch as one JSON line,
// flushed as soon as nothing more is immediately available, until ch is
// closed or the request is done.
func streamNDJSON[T any](w http.ResponseWriter, r *http.Request, ch <-chan T) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil { // the client knows it is subscribed
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case v, ok := <-ch:
			if !ok || enc.Encode(v) != nil {
				return
			}
			if len(ch) == 0 && rc.Flush() != nil {
				return
			}
		}
	}
}

// requestError is a bad request: 400.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{fmt.Sprintf(format, args...)}
}

// fail answers err as an api.Error with its status code. names are the
// request's targets, to say which one is unknown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, names []string, err error) {
	code, body := http.StatusInternalServerError, api.Error{Error: err.Error()}
	var (
		reqErr    *requestError
		waitErr   *waitError
		reloadErr *api.ReloadError
	)
	switch {
	case errors.As(err, &reqErr):
		code = http.StatusBadRequest
	case errors.Is(err, api.ErrUnknown):
		code, body.Error = http.StatusNotFound, s.unknown(r.Context(), names, err)
	case errors.As(err, &waitErr):
		code = waitErr.status
	case errors.As(err, &reloadErr):
		code, body.Diagnostics = http.StatusUnprocessableEntity, reloadErr.Diagnostics
	case errors.Is(err, api.ErrNotRunning):
		code = http.StatusConflict
	case errors.Is(err, api.ErrShuttingDown):
		code = http.StatusServiceUnavailable
	case r.Context().Err() != nil:
		// Shutting down, or the client left and will not read this.
		code, body.Error = http.StatusServiceUnavailable, "supd is shutting down"
	}
	if code == http.StatusInternalServerError {
		s.Log.Error().Err(err).Str("path", r.URL.Path).Msg("control request failed")
	}
	writeJSON(w, code, body)
}

// unknown says which of names is unknown and what is known, as in
// `no process named "apu" (known: api, db)`.
func (s *Server) unknown(ctx context.Context, names []string, err error) string {
	all, serr := s.Backend.Status(ctx, nil)
	if serr != nil {
		return err.Error()
	}
	var processes []string
	instances := map[string][]string{} // process -> its instance names
	for _, st := range all {
		if _, ok := instances[st.Process]; !ok {
			processes = append(processes, st.Process)
		}
		instances[st.Process] = append(instances[st.Process], st.Name)
	}
	known := "none"
	if len(processes) > 0 {
		known = strings.Join(processes, ", ")
	}
	for _, name := range names {
		process, _, isInstance := strings.Cut(name, ":")
		insts, ok := instances[process]
		switch {
		case !ok:
			if guess := didyoumean.Closest(name, processes); guess != "" {
				return fmt.Sprintf("no process named %q; did you mean %q? (known: %s)", name, guess, known)
			}
			return fmt.Sprintf("no process named %q (known: %s)", name, known)
		case isInstance && !slices.Contains(insts, name):
			return fmt.Sprintf("no instance %q (%s has %s)", name, process, strings.Join(insts, ", "))
		}
	}
	return err.Error()
}

// All is the NAME that stands for every process, in every request that
// takes names (a process cannot be called that).
const All = "all"

// expandAll replaces All in names by every process name, in config order,
// so that `stop all` and `reload all` act on each process by name (an
// empty list means something else to some actions: reload re-reads the
// config).
func (s *Server) expandAll(ctx context.Context, names []string) ([]string, error) {
	if !slices.Contains(names, All) {
		return names, nil
	}
	all, err := s.Backend.Status(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if n != All {
			out = append(out, n)
			continue
		}
		for _, st := range all {
			if !slices.Contains(out, st.Process) {
				out = append(out, st.Process)
			}
		}
	}
	return out, nil
}

// timeout parses a request's timeout.
func (s *Server) timeout(v string) (time.Duration, error) {
	if v == "" {
		return cmp.Or(s.WaitTimeout, DefaultWaitTimeout), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badRequest("bad timeout %q: want a positive duration such as 30s", v)
	}
	return d, nil
}

// nonNil makes an empty answer encode as [] rather than null.
func nonNil(sts []api.Status) []api.Status {
	if sts == nil {
		return []api.Status{}
	}
	return sts
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v)
	if err != nil && !errors.Is(err, io.EOF) { // an empty body is an empty request
		return badRequest("bad request body: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) // an error here means the client left
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.Log.Debug().Str("method", r.Method).Str("path", r.URL.Path).
			Int("status", rec.status).Dur("took", time.Since(start)).Msg("control request")
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
