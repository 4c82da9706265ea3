package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

// Client talks to supd over its control socket. It is safe for
// concurrent use. Calls are bounded only by their ctx: a wait is bounded
// by supd itself (its request's timeout), streams by the caller.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client of the control socket at path. It does not
// connect until a call. It talks only to a server running as root or as
// the client's own user (checked with SO_PEERCRED on every connection):
// anyone else answering at path gets no request, and the call fails with
// an *UnreachableError wrapping ErrForeignPeer.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", path)
			if err != nil {
				return nil, &UnreachableError{Path: path, Err: err, Hint: socketHint(path, err)}
			}
			if err := checkServer(conn); err != nil {
				conn.Close()
				return nil, &UnreachableError{Path: path, Err: err, Refused: true}
			}
			return conn, nil
		},
	}
	return &Client{path: path, http: &http.Client{Transport: tr}}
}

// ErrForeignPeer is a control socket answered by a process that runs
// neither as root nor as the client's user.
var ErrForeignPeer = errors.New("refusing to talk to it")

// checkServer verifies that the server end of conn runs as root or as
// this process's user.
func checkServer(conn net.Conn) error {
	cred, err := peerCred(conn)
	if err != nil {
		return fmt.Errorf("cannot verify who answers: %w", err)
	}
	if me := os.Geteuid(); cred.Uid != 0 && int(cred.Uid) != me {
		return fmt.Errorf("%w: it is answered by pid %d %s running as %s, neither root nor you (%s); a squatter? set --socket or $SUPD_SOCKET to supd's socket",
			ErrForeignPeer, cred.Pid, progName(int(cred.Pid)), userName(int(cred.Uid)), userName(me))
	}
	return nil
}

// socketHint says what is at path after a failed connect: its owner and
// mode when it exists, how to point supctl elsewhere when it does not.
func socketHint(path string, err error) string {
	fi, serr := os.Lstat(path)
	if serr != nil {
		return "no socket there; is supd running? set --socket PATH or $SUPD_SOCKET"
	}
	owner := ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf(" owned by %s, group %s,", userName(int(st.Uid)), groupName(int(st.Gid)))
	}
	desc := fmt.Sprintf("%s is a socket%s mode %04o", path, owner, uint32(fi.Mode().Perm()))
	if fi.Mode().Type() != os.ModeSocket {
		desc = fmt.Sprintf("%s is not a socket (%s)", path, fi.Mode().Type())
	}
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return desc + "; run supctl as its owner or root, or have supd share it with your group (supervisor { socket_group, socket_mode = \"0660\" })"
	case errors.Is(err, syscall.ECONNREFUSED):
		return desc + "; nobody answers on it: supd is not running (a stale socket)"
	}
	return desc
}

// UnreachableError is a call that could not connect to supd, or that
// refused the process answering.
type UnreachableError struct {
	Path string
	Err  error
	Hint string // what is at Path and what to do; may be empty
	// Refused: a process answered, but one side refused the other (it
	// does not run as root or as this user; or supd refused this user).
	// Trying again will not help.
	Refused bool
}

