// Package suptest holds what the end-to-end tests (supervisor/e2e) and
// benchmarks (supervisor/bench) both need to run real binaries: building
// them, picking ports and reading /proc. Each keeps its own harness around
// supd: the tests ask its control socket, the benchmarks read its log.
package suptest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sup-sh/sup/supervisor/config"
)

// Build runs `go build flags... -o dir/` for supd, supctl and testapp with
// env added to the environment; go's output goes to stderr. It returns an
// error rather than failing a test, as TestMain and sync.Once callers
// have none to fail.
func Build(dir string, env []string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", dir+"/",
		"github.com/sup-sh/sup/cmd/supd", "github.com/sup-sh/sup/cmd/supctl",
		"github.com/sup-sh/sup/supervisor/internal/testapp")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building binaries: %w", err)
	}
	return nil
}

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago: each stays bound until all n are picked, so none repeats.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// Proc is what /proc/PID/stat says about a process.
type Proc struct {
	Pid, PPid int
	State     byte // R, S, Z, T, ...
}

// ReadProc reads PID/stat under the proc mount procfs ("/proc", or a
// namespace's); false when there is no such process.
func ReadProc(procfs string, pid int) (Proc, bool) {
	b, err := os.ReadFile(filepath.Join(procfs, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Proc{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // after the command, which may hold anything
	if i < 0 {
		return Proc{}, false
	}
	f := strings.Fields(s[i+1:]) // state ppid ...
	if len(f) < 2 {
		return Proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return Proc{Pid: pid, PPid: ppid, State: f[0][0]}, true
}

// Children lists the children of pid (of any of its threads), zombies
// included; one gone before its stat is read is left out, as is every
// child when pid itself is gone.
func Children(pid int) []Proc {
	var out []Proc
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			if p, ok := ReadProc("/proc", n); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// FirstMode watches path from now on and sends the mode it has the first
// time it exists (Lstat, in a tight loop, to catch the shortest window).
// stop ends the watch; the channel is closed when the watch ends without
// seeing path.
func FirstMode(path string) (seen <-chan os.FileMode, stop func()) {
	ch := make(chan os.FileMode, 1)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for {
			select {
			case <-done:
				return
			default:
			}
			if fi, err := os.Lstat(path); err == nil {
				ch <- fi.Mode()
				return
			}
		}
	}()
	var once sync.Once
	return ch, func() { once.Do(func() { close(done) }) }
}

// LoadConfig writes body, after a supervisor block with a control socket
// in a temporary directory, to a sup.hcl there and loads it.
func LoadConfig(t testing.TB, body string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sup.hcl")
	body = "supervisor {\n  socket = \"" + filepath.Join(dir, "supd.sock") + "\"\n}\n" + body
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
