# nginx in front of an app, both supervised by sup. From the repository
# root:
#
#   go run ./cmd/supd examples/nginx/sup.hcl
#   curl 127.0.0.1:8000/          # through nginx, to app:0 or app:1
#
# Processes without `dir` run in this file's directory, examples/nginx/.
# Needs nginx >= 1.19.5 (for -e) on the PATH.

process "app" {
  instances = 2 # app:0 on 3000, app:1 on 3001: nginx.conf's upstream
  command   = ["go", "run", "../quickstart/web", "--port", "${3000 + instance}"]

  ready {
    tcp     = "127.0.0.1:${3000 + instance}"
    timeout = "120s" # go run compiles first
  }
}

# nginx writes its pid file and temp files under run/.
process "nginx-dirs" {
  type    = "oneshot"
  command = ["mkdir", "-p", "run"]
}

process "nginx" {
  command    = ["nginx", "-p", ".", "-c", "nginx.conf", "-e", "stderr"]
  depends_on = ["app", "nginx-dirs"] # only once every app instance is ready

  ready {
    tcp = "127.0.0.1:8000" # bound by this nginx, not a stale one
  }

  stop {
    signal  = "SIGQUIT" # graceful: finish the requests in flight
    timeout = "15s"
  }
}
