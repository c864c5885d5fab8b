#!/usr/bin/env bash
# nself plugin redis-check probe [options]: is the project's running Redis up and answering? exit 0 or 1 (nself-redis probe).
# nself 0.9.x runs it as `bash actions/probe.sh ARGS` with NSELF_PROJECT_DIR (the project)
# and NSELF_PLUGIN_PATH (this folder) exported; the options pass through to nself-redis probe.
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
. "$here/../lib/nself-redis.sh"
run_nself_redis probe --project "$(nself_project_dir)" "$@"
