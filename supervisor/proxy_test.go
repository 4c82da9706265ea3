package supervisor

import (
	"context"
	"slices"
	"testing"

	"github.com/sup-sh/sup/supervisor/api"
)

func TestMismatch(t *testing.T) {
	for _, tc := range []struct {
		target    string
		listening []string
		want      string
	}{
		{"unix:/run/api.sock", []string{"unix:/run/app.sock"}, "unix socket path differs: /run/api.sock vs /run/app.sock"},
		{"tcp:127.0.0.1:3000", []string{"tcp:127.0.0.1:3001"}, "port differs: 127.0.0.1:3000 vs 127.0.0.1:3001"},
		{"tcp:127.0.0.1:3000", []string{"tcp:[::1]:3000"}, "address differs: 127.0.0.1:3000 vs [::1]:3000"},
		{"tcp:127.0.0.1:3000", []string{"unix:/run/a.sock", "tcp:127.0.0.1:4000"}, "port differs: 127.0.0.1:3000 vs 127.0.0.1:4000"},
		{"tcp:127.0.0.1:3000", []string{"tcp:10.0.0.1:4000"}, "proxy connects to 127.0.0.1:3000, the process listens on 10.0.0.1:4000"},
		{"unix:/run/a.sock", nil, ""},
	} {
		if got := mismatch(tc.target, tc.listening); got != tc.want {
			t.Errorf("mismatch(%q, %q) = %q, want %q", tc.target, tc.listening, got, tc.want)
		}
	}
}

func TestNearest(t *testing.T) {
	v := &proxyView{sts: []api.Status{
		{Name: "a", Listening: []string{"unix:/run/other/x.sock"}},
		{Name: "b", Listening: []string{"unix:/run/priv.sock", "tcp:127.0.0.1:3000"}},
		{Name: "c", Listening: []string{"unix:/run/app.sock"}},
		{Name: "d", Listening: []string{"tcp:[::1]:4000"}},
	}}
	for _, tc := range []struct{ target, name, addr string }{
		{"unix:/run/api.sock", "c", "unix:/run/app.sock"},   // same directory, longest common prefix
		{"unix:/srv/x.sock", "a", "unix:/run/other/x.sock"}, // same file name
		{"unix:/srv/y.sock", "", ""},
		{"tcp:127.0.0.1:4000", "d", "tcp:[::1]:4000"}, // same port
		{"tcp:127.0.0.1:5000", "", ""},
	} {
		k, addr := v.nearest(tc.target)
		name := ""
		if k >= 0 {
			name = v.sts[k].Name
		}
		if name != tc.name || addr != tc.addr {
			t.Errorf("nearest(%q) = %q %q, want %q %q", tc.target, name, addr, tc.name, tc.addr)
		}
	}
}

func TestConfiguredFor(t *testing.T) {
	v := &proxyView{sts: []api.Status{
		{Name: "a", Expect: []string{"tcp:0.0.0.0:3000"}},
		{Name: "b", Expect: []string{"unix:/run/b.sock"}},
	}}
	for target, want := range map[string]int{
		"tcp:127.0.0.1:3000": 0, "tcp:[::1]:3000": -1, "unix:/run/b.sock": 1, "unix:/run/c.sock": -1,
	} {
		if got := v.configuredFor(target); got != want {
			t.Errorf("configuredFor(%q) = %d, want %d", target, got, want)
		}
	}
}

func TestCandidates(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		address string
		want    []string // must be among the candidates
	}{
		{"unix:/run/a.sock", []string{"unix:/run/a.sock"}},
		{"127.0.0.1:3000", []string{"tcp:127.0.0.1:3000"}},
		{"[::1]:3000", []string{"tcp:[::1]:3000"}},
		{"[::ffff:127.0.0.1]:3000", []string{"tcp:127.0.0.1:3000"}},
		{"localhost:3000", []string{"tcp:127.0.0.1:3000"}},
	} {
		got, err := candidates(ctx, tc.address)
		if err != nil {
			t.Errorf("candidates(%q): %v", tc.address, err)
			continue
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("candidates(%q) = %q, want %q among them", tc.address, got, w)
			}
		}
	}
	if _, err := candidates(ctx, "no-port"); err == nil {
		t.Error("an address without a port has candidates")
	}
}
