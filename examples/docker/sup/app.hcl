# The container's process file. supd reads every *.hcl in /etc/sup, so
# more files can be added (or mounted) beside this one.

supervisor {
  # Probes and scrapes from inside the container (the HEALTHCHECK, or
  # `docker exec CONTAINER supctl status`) reach 127.0.0.1. To let
  # Prometheus in another container scrape /metrics, use "0.0.0.0:9900"
  # and publish or expose the port.
  http = "127.0.0.1:9900"

  # docker stop sends SIGTERM, then SIGKILL after 10s: everything must be
  # stopped before that.
  shutdown_timeout = "8s"
}

process "web" {
  # 0.0.0.0: reachable through `docker run -p 8080:8080`.
  command = ["/usr/local/bin/web", "--host", "0.0.0.0", "--port", "8080"]

  ready {
    tcp     = "0.0.0.0:8080" # bound by this process, not just anyone
    timeout = "30s"
  }

  health {
    http     = "http://127.0.0.1:8080/health"
    interval = "10s"
    failures = 3
  }

  stop {
    signal  = "SIGTERM"
    timeout = "5s"
  }
}

process "worker" {
  command    = ["/usr/local/bin/worker"]
  depends_on = ["web"] # starts once web is ready

  stop {
    timeout = "2s"
  }
}
