package daemon

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is struct sigaction as the rt_sigaction system call
// takes it on Linux (amd64, arm64 and most others).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigDFL = 0
	sigIGN = 1
)

// resetIgnoredSignals gives every signal that supd inherited as ignored
// back its default disposition. A child inherits ignored signals across
// exec (only caught ones are reset), and Go leaves some ignored signals
// alone: SIGHUP and SIGINT until they are caught, and the C library's
// signals 32 and 33, which GNU make, for one, hands its children ignored.
// Call it after supd has caught the signals it handles.
func resetIgnoredSignals() {
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		if rtSigaction(sig, nil, &old) != nil || old.handler != sigIGN {
			continue
		}
		_ = rtSigaction(sig, &kernelSigaction{handler: sigDFL}, nil)
	}
}

func rtSigaction(sig int, act, old *kernelSigaction) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
