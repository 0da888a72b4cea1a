#!/usr/bin/env bash
# Local Redis for apiwatch.
#
#   infra/scripts/redis.sh start    use a Redis already answering on the port, else start one
#   infra/scripts/redis.sh stop     stop the Redis this script started (never someone else's)
#   infra/scripts/redis.sh status   exit 0 if a Redis answers PING on the port
#
# Environment:
#   APIWATCH_REDIS_PORT   port on 127.0.0.1                       (default 6379)
#   APIWATCH_REDIS_DIR    pid file, log and working dir           (default /tmp/apiwatch-redis)
#   APIWATCH_REDIS_START_TIMEOUT  seconds to wait for PONG        (default 20)
#
# The Redis started here is in-memory only (no RDB snapshots, no AOF).
# Progress goes to stderr.
set -euo pipefail

PORT="${APIWATCH_REDIS_PORT:-6379}"
BASE_DIR="${APIWATCH_REDIS_DIR:-/tmp/apiwatch-redis}"
START_TIMEOUT="${APIWATCH_REDIS_START_TIMEOUT:-20}"
HOST=127.0.0.1
PID_FILE="$BASE_DIR/redis-$PORT.pid"
LOG_FILE="$BASE_DIR/redis-$PORT.log"

log() { printf '[redis] %s\n' "$*" >&2; }
die() { printf '[redis] ERROR: %s\n' "$*" >&2; exit 1; }

need_cli() {
  command -v redis-cli >/dev/null 2>&1 \
    || die "redis-cli not found (on Debian: apt-get install -y redis-tools, or redis-server which includes it)"
}

pong() {
  [[ "$(timeout 3 redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null || true)" == "PONG" ]]
}

# pid of the redis-server this script started, if still alive (guards against pid reuse).
own_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'redis-server' || return 1
  printf '%s\n' "$pid"
}

cmd_start() {
  need_cli
  if pong; then
    local pid
    if pid="$(own_pid)"; then
      log "already running (pid $pid) on $HOST:$PORT"
    else
      log "a Redis already answers PONG on $HOST:$PORT; using it"
    fi
    return 0
  fi
  command -v redis-server >/dev/null 2>&1 \
    || die "redis-server not found and nothing answers on $HOST:$PORT (on Debian: apt-get install -y redis-server)"
  mkdir -p "$BASE_DIR"
  rm -f "$PID_FILE"
  log "starting redis-server on $HOST:$PORT (in-memory, log $LOG_FILE)"
  # Settings go on the command line so no config file is needed.
  redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save '' --appendonly no \
    --dir "$BASE_DIR" --pidfile "$PID_FILE" --logfile "$LOG_FILE" \
    || die "redis-server failed to start (see $LOG_FILE)"
  local deadline=$((SECONDS + START_TIMEOUT))
  until pong; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$LOG_FILE" >&2 2>/dev/null || true
      die "no PONG from $HOST:$PORT after ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "ready on $HOST:$PORT (pid $(cat "$PID_FILE" 2>/dev/null || echo '?'))"
}

cmd_stop() {
  local pid
  if ! pid="$(own_pid)"; then
    rm -f "$PID_FILE"
    if pong; then
      log "the Redis on $HOST:$PORT was not started by this script; leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping redis-server (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_status() {
  need_cli
  local pid
  if pong; then
    if pid="$(own_pid)"; then
      log "running (pid $pid, started by this script) on $HOST:$PORT"
    else
      log "a Redis (not started by this script) answers on $HOST:$PORT"
    fi
    return 0
  fi
  log "not running on $HOST:$PORT"
  return 1
}

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

main() {
  local sub="${1:-}"
  (($# > 0)) && shift
  case "$sub" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
