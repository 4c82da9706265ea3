# /etc/sup/sup.hcl for examples/systemd/supd.service: an API server with two
# instances and a one-shot migration that runs before it.

supervisor {
  # socket defaults to /run/supd.sock (supd runs as root)
  http = "127.0.0.1:9900" # /readyz /healthz /metrics for local monitoring

  # Below the unit's TimeoutStopSec (40s), so supd finishes its ordered
  # shutdown before systemd SIGKILLs the rest.
  shutdown_timeout = "30s"
}

process "migrate" {
  type    = "oneshot" # ready = exited 0
  command = ["/srv/api/bin/api", "migrate"]
  dir     = "/srv/api"
  user    = "app"
  env     = { DB_URL = env("DB_URL") }

  restart {
    policy = "on-failure"
  }
}

process "api" {
  instances  = 2 # api:0 on 3000, api:1 on 3001
  command    = ["/srv/api/bin/api", "serve", "--port", "${3000 + instance}"]
  dir        = "/srv/api"
  user       = "app"
  env        = { DB_URL = env("DB_URL"), GOMAXPROCS = "2" }
  depends_on = ["migrate"]

  ready {
    tcp = "127.0.0.1:${3000 + instance}"
  }

  health {
    http       = "http://127.0.0.1:${3000 + instance}/health"
    interval   = "10s"
    failures   = 3
    max_memory = "512MiB"
  }

  stop {
    timeout = "15s"
  }

  log {
    file      = "/var/log/sup/api.log"
    max_size  = "100MiB"
    max_files = 5
  }
}
