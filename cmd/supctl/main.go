// Command supctl is the control CLI of supd: see package ctl, and
// `supctl help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sup-sh/sup/cmd/supctl/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := &ctl.Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := m.Run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "supctl:", err)
		if usage := (*ctl.UsageError)(nil); errors.As(err, &usage) {
			fmt.Fprint(os.Stderr, "\n", usage.Usage)
		}
	}
	os.Exit(ctl.ExitCode(err))
}
