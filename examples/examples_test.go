package examples_test

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sup-sh/sup/supervisor/config"
)

// TestExamplesLoad loads every examples/**/*.hcl on its own, as
// `supd --check FILE` would: each must be valid and free of warnings,
// except those about this machine (the examples' programs, directories and
// users are those of a container or a server).
func TestExamplesLoad(t *testing.T) {
	t.Setenv("DB_URL", "postgres://db") // the systemd example reads it
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".hcl") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d example files (%v); the walk is broken", len(files), files)
	}
	for _, f := range files {
		t.Run(filepath.ToSlash(f), func(t *testing.T) {
			cfg, err := config.Load(f)
			if err != nil {
				t.Fatalf("config.Load(%s):\n%v", f, err)
			}
			if cfg.Warnings != nil {
				for _, d := range cfg.Warnings.Diags {
					switch d.Summary {
					case config.WarnCommandNotFound, config.WarnNotExecutable, config.WarnDirNotFound, config.WarnUserNotFound:
					default:
						t.Errorf("config.Load(%s) warns: %s: %s", f, d.Summary, d.Detail)
					}
				}
			}
			if len(cfg.Processes) == 0 {
				t.Errorf("%s defines no process", f)
			}
		})
	}
}
