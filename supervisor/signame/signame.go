// Package signame is sup's one parser and printer of signal names: the
// config's stop.signal and `supctl signal` both read them here, so that
// every place accepts the same spellings.
package signame

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Parse reads a signal as a user writes it: "SIGHUP", "HUP" or "hup" (any
// case, with or without the SIG prefix). Numbers are refused, with the
// name to write instead: they differ between architectures (SIGUSR1 is 10
// on x86 and arm, 30 on others), and a name says what is meant. Anything
// else is an error that lists common names.
func Parse(s string) (syscall.Signal, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil {
		if name := unix.SignalName(syscall.Signal(n)); n > 0 && name != "" {
			return 0, fmt.Errorf("signal %q: write its name, %s (numbers differ between systems)", s, name)
		}
		return 0, fmt.Errorf("signal %q: write a name such as SIGHUP, SIGUSR1 or SIGTERM", s)
	}
	name := strings.ToUpper(t)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q: use a name such as SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 or SIGKILL", s)
}

// Name is the name of sig, "SIGHUP", or its number when it has none
// (real-time signals: "34").
func Name(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return strconv.Itoa(int(sig))
}
