#!/usr/bin/env bash
# Shared setup for scripts/quickstart and scripts/test (and CI): everything a fresh
# Debian or Ubuntu machine with Python 3.11+ needs, installed only when missing.
#
#   scripts/setup.sh [--with-docker] [--with-browser] [--with-node]
#
# Installs system packages with apt (as root, or through sudo), creates .venv and
# installs the project into it, makes Docker usable when asked (starting dockerd in
# the background when it is installed but not running and we are root), builds the
# local Redis image when an engine answers, and installs the BullMQ node modules.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
with_docker=0 with_browser=0 with_node=0
for arg in "$@"; do
    case "$arg" in
        --with-docker) with_docker=1 ;;
        --with-browser) with_browser=1 ;;
        --with-node) with_node=1 ;;
        *) echo "setup: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { printf '[setup] %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "setup: need root (or sudo) to run: $*" >&2; return 1
    fi
}

apt_updated=0
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: please install ${missing[*]} (no apt-get here)" >&2
        return 1
    fi
    if [ "$apt_updated" = 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# --- Python ------------------------------------------------------------------
python=${PYTHON:-}
if [ -z "$python" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
fi
[ -n "$python" ] || { echo "setup: Python 3.11 or newer is needed" >&2; exit 1; }

apt_install redis-server redis-tools openssl prometheus-redis-exporter
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $python"
    if ! "$python" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        apt_install python3-venv
        "$python" -m venv .venv
    fi
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    say "installing pytest-nself-redis into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi

# --- Docker ------------------------------------------------------------------
# Some machines ship a docker CLI without an engine, so `command -v docker` proves
# nothing: decide from an answering engine, DOCKER_HOST, or the dockerd binary.
engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }
if [ "$with_docker" = 1 ]; then
    if engine_answers; then
        say "docker: an engine answers (${DOCKER_HOST:-local socket})"
    elif [ -n "${DOCKER_HOST:-}" ]; then
        echo "setup: DOCKER_HOST=$DOCKER_HOST is set but no Docker engine answers there" >&2
        exit 1
    else
        if command -v dockerd >/dev/null 2>&1; then
            say "docker: no engine answers; dockerd is installed ($(command -v dockerd))"
        else
            say "docker: no engine and no dockerd (a docker CLI alone does not run containers); installing docker.io"
            apt_install docker.io
        fi
        command -v docker >/dev/null 2>&1 || apt_install docker.io
        if [ "$(id -u)" = 0 ]; then
            say "docker: starting dockerd in the background (log: /tmp/nself-redis-dockerd.log)"
            nohup dockerd >/tmp/nself-redis-dockerd.log 2>&1 &
            for _ in $(seq 1 60); do engine_answers && break; sleep 1; done
        fi
        engine_answers || {
            echo "setup: no Docker engine answers (start dockerd as root; log: /tmp/nself-redis-dockerd.log)" >&2
            exit 1
        }
        say "docker: the engine answers"
    fi
fi
if engine_answers; then
    # An image from an older build script (image-version below the script's) lacks what
    # the harness now needs of it (a shell for CMD-SHELL healthchecks): build it again.
    wanted=$(sed -n 's/^image_version=//p' scripts/build-redis-image.sh)
    label() {
        docker image inspect -f "{{index .Config.Labels \"org.nself.redis-harness.$1\"}}" redis:7-alpine 2>/dev/null || true
    }
    if ! docker image inspect redis:7-alpine >/dev/null 2>&1; then
        say "building the local redis:7-alpine image from this machine's redis-server"
        scripts/build-redis-image.sh redis:7-alpine
    elif [[ "$(label built-from)" == /* ]] && [ "$(label image-version)" != "$wanted" ]; then
        say "rebuilding the local redis:7-alpine image (built by an older scripts/build-redis-image.sh)"
        scripts/build-redis-image.sh redis:7-alpine
    fi
else
    say "no Docker engine: the process target will be used"
fi

# --- Browser and Node (tests of the HTML report and of BullMQ) ----------------
if [ "$with_browser" = 1 ]; then
    apt_install chromium
fi
if [ "$with_node" = 1 ]; then
    command -v node >/dev/null 2>&1 || apt_install nodejs npm
    if .venv/bin/nself-redis node-setup --help >/dev/null 2>&1; then
        .venv/bin/nself-redis node-setup
    fi
fi
say "ready"
