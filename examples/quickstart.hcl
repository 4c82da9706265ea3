# The quickstart: two instances of a web app sharing one socket that supd
# holds, and a worker that starts once both are ready. From the repository
# root:
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

process "web" {
  instances = 2 # both accept from the one socket, as in PM2's cluster mode
  # The socket is fd 3 (socket.web.fd): `go run` compiles, then starts the
  # app, which inherits the fd. The app also reads LISTEN_FDS, and without
  # either it binds its own --port.
  command = ["go", "run", "./quickstart/web", "--fd", "${socket.web.fd}"]
  sockets = ["web"]

  ready {
    # On a held socket this means: this instance's own process tree has
    # accepted a connection from it (see the README, "Sockets held by supd").
    tcp     = "127.0.0.1:8080"
    timeout = "120s" # the first build can be slow
  }
}

process "worker" {
  command    = ["go", "run", "./quickstart/worker"]
  depends_on = ["web"] # starts once every web instance is ready
}
