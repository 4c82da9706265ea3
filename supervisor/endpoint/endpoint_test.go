package endpoint_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/endpoint"
)

// fakeSource is an endpoint.Source whose methods call its function
// fields; a nil PingFunc answers at once.
type fakeSource struct {
	StatusFunc func(ctx context.Context, names []string) ([]api.Status, error)
	PingFunc   func(ctx context.Context) error
}

var _ endpoint.Source = (*fakeSource)(nil)

func (f *fakeSource) Status(ctx context.Context, names []string) ([]api.Status, error) {
	return f.StatusFunc(ctx, names)
}

func (f *fakeSource) Ping(ctx context.Context) error {
	if f.PingFunc == nil {
		return nil
	}
	return f.PingFunc(ctx)
}

// table is a fakeSource that answers sts.
func table(sts ...api.Status) *fakeSource {
	return &fakeSource{StatusFunc: func(context.Context, []string) ([]api.Status, error) { return sts, nil }}
}

func ready(name string, instance int) api.Status {
	return api.Status{Name: name, Process: strings.Split(name, ":")[0], Instance: instance,
		State: api.StateRunning, Ready: true, Pid: 100 + instance, UptimeMs: 60_000}
}

func starting(name string, instance int, reason string) api.Status {
	st := ready(name, instance)
	st.State, st.Ready, st.Reason, st.UptimeMs = api.StateStarting, false, reason, 2100
	return st
}

func withState(st api.Status, state string) api.Status {
	st.State, st.Ready, st.Pid, st.UptimeMs = state, false, 0, 0
	return st
}

func withDesired(st api.Status, desired string) api.Status {
	st.Desired = desired
	return st
}

func withReason(st api.Status, reason string) api.Status {
	st.Reason = reason
	return st
}

// listen opens a loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serving serves e on a loopback port. It returns the address, and stop,
// which cancels Serve's context and fails the test unless Serve then
// returns nil within 5s.
func serving(t *testing.T, e *endpoint.Endpoint) (addr string, stop func()) {
	t.Helper()
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, ln) }()
	return ln.Addr().String(), func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after its context was cancelled")
		}
	}
}

// serve serves e until the test ends and returns its base URL.
func serve(t *testing.T, e *endpoint.Endpoint) string {
	t.Helper()
	addr, stop := serving(t, e)
	t.Cleanup(stop)
	return "http://" + addr
}

func start(t *testing.T, src endpoint.Source) (*endpoint.Endpoint, string) {
	t.Helper()
	e := endpoint.New(src, zerolog.Nop())
	return e, serve(t, e)
}

var client = &http.Client{Timeout: 5 * time.Second}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// textCase is a GET of a text endpoint against a source.
type textCase struct {
	name     string
	src      *fakeSource
	wantCode int
	wantBody string
}

func runTextCases(t *testing.T, path string, tests []textCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := start(t, tt.src)
			code, body := do(t, http.MethodGet, url+path)
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", path, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	tests := []textCase{
		{
			name:     "all ready",
			src:      table(ready("api:0", 0), ready("api:1", 1), ready("worker", 0)),
			wantCode: http.StatusOK,
			wantBody: "ok: 3/3 ready\n",
		},
		{
			name: "one starting",
			src: table(ready("api:0", 0), starting("api:1", 1, "nothing listening yet (starting 2.1s)"),
				ready("worker", 0)),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "api:1 starting: nothing listening yet (starting 2.1s)\n",
		},
		{
			name: "every one not ready is listed",
			src: table(withState(ready("api:0", 0), api.StateBackoff), ready("api:1", 1),
				withReason(withState(ready("db", 0), api.StateFatal), "exited 1")),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "api:0 backoff\ndb fatal: exited 1\n",
		},
		{
			name:     "stopped is excluded",
			src:      table(ready("api", 0), withState(ready("worker", 0), api.StateStopped)),
			wantCode: http.StatusOK,
			wantBody: "ok: 1/1 ready\n",
		},
		{
			name: "stopped by request is excluded, stopped on the way to a restart is not",
			src: table(ready("api", 0), withDesired(withState(ready("worker", 0), api.StateStopped), api.DesiredStopped),
				withDesired(withState(ready("cron", 0), api.StateStopped), api.DesiredRunning)),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "cron stopped\n",
		},
		{
			name:     "stopping is not ready",
			src:      table(ready("api", 0), withState(ready("worker", 0), api.StateStopping)),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "worker stopping\n",
		},
		{
			name: "supd not answering",
			src: &fakeSource{StatusFunc: func(context.Context, []string) ([]api.Status, error) {
				return nil, errors.New("supd is shutting down")
			}},
			wantCode: http.StatusServiceUnavailable,
			wantBody: "supd is not answering: supd is shutting down\n",
		},
	}
	runTextCases(t, "/readyz", tests)
}

