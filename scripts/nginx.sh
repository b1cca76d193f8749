#!/usr/bin/env bash
# nginx as KKChat's load balancer on this machine, from the sample deploy/nginx/kkchat.conf.
#
#   bash scripts/nginx.sh install                 # Debian's nginx when missing (its system service is not started)
#   bash scripts/nginx.sh render --dir DIR --listen PORT --gateways P1,P2 [--apis P1,P2]
#                                                 # DIR/kkchat.conf (the sample with these ports) + DIR/nginx.conf
#   bash scripts/nginx.sh start --dir DIR         # runs nginx on that configuration, prints the master's PID
#   bash scripts/nginx.sh stop --dir DIR          # stops it by its PID
#
# The nginx started here is a process of its own (its own prefix, PID file, logs and temp files in DIR), never
# the machine's service. Tests render the same way and run `nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAMPLE="$ROOT/deploy/nginx/kkchat.conf"
NGINX=/usr/sbin/nginx

die() {
  echo "nginx: $*" >&2
  exit 1
}

command="${1:-}"
[ $# -gt 0 ] && shift
DIR="" LISTEN="" GATEWAYS="" APIS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --listen) LISTEN=$2; shift 2 ;;
    --gateways) GATEWAYS=$2; shift 2 ;;
    --apis) APIS=$2; shift 2 ;;
    *) die "unknown option '$1'" ;;
  esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else "$@"; fi; }

install() {
  [ -x "$NGINX" ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "nginx is missing: install it (Debian: apt-get install nginx) and run again"
  echo "==> Installing nginx (Debian)"
  # Package scripts must not start the system-wide nginx (it would take port 80): policy-rc.d says no.
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    added=1
  fi
  as_root apt-get update -qq >/dev/null || true
  local status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null || status=$?
  [ "$added" -eq 1 ] && as_root rm -f "$policy"
  [ "$status" -eq 0 ] && [ -x "$NGINX" ] || die "apt-get install nginx failed"
}

servers() {
  # servers "P1,P2" → one `server` line per port
  local port
  for port in ${1//,/ }; do printf '    server 127.0.0.1:%s max_fails=1 fail_timeout=3s;\n' "$port"; done
}

render() {
  [ -n "$DIR" ] && [ -n "$LISTEN" ] && [ -n "$GATEWAYS" ] || die "render needs --dir, --listen and --gateways"
  [ -n "$APIS" ] || APIS=$GATEWAYS
  mkdir -p "$DIR/tmp"
  chmod 755 "$DIR"
  local gateway_lines api_lines
  gateway_lines=$(servers "$GATEWAYS")
  api_lines=$(servers "$APIS")
  GATEWAY_LINES=$gateway_lines API_LINES=$api_lines LISTEN=$LISTEN awk '
    /# BEGIN gateway servers/ { print; print ENVIRON["GATEWAY_LINES"]; skip = 1; next }
    /# BEGIN api servers/ { print; print ENVIRON["API_LINES"]; skip = 1; next }
    /# END (gateway|api) servers/ { skip = 0 }
    skip { next }
    /^[[:space:]]*listen[[:space:]]+127\.0\.0\.1:[0-9]+;/ { sub(/127\.0\.0\.1:[0-9]+/, "127.0.0.1:" ENVIRON["LISTEN"]) }
    { print }
  ' "$SAMPLE" >"$DIR/kkchat.conf"
  local user_line=""
  # As root, workers would run as "nobody" and could not use the temp directory here.
  [ "$(id -u)" -eq 0 ] && user_line="user root;"
  cat >"$DIR/nginx.conf" <<EOF
# Written by scripts/nginx.sh: a standalone nginx around the KKChat sample (kkchat.conf).
$user_line
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
    access_log off;
    client_body_temp_path $DIR/tmp/body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    include $DIR/kkchat.conf;
}
EOF
  "$NGINX" -t -q -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" || die "the rendered configuration does not pass nginx -t ($DIR)"
}

running_pid() {
  [ -n "$DIR" ] && [ -f "$DIR/nginx.pid" ] || return 1
  local pid
  pid=$(cat "$DIR/nginx.pid")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

case "$command" in
  install) install ;;
  render) install; render ;;
  start)
    [ -n "$DIR" ] && [ -f "$DIR/nginx.conf" ] || die "start needs --dir with a rendered configuration (render first)"
    install
    if pid=$(running_pid); then echo "$pid"; exit 0; fi
    "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log"
    for _ in $(seq 1 50); do
      if pid=$(running_pid); then echo "$pid"; exit 0; fi
      sleep 0.1
    done
    die "nginx did not start (see $DIR/error.log)"
    ;;
  stop)
    if pid=$(running_pid); then
      kill -QUIT "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "${DIR:-/nonexistent}/nginx.pid"
    echo "stopped"
    ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' ;;
esac
