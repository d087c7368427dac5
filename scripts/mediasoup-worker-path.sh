#!/usr/bin/env bash
# Prints where scripts/build-mediasoup-worker.sh puts (or will put) the worker
# binary for a mediasoup version; builds nothing, checks nothing.
#
#   bash scripts/mediasoup-worker-path.sh [mediasoup-package-dir]   -> .../mediasoup-worker/<version>/mediasoup-worker
#   bash scripts/mediasoup-worker-path.sh --version [dir]            -> <version>
#
# The version comes from <dir>/package.json (default node_modules/mediasoup);
# before `npm ci` that file does not exist yet, so it falls back to the
# "node_modules/mediasoup" entry of package-lock.json in the current directory
# (or the repository root), which lets set-up export MEDIASOUP_WORKER_BIN first.
set -euo pipefail

# Revision of our patches to the worker sources (scripts/mediasoup-worker/); part of the cache path so a
# changed patch never reuses an old binary. Keep WORKER_PATCH_REVISION in src/apps/live/sfu.ts equal.
PATCH_REVISION=2

want_version=0
if [ "${1:-}" = "--version" ]; then want_version=1; shift; fi
pkg_dir="${1:-node_modules/mediasoup}"

version=""
if [ -f "$pkg_dir/package.json" ]; then
  # First "version" key of package.json (top level in npm's layout).
  version="$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg_dir/package.json" | head -n1)"
else
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for lock in package-lock.json "$repo/package-lock.json"; do
    [ -f "$lock" ] || continue
    version="$(awk '
      /^[[:space:]]*"node_modules\/mediasoup"[[:space:]]*:/ { inside = 1; next }
      inside && /^[[:space:]]*"version"[[:space:]]*:/ {
        gsub(/.*"version"[[:space:]]*:[[:space:]]*"|".*/, ""); print; exit
      }
      inside && /^[[:space:]]*}/ { inside = 0 }
    ' "$lock")"
    [ -n "$version" ] && break
  done
fi

if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  printf '[mediasoup-worker] cannot tell the mediasoup version (no %s/package.json, no package-lock.json entry)\n' "$pkg_dir" >&2
  exit 1
fi

if [ "$want_version" = 1 ]; then
  printf '%s\n' "$version"
else
  printf '%s\n' "${FACERESTORE_CACHE_DIR:-$HOME/.cache/facerestore}/mediasoup-worker/$version-fr$PATCH_REVISION/mediasoup-worker"
fi
