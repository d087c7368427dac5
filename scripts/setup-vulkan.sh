#!/usr/bin/env bash
# Vulkan for ONNX Runtime's WebGPU provider: the Vulkan loader and Mesa's drivers, including lavapipe (software
# Vulkan on the CPU), so WebGPU tests run on machines without a GPU. Debian 12's mesa-vulkan-drivers (22.3) lacks
# a feature Dawn requires (shaderUniform*ArrayDynamicIndexing); bookworm-backports' (25.x) has it. The suite is
# added pinned at priority 100 (as backports are by default) so nothing else is taken from it; only these
# packages are installed with -t bookworm-backports (apt also takes the versions of their Mesa/libdrm
# dependencies from there). Idempotent: skipped when mesa-vulkan-drivers >= 25 is installed.
# Called by scripts/setup.sh; on other distributions it only reports what it found.
set -euo pipefail
log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
MIN_MESA=25

have=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$MIN_MESA" && dpkg -s libvulkan1 >/dev/null 2>&1; then
  exit 0
fi
. /etc/os-release 2>/dev/null || true
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
  if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$MIN_MESA"; then exit 0; fi
  log "vulkan: not Debian 12; install Mesa's Vulkan drivers >= $MIN_MESA yourself for WebGPU on lavapipe (found: ${have:-none})"
  exit 0
fi
list=/etc/apt/sources.list.d/facerestore-bookworm-backports.list
pref=/etc/apt/preferences.d/facerestore-bookworm-backports
if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "vulkan: adding bookworm-backports to apt sources ($list), pinned at priority 100"
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee "$list" >/dev/null
fi
if [ ! -f "$pref" ]; then
  printf 'Package: *\nPin: release n=bookworm-backports\nPin-Priority: 100\n' | $SUDO tee "$pref" >/dev/null
fi
log "vulkan: installing mesa-vulkan-drivers >= $MIN_MESA and libvulkan1 from bookworm-backports (found: ${have:-none})"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2
have=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)
dpkg --compare-versions "$have" ge "$MIN_MESA" || { log "vulkan: mesa-vulkan-drivers is $have, still older than $MIN_MESA"; exit 1; }
