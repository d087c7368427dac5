# Sourced by the set-up, demo and test scripts: puts the project's Node (>= 22.18) first on PATH
# and exports the install-time switches that keep npm away from non-npm hosts.
# Usage: source scripts/env.sh   (from the repository root)
FR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FR_NODE_DIR="$FR_ROOT/.tools/node"
FR_CACHE_DIR="${FACERESTORE_CACHE_DIR:-$HOME/.cache/facerestore}"
if [ -x "$FR_NODE_DIR/node_modules/node/bin/node" ]; then
  export PATH="$FR_NODE_DIR/node_modules/node/bin:$FR_ROOT/node_modules/.bin:$PATH"
else
  export PATH="$FR_ROOT/node_modules/.bin:$PATH"
fi
# onnxruntime-node's install script downloads CUDA libraries from a non-npm host; its CPU build ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
# mediasoup's install downloads a prebuilt worker from GitHub; we build it from its own sources instead.
if [ -f "$FR_ROOT/node_modules/mediasoup/package.json" ]; then
  MEDIASOUP_WORKER_BIN="$(bash "$FR_ROOT/scripts/mediasoup-worker-path.sh" "$FR_ROOT/node_modules/mediasoup" 2>/dev/null || true)"
else
  MEDIASOUP_WORKER_BIN="$FR_CACHE_DIR/mediasoup-worker/pending/mediasoup-worker"
fi
export MEDIASOUP_WORKER_BIN
export FR_ROOT FR_CACHE_DIR
