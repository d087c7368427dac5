#!/usr/bin/env bash
# README command 1: set up everything, then restore the bundled demo clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
node bin/facerestore.mjs restore demo/group-degraded.mp4 -o demo/group-restored.mp4 "$@"
echo "wrote demo/group-restored.mp4" >&2