func TestHealthz(t *testing.T) {
	critical := func(st api.Status) api.Status { st.Critical = true; return st }
	fatal := func(st api.Status) api.Status {
		return withReason(withState(st, api.StateFatal), "command not found")
	}
	tests := []textCase{
		{
			name:     "ok",
			src:      table(ready("api", 0), critical(ready("db", 0))),
			wantCode: http.StatusOK,
			wantBody: "ok\n",
		},
		{
			name:     "non-critical fatal is healthy",
			src:      table(fatal(ready("api", 0)), critical(ready("db", 0))),
			wantCode: http.StatusOK,
			wantBody: "ok\n",
		},
		{
			name:     "critical fatal",
			src:      table(ready("api", 0), critical(fatal(ready("db", 0)))),
			wantCode: http.StatusServiceUnavailable,
			wantBody: "critical process db fatal: command not found\n",
		},
		{
			name: "ping fails",
			src: &fakeSource{
				StatusFunc: table(ready("api", 0)).StatusFunc,
				PingFunc:   func(context.Context) error { return errors.New("supd is shutting down") },
			},
			wantCode: http.StatusServiceUnavailable,
			wantBody: "supd's supervisor loop is not answering: supd is shutting down\n",
		},
	}
	runTextCases(t, "/healthz", tests)
}

func TestHealthzStuckLoop(t *testing.T) {
	src := table(ready("api", 0))
	src.PingFunc = func(ctx context.Context) error { // a loop that never answers
		<-ctx.Done()
		return ctx.Err()
	}
	_, url := start(t, src)
	begin := time.Now()
	code, body := do(t, http.MethodGet, url+"/healthz")
	if elapsed := time.Since(begin); elapsed > 3*time.Second {
		t.Errorf("GET /healthz took %s, want about 1s", elapsed)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "did not answer within 1s") {
		t.Errorf("GET /healthz = %d %q, want 503 saying the loop did not answer", code, body)
	}
}

func TestMethods(t *testing.T) {
	_, url := start(t, table(ready("api", 0)))
	for _, path := range []string{"/readyz", "/healthz", "/metrics"} {
		if code, _ := do(t, http.MethodPost, url+path); code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", path, code)
		}
		if code, _ := do(t, http.MethodHead, url+path); code != http.StatusOK {
			t.Errorf("HEAD %s = %d, want 200", path, code)
		}
	}
	if code, _ := do(t, http.MethodGet, url+"/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

// scrape GETs /metrics and parses it.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := do(t, http.MethodGet, url+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %q", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return families
}

