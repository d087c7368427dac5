#!/usr/bin/env bash
# One check of a GPU server, offline, in under 8 minutes: prints the GPU, its driver, the Vulkan ICDs and the
# CUDA libraries found; then, for every GPU provider that loads (cuda, webgpu), the CodeFormer fixture's parity
# with PyTorch (fp32, fp16) and faces/s of the official-size random-weight CodeFormer at batch 1, 8 and 32 per
# precision; writes one JSON file (default gpu-check.json; the system facts go under "system").
#
# Also times the warp pre-graph (an I420 frame and its faces in, CodeFormer's input out) per provider against the
# CPU warp (GPU_CHECK_WARP, default 1920x1080x8; none to skip).
#
#   bash scripts/gpu-check.sh [--quick] [out.json]
# --quick: a dry run that ends in minutes on lavapipe (software Vulkan, no GPU): the fixture-size model, batch 1,
#   fp32, no parity, one timed run, no warm-up. Each setting can also be given alone: GPU_CHECK_PROVIDERS=webgpu
#   GPU_CHECK_MODEL=small GPU_CHECK_BATCHES=1 GPU_CHECK_PRECISIONS=fp32 GPU_CHECK_PARITY=0 GPU_CHECK_REPS=1 GPU_CHECK_WARMUP=0
#   GPU_CHECK_BUDGET_S (default 420: measurements still pending then are recorded as skipped).
# Needs the repository set up (scripts/setup.sh) and, for parity, the fixture at ../shared/fixtures/codeformer-small
# (or GPU_CHECK_FIXTURE). CUDA additionally needs ONNXRUNTIME_NODE_INSTALL=cuda12's provider libraries.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
out=gpu-check.json
for a in "$@"; do
  case "$a" in
    --quick) : "${GPU_CHECK_MODEL:=small}" "${GPU_CHECK_BATCHES:=1}" "${GPU_CHECK_PRECISIONS:=fp32}" "${GPU_CHECK_PARITY:=0}" \
      "${GPU_CHECK_REPS:=1}" "${GPU_CHECK_WARMUP:=0}" "${GPU_CHECK_BUDGET_S:=240}"; quick=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu-check: unknown option $a (see --help)" >&2; exit 2 ;;
    *) out="$a" ;;
  esac
done
section() { printf '\n== %s\n' "$*"; }

section GPU
gpu=$(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true)
[ -n "$gpu" ] && echo "nvidia-smi: $gpu"
command -v lspci >/dev/null && lspci 2>/dev/null | grep -Ei 'vga|3d|display' || true
[ -r /proc/driver/nvidia/version ] && head -1 /proc/driver/nvidia/version
section "Vulkan ICDs"
icds=$(ls /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json 2>/dev/null || true)
echo "${icds:-none}"
echo "mesa-vulkan-drivers: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 'not installed')"
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName|apiVersion' || true
section "CUDA libraries"
cuda=$(ldconfig -p 2>/dev/null | grep -Eo '(libcudart|libcublas|libcublasLt|libcufft|libcurand|libcudnn)\.so\.[0-9]+' | sort -u | tr '\n' ' ')
echo "on the loader path: ${cuda:-none}"
ortdir=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
echo "ONNX Runtime providers: $(ls "$ortdir" 2>/dev/null | grep -E 'providers' | tr '\n' ' ' || true)"

section Measurements
args=(--providers "${GPU_CHECK_PROVIDERS:-cuda,webgpu}" --batches "${GPU_CHECK_BATCHES:-1,8,32}"
  --precisions "${GPU_CHECK_PRECISIONS:-fp32,fp16}" --model "${GPU_CHECK_MODEL:-official}"
  --budget-s "${GPU_CHECK_BUDGET_S:-420}" --warp "${GPU_CHECK_WARP:-1920x1080x8}" --reps "${GPU_CHECK_REPS:-3}" --warmup "${GPU_CHECK_WARMUP:-1}" --out "$out.tmp")
[ -n "${GPU_CHECK_FIXTURE:-}" ] && args+=(--fixture "$GPU_CHECK_FIXTURE")
[ "${GPU_CHECK_PARITY:-1}" = 0 ] && args+=(--no-parity)
node bench/gpu-check.ts "${args[@]}" >/dev/null || { echo "measurements failed"; exit 1; }
node -e '
const fs = require("node:fs");
const [file, out, gpu, icds, cuda, mesa] = process.argv.slice(1);
const r = JSON.parse(fs.readFileSync(file, "utf8"));
r.settings.quick = process.argv[7] === "1";
r.system = { gpu: gpu || null, vulkanIcds: icds ? icds.split("\n").filter(Boolean) : [], mesaVulkanDrivers: mesa || null, cudaLibraries: cuda.trim() ? cuda.trim().split(" ") : [] };
fs.writeFileSync(out + ".part", JSON.stringify(r, null, 2) + "\n"); fs.renameSync(out + ".part", out); fs.rmSync(file);
for (const [p, e] of Object.entries(r.providers)) {
  console.log(`${p}: ${e.loads ? "loads" : "does not load: " + e.reason}`);
  for (const q of e.parity ?? []) console.log(`  parity ${q.precision}: ${q.skipped ?? JSON.stringify(q.maxAbsDiff)}`);
  if (e.warp) console.log(`  warp pre-graph ${e.warp.width}x${e.warp.height}, ${e.warp.faces} faces: ${e.warp.graphMsPerFrame ? e.warp.graphMsPerFrame.join("/") + " ms (CPU warp " + e.warp.cpuWarpMsPerFrame.join("/") + " ms)" : e.warp.error}`);
  for (const s of e.speed ?? []) console.log(`  ${s.precision} batch ${s.batch}: ${s.facesPerSecond ? s.facesPerSecond.toPrecision(3) + " faces/s" : s.skipped ?? s.error}`);
}
console.log(`wrote ${out}`);
' "$out.tmp" "$out" "$gpu" "$icds" "$cuda" "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null)" "${quick:-0}"
