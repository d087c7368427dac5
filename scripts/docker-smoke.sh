#!/usr/bin/env bash
# Builds the CPU images (docker/Dockerfile) and runs them as an operator would:
#   1. `restore` on a shared clip in the cli image with --network none (non-root, under tini);
#   2. docker/compose.yaml: Redis, two job workers, the status service (`jobs serve`) and the live server;
#   3. two jobs submitted, both outputs awaited, their frame counts printed (ffprobe);
#   4. GET /healthz and /metrics of every service;
# then prints image sizes and per-phase times and removes what it started (containers, networks, volumes by id;
# the dockerd it started, by pid). Exit 0 with a "skipped: ..." line when no Docker engine can be started.
#
#   bash scripts/docker-smoke.sh [clip.mp4]     (default ../shared/footage/short_hamilton_clip.mp4, else demo/*.mp4)
#
# Nothing but Debian's apt mirror and the npm registry need be reachable: docker.io / docker-compose /
# debootstrap come from apt when missing; a Docker engine is started here when none answers; the base image is
# made with debootstrap (bookworm, minbase) plus this machine's Node and npm and kept as $BASE_TAG (reruns skip it);
# Redis is Debian's redis-server on that base; this machine's facerestore cache (SFU worker binary, models) is
# passed as docker/prebuilt/cache so neither is downloaded or compiled.
# Environment: FACERESTORE_SMOKE_DOCKER_ROOT (data of an engine started here; default /var/lib/facerestore-smoke),
# FACERESTORE_SMOKE_POOL (address pool of its networks; default 10.213.0.0/16), FACERESTORE_SMOKE_REBUILD_BASE=1,
# FACERESTORE_SMOKE_KEEP_IMAGES=0 (remove the built images at the end), DOCKER_HOST (use that engine).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BASE_TAG=facerestore-base:bookworm
REDIS_TAG=facerestore-redis:bookworm-2   # bump the suffix when its recipe below changes
IMG=facerestore-smoke
PROJECT="frsmoke$$"
t0=$(date +%s)
phase_name=""
phase_t=$t0
phases=()
log() { printf '[docker-smoke %5ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
phase() {
  local now; now=$(date +%s)
  [ -n "$phase_name" ] && phases+=("$phase_name $((now - phase_t)) s")
  phase_name="$1"; phase_t=$now
  log "== $1"
}
skip() { echo "skipped: docker smoke: $*"; exit 0; }
die() { log "FAILED: $*"; exit 1; }

clip="${1:-}"
if [ -z "$clip" ]; then
  for c in ../shared/footage/short_hamilton_clip.mp4 demo/*.mp4; do [ -f "$c" ] && { clip="$c"; break; }; done
fi
[ -n "$clip" ] && [ -f "$clip" ] || die "no input clip (pass one)"
clip="$(cd "$(dirname "$clip")" && pwd)/$(basename "$clip")"
job_clips=()
for c in ../shared/footage/retalk_1.mp4 ../shared/footage/retalk_2.mp4; do
  [ -f "$c" ] && job_clips+=("$(cd "$(dirname "$c")" && pwd)/$(basename "$c")")
done
[ "${#job_clips[@]}" = 2 ] || job_clips=("$clip" "$clip")

# ------------------------------------------------------------------ teardown: only what this run started
work="$(mktemp -d /tmp/fr-docker-smoke.XXXXXX)"
started_dockerd=""
fw_rule=""
containers=()
networks=()
volumes=()
track() { # remember every container/network/volume of this compose project (labels), by id
  local id
  for id in $(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"); do [[ " ${containers[*]} " == *" $id "* ]] || containers+=("$id"); done
  for id in $(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"); do [[ " ${networks[*]} " == *" $id "* ]] || networks+=("$id"); done
  for id in $(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"); do [[ " ${volumes[*]} " == *" $id "* ]] || volumes+=("$id"); done
}
cleanup() {
  local rc=$?
  set +e
  if docker info >/dev/null 2>&1; then
    track
    [ "${#containers[@]}" -gt 0 ] && docker rm -f "${containers[@]}" >/dev/null 2>&1
    [ "${#networks[@]}" -gt 0 ] && docker network rm "${networks[@]}" >/dev/null 2>&1
    [ "${#volumes[@]}" -gt 0 ] && docker volume rm "${volumes[@]}" >/dev/null 2>&1
    [ "${FACERESTORE_SMOKE_KEEP_IMAGES:-1}" = 0 ] && docker rmi "$IMG:cli" "$IMG:worker" "$IMG:server" >/dev/null 2>&1
  fi
  [ -n "$fw_rule" ] && iptables -D FORWARD -i "$fw_rule" -o "$fw_rule" -j ACCEPT
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$work"
  [ -n "$phase_name" ] && phases+=("$phase_name $(($(date +%s) - phase_t)) s")
  [ "${#phases[@]}" -gt 0 ] && log "phases: $(IFS=,; echo "${phases[*]}" | sed 's/,/, /g')"
  log "total $(($(date +%s) - t0)) s, exit $rc (removed ${#containers[@]} containers, ${#networks[@]} networks, ${#volumes[@]} volumes)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_get() { # apt-get install, updating the lists once when a package is unknown
  apt-get install -y --no-install-recommends "$@" >>"$work/apt.log" 2>&1 \
    || { apt-get update >>"$work/apt.log" 2>&1 && apt-get install -y --no-install-recommends "$@" >>"$work/apt.log" 2>&1; }
}

# ------------------------------------------------------------------ engine
phase engine
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "no Docker engine answers and starting one needs root"
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    command -v apt-get >/dev/null || skip "no Docker engine and no apt-get to install docker.io"
    log "installing docker.io with apt"
    apt_get docker.io || skip "docker.io cannot be installed ($(tail -1 "$work/apt.log"))"
  fi
  root="${FACERESTORE_SMOKE_DOCKER_ROOT:-/var/lib/facerestore-smoke}"
  mkdir -p "$root"
  export DOCKER_HOST="unix://$root/docker.sock"
  if ! docker info >/dev/null 2>&1; then
    # No iptables/NAT here (may be unavailable in a container host); no default bridge (builds use the host
    # network, the stack its own compose network); an address pool of its own so a second engine never clashes.
    dockerd --host "$DOCKER_HOST" --data-root "$root/data" --exec-root "$root/exec" --pidfile "$root/dockerd.pid" \
      --iptables=false --ip-masq=false --bridge=none \
      --default-address-pool "base=${FACERESTORE_SMOKE_POOL:-10.213.0.0/16},size=24" >"$root/dockerd.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
    if ! docker info >/dev/null 2>&1; then
      tail -5 "$root/dockerd.log" | sed 's/^/  dockerd: /'
      kill "$started_dockerd" 2>/dev/null; started_dockerd=""
      skip "dockerd did not start (log: $root/dockerd.log)"
    fi
    log "started dockerd pid $started_dockerd, log $root/dockerd.log"
  fi
fi
log "engine $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}') at ${DOCKER_HOST:-default socket}"
if docker compose version >/dev/null 2>&1; then compose=(docker compose)
else
  command -v docker-compose >/dev/null || { log "installing docker-compose with apt"; apt_get docker-compose || true; }
  command -v docker-compose >/dev/null || die "neither docker compose nor docker-compose"
  compose=(docker-compose --compatibility)   # v1: --compatibility honours deploy.replicas
fi
log "compose: ${compose[*]} ($("${compose[@]}" version --short 2>/dev/null || echo '?'))"
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0   # Debian's engine without buildx: classic builder

# ------------------------------------------------------------------ base images (kept as tags)
phase base
if [ "${FACERESTORE_SMOKE_REBUILD_BASE:-0}" = 1 ] || ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { log "installing debootstrap with apt"; apt_get debootstrap || die "debootstrap cannot be installed"; }
  node_bin="$(readlink -f "$(command -v node)")"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [ -f "$npm_dir/package.json" ] || die "cannot find npm's folder"
  rootfs="$work/rootfs"
  log "debootstrap bookworm minbase (+ Node $(node --version), npm $(npm --version) from this machine)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; die "debootstrap failed"; }
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  command -v strip >/dev/null && strip --strip-unneeded "$rootfs/usr/local/bin/node"   # its symbols: ~20 MB
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Trust this machine's CA bundle too (its traffic to apt/npm may pass a TLS-inspecting proxy).
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/ca-certificates/host-bundle.crt"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list" 2>/dev/null || true
  [ -d /etc/apt/sources.list.d ] && cp -a /etc/apt/sources.list.d/. "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' -c 'CMD ["bash"]' - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
  docker rmi "$REDIS_TAG" >/dev/null 2>&1 || true
  log "made $BASE_TAG"
else
  log "$BASE_TAG already there"
fi
if ! docker image inspect "$REDIS_TAG" >/dev/null 2>&1; then
  printf 'FROM %s\nRUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data\nWORKDIR /data\nUSER redis\nCMD ["redis-server", "--protected-mode", "no"]\n' "$BASE_TAG" \
    | docker build --network host -q -t "$REDIS_TAG" - >"$work/redis-build.log" 2>&1 || { tail -20 "$work/redis-build.log"; die "redis image build failed"; }
  log "made $REDIS_TAG"
fi

# ------------------------------------------------------------------ facerestore images
phase build
ctx="$work/ctx"
mkdir -p "$ctx"
cp -a package.json package-lock.json bin src scripts docker "$ctx/"
rm -rf "$ctx/docker/prebuilt/cache"
mkdir -p "$ctx/docker/prebuilt/cache/models"
worker_rel="$(FACERESTORE_CACHE_DIR=/c bash scripts/mediasoup-worker-path.sh | sed 's#^/c/##')"
if [ -x "$FR_CACHE_DIR/$worker_rel" ]; then
  mkdir -p "$ctx/docker/prebuilt/cache/$(dirname "$worker_rel")"
  cp "$FR_CACHE_DIR/$worker_rel" "$ctx/docker/prebuilt/cache/$worker_rel"
  log "SFU worker: this machine's $worker_rel"
else
  log "SFU worker: built from sources in the image (no $FR_CACHE_DIR/$worker_rel)"
fi
cp "$FR_CACHE_DIR"/models/*.onnx "$ctx/docker/prebuilt/cache/models/" 2>/dev/null || true
log "models baked in: $(cd "$ctx/docker/prebuilt/cache/models" && ls | tr '\n' ' ')"
for target in cli worker server; do
  ts=$(date +%s)
  docker build --network host -f "$ctx/docker/Dockerfile" --target "$target" --build-arg BASE="$BASE_TAG" \
    -t "$IMG:$target" "$ctx" >"$work/build-$target.log" 2>&1 || { tail -40 "$work/build-$target.log"; die "docker build --target $target failed"; }
  log "built $IMG:$target in $(($(date +%s) - ts)) s"
done
for target in cli worker server; do
  log "image $IMG:$target $(docker image inspect -f '{{.Size}}' "$IMG:$target" | awk '{printf "%.0f MB", $1/1e6}')"
done
log "base $BASE_TAG $(docker image inspect -f '{{.Size}}' "$BASE_TAG" | awk '{printf "%.0f MB", $1/1e6}'); largest folders in the image:"
docker run --rm --network none --entrypoint sh "$IMG:worker" -c \
  'du -sm /usr/lib/x86_64-linux-gnu /usr/local/bin/node /app/node_modules/* /app/node_modules/@*/* /home/facerestore/.cache 2>/dev/null | sort -rn | head -8' \
  | sed 's/^/    /'

# ------------------------------------------------------------------ restore, no network
phase restore
frames() { ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }
mkdir -p "$work/in" "$work/out"
cp "$clip" "$work/in/clip.mp4"
chmod 0777 "$work/out"
cid="$(docker create --network none -v "$work/in:/in:ro" -v "$work/out:/out" "$IMG:cli" restore /in/clip.mp4 -o /out/restored.mp4)"
containers+=("$cid")
docker start -a "$cid" >"$work/restore.log" 2>&1 || { tail -20 "$work/restore.log"; die "restore in the container failed"; }
uid="$(docker run --rm --network none --entrypoint id "$IMG:cli" -u)"
pid1="$(docker inspect -f '{{json .Config.Entrypoint}}' "$IMG:cli")"
[ "$uid" != 0 ] || die "the image runs as root"
[ -f "$work/out/restored.mp4" ] || die "restore wrote no output"
log "restore --network none as uid $uid (entrypoint $pid1): $(basename "$clip") $(frames "$clip") frames -> $(frames "$work/out/restored.mp4") frames"

# ------------------------------------------------------------------ compose stack
phase stack
data="$work/data"
mkdir -p "$data/in" "$data/out"
cp "${job_clips[0]}" "$data/in/a.mp4"
cp "${job_clips[1]}" "$data/in/b.mp4"
chmod -R 0777 "$data"
export FACERESTORE_BASE="$BASE_TAG" FACERESTORE_REDIS_IMAGE="$REDIS_TAG" FACERESTORE_IMAGE="$IMG" FACERESTORE_DATA="$data" \
  FACERESTORE_TOKEN=smoke-token
dc() { "${compose[@]}" -p "$PROJECT" -f docker/compose.yaml "$@"; }
dc up --no-start --no-build redis worker status server >"$work/up.log" 2>&1 || { cat "$work/up.log"; die "compose up --no-start failed"; }
track
# An engine without iptables leaves the host's FORWARD chain alone; where its policy is DROP and bridged
# traffic passes iptables (br_netfilter), containers on the stack's bridge cannot reach each other: let the
# traffic within this bridge through (the rule is removed at teardown).
bridge="br-$(docker network inspect -f '{{.Id}}' "${networks[0]}" | cut -c1-12)"
if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" = 1 ] && command -v iptables >/dev/null \
   && iptables -S FORWARD 2>/dev/null | grep -q '^-P FORWARD DROP' && ! iptables -C FORWARD -i "$bridge" -o "$bridge" -j ACCEPT 2>/dev/null; then
  iptables -I FORWARD -i "$bridge" -o "$bridge" -j ACCEPT && fw_rule="$bridge"
  log "FORWARD policy is DROP with br_netfilter: allowed traffic within $bridge"
fi
dc up -d --no-build redis worker status server >>"$work/up.log" 2>&1 || { cat "$work/up.log"; die "compose up failed"; }
track
log "started: $(docker ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}}' | sort | tr '\n' ' ')"
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }
for _ in $(seq 180); do
  ok=1
  for id in "${containers[@]}"; do [ "$(health "$id")" = healthy ] || [ "$(health "$id")" = exited ] || ok=0; done
  [ "$ok" = 1 ] && break
  sleep 1
