package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// bin is the directory holding supd, supctl and testapp (non-race builds).
var (
	bin      string
	binOnce  sync.Once
	binErr   error
	binBuilt bool // bin is ours to remove
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binBuilt {
		os.RemoveAll(bin)
	}
	os.Exit(code)
}

// binaries returns the directory of the binaries, building them on first
// use unless $SUP_BENCH_BIN already holds them.
func binaries(b *testing.B) string {
	b.Helper()
	binOnce.Do(func() {
		if dir := os.Getenv("SUP_BENCH_BIN"); dir != "" {
			bin = dir
			for _, name := range []string{"supd", "supctl", "testapp"} {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					binErr = fmt.Errorf("$SUP_BENCH_BIN: %w", err)
				}
			}
			return
		}
		bin, binErr = os.MkdirTemp("", "sup-bench-bin-")
		if binErr != nil {
			return
		}
		binBuilt = true
		// As they ship (make build, the Dockerfile), like run.sh.
		binErr = suptest.Build(bin, []string{"CGO_ENABLED=0"}, "-trimpath", "-ldflags=-s -w")
	})
	if binErr != nil {
		b.Fatal(binErr)
	}
	return bin
}

// record is one line of supd's JSON output: supd's own records (message is
// the state for state changes) and child output lines (stream is set).
type record struct {
	Time     time.Time `json:"time"`
	Level    string    `json:"level"`
	Process  string    `json:"process"`
	Instance int       `json:"instance"`
	Stream   string    `json:"stream"`
	From     string    `json:"from"`
	Pid      int       `json:"pid"`
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
}

// supd is one supd under benchmark, its output parsed into records (or
// handed to a custom consumer).
type supd struct {
	b       *testing.B
	dir     string
	socket  string
	config  string
	cmd     *exec.Cmd
	started time.Time // just before the exec of supd
	done    chan struct{}
	readers sync.WaitGroup

	mu      sync.Mutex
	recs    []record
	changed chan struct{} // closed and replaced when recs grows
	pids    map[int]bool  // every child pid supd reported
}

// launchOpts are the options of launch.
type launchOpts struct {
	args   []string // extra supd flags
	output *os.File // where supd's output goes instead of the record parser
}

