# The quickstart: two instances of a web app sharing one socket that supd
# holds, and a worker that starts once both are ready; a oneshot builds
# the programs first. From the repository root:
#
#   go run ./cmd/supd examples/quickstart.hcl
#   go run ./cmd/supctl status            # in another terminal
#   curl 127.0.0.1:8080/                  # answered by web:0 or web:1
#   curl 127.0.0.1:9900/readyz
#   go run ./cmd/supctl restart web       # while a curl loop runs: no
#                                         # connection is ever refused
#
# Relative paths in a process file resolve against the file's directory,
# and a process without `dir` runs in it: here, examples/.

supervisor {
  # No socket: the default applies ($XDG_RUNTIME_DIR/supd.sock, else
  # /tmp/supd-$UID.sock; /run/supd.sock as root), where supctl looks too.
  http = "127.0.0.1:9900" # /readyz /healthz /metrics
}

# Bound by supd before anything starts and held across crashes, restarts
# and reloads: while no instance accepts, connections wait in its queue.
socket "web" {
  listen = "tcp://127.0.0.1:8080"
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
  instances  = 2 # both accept from the one socket, as in PM2's cluster mode
  depends_on = ["build"]
  # The socket is fd 3 (socket.web.fd), inherited by the app. The app also
  # reads LISTEN_FDS, and without either it binds its own --port.
  command = ["./quickstart/bin/web", "--fd", "${socket.web.fd}"]
  sockets = ["web"]

  ready {
    # On a held socket this means: this instance's own process tree has
    # accepted a connection from it (see the README, "Sockets held by supd").
    tcp     = "127.0.0.1:8080"
    timeout = "10s"
  }
}

process "worker" {
  command    = ["./quickstart/bin/worker"]
  depends_on = ["web"] # starts once every web instance is ready
}
