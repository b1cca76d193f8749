#!/usr/bin/env bash
# Makes sure the machine's PostgreSQL (127.0.0.1:5432), MariaDB/MySQL (127.0.0.1:3306) and Redis (127.0.0.1:6379)
# accept connections, starting them the way the development machines and CI do when they are down. The data-layer
# and Redis tests need them; they fail (never skip) when a server stays unreachable. The Redis outage tests start
# redis-server processes of their own, so redis-server is installed (apt) when it is missing.
#
#   bash scripts/db-services.sh          # check, start what is down, wait up to 30 s for each
#
# Servers elsewhere: set KKCHAT_TEST_POSTGRES_URL / KKCHAT_TEST_MYSQL_URL for the tests; this script then
# only checks the local ports and reports.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() {
  local port=$1
  for _ in $(seq 1 60); do
    up "$port" && return 0
    sleep 0.5
  done
  return 1
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi; }

status=0

if up 5432; then
  echo "==> PostgreSQL is up (127.0.0.1:5432)"
elif [ -d /etc/postgresql ]; then
  echo "==> Starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  wait_up 5432 && echo "    PostgreSQL is up" || { echo "db-services: PostgreSQL did not start on 127.0.0.1:5432" >&2; status=1; }
else
  echo "db-services: PostgreSQL is not running on 127.0.0.1:5432 and is not installed here (/etc/postgresql)" >&2
  status=1
fi

if up 3306; then
  echo "==> MariaDB is up (127.0.0.1:3306)"
elif [ -x /usr/sbin/mariadbd ]; then
  echo "==> Starting MariaDB"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_up 3306 && echo "    MariaDB is up" || { echo "db-services: MariaDB did not start on 127.0.0.1:3306" >&2; status=1; }
else
  echo "db-services: MariaDB is not running on 127.0.0.1:3306 and /usr/sbin/mariadbd is not installed" >&2
  status=1
fi

if ! command -v redis-server >/dev/null; then
  echo "==> Installing redis-server (apt)"
  as_root apt-get install -y -qq redis-server >/dev/null || { echo "db-services: could not install redis-server" >&2; status=1; }
fi
if up 6379; then
  echo "==> Redis is up (127.0.0.1:6379)"
elif command -v redis-server >/dev/null; then
  echo "==> Starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_up 6379 && echo "    Redis is up" || { echo "db-services: Redis did not start on 127.0.0.1:6379" >&2; status=1; }
fi

exit $status
