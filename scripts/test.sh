#!/usr/bin/env bash
# README command 2: set up everything, type-check, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
tsc --noEmit -p .
vitest run "$@"
