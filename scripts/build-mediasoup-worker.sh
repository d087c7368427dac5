#!/usr/bin/env bash
# Builds mediasoup's C++ worker (3.27.x) offline, against Debian 12's system
# libraries, from the sources shipped inside the mediasoup npm package.
#
#   bash scripts/build-mediasoup-worker.sh [mediasoup-package-dir]   (default: node_modules/mediasoup)
#
# Output: ${FACERESTORE_CACHE_DIR:-$HOME/.cache/facerestore}/mediasoup-worker/<version>/mediasoup-worker
# The last line of stdout is that path (everything else goes to stderr), so:
#   export MEDIASOUP_WORKER_BIN="$(bash scripts/build-mediasoup-worker.sh)"
# Idempotent: when the binary is already there and its libraries resolve, it
# prints the path and exits at once. scripts/mediasoup-worker-path.sh prints the
# same path without building (export it as MEDIASOUP_WORKER_BIN before
# `npm ci`, which then skips mediasoup's GitHub download / meson fallback).
#
# Time: about 5 min on 2 cores. Measured for 3.27.1 on a shared 2-core Debian 12
# box under `nice`: 4 min 57 s wall (261 ninja steps, peak RSS 0.5 GB, 0 compiler
# warnings). Cached binary: ~0.05 s. Missing apt packages add ~1-2 min.
#
# Why: `npm install mediasoup` fetches a prebuilt worker from GitHub and falls
# back to a meson build whose subprojects are downloaded; neither works where
# only the npm registry and Debian apt are reachable. The patch step
# (scripts/mediasoup-worker/patch-worker-sources.sh) swaps each subproject for a
# pkg-config dependency on a copy of the sources:
#   libuv, openssl, flatbuffers (+flatc), abseil -> Debian -dev packages
#   libsrtp3 (v3 API)  -> libsrtp2 via compat/srtp/srtp.h (v3 calls on v2)
#   unordered_dense    -> compat/unordered_dense (std containers)
#   catch2 tests       -> not built (only the mediasoup-worker target is)
# Runtime packages where the binary runs (from ldd): libuv1 libssl3 libsrtp2-1
# libabsl20220623 libnss3 libnspr4 libstdc++6 (libsrtp2 pulls in NSS).
#
# Environment: FACERESTORE_CACHE_DIR, MEDIASOUP_WORKER_BUILD_JOBS (default nproc),
# MEDIASOUP_WORKER_KEEP_BUILD=1 (keep the temporary build tree for debugging).
set -euo pipefail

log() { printf '[mediasoup-worker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg_dir="${1:-node_modules/mediasoup}"
[ -f "$pkg_dir/package.json" ] || die "no package.json in '$pkg_dir' (pass the mediasoup package dir)"
pkg_dir="$(cd "$pkg_dir" && pwd)"

version="$(bash "$here/mediasoup-worker-path.sh" --version "$pkg_dir")"
out="$(bash "$here/mediasoup-worker-path.sh" "$pkg_dir")"
out_dir="$(dirname "$out")"

# Build-time Debian packages (dpkg names). Runtime libs come with them.
APT_PKGS=(g++ python3 meson ninja-build pkg-config libssl-dev libuv1-dev
  libflatbuffers-dev flatbuffers-compiler libabsl-dev libsrtp2-dev)

ensure_apt_packages() {
  local missing=() p
  for p in "${APT_PKGS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  log "apt: installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# "Runs": executable and every shared library resolves.
worker_ok() {
  [ -f "$1" ] && [ -x "$1" ] || return 1
  local deps
  deps="$(ldd "$1" 2>&1)" || return 1
  ! grep -q 'not found' <<<"$deps"
}

cached_or_fix_runtime() {
  [ -f "$out" ] && [ -x "$out" ] || return 1
  worker_ok "$out" && return 0
  log "cached $out has unresolved libraries; installing packages"
  ensure_apt_packages
  worker_ok "$out"
}

if cached_or_fix_runtime; then
  log "cached: mediasoup $version worker"
  printf '%s\n' "$out"
  exit 0
fi

[ -f "$pkg_dir/worker/meson.build" ] || die "no worker sources in $pkg_dir/worker"

# One build per version at a time (set-up and tests may race).
mkdir -p "$out_dir"
exec 9>"$out_dir/.build.lock"
if ! flock -n 9; then
  log "another build of $version is running; waiting for it"
  flock 9
fi
if cached_or_fix_runtime; then
  log "built meanwhile by another process"
  printf '%s\n' "$out"
  exit 0
fi

ensure_apt_packages

started=$(date +%s)
build_root="$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-$version.XXXXXX")"
cleanup() {
  if [ "${MEDIASOUP_WORKER_KEEP_BUILD:-0}" = 1 ]; then
    log "kept build tree: $build_root"
  else
    rm -rf "$build_root"
  fi
}
trap cleanup EXIT

src="$build_root/worker"
log "copying worker sources of mediasoup $version to $src"
mkdir -p "$src"
# Leave out any earlier build output and the wraps (nothing may be downloaded).
tar -C "$pkg_dir/worker" --exclude=./out --exclude=./prebuild --exclude=./subprojects -cf - . |
  tar -C "$src" -xf -

bash "$here/mediasoup-worker/patch-worker-sources.sh" "$src"

meson_opts=(--buildtype=release --wrap-mode=nodownload)
# Older 3.x workers have an optional liburing; Debian's is too old.
if grep -q "'ms_disable_liburing'" "$src/meson_options.txt" 2>/dev/null; then
  meson_opts+=(-Dms_disable_liburing=true)
fi

log "meson setup ${meson_opts[*]}"
(cd "$src" && meson setup "$build_root/build" "${meson_opts[@]}") >&2

jobs="${MEDIASOUP_WORKER_BUILD_JOBS:-$(nproc)}"
log "ninja -j$jobs mediasoup-worker (about 5 min on 2 cores)"
ninja -C "$build_root/build" -j "$jobs" mediasoup-worker >&2

bin="$build_root/build/mediasoup-worker"
[ -x "$bin" ] || die "ninja finished but $bin is missing"
worker_ok "$bin" || die "built worker has unresolved libraries: $(ldd "$bin" | grep 'not found' || true)"

# Atomic install: copy beside the target, then rename over it.
tmp_out="$out_dir/.mediasoup-worker.tmp.$$"
cp "$bin" "$tmp_out"
chmod 755 "$tmp_out"
mv -f "$tmp_out" "$out"

log "built mediasoup $version worker in $(( $(date +%s) - started )) s: $out ($(du -h "$out" | cut -f1))"
printf '%s\n' "$out"