// sample returns the value of family's metric with exactly these labels.
func sample(t *testing.T, families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	t.Helper()
	mf := families[family]
	if mf == nil {
		t.Fatalf("no %s in /metrics", family)
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		default:
			t.Fatalf("%s is a %s", family, mf.GetType())
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	startedAt := time.Unix(1_700_000_000, 500_000_000)
	api1 := starting("api:1", 1, "nothing listening yet")
	api1.Restarts, api1.MemoryBytes, api1.CPUPercent, api1.StartedAt = 3, 42<<20, 12.5, &startedAt
	api1.AcceptQueue = []api.ListenQueue{{Listen: "tcp:127.0.0.1:3001", Queued: 9, Backlog: 8}, {Listen: "unix:/run/a.sock", Queued: 2}}
	api1.LogDropped = 17
	var calls atomic.Int32
	src := &fakeSource{StatusFunc: func(context.Context, []string) ([]api.Status, error) {
		calls.Add(1)
		return []api.Status{ready("api:0", 0), api1, withState(ready("worker", 0), api.StateBackoff)}, nil
	}}
	e, url := start(t, src)
	e.ObserveReady("api", 0, 250*time.Millisecond)
	e.ObserveReady("api", 1, 2*time.Second)
	e.ObserveReady("worker", 0, 3*time.Millisecond)

	families := scrape(t, url)
	if n := calls.Load(); n != 1 {
		t.Errorf("one scrape called Status %d times, want 1", n)
	}
	tests := []struct {
		family   string
		labels   map[string]string
		want     float64
		wantNone bool
	}{
		{family: "sup_process_ready", labels: map[string]string{"process": "api", "instance": "0"}, want: 1},
		{family: "sup_process_ready", labels: map[string]string{"process": "api", "instance": "1"}, want: 0},
		{family: "sup_process_up", labels: map[string]string{"process": "api", "instance": "1"}, want: 1},
		{family: "sup_process_up", labels: map[string]string{"process": "worker", "instance": "0"}, want: 0},
		{family: "sup_process_restarts_total", labels: map[string]string{"process": "api", "instance": "1"}, want: 3},
		{family: "sup_process_start_time_seconds", labels: map[string]string{"process": "api", "instance": "1"}, want: 1_700_000_000.5},
		{family: "sup_process_start_time_seconds", labels: map[string]string{"process": "worker", "instance": "0"}, wantNone: true},
		{family: "sup_process_resident_memory_bytes", labels: map[string]string{"process": "api", "instance": "1"}, want: 42 << 20},
		{family: "sup_process_cpu_percent", labels: map[string]string{"process": "api", "instance": "1"}, want: 12.5},
		{family: "sup_process_state", labels: map[string]string{"process": "worker", "instance": "0", "state": "backoff"}, want: 1},
		{family: "sup_log_dropped_lines_total", labels: map[string]string{"process": "api", "instance": "1"}, want: 17},
		{family: "sup_log_dropped_lines_total", labels: map[string]string{"process": "api", "instance": "0"}, want: 0},
		{family: "sup_process_state", labels: map[string]string{"process": "worker", "instance": "0", "state": "running"}, want: 0},
		{family: "sup_listen_queue_length", labels: map[string]string{"process": "api", "instance": "1", "listen": "tcp:127.0.0.1:3001"}, want: 9},
		{family: "sup_listen_queue_backlog", labels: map[string]string{"process": "api", "instance": "1", "listen": "tcp:127.0.0.1:3001"}, want: 8},
		{family: "sup_listen_queue_length", labels: map[string]string{"process": "api", "instance": "1", "listen": "unix:/run/a.sock"}, want: 2},
		{family: "sup_listen_queue_backlog", labels: map[string]string{"process": "api", "instance": "1", "listen": "unix:/run/a.sock"}, wantNone: true}, // unknown
		{family: "sup_listen_queue_length", labels: map[string]string{"process": "api", "instance": "0"}, wantNone: true},
	}
	for _, tt := range tests {
		got, ok := sample(t, families, tt.family, tt.labels)
		switch {
		case tt.wantNone && ok:
			t.Errorf("%s%v = %v, want none", tt.family, tt.labels, got)
		case !tt.wantNone && (!ok || got != tt.want):
			t.Errorf("%s%v = %v (present %t), want %v", tt.family, tt.labels, got, ok, tt.want)
		}
	}
	if mf := families["sup_process_restarts_total"]; mf.GetType() != dto.MetricType_COUNTER {
		t.Errorf("sup_process_restarts_total is a %s, want a counter", mf.GetType())
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if families[name] == nil {
			t.Errorf("no %s (supd's own metrics) in /metrics", name)
		}
	}
	checkHistogram(t, families["sup_process_ready_seconds"], map[string]uint64{"api": 2, "worker": 1}, map[string]float64{"api": 2.25, "worker": 0.003})
}

func checkHistogram(t *testing.T, mf *dto.MetricFamily, wantCount map[string]uint64, wantSum map[string]float64) {
	t.Helper()
	if mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("sup_process_ready_seconds is a %s, want a histogram", mf.GetType())
	}
	if len(mf.GetMetric()) != len(wantCount) {
		t.Errorf("sup_process_ready_seconds has %d series, want %d", len(mf.GetMetric()), len(wantCount))
	}
	for _, m := range mf.GetMetric() {
		process := m.GetLabel()[0].GetValue()
		h := m.GetHistogram()
		if h.GetSampleCount() != wantCount[process] || math.Abs(h.GetSampleSum()-wantSum[process]) > 1e-9 {
			t.Errorf("sup_process_ready_seconds{process=%q}: count %d sum %v, want %d %v",
				process, h.GetSampleCount(), h.GetSampleSum(), wantCount[process], wantSum[process])
		}
		buckets := h.GetBucket()
		if first, last := buckets[0].GetUpperBound(), buckets[len(buckets)-1].GetUpperBound(); first > 0.001 || last < 60 {
			t.Errorf("buckets span %v..%v, want 1ms..60s", first, last)
		}
	}
}

