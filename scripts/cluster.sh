#!/usr/bin/env bash
# Several `upkeep serve` processes on one database behind nginx (Debian's `nginx`
# package): how a city runs Upkeep once one machine is not enough (issue 16). The
# servers keep no state of their own; jobs that must run once (scoring, training,
# inspections) take a lease in the database.
#
#   bash scripts/cluster.sh start DIR   # prints the balancer's URL; pids and logs in DIR
#   bash scripts/cluster.sh stop DIR
#
# UPKEEP_DATABASE_URL names the database (PostgreSQL for a real city; it is migrated
# once, then the servers start one after another). BIN is the binary (built in release
# if missing), PORT the balancer's port (the servers take the next ones), SERVERS how
# many. Other UPKEEP_… settings pass through to every server.
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"
dir="${2:-}"
[ -n "$dir" ] || { echo "usage: bash scripts/cluster.sh start|stop DIR" >&2; exit 2; }

BIN="${BIN:-target/release/upkeep}"
PORT="${PORT:-18080}"
SERVERS="${SERVERS:-3}"

# Waits for a URL to answer 200, or fails naming it.
wait_for() {
  for _ in $(seq 1 300); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no answer from $1; the logs' last lines:" >&2
  tail -n 5 "$dir"/*.log "$dir"/nginx/error.log >&2 2>/dev/null || true
  exit 1
}

start() {
  command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx" >&2; exit 1; }
  [ -n "${UPKEEP_DATABASE_URL:-}" ] || { echo "set UPKEEP_DATABASE_URL" >&2; exit 1; }
  [ -x "$BIN" ] || cargo build --release --quiet --bin upkeep
  mkdir -p "$dir/nginx"
  "$BIN" migrate > "$dir/migrate.log" 2>&1
  local upstream=""
  for i in $(seq 1 "$SERVERS"); do
    local port=$((PORT + i))
    # URLs come from configuration, never from Host; the balancer is the one proxy
    # whose X-Forwarded-For is believed.
    UPKEEP_PUBLIC_URL="http://127.0.0.1:$PORT" UPKEEP_TRUSTED_PROXIES=127.0.0.1 \
      "$BIN" serve --bind "127.0.0.1:$port" > "$dir/server-$i.log" 2>&1 &
    echo $! > "$dir/server-$i.pid"
    echo "$port" > "$dir/server-$i.port"
    wait_for "http://127.0.0.1:$port/health"
    upstream="$upstream    server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"$'\n'
  done
  cat > "$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  client_max_body_size 12m;
  upstream upkeep {
$upstream    keepalive 32;
  }
  server {
    listen 127.0.0.1:$PORT;
    location / {
      proxy_pass http://upkeep;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      # A server that refuses the connection (it died) is skipped, for any method:
      # nothing was sent to it. A request it took and never answered is not sent
      # again (a POST might have been stored); the client sees 502 and may retry.
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
    }
  }
}
EOF
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log"
  wait_for "http://127.0.0.1:$PORT/health"
  echo "http://127.0.0.1:$PORT"
}

stop() {
  if [ -f "$dir/nginx/nginx.pid" ]; then
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" -s stop 2>/dev/null || true
  fi
  for pidfile in "$dir"/server-*.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: bash scripts/cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
