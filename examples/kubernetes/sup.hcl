# The pod's process file, mounted at /etc/sup from a ConfigMap (see
# kustomization.yaml). The binaries are those of the examples/docker image.

supervisor {
  # 0.0.0.0: the kubelet probes /readyz and /healthz on the pod IP, and
  # Prometheus scrapes /metrics there. 127.0.0.1 would fail every probe.
  http = "0.0.0.0:9900"

  # Budget for stopping everything on SIGTERM: web's drain (5s) plus its
  # stop timeout (10s), with room to spare. The pod's
  # terminationGracePeriodSeconds (30) must be larger, or the kubelet
  # SIGKILLs supd and its processes midway.
  shutdown_timeout = "25s"
}

process "web" {
  command = ["/usr/local/bin/web", "--host", "0.0.0.0", "--port", "8080"]

  ready {
    tcp     = "0.0.0.0:8080"
    timeout = "60s"
  }

  health {
    http     = "http://127.0.0.1:8080/health"
    interval = "10s"
    failures = 3
  }

  stop {
    # On SIGTERM, web is first marked not ready (/readyz answers 503) for 5s
    # while still serving: time for the endpoint removal to reach every
    # kube-proxy and ingress before the app stops accepting connections.
    drain   = "5s"
    signal  = "SIGTERM"
    timeout = "10s"
  }
}

process "worker" {
  command    = ["/usr/local/bin/worker"]
  depends_on = ["web"]
}