func TestMetricsStatusFails(t *testing.T) {
	_, url := start(t, &fakeSource{StatusFunc: func(context.Context, []string) ([]api.Status, error) {
		return nil, errors.New("supd is shutting down")
	}})
	code, body := do(t, http.MethodGet, url+"/metrics")
	if code != http.StatusInternalServerError || !strings.Contains(body, "supd is shutting down") {
		t.Errorf("GET /metrics = %d %q, want 500 with the error", code, body)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	block := make(chan struct{})
	src := table(ready("api", 0))
	src.PingFunc = func(ctx context.Context) error {
		close(block)
		<-ctx.Done()
		return ctx.Err()
	}
	addr, stop := serving(t, endpoint.New(src, zerolog.Nop()))
	go func() { // in flight while Serve's context is cancelled
		if resp, err := client.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
		}
	}()
	<-block
	stop()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the listener is still open after Serve returned")
	}
}

func TestServeErrors(t *testing.T) {
	e := endpoint.New(table(), zerolog.Nop())
	closed := listen(t)
	closed.Close()
	if err := e.Serve(context.Background(), closed); err == nil {
		t.Error("Serve on a closed listener = nil, want the error")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ln := listen(t)
	if err := e.Serve(ctx, ln); err != nil {
		t.Errorf("Serve with a done context = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener is still open after Serve returned")
	}
}

// A process removed by a reload leaves no ready-time histogram behind.
func TestForgetDropsTheReadyHistogram(t *testing.T) {
	src := &fakeSource{StatusFunc: func(context.Context, []string) ([]api.Status, error) {
		return []api.Status{ready("api:0", 0)}, nil
	}}
	e, url := start(t, src)
	e.ObserveReady("api", 0, 250*time.Millisecond)
	e.ObserveReady("extra", 0, time.Second)
	e.Forget("extra")
	families := scrape(t, url)
	fam := families["sup_process_ready_seconds"]
	if fam == nil {
		t.Fatal("no sup_process_ready_seconds")
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "process" && l.GetValue() == "extra" {
				t.Fatal("the histogram of the removed process is still there")
			}
		}
	}
	if len(fam.GetMetric()) != 1 {
		t.Errorf("%d series, want api's only", len(fam.GetMetric()))
	}
}
