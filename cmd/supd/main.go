// Command supd is the sup process supervisor. See the README.
package main

import (
	"os"

	"github.com/sup-sh/sup/cmd/supd/internal/daemon"
)

func main() {
	os.Exit(daemon.Main(os.Args[1:], os.Stdout, os.Stderr))
}
