package probe

import (
	"errors"
	"os"
	"slices"
	"testing"
)

// A tree with an exact member list (a cgroup's) is that list, as the
// table has it: no parentage is read, and a failing list falls back to it.
func TestTreeOfExactMembers(t *testing.T) {
	tab, err := ScanProcs()
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	exact := NewTreeOf(1, func() ([]int, error) { return []int{self, 1 << 30}, nil })
	if got := exact.Pids(tab); !slices.Equal(got, []int{self}) {
		t.Errorf("exact tree = %v, want [%d] (the member the table has)", got, self)
	}
	failing := NewTreeOf(self, func() ([]int, error) { return nil, errors.New("cgroup gone") })
	if got := failing.Pids(tab); !slices.Contains(got, self) {
		t.Errorf("fallback tree = %v, want it to contain its root %d", got, self)
	}
}
