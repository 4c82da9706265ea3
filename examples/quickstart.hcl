# The quickstart: two instances of a web app and a worker that starts once
# both are ready, built once by a oneshot before they start. From the
# repository root:
#
#   go run ./cmd/supd examples/quickstart.hcl
#   go run ./cmd/supctl status            # in another terminal
#   curl 127.0.0.1:8080/  127.0.0.1:8081/
#   curl 127.0.0.1:9900/readyz
#
# Relative paths in a process file resolve against the file's directory,
# and a process without `dir` runs in it: here, examples/.

supervisor {
  # No socket: the default applies ($XDG_RUNTIME_DIR/supd.sock, else
  # /tmp/supd-$UID.sock; /run/supd.sock as root), where supctl looks too.
  http = "127.0.0.1:9900" # /readyz /healthz /metrics
}

# Builds the two programs, once per start of supd (go's build cache makes
# it quick after the first time). A oneshot is ready when it exits 0, so
# what depends on it starts on a fresh build; the apps then run as
# themselves: their own PIDs in `supctl status`, their own exit signals
# (`kill -9` shows SIGKILL), not those of a `go run` wrapper.
process "build" {
  type    = "oneshot"
  command = ["go", "build", "-o", "quickstart/bin/", "./quickstart/web", "./quickstart/worker"]
}

process "web" {
  instances  = 2 # web:0 on 8080, web:1 on 8081
  command    = ["./quickstart/bin/web", "--port", "${8080 + instance}"]
  depends_on = ["build"]

  ready {
    tcp     = "127.0.0.1:${8080 + instance}" # bound by this instance itself
    timeout = "10s"
  }

  health {
    http     = "http://127.0.0.1:${8080 + instance}/health"
    interval = "10s"
  }
}

process "worker" {
  command    = ["./quickstart/bin/worker"]
  depends_on = ["web"] # starts once every web instance is ready
}
