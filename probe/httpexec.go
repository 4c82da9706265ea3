package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// httpCheck GETs a URL: a 2xx answer (after redirects) passes.
type httpCheck struct {
	url    string
	client *http.Client
}

// newHTTPCheck gives every attempt timeout. Connections are not kept alive
// between attempts and no proxy is used.
func newHTTPCheck(url string, timeout time.Duration) *httpCheck {
	return &httpCheck{url: url, client: &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DisableKeepAlives: true},
	}}
}

// get makes one request: "" when it answered 2xx, else why not:
// "http://127.0.0.1:3000/: 503 Service Unavailable",
// "http://127.0.0.1:3000/: connection refused".
func (h *httpCheck) get(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return h.url + ": " + err.Error()
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return h.url + ": " + describe(err, h.client.Timeout)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return h.url + ": " + resp.Status
	}
	return ""
}

// describe shortens a request error to its cause: "connection refused",
// "timeout after 2s".
func describe(err error, timeout time.Duration) string {
	var errno syscall.Errno
	var nerr net.Error
	var uerr *url.Error
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timeout after " + timeout.String()
	case errors.As(err, &uerr):
		return uerr.Err.Error()
	}
	return err.Error()
}

// execCheck runs a command through the supervisor's Runner: exit 0 passes.
type execCheck struct {
	argv    []string
	dir     string
	runner  Runner
	timeout time.Duration
}

// run runs the command once: "" on exit 0, else why not:
// "exec [pg_isready]: exit 1: <last output line>".
func (e *execCheck) run(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	code, out, err := e.runner.Run(ctx, e.argv, e.dir, nil)
	switch {
	case err != nil:
		return fmt.Sprintf("exec %v: %v", e.argv, err)
	case code == 0:
		return ""
	}
	reason := fmt.Sprintf("exec %v: exit %d", e.argv, code)
	if last := lastLine(out); len(last) > 0 {
		reason += ": " + string(last)
	}
	return reason
}

// lastLine is the last non-empty line of out, at most 200 bytes of it.
func lastLine(out []byte) []byte {
	out = bytes.TrimRight(out, " \t\r\n")
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	out = bytes.TrimSpace(out)
	if len(out) > 200 {
		out = out[len(out)-200:]
	}
	return out
}
