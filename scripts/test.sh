#!/usr/bin/env bash
# README command 2: set up everything, type-check, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
tsc --noEmit -p .
report="$(mktemp "${TMPDIR:-/tmp}/facerestore-vitest.XXXXXX.json")"
trap 'rm -f "$report"' EXIT
status=0
vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# One plain closing line with the counts, whatever the reporter printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
exit "$status"
