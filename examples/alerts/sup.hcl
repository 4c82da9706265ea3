# Crash alerts without an event-listener protocol: supd runs the hook
# commands and posts to the urls itself, never waiting for them.
#
#   supd --check examples/alerts/sup.hcl
#
# While a process crash-loops, each hook runs at most once per process per
# 30 s; the run after a quiet spell carries SUP_COUNT (JSON: "count"), the
# number of crashes it stands for.

process "api" {
  command = ["./api", "--port", "3000"]
  ready { tcp = "127.0.0.1:3000" }

  log {
    file      = "log/api.log" # api.log, api.log.1 … api.log.3; lines keep their time
    max_size  = "50MiB"
    max_files = 3
  }
}

process "worker" {
  command = ["./worker"]
}

# Every crash of api: POST the event as JSON to an alerting webhook
# ({"event":"crash","name":"api","exit_code":1,"exit_signal":null,
#   "restarts":4,"reason":"...","count":1,"lines":["last", "output", ...]}).
hook "crash" {
  url       = "http://127.0.0.1:9095/sup"
  processes = ["api"]
  timeout   = "5s"
}

# When any process gives up for good: a command, with SUP_EVENT, SUP_NAME,
# SUP_EXIT_CODE, SUP_EXIT_SIGNAL, SUP_RESTARTS, SUP_REASON, SUP_COUNT in its
# environment and the last output lines on stdin; here, to a Slack-style
# incoming webhook with curl.
hook "fatal" {
  command = ["sh", "-c", <<-EOT
    text="$SUP_NAME is fatal after $SUP_RESTARTS restarts: $SUP_REASON"
    curl -fsS -m 5 -H 'Content-Type: application/json' \
      --data "{\"text\": \"$text\"}" "$SLACK_WEBHOOK_URL"
  EOT
  ]
}
