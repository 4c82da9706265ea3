# The quickstart: two instances of a web app and a worker that starts once
# both are ready. From the repository root:
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

process "web" {
  instances = 2 # web:0 on 8080, web:1 on 8081
  command   = ["go", "run", "./quickstart/web", "--port", "${8080 + instance}"]

  ready {
    # Ready once this instance's own process tree listens there: `go run`
    # compiles first, then its child binds the port.
    tcp     = "127.0.0.1:${8080 + instance}"
    timeout = "120s" # the first build can be slow
  }

  health {
    http     = "http://127.0.0.1:${8080 + instance}/health"
    interval = "10s"
  }
}

process "worker" {
  command    = ["go", "run", "./quickstart/worker"]
  depends_on = ["web"] # starts once every web instance is ready
}
