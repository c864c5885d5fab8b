#!/usr/bin/env bash
# Build a local Redis image from this machine's redis-server, without a registry.
#
# There is no container registry here, so `docker pull redis:7-alpine` cannot work.
# We copy redis-server, redis-cli and every library `ldd` lists into a root file
# system, tar it and `docker import` it under the tag the compose file names. The
# compose service then runs unchanged: `redis-server ...` on PATH, /data owned by
# uid 999 (the compose `user: "999:999"`), and its healthcheck too: `redis-cli ping`
# directly, or a `CMD-SHELL` test through /bin/sh with grep, as the official image has.
#
# usage: scripts/build-redis-image.sh [TAG ...]     (default: redis:7-alpine)
set -euo pipefail

# Raised when the image's contents change: scripts/setup.sh rebuilds an older one.
image_version=2
tags=("$@")
[ ${#tags[@]} -gt 0 ] || tags=("redis:7-alpine")

server=$(command -v redis-server || true)
cli=$(command -v redis-cli || true)
if [ -z "$server" ] || [ -z "$cli" ]; then
    echo "build-redis-image: redis-server and redis-cli are needed (apt-get install redis-server redis-tools)" >&2
    exit 1
fi
shell=$(readlink -f /bin/sh)
grep_binary=$(command -v grep)
if ! docker info >/dev/null 2>&1; then
    echo "build-redis-image: no Docker engine answers (start dockerd, or set DOCKER_HOST)" >&2
    exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/usr/local/bin" "$root/bin" "$root/data" "$root/tmp" "$root/etc"
# redis-server is often a symlink to redis-check-rdb: the binary picks its role from argv[0].
cp -L "$server" "$root/usr/local/bin/redis-server"
cp -L "$cli" "$root/usr/local/bin/redis-cli"
# Healthchecks written as a shell command (`CMD-SHELL`) run `/bin/sh -c`, often with grep.
cp -L "$shell" "$root/bin/sh"
cp -L "$grep_binary" "$root/usr/local/bin/grep"
for binary in "$server" "$cli" "$shell" "$grep_binary"; do
    ldd "$binary" | awk '/=>/ {print $3} /^[[:space:]]*\// {print $1}' | while read -r lib; do
        [ -f "$lib" ] || continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done
echo "redis:x:999:999:redis:/data:/sbin/nologin" >"$root/etc/passwd"
echo "redis:x:999:" >"$root/etc/group"
chown 999:999 "$root/data"
chmod 1777 "$root/tmp"

version=$("$server" --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
first=${tags[0]}
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'WORKDIR /data' \
    --change 'EXPOSE 6379' \
    --change 'CMD ["redis-server"]' \
    --change "LABEL org.nself.redis-harness.built-from=$server org.nself.redis-harness.redis-version=$version org.nself.redis-harness.image-version=$image_version" \
    - "$first" >/dev/null
for tag in "${tags[@]:1}"; do
    docker tag "$first" "$tag"
done
echo "built ${tags[*]} from $server (Redis $version)"
