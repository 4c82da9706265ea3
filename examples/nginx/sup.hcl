# nginx in front of an app, both supervised by sup. From the repository
# root:
#
#   go run ./cmd/supd examples/nginx/sup.hcl
#   curl 127.0.0.1:8000/          # through nginx, to app:0 or app:1
#
# supd holds the app's socket: nginx connects to it whether or not an app
# instance is up at that moment, so a crash or `supctl reload app` makes
# requests wait a moment instead of failing with 502 (connection refused).
# examples/nginx-unix/ is the same over a Unix socket.
#
# Processes without `dir` run in this file's directory, examples/nginx/.
# Needs nginx >= 1.19.5 (for -e) on the PATH.

socket "app" {
  listen = "tcp://127.0.0.1:3000" # nginx.conf's upstream
}

process "app" {
  instances = 2 # app:0 and app:1 accept from the one socket
  command   = ["go", "run", "../quickstart/web", "--fd", "${socket.app.fd}"]
  sockets   = ["app"]

  ready {
    tcp     = "127.0.0.1:3000" # a held socket: ready once it accepts from it
    timeout = "120s"           # go run compiles first
  }
}

# nginx writes its pid file and temp files under run/.
process "nginx-dirs" {
  type    = "oneshot"
  command = ["mkdir", "-p", "run"]
}

process "nginx" {
  command    = ["nginx", "-p", ".", "-c", "nginx.conf", "-e", "stderr"]
  depends_on = ["app", "nginx-dirs"] # only once every app instance accepts

  ready {
    tcp = "127.0.0.1:8000" # bound by this nginx, not a stale one
  }

  stop {
    signal  = "SIGQUIT" # graceful: finish the requests in flight
    timeout = "15s"
  }
}
