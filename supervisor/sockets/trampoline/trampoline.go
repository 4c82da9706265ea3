// Package trampoline is supd's LISTEN_PID trampoline mode: a child that
// supd starts as itself (argv[0] = Arg0, LISTEN_PID = Placeholder) sets
// LISTEN_PID to its own pid and execs the real command, as the same pid.
// A Go parent cannot know the child's pid before the fork, and the systemd
// protocol needs it in the child's environment; a shell could do it, but
// distroless images have none.
//
// The mode is selected by both things together, neither of which a user
// sets by accident (a shell always puts the program's name in argv[0]); the
// placeholder is replaced, so the command sees exactly the variables
// systemd would give it, and no other.
//
// It runs from this package's init: the package imports nothing but
// syscall, so Go initializes it before the packages that need os, fmt or
// reflect (and before supd's heavier dependencies), which keeps the cost
// of the trampoline on a respawn to an exec and the Go runtime's start.
// supd's main calls Exec again with os.Args, for a system without /proc.
package trampoline

import "syscall"

const (
	// Arg0 is argv[0] of a trampoline; argv[1] is the executable to run
	// and argv[2:] its argv.
	Arg0 = "supd (LISTEN_PID trampoline)"
	// Placeholder is the value of LISTEN_PID the trampoline replaces.
	Placeholder = "supd-sets-this-to-the-pid"
)

func init() {
	if args, ok := cmdline(); ok {
		Exec(args)
	}
}

// Exec returns at once unless args are a trampoline's: then it execs
// args[1] with argv args[2:] and LISTEN_PID set to this pid, and never
// returns. When the exec fails it exits 127 (no such file) or 126 (any
// other reason), like a shell, with the reason on stderr.
func Exec(args []string) {
	if len(args) < 3 || args[0] != Arg0 {
		return
	}
	env := syscall.Environ()
	k := 0
	for k < len(env) && env[k] != "LISTEN_PID="+Placeholder {
		k++
	}
	if k == len(env) {
		return
	}
	env[k] = "LISTEN_PID=" + itoa(syscall.Getpid())
	err := syscall.Exec(args[1], args[2:], env)
	msg := "supd: exec " + args[1] + ": " + err.Error() + "\n"
	syscall.Write(2, []byte(msg))
	if err == syscall.ENOENT {
		syscall.Exit(127)
	}
	syscall.Exit(126)
}

// cmdline reads this process's argv from /proc/self/cmdline.
func cmdline() ([]string, bool) {
	fd, err := syscall.Open("/proc/self/cmdline", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	defer syscall.Close(fd)
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, chunk)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, false
		}
		if n == 0 {
			break
		}
		buf = append(buf, chunk[:n]...)
		if len(buf) >= len(Arg0)+1 && string(buf[:len(Arg0)+1]) != Arg0+"\x00" {
			return nil, false // not a trampoline: no need to read the rest
		}
	}
	var args []string
	for start, i := 0, 0; i < len(buf); i++ {
		if buf[i] == 0 {
			args = append(args, string(buf[start:i]))
			start = i + 1
		}
	}
	return args, true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
