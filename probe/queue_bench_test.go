package probe

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// listeningSleepers starts n `sleep` processes that each hold a listening
// TCP socket of their own (passed as fd 3): n process trees with a socket
// and an accept queue each, at the cost of n sleeps.
func listeningSleepers(b *testing.B, n int) []*Tree {
	trees := make([]*Tree, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		l.Close()
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("sleep", "1000")
		cmd.ExtraFiles = []*os.File{f}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err = cmd.Start()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		trees = append(trees, NewTree(cmd.Process.Pid))
	}
	return trees
}

// BenchmarkInspect1000Listening: Inspect over 1,000 trees that each listen
// on a TCP socket — what every `supctl status` and every /metrics scrape
// costs with 1,000 processes, accept queues included (they come in the
// same sock_diag dump as the addresses: no extra syscall).
func BenchmarkInspect1000Listening(b *testing.B) {
	trees := listeningSleepers(b, 1000)
	in := NewInspector()
	for b.Loop() {
		us, err := in.Inspect(trees)
		if err != nil || len(us[999].AcceptQueue) != 1 || us[999].AcceptQueue[0].Backlog == 0 {
			b.Fatalf("%v %+v", err, us[999].AcceptQueue)
		}
	}
}

// BenchmarkFullQueues1000: the once-a-second look for full accept queues
// (supervisor.WatchQueues) with 1,000 listening sockets and none full.
func BenchmarkFullQueues1000(b *testing.B) {
	listeningSleepers(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if full, err := FullQueues(); err != nil || len(full) != 0 {
			b.Fatal(full, err)
		}
	}
}
