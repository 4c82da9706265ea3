package config

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/joho/godotenv"
)

// env_file = [".env", ...] names files of KEY=VALUE lines in dotenv syntax
// (comments, `export`, single and double quotes, escapes in double quotes,
// ${VAR} expanded from earlier lines of the same file). The
// syntax is godotenv's: the de-facto reference of the format (Docker
// Compose, Foreman and most language ports accept the same), so a file
// written for any of them reads the same here.
//
// Load reads each file once to report a missing or malformed file at its
// position; the spawner reads them again at every spawn (Spec.Environ), so
// that an edited file takes effect at the next restart without a reload.

// decodeEnvFiles decodes env_file: a list of paths, each resolved against
// base (the directory of the process file) and checked now.
func decodeEnvFiles(e evaluator, b body, base string, dst *[]string) {
	var paths []string
	a, set := e.decode(b, "env_file", &paths)
	if !set {
		return
	}
	resolve := within(base)
	files := make([]string, 0, len(paths))
	for i, p := range paths {
		path, err := resolve(p)
		if err == nil {
			_, err = readEnvFile(path)
		}
		if err != nil {
			e.errorf(elemRange(a, i), "Invalid env_file", "%s", err)
			continue
		}
		files = append(files, path)
	}
	*dst = files
}

// readEnvFile reads and parses one env file, with the bounds of a config
// file: a regular file of at most MaxFileSize bytes.
func readEnvFile(path string) (map[string]string, error) {
	src, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	vars, err := godotenv.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	for k, v := range vars {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("env file %s: variable %q: a name must be non-empty, and neither name nor value may hold '=' (in the name) or a NUL byte", path, k)
		}
	}
	return vars, nil
}

// Environ is the environment the spec adds to supd's for a spawn, as
// sorted "K=V" strings: the variables of EnvFiles, read now, in order (a
// later file wins), then Env, which wins over them. An error names the
// file and the cause; the spawn must then fail.
func (s *Spec) Environ() ([]string, error) {
	if len(s.EnvFiles) == 0 {
		return s.Env, nil
	}
	merged := map[string]string{}
	for _, path := range s.EnvFiles {
		vars, err := readEnvFile(path)
		if err != nil {
			return nil, err
		}
		maps.Copy(merged, vars)
	}
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		merged[k] = v
	}
	list := make([]string, 0, len(merged))
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		list = append(list, k+"="+merged[k])
	}
	return list, nil
}
