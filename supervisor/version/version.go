// Package version says which build of sup is running, for `supd
// --version` and `supctl --version`: the module version and the commit it
// was built from, as the go command records them in the binary
// (runtime/debug.ReadBuildInfo; `go build` in a git checkout stamps the
// commit, its time and whether the tree had changes).
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Info is what a binary knows of its build.
type Info struct {
	Version  string // module version: "v1.2.0", "v0.0.0-20261207043100-abcdef123456", or "(devel)"
	Commit   string // vcs.revision, "" when not built from a checkout
	Time     string // vcs.time, RFC 3339
	Modified bool   // vcs.modified: built with uncommitted changes
	Go       string // the Go version it was built with
}

// Read returns the build information of the running binary; zero fields
// when it has none (a test binary, or built without module support).
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(unknown)"}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the line `--version` prints after the program's name:
// "v0.0.0-20261207043100-abcdef123456 (commit abcdef123456, 2026-12-07T04:31:00Z, modified; go1.26.0)".
func (i Info) String() string {
	var details []string
	if i.Commit != "" {
		c := "commit " + i.Commit
		if i.Time != "" {
			c += ", " + i.Time
		}
		if i.Modified {
			c += ", modified"
		}
		details = append(details, c)
	}
	if i.Go != "" {
		details = append(details, i.Go)
	}
	if len(details) == 0 {
		return i.Version
	}
	return fmt.Sprintf("%s (%s)", i.Version, strings.Join(details, "; "))
}
