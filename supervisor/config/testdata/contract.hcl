# The example of the product contract, plus the "db" process it depends on.
# Left out: socket_group = "ops" (a group this machine may not have: an
# error) and the socket block's mode, user and group, which apply to unix
# sockets only (on a tcp socket they are ignored with a warning).
supervisor {
  socket           = "/run/supd.sock"   # control socket
  socket_mode      = "0600"             # default 0600; "0660" with socket_group lets a group use supctl
  http             = "127.0.0.1:9900"   # optional: /readyz /healthz /metrics
  shutdown_timeout = "30s"
}

socket "web" {                          # optional: held by supd, passed to children
  listen  = "tcp://127.0.0.1:3000"      # or "tcp://[::1]:3000", "tcp://0.0.0.0:3000", "unix:///run/app.sock"
  backlog = 4096                        # accept queue length; default: the kernel's somaxconn
}

process "db" {
  command = ["postgres"]
  ready { exec = ["pg_isready"] }
}

process "api" {
  command   = ["./api", "--port", "${3000 + instance}"]
  dir       = "/srv/api"
  env       = { NODE_ENV = "production", DB_URL = env("DB_URL") }
  user      = "app"                     # optional, when supd runs as root
  instances = 2                         # api:0, api:1; `instance` is in scope
  type      = "service"                 # or "oneshot": ready = exited 0
  depends_on = ["db"]                   # start after these are ready
  sockets   = ["web"]                   # LISTEN_FDS / LISTEN_FDNAMES, from fd 3
  critical  = false                     # true: when it ends for good (exited/fatal), supd stops all and exits with its code
  env_file  = [".env"]                  # KEY=VALUE files (dotenv syntax), read at each spawn; `env` wins

  restart {
    policy       = "always"             # always | on-failure | never
    backoff      = "100ms"              # first delay after a quick crash, doubled each time
    max_backoff  = "30s"
    reset_after  = "10s"                # ready this long: the backoff starts over
    max_restarts = 0                    # in `window`; 0 = no limit; past it: fatal
    window       = "60s"
  }

  ready {                               # what "ready" means; one check, or several (all must pass)
    tcp      = "127.0.0.1:${3000 + instance}"  # bound and listening BY THIS PROCESS TREE
    # unix   = "/run/api.sock"          # a listening Unix socket at that path, owned by this tree
    # http   = "http://127.0.0.1:3000/health"  # 2xx
    # exec   = ["pg_isready"]           # exit 0
    # notify = true                     # sd_notify READY=1 on $NOTIFY_SOCKET
    # notification_fd = 3               # s6 style: a newline written on that fd
    # log = "ready to accept connections"  # a regexp matched on an output line
    timeout  = "60s"                    # not ready by then: counted as a failed start
  }

  health {                              # liveness, after ready
    http     = "http://127.0.0.1:3000/health"
    interval = "10s"
    failures = 3                        # consecutive failures before a restart
    max_memory = "512MiB"               # RSS of the process tree; over it: restart
  }

  stop {
    drain   = "0s"                      # first mark it not ready (readyz 503) this long
    signal  = "SIGTERM"                 # to the whole process group
    timeout = "10s"                     # then SIGKILL
  }

  log {
    file       = "/var/log/api.log"     # optional, besides supd's own stream: stdout and stderr, in order
    max_size   = "100MiB"               # rotate before the file passes this size
    max_files  = 5                      # rotated files kept: api.log.1 (newest) .. api.log.5
    timestamps = true                   # each line starts with its RFC 3339 time (default true)
  }
}

hook "crash" {                          # optional alerts: crash | fatal | ready | unready
  command   = ["/usr/local/bin/alert", "${process}"]   # and/or:
  url       = "http://alerts.internal/sup"            # POST the event as JSON
  processes = ["api"]                   # default: every process
  timeout   = "10s"                     # a hook run longer than this is killed
}
