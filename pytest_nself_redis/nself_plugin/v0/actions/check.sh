#!/usr/bin/env bash
# nself plugin redis-check check [options]: the conformance suites against a fresh Redis built from the project's env files (nself-redis check).
# nself 0.9.x runs it as `bash actions/check.sh ARGS` with NSELF_PROJECT_DIR (the project)
# and NSELF_PLUGIN_PATH (this folder) exported; the options pass through to nself-redis check.
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
. "$here/../lib/nself-redis.sh"
run_nself_redis check --project "$(nself_project_dir)" "$@"
