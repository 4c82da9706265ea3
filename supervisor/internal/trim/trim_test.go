package trim

import (
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exeRSS is the resident bytes of the executable's read-only mappings and
// whether any of them holds copied pages.
func exeRSS(t *testing.T) (rss int64, copied bool) {
	t.Helper()
	maps, err := executableMappings()
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) == 0 {
		t.Fatal("no mapping of the executable found in /proc/self/smaps")
	}
	for _, m := range maps {
		if m.perms[1] == '-' {
			rss += m.rss
			copied = copied || m.anon > 0
		}
	}
	return rss, copied
}

func TestReleaseDropsExecutablePages(t *testing.T) {
	before, _ := exeRSS(t)
	r, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := exeRSS(t)
	t.Logf("executable resident %d KiB before, %d KiB after; released %d KiB of it and %d KiB of heap",
		before>>10, after>>10, r.Executable>>10, r.Heap>>10)
	if r.Executable <= 0 || after >= before {
		t.Fatalf("nothing released: %d KiB resident before, %d KiB after (reported %d KiB)", before>>10, after>>10, r.Executable>>10)
	}
	// The code dropped runs again (faulted back in): this very test goes
	// on, and code it has not run since does too.
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatalf("strings.Repeat after release: %q", got)
	}
}

// marker is read-only data of the test binary.
const marker = "trim: read-only data that this test writes to via mprotect"

// A page of the executable that was written (as a PIE's relocated data or a
// debugger's breakpoint is) is anonymous memory: Release must keep it.
func TestReleaseKeepsWrittenPages(t *testing.T) {
	s := marker // a string constant's bytes live in the executable's rodata
	p := unsafe.Pointer(unsafe.StringData(s))
	size := unix.Getpagesize()
	off := int(uintptr(p) & uintptr(size-1))
	mem := unsafe.Slice((*byte)(unsafe.Add(p, -off)), size)
	if err := unix.Mprotect(mem, unix.PROT_READ|unix.PROT_WRITE); err != nil {
		t.Skipf("mprotect of rodata: %v", err)
	}
	mem[off] = 'T' // copy-on-write: the page is now this process's own
	if err := unix.Mprotect(mem, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if _, copied := exeRSS(t); !copied {
		t.Fatal("smaps shows no copied page after the write")
	}

	if _, err := Release(); err != nil {
		t.Fatal(err)
	}
	// Read through mem: a load from the constant itself is folded at
	// compile time.
	if got := mem[off]; got != 'T' {
		t.Fatalf("the written byte of rodata reads %q after Release: the copied page was dropped", got)
	}
}

func TestParseSmaps(t *testing.T) {
	const smaps = `00400000-0096e000 r-xp 00000000 fd:01 1234   /usr/local/bin/supd
Size:               5560 kB
Rss:                4296 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd ex mr mw me dw
0096e000-00ef5000 r--p 0056e000 fd:01 1234   /usr/local/bin/supd (deleted)
Rss:                3712 kB
Anonymous:             8 kB
Swap:                  0 kB
00ef5000-00f82000 rw-p 00af5000 fd:01 1234   /usr/local/bin/supd
Rss:                 440 kB
Anonymous:           300 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 99   /usr/lib/libc.so.6
Rss:                 700 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Rss:                1000 kB
`
	got, err := parseSmaps(strings.NewReader(smaps), 0xfd, 1, 1234)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{start: 0x400000, end: 0x96e000, perms: "r-xp", rss: 4296 << 10},
		{start: 0x96e000, end: 0xef5000, perms: "r--p", rss: 3712 << 10, anon: 8 << 10},
		{start: 0xef5000, end: 0xf82000, perms: "rw-p", rss: 440 << 10, anon: 300 << 10},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d mappings %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for i, ok := range []bool{true, false, false} {
		if got[i].releasable() != ok {
			t.Errorf("mapping %d (%s, anon %d): releasable %v, want %v", i, got[i].perms, got[i].anon, !ok, ok)
		}
	}
}