done
for id in $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT"); do
  [ "$(health "$id")" = healthy ] || { docker logs --tail 30 "$id" 2>&1 | sed 's/^/  /'; die "$(docker inspect -f '{{.Name}}' "$id") is $(health "$id")"; }
done
log "every service healthy by its Docker HEALTHCHECK"

phase jobs
dc run --rm --no-deps cli jobs submit /data/in/a.mp4 /data/in/b.mp4 --out /data/out --preset ultrafast --crf 28 --segment-seconds 2 \
  >"$work/submit.log" 2>&1 || { track; cat "$work/submit.log"; die "jobs submit failed"; }
track
sed 's/^/  /' "$work/submit.log" | tail -4
dc run --rm --no-deps cli jobs status --watch --interval 2 >"$work/status.log" 2>&1 || { track; tail -20 "$work/status.log"; die "the jobs did not finish"; }
track
tail -4 "$work/status.log" | sed 's/^/  /'
for n in a b; do
  [ -f "$data/out/$n.mp4" ] || die "no output $n.mp4 (out: $(ls "$data/out" | tr '\n' ' '))"
  fin="$(frames "$data/in/$n.mp4")"; fout="$(frames "$data/out/$n.mp4")"
  log "job $n: in $fin frames -> out/$n.mp4 $fout frames"
  [ "$fin" = "$fout" ] || log "WARNING: job $n wrote $fout frames of $fin (not failed: a variable-frame-rate input is resampled to a constant rate)"
