package api

import "testing"

func TestDefaultSocketPath(t *testing.T) {
	tests := []struct {
		euid, uid  int
		runtimeDir string
		want       string
	}{
		{0, 0, "/run/user/0", "/run/supd.sock"},
		{1000, 1000, "/run/user/1000", "/run/user/1000/supd.sock"},
		{1000, 1000, "", "/tmp/supd-1000/supd.sock"},
	}
	for _, tt := range tests {
		if got := defaultSocketPathFor(tt.euid, tt.uid, tt.runtimeDir); got != tt.want {
			t.Errorf("defaultSocketPathFor(%d, %d, %q) = %q, want %q", tt.euid, tt.uid, tt.runtimeDir, got, tt.want)
		}
	}
}
