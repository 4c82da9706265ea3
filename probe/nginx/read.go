package nginx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// DefaultPath is where nginx reads its configuration by default.
const DefaultPath = "/etc/nginx/nginx.conf"

// dumpTimeout bounds `nginx -T`.
const dumpTimeout = 10 * time.Second

// Read returns nginx's configuration: the file path with its includes when
// path is not empty; else what `nginx -T` prints, when nginx is installed
// and the configuration it reads is valid; else DefaultPath with its
// includes. From says which: the path, or "nginx -T".
func Read(ctx context.Context, path string) (c *Config, from string, err error) {
	if path != "" {
		c, err := Load(path)
		return c, path, err
	}
	if bin, err := exec.LookPath("nginx"); err == nil {
		ctx, cancel := context.WithTimeout(ctx, dumpTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-T")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if cmd.Run() == nil {
			if c, err := ParseDump(stdout.Bytes()); err == nil {
				return c, "nginx -T", nil
			}
		}
		// nginx refused its config (or its output was not a dump): parsing
		// the file says where the problem is.
	}
	c, err = Load(DefaultPath)
	var e *Error
	if err != nil && !errors.As(err, &e) {
		err = fmt.Errorf("nginx config: %w", err)
	}
	return c, DefaultPath, err
}
