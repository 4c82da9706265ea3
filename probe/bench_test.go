package probe

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waiter waits until the app at addr is up, however it likes.
type waiter func(ctx context.Context, a *app, addr string) error

// readinessWaiter is probe's tcp readiness check.
func readinessWaiter(ctx context.Context, a *app, addr string) error {
	r, err := NewReadiness("bench", ReadySpec{TCP: addr}, "", nil)
	if err != nil {
		return err
	}
	defer r.Close()
	r.Started(a.pid)
	return r.Wait(ctx, NewTree(a.pid), func(Result) {})
}

// connectWaiter is the baseline: a plain TCP connect every 100ms, as most
// process managers and orchestrators poll.
func connectWaiter(ctx context.Context, _ *app, addr string) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		timer.Reset(100 * time.Millisecond)
	}
}

// bindToReady starts testapp n times and returns, for each start, the time
// from the app's listen() returning (as it records it) to wait returning.
func bindToReady(b *testing.B, n int, wait waiter) []time.Duration {
	dir := b.TempDir()
	lat := make([]time.Duration, 0, n)
	for i := range n {
		addr := tcpAddr(freePort(b))
		record := filepath.Join(dir, strconv.Itoa(i))
		a := startApp(b, appOpts{}, "--listen", "tcp:"+addr, "--record", record)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := wait(ctx, a, addr)
		ready := time.Now()
		cancel()
		if err != nil {
			b.Fatalf("start %d: %v", i, err)
		}
		lat = append(lat, ready.Sub(readRecord(b, record)))
		a.kill()
	}
	slices.Sort(lat)
	return lat
}

// readRecord returns the time the app recorded in path. The app may be seen
// ready before it has written it: wait for it, at most 5s.
func readRecord(b testing.TB, path string) time.Time {
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if line, ok := strings.CutSuffix(string(data), "\n"); ok {
			ns, err := strconv.ParseInt(line, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return time.Unix(0, ns)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: no record", path)
		}
		time.Sleep(time.Millisecond)
	}
}

// reportLatency reports the median and p99 of sorted latencies, in ms.
func reportLatency(b *testing.B, prefix string, lat []time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), prefix+"median-ms")
	b.ReportMetric(ms(lat[(len(lat)*99+99)/100-1]), prefix+"p99-ms")
}

// BenchmarkHeldAcceptToReady: for a socket supd holds, the time from the
// app starting to accept on its inherited fd 3 (recorded by testapp just
// before it calls accept) to the accept check passing; 100 starts, each
// app booting 20ms first.
func BenchmarkHeldAcceptToReady(b *testing.B) {
	addr, f := heldTCP(b, "tcp", "127.0.0.1:0")
	spec := ReadySpec{Accepting: []HeldSocket{{Network: "tcp", Address: addr}}}
	for range b.N {
		lat := make([]time.Duration, 0, 100)
		for range 100 {
			r, err := NewReadiness("bench", spec, "", nil)
			if err != nil {
				b.Fatal(err)
			}
			a, record := startHeld(b, f, 20*time.Millisecond)
			r.Started(a.pid)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = r.Wait(ctx, NewTree(a.pid), func(Result) {})
			ready := time.Now()
			cancel()
			r.Close()
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, ready.Sub(readRecord(b, record)))
			a.kill()
		}
		slices.Sort(lat)
		reportLatency(b, "", lat)
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBindToReady: 200 starts measured with the readiness check, and
// 200 with the baseline connect poll.
func BenchmarkBindToReady(b *testing.B) {
	for range b.N {
		reportLatency(b, "", bindToReady(b, 200, readinessWaiter))
		reportLatency(b, "baseline-", bindToReady(b, 200, connectWaiter))
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCheckWith10kSockets: bind-to-ready while this process holds
// 10,000 unrelated listening sockets.
func BenchmarkCheckWith10kSockets(b *testing.B) {
	const sockets = 10_000
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < sockets+500 {
		lim.Cur = min(lim.Max, sockets+500)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < sockets+500 {
			b.Skipf("RLIMIT_NOFILE %d: %v", lim.Cur, err)
		}
	}
	fds := make([]int, 0, sockets)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range sockets {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			fds = append(fds, fd)
			err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
		}
		if err == nil {
			err = unix.Listen(fd, 1)
		}
		if err != nil {
			b.Fatalf("socket %d: %v", len(fds), err)
		}
	}
	b.ResetTimer()
	for range b.N {
		reportLatency(b, "", bindToReady(b, 100, readinessWaiter))
	}
	b.ReportMetric(float64(len(fds)), "sockets")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReadinessCPU: the CPU time this process spends waiting for an
// app that binds after 5s, in percent of one core.
func BenchmarkReadinessCPU(b *testing.B) {
	for range b.N {
		addr := tcpAddr(freePort(b))
		a := startApp(b, appOpts{}, "--delay", "5s", "--listen", "tcp:"+addr)
		before, start := cpuTime(b), time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := readinessWaiter(ctx, a, addr)
		cancel()
		wall, cpu := time.Since(start), cpuTime(b)-before
		a.kill()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
		b.ReportMetric(wall.Seconds(), "wall-s")
	}
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the user+system CPU time of this process.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInspect500: Inspect over 500 trees (490 sleeping processes and
// 10 testapps that listen), as `supctl status` with 500 processes.
func BenchmarkInspect500(b *testing.B) {
	var trees []*Tree
	for range 490 {
		cmd := exec.Command("sleep", "1000")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		trees = append(trees, NewTree(cmd.Process.Pid))
	}
	for range 10 {
		a := startApp(b, appOpts{}, "--listen", "tcp:127.0.0.1:0", "--listen", "tcp:[::1]:0")
		trees = append(trees, NewTree(a.pid))
	}
	in := NewInspector()
	for b.Loop() {
		if _, err := in.Inspect(trees); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLook is one readiness look at a port nobody listens on: the cost
// of every poll while an app starts.
func BenchmarkLook(b *testing.B) {
	t, _ := parseTarget("tcp", tcpAddr(freePort(b)))
	c := newSocketCheck("bench", t, NewTree(os.Getpid()))
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if state, _, err := c.look(); err != nil || state != socketNone {
			b.Fatal(state, err)
		}
	}
}