done

phase probe
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1" | awk '{print $1}'; }
probe() { # service port metric-regex
  local svc="$1" port="$2" want="$3" id n=0 code
  for id in $(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$svc"); do
    n=$((n + 1))
    local base="http://$(ip_of "$id"):$port"
    code="$(curl -s -m 10 -o "$work/h" -w '%{http_code}' "$base/healthz" || true)"
    [ "$code" = 200 ] || die "$svc #$n $base/healthz answered ${code:-nothing}: $(head -c 300 "$work/h" 2>/dev/null)"
    curl -sf -m 10 -o "$work/m" "$base/metrics" || die "$svc #$n $base/metrics failed"
    grep -Eq "$want" "$work/m" || die "$svc #$n /metrics lacks $want"
    log "$svc #$n $base: /healthz 200 $(head -c 120 "$work/h" | tr '\n' ' '); /metrics $(grep -c '^# TYPE' "$work/m") metrics:"
    grep -E "$want" "$work/m" | grep -v '^#' | head -6 | sed 's/^/    /'
  done
  [ "$n" -gt 0 ] || die "no running $svc container"
}
probe worker 9464 '^facerestore_(frames|segments|jobs|restore|worker)'
probe status 8787 '^facerestore_queue'
probe server 8080 '^facerestore_(live|sfu)'
nworkers="$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=worker" | wc -l)"
[ "$nworkers" = 2 ] || die "expected 2 workers, found $nworkers"

phase teardown
log "ok: images built, restore ran offline, $nworkers workers finished 2 jobs, every service healthy with metrics"
