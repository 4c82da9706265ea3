package cgroup

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// What containment adds to a spawn: a group created, the child born in it,
// the group removed once the child is gone. Compare with
// BenchmarkSpawnUncontained (the same fork/exec/wait of /bin/true).
func BenchmarkSpawnContained(b *testing.B) {
	m := openB(b)
	for b.Loop() {
		g, err := m.New("bench")
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: g.FD()}
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		g.Placed()
		if err := g.Remove(time.Second); err != nil {
			b.Fatal(err)
		}
	}
}

// A restart: the child born in its predecessor's group, emptied.
func BenchmarkSpawnContainedReused(b *testing.B) {
	m := openB(b)
	g, err := m.New("bench")
	if err != nil {
		b.Fatal(err)
	}
	g.Placed()
	for b.Loop() {
		if !g.Reuse() {
			b.Fatal("an empty group cannot be reused")
		}
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: g.FD()}
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		g.Placed()
	}
}

func BenchmarkSpawnUncontained(b *testing.B) {
	for b.Loop() {
		cmd := exec.Command("/bin/true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func openB(b *testing.B) *Manager {
	b.Helper()
	m, _, err := Open(b.Name())
	if err != nil {
		b.Skipf("no usable cgroup v2 here: %v", err)
	}
	b.Cleanup(func() { m.Close(5 * time.Second) })
	return m
}
