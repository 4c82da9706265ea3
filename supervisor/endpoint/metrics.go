package endpoint

import (
	"context"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sup-sh/sup/supervisor/api"
)

// readyBuckets suit spawn-to-ready times from a millisecond (a static
// binary) to a minute (a JVM, or `go run` compiling first).
var readyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60}

func newReadyHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sup_process_ready_seconds",
		Help:    "Time from spawn to ready, per spawn that became ready.",
		Buckets: readyBuckets,
	}, []string{"process"})
}

// newRegistry returns a registry of its own (not the global default) with
// the process table read from src, the ready histogram, and the Go runtime
// and process metrics of supd itself.
func newRegistry(src Source, ready *prometheus.HistogramVec) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newTableCollector(src),
		ready,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// states are the values of sup_process_state's state label.
var states = []string{
	api.StateStarting, api.StateRunning, api.StateBackoff, api.StateStopping,
	api.StateStopped, api.StateExited, api.StateFatal,
}

// tableCollector turns the process table into metrics at scrape time:
// one Status call per scrape, nothing cached between scrapes.
type tableCollector struct {
	src                                                Source
	ready, up, restarts, startTime, memory, cpu, state *prometheus.Desc
	queueLength, queueBacklog, logDropped              *prometheus.Desc
}

func newTableCollector(src Source) *tableCollector {
	labels := []string{"process", "instance"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, slices.Concat(labels, extra), nil)
	}
	return &tableCollector{
		src:       src,
		ready:     desc("sup_process_ready", "1 when the instance is ready, else 0."),
		up:        desc("sup_process_up", "1 when the instance has a live pid, else 0."),
		restarts:  desc("sup_process_restarts_total", "Respawns of the instance since supd started, automatic or requested."),
		startTime: desc("sup_process_start_time_seconds", "Unix time the running instance was spawned; absent when it has no pid."),
		memory:    desc("sup_process_resident_memory_bytes", "Resident memory of the instance's whole process tree."),
		cpu:       desc("sup_process_cpu_percent", "CPU use of the instance's whole process tree, in percent of one CPU."),
		state:     desc("sup_process_state", "1 for the instance's current state, 0 for the others.", "state"),
		queueLength: desc("sup_listen_queue_length",
			"Connections waiting in the accept queue of a listening socket of the instance (its own or held for it by supd).", "listen"),
		queueBacklog: desc("sup_listen_queue_backlog",
			"Most connections that may wait in that accept queue; when the length reaches it, new connections are dropped.", "listen"),
		logDropped: desc("sup_log_dropped_lines_total",
			"Output lines of the instance its log file could not take (disk full, unwritable)."),
	}
}

// Describe implements prometheus.Collector.
func (c *tableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ready, c.up, c.restarts, c.startTime, c.memory, c.cpu, c.state, c.queueLength, c.queueBacklog, c.logDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. When the table cannot be read,
// the scrape fails with that error.
func (c *tableCollector) Collect(ch chan<- prometheus.Metric) {
	// Gather gives no request context; the timeout keeps a stuck
	// supervisor loop from holding scrapes forever.
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	sts, err := c.src.Status(ctx, nil)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.up, err)
		return
	}
	for _, st := range sts {
		c.collect(ch, st)
	}
}

func (c *tableCollector) collect(ch chan<- prometheus.Metric, st api.Status) {
	instance := strconv.Itoa(st.Instance)
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, append([]string{st.Process, instance}, extra...)...)
	}
	emit(c.ready, prometheus.GaugeValue, boolValue(st.Ready))
	emit(c.up, prometheus.GaugeValue, boolValue(st.Pid != 0))
	emit(c.restarts, prometheus.CounterValue, float64(st.Restarts))
	if st.StartedAt != nil {
		emit(c.startTime, prometheus.GaugeValue, float64(st.StartedAt.UnixNano())/1e9)
	}
	emit(c.memory, prometheus.GaugeValue, float64(st.MemoryBytes))
	emit(c.cpu, prometheus.GaugeValue, st.CPUPercent)
	emit(c.logDropped, prometheus.CounterValue, float64(st.LogDropped))
	for _, s := range states {
		emit(c.state, prometheus.GaugeValue, boolValue(s == st.State), s)
	}
	for _, q := range st.AcceptQueue {
		emit(c.queueLength, prometheus.GaugeValue, float64(q.Queued), q.Listen)
		if q.Backlog > 0 {
			emit(c.queueBacklog, prometheus.GaugeValue, float64(q.Backlog), q.Listen)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
