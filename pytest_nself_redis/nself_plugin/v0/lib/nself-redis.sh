# Sourced by this plugin's scripts: run_nself_redis ARGS... replaces the shell with the
# nself-redis command of pytest-nself-redis, so its exit status is the script's. It is
# $NSELF_REDIS_BIN when set, else nself-redis on PATH, else python3 -m pytest_nself_redis.cli
# of a python3 that has the package. Missing everywhere: one message, exit 127.

run_nself_redis() {
  if [ -n "${NSELF_REDIS_BIN:-}" ]; then
    exec "$NSELF_REDIS_BIN" "$@"
  fi
  if command -v nself-redis >/dev/null 2>&1; then
    exec nself-redis "$@"
  fi
  for python in python3 python; do
    if command -v "$python" >/dev/null 2>&1 && "$python" -c 'import pytest_nself_redis' >/dev/null 2>&1; then
      exec "$python" -m pytest_nself_redis.cli "$@"
    fi
  done
  echo "redis-check: the nself-redis command is not installed: pip install pytest-nself-redis (or set NSELF_REDIS_BIN to it)" >&2
  exit 127
}

# The project nself runs the plugin for: $NSELF_PROJECT_DIR, else the current directory.
nself_project_dir() {
  printf '%s\n' "${NSELF_PROJECT_DIR:-$PWD}"
}
