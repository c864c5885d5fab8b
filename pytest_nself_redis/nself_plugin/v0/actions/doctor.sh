#!/usr/bin/env bash
# nself plugin redis-check doctor [options]: the safe checks against the running Redis of the project (nself-redis doctor).
# nself 0.9.x runs it as `bash actions/doctor.sh ARGS` with NSELF_PROJECT_DIR (the project)
# and NSELF_PLUGIN_PATH (this folder) exported; the options pass through to nself-redis doctor.
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
. "$here/../lib/nself-redis.sh"
run_nself_redis doctor --project "$(nself_project_dir)" "$@"