func (e *UnreachableError) Error() string {
	err := e.Err
	var op *net.OpError
	if errors.As(err, &op) { // "connect: connection refused" without repeating the path
		err = op.Err
	}
	msg := fmt.Sprintf("cannot reach supd at %s: %v", e.Path, err)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// RemoteError is an error answered by supd.
type RemoteError struct {
	StatusCode  int    // 404 unknown name, 409 a wait failed, 504 it timed out, ...
	Message     string // api.Error.Error
	Diagnostics string // api.Error.Diagnostics: a reload's config errors
}

func (e *RemoteError) Error() string { return e.Message }

// Status returns the named instances (a process name stands for all its
// instances), all when names is empty.
func (c *Client) Status(ctx context.Context, names []string) ([]api.Status, error) {
	var sts []api.Status
	err := c.call(ctx, http.MethodGet, "/status", url.Values{"name": names}, nil, &sts)
	return sts, err
}

// Do asks supd to carry out a and returns the status of its targets once
// done (with req.Wait, once complete: see the package doc).
func (c *Client) Do(ctx context.Context, a Action, req api.ActionRequest) ([]api.Status, error) {
	var sts []api.Status
	err := c.call(ctx, http.MethodPost, "/"+string(a), nil, req, &sts)
	return sts, err
}

// Scale asks supd to run req.Instances instances of req.Process and
// returns the status of the process's instances (with req.Wait, once the
// new ones are ready and the removed ones gone).
func (c *Client) Scale(ctx context.Context, req api.ScaleRequest) ([]api.Status, error) {
	var sts []api.Status
	err := c.call(ctx, http.MethodPost, "/scale", nil, req, &sts)
	return sts, err
}

// Signal asks supd to send req.Signal to the process trees of req.Names
// and returns their status.
func (c *Client) Signal(ctx context.Context, req api.SignalRequest) ([]api.Status, error) {
	var sts []api.Status
	err := c.call(ctx, http.MethodPost, "/signal", nil, req, &sts)
	return sts, err
}

// Why returns the 502 checklist of a process or instance.
func (c *Client) Why(ctx context.Context, name string) (api.Why, error) {
	var why api.Why
	err := c.call(ctx, http.MethodGet, "/why", url.Values{"name": {name}}, nil, &why)
	return why, err
}

// Logs calls fn with the last n lines of name (n < 0: all) at or after
// since (zero: any) and, when follow is set, with every new line (or a
// marker for missed ones) until ctx is done. It returns fn's first error,
// ctx.Err() when ctx ends it, nil at the end of the lines when not
// following, and an *UnreachableError when supd ends a followed stream.
func (c *Client) Logs(ctx context.Context, name string, n int, since time.Time, follow bool, fn func(api.LogLine) error) error {
	q := url.Values{"name": {name}, "n": {strconv.Itoa(n)}}
	if !since.IsZero() {
		q.Set("since", since.Format(time.RFC3339Nano))
	}
	if follow {
		q.Set("follow", "1")
	}
	return stream(ctx, c, "/logs", q, follow, fn)
}

// Events calls fn with every state change from now on, until ctx is done
// or supd ends the stream (it is shutting down). Errors as for Logs.
func (c *Client) Events(ctx context.Context, fn func(api.Event) error) error {
	return stream(ctx, c, "/events", nil, true, fn)
}

// stream calls fn with each value of an NDJSON stream. A stream that
// follows ends only with ctx: its end, or a broken connection, means supd
// went away (an *UnreachableError).
func stream[T any](ctx context.Context, c *Client, path string, query url.Values, follow bool, fn func(T) error) error {
	resp, err := c.send(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case follow:
				return &UnreachableError{Path: c.path, Err: fmt.Errorf("connection lost, supd went away: %w", err)}
			case errors.Is(err, io.EOF):
				return nil
			}
			return fmt.Errorf("read from supd: %w", err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// call sends a request and decodes its JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read answer of supd: %w", err)
	}
	return nil
}

// send sends a request; a non-2xx answer is returned as a *RemoteError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://supd" + path
	if q := query.Encode(); q != "" {
		u += "?" + q
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var unreachable *UnreachableError
		switch {
		case errors.As(err, &unreachable):
			return nil, unreachable
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("supd at %s: %w", c.path, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		err := readError(resp)
		if resp.StatusCode == http.StatusForbidden { // the server refused this user
			return nil, &UnreachableError{Path: c.path, Err: err, Refused: true}
		}
		return nil, err
	}
	return resp, nil
}

func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20)) // a cut body still says something
	e := &RemoteError{StatusCode: resp.StatusCode}
	var body api.Error
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message, e.Diagnostics = body.Error, body.Diagnostics
	} else if e.Message = strings.TrimSpace(string(b)); e.Message == "" {
		e.Message = resp.Status
	}
	return e
}
