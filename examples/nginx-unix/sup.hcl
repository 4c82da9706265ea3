# The nginx example over a Unix socket held by supd, which nginx's worker
# processes (user www-data, Debian's and Ubuntu's nginx user) may connect
# to: the socket file is created with group www-data and mode 0660, with no
# moment in which it is more open than that. Run as root (nginx's master
# switches its workers to www-data), from the repository root:
#
#   go run ./cmd/supd examples/nginx-unix/sup.hcl
#   curl 127.0.0.1:8000/
#   go run ./cmd/supctl check-proxy examples/nginx-unix/nginx.conf

socket "app" {
  listen = "unix:///run/sup-example-app.sock" # nginx.conf's upstream
  mode   = "0660"                             # the default: owner and group
  group  = "www-data"                         # nginx's user
}

process "app" {
  instances = 2
  command   = ["go", "run", "../quickstart/web", "--fd", "${socket.app.fd}"]
  sockets   = ["app"]

  ready {
    unix    = "/run/sup-example-app.sock" # a held socket: ready once it accepts
    timeout = "120s"
  }
}

process "nginx-dirs" {
  type    = "oneshot"
  command = ["mkdir", "-p", "run"]
}

process "nginx" {
  command    = ["nginx", "-p", ".", "-c", "nginx.conf", "-e", "stderr"]
  depends_on = ["app", "nginx-dirs"]

  ready {
    tcp = "127.0.0.1:8000"
  }

  stop {
    signal  = "SIGQUIT"
    timeout = "15s"
  }
}
