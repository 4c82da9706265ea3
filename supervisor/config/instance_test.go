package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestProcessSpecBeyondTheFile(t *testing.T) {
	cfg, _ := loadOK(t, map[string]string{"sup.hcl": `
process "api" {
  command = ["./api", "--port", "${3000 + instance}"]
  ready { tcp = "127.0.0.1:${3000 + instance}" }
}
process "odd" {
  command = ["./odd"]
  env     = { X = instance < 3 ? "ok" : 1 + "x" }
}
`})
	api := cfg.Process("api")
	for _, tc := range []struct {
		k, n     int
		name     string
		port, ok string
	}{
		{0, 1, "api", "3000", ""},
		{0, 3, "api:0", "3000", ""},
		{2, 3, "api:2", "3002", ""},
		{9, 10, "api:9", "3009", ""},
		{3, 3, "", "", "instance 3 of api is not among 0 to 2"},
		{0, 0, "", "", "0 instances of api: use 1 to 10000"},
		{0, MaxInstances + 1, "", "", "use 1 to 10000"},
	} {
		got, err := api.Spec(tc.k, tc.n)
		if tc.ok != "" {
			if err == nil || !strings.Contains(err.Error(), tc.ok) {
				t.Errorf("Spec(%d, %d) error = %v, want %q", tc.k, tc.n, err, tc.ok)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Spec(%d, %d): %v", tc.k, tc.n, err)
		}
		if got.Name != tc.name || got.Instance != tc.k || got.Command[2] != tc.port || got.Ready.TCP != "127.0.0.1:"+tc.port {
			t.Errorf("Spec(%d, %d) = name %q instance %d command %q ready %q", tc.k, tc.n, got.Name, got.Instance, got.Command, got.Ready.TCP)
		}
	}
	// Instance 0 of 1 is what Load made.
	if got, _ := api.Spec(0, 1); !reflect.DeepEqual(got, api.Instances[0]) {
		t.Errorf("Spec(0, 1) = %+v, want Load's %+v", got, api.Instances[0])
	}
	// An instance the file never evaluated can fail, at its position.
	_, err := cfg.Process("odd").Spec(3, 4)
	if err == nil || !strings.Contains(err.Error(), "sup.hcl:8:") || !strings.Contains(err.Error(), "(with instance = 3)") {
		t.Errorf("Spec(3, 4) of odd: error %v, want one at sup.hcl:8 naming instance 3", err)
	}
}

func TestProcessNamedAllIsRefused(t *testing.T) {
	dir := writeFiles(t, map[string]string{"sup.hcl": "process \"all\" {\n  command = [\"x\"]\n}\n"})
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), `sup.hcl:1:9: error: Invalid process name: process name "all" is reserved`) {
		t.Errorf("Load of a process named all: %v", err)
	}
}
