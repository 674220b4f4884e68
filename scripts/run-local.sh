#!/usr/bin/env bash
# Sets up and runs one horaod on this machine, in the foreground.
# Without REDIS_URL it starts a local redis-server whose data lives in
# ./data/redis of this checkout (unix socket, append-only file) and stops it
# again when horaod exits. Configuration: environment, ./.env, or flags given
# to this script (see .env.example); e.g. scripts/run-local.sh --port=8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
TARGETS=horaod scripts/build.sh -DHORAO_BUILD_TESTS=OFF -DHORAO_BUILD_BENCH=OFF
build_dir=${BUILD_DIR:-build}

started_redis=""
if [ -z "${REDIS_URL:-}" ]; then
  data_dir="$PWD/data/redis"
  socket="$data_dir/redis.sock"
  mkdir -p "$data_dir"
  if ! redis-cli -s "$socket" ping >/dev/null 2>&1; then
    redis-server --port 0 --unixsocket "$socket" --unixsocketperm 700 --dir "$data_dir" \
      --appendonly yes --appendfsync everysec --daemonize yes \
      --pidfile "$data_dir/redis.pid" --logfile "$data_dir/redis.log"
    for _ in $(seq 1 100); do
      redis-cli -s "$socket" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    started_redis=yes
  fi
  export REDIS_URL="unix://$socket"
  echo "run-local: Redis data in $data_dir (REDIS_URL=$REDIS_URL)"
fi

stop_redis() {
  if [ -n "$started_redis" ]; then redis-cli -s "$socket" shutdown >/dev/null 2>&1 || true; fi
}
trap stop_redis EXIT
"$build_dir/horaod" "$@" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null' INT TERM
set +e
# A signal interrupts `wait`; keep waiting until horaod itself has exited.
while kill -0 "$daemon" 2>/dev/null; do wait "$daemon"; done
wait "$daemon"
exit $?
