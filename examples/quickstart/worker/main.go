// Command worker is the quickstart's background job: it prints a line
// every 2s and exits 0 on SIGTERM or SIGINT.
package main

import (
	"context"
	"log"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			log.Print("stopping")
			return
		case <-tick.C:
			log.Printf("working (%d)", n)
		}
	}
}
