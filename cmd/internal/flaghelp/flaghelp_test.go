package flaghelp

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestPrint(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("socket", "/run/supd.sock", "control socket `PATH` of supd")
	fs.Bool("json", false, "print JSON")
	fs.Int("n", 50, "print the last `N` lines")
	fs.Duration("timeout", time.Minute, "give up after `D`")
	var b strings.Builder
	if err := Print(&b, fs); err != nil {
		t.Fatal(err)
	}
	want := `  --json
        print JSON
  -n N
        print the last N lines (default 50)
  --socket PATH
        control socket PATH of supd (default /run/supd.sock)
  --timeout D
        give up after D (default 1m0s)
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), " -socket") {
		t.Error("a long flag is written with one dash")
	}
}

func TestDashes(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Duration("timeout", time.Minute, "")
	fs.Int("n", 1, "")
	for args, want := range map[string]string{
		"--timeout=x": `invalid value "x" for flag --timeout: parse error`,
		"-bogus":      "flag provided but not defined: --bogus",
		"-n":          "flag needs an argument: -n",
	} {
		err := Dashes(fs.Parse([]string{args}))
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