// writeConfig renders body under a supervisor block whose socket is in dir;
// {{app}} is testapp's path and {{dir}} is dir.
func writeConfig(b *testing.B, dir, body string) string {
	b.Helper()
	r := strings.NewReplacer("{{dir}}", dir, "{{app}}", filepath.Join(binaries(b), "testapp"))
	text := fmt.Sprintf("supervisor {\n  socket = %q\n  shutdown_timeout = \"20s\"\n}\n%s",
		filepath.Join(dir, "supd.sock"), r.Replace(body))
	path := filepath.Join(dir, "sup.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// launch starts supd on a config with body (see writeConfig) in a fresh
// directory. It is stopped when the benchmark ends, or by stop.
func launch(b *testing.B, body string, o launchOpts) *supd {
	b.Helper()
	dir := b.TempDir()
	return launchIn(b, dir, writeConfig(b, dir, body), o)
}

func launchIn(b *testing.B, dir, config string, o launchOpts) *supd {
	b.Helper()
	s := &supd{b: b, dir: dir, socket: filepath.Join(dir, "supd.sock"), config: config,
		done: make(chan struct{}), changed: make(chan struct{}), pids: map[int]bool{}}
	args := append([]string{"--log-format", "json"}, o.args...)
	s.cmd = exec.Command(filepath.Join(binaries(b), "supd"), append(args, config)...)
	s.cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if o.output != nil {
		s.cmd.Stdout, s.cmd.Stderr = o.output, o.output
		s.started = time.Now()
		if err := s.cmd.Start(); err != nil {
			b.Fatal(err)
		}
	} else {
		pr, pw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		s.cmd.Stdout, s.cmd.Stderr = pw, pw
		s.started = time.Now()
		if err := s.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		pw.Close()
		s.readers.Add(1)
		go func() {
			defer s.readers.Done()
			defer pr.Close()
			s.parse(pr)
			io.Copy(io.Discard, pr)
		}()
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	b.Cleanup(func() { s.stop() })
	return s
}

// parse turns supd's output into records.
func (s *supd) parse(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			rec = record{Message: sc.Text()} // a panic or a non-JSON line
		}
		s.mu.Lock()
		s.recs = append(s.recs, rec)
		if rec.Pid != 0 && rec.Stream == "" {
			s.pids[rec.Pid] = true
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// wait returns the first record at index from or later that satisfies ok,
// and the index after it; it fails the benchmark after d.
func (s *supd) wait(from int, d time.Duration, what string, ok func(record) bool) (record, int) {
	s.b.Helper()
	deadline := time.After(d)
	for {
		s.mu.Lock()
		for k := from; k < len(s.recs); k++ {
			if ok(s.recs[k]) {
				r := s.recs[k]
				s.mu.Unlock()
				return r, k + 1
			}
		}
		from = len(s.recs)
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.done:
			s.readers.Wait()
			s.b.Fatalf("supd exited while waiting for %s:\n%s", what, s.tail(40))
		case <-deadline:
			s.b.Fatalf("no %s within %s:\n%s", what, d, s.tail(40))
		}
	}
}

// poll is wait without waiting: the first record at from or later that
// satisfies ok, and the index after it.
func (s *supd) poll(from int, ok func(record) bool) (record, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := from; k < len(s.recs); k++ {
		if ok(s.recs[k]) {
			return s.recs[k], k + 1, true
		}
	}
	return record{}, from, false
}

// waitAll waits for n distinct processes (process:instance) to reach a
// record satisfying ok and returns those records, in order.
func (s *supd) waitAll(n int, d time.Duration, what string, ok func(record) bool) []record {
	s.b.Helper()
	seen := map[string]bool{}
	var out []record
	from := 0
	deadline := time.Now().Add(d)
	for len(out) < n {
		r, next := s.wait(from, time.Until(deadline), fmt.Sprintf("%d×%s (have %d)", n, what, len(out)), ok)
		from = next
		key := r.Process + ":" + strconv.Itoa(r.Instance)
		if !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	}
	return out
}

func isState(state string) func(record) bool {
	return func(r record) bool { return r.Stream == "" && r.Process != "" && r.Message == state }
}

// tail is the last n records, for failure messages.
func (s *supd) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sb strings.Builder
	for _, r := range s.recs[max(0, len(s.recs)-n):] {
		fmt.Fprintf(&sb, "%s %s %s:%d pid=%d %s %s\n", r.Time.Format("15:04:05.000000"), r.Level, r.Process, r.Instance, r.Pid, r.Message, r.Reason)
	}
	return sb.String()
}

// stop sends SIGTERM to supd and waits for it; after 30s it kills supd and
// every child pid supd reported (all of them started by this benchmark).
func (s *supd) stop() {
	select {
	case <-s.done:
		s.readers.Wait()
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.b.Errorf("supd did not stop within 30s of SIGTERM; killing it and its children")
		s.cmd.Process.Kill()
		<-s.done
		s.mu.Lock()
		for pid := range s.pids {
			syscall.Kill(-pid, syscall.SIGKILL) // each child leads its own group
			syscall.Kill(pid, syscall.SIGKILL)
		}
		s.mu.Unlock()
	}
	s.readers.Wait()
}

func (s *supd) pid() int { return s.cmd.Process.Pid }

// ctl runs supctl against this supd and returns its stdout and how long it
// took; a non-zero exit fails the benchmark.
func (s *supd) ctl(args ...string) ([]byte, time.Duration) {
	s.b.Helper()
	cmd := exec.Command(filepath.Join(binaries(s.b), "supctl"), append([]string{"--socket", s.socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		s.b.Fatalf("supctl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes(), d
}

// processBlocks is n process blocks p0…p(n-1) running command (HCL list
// elements) with an extra body.
func processBlocks(n int, command, extra string) string {
	var sb strings.Builder
	for k := range n {
		fmt.Fprintf(&sb, "process \"p%d\" {\n  command = [%s]\n%s}\n", k, strings.ReplaceAll(command, "{{k}}", strconv.Itoa(k)), strings.ReplaceAll(extra, "{{k}}", strconv.Itoa(k)))
	}
	return sb.String()
}

// /proc readers.

// rssKiB is VmRSS of pid in KiB.
func rssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// anonKiB is the anonymous (private: heap, stacks) part of pid's RSS.
func anonKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func threadCount(pid int) int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(tasks)
}

func mib(kib int) float64 { return float64(kib) / 1024 }

// cpuSample is the CPU time of a process so far.
type cpuSample struct {
	ticks    int64 // utime+stime in clock ticks (all threads, dead ones too)
	onCPU    int64 // ns on CPU of the live threads (schedstat)
	switches int64 // context switches of the live threads (wakeups)
}

func sampleCPU(pid int) cpuSample {
	var c cpuSample
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		c.ticks = ut + st
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name())); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				c.onCPU += n
			}
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name())); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					c.switches += n
				}
				if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					c.switches += n
				}
			}
		}
	}
	return c
}

// Statistics.

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile is the nearest-rank q-quantile of xs (q in [0,1]).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(k, 0), len(s)-1)]
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }
