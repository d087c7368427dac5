#!/usr/bin/env bash
# Makes demo/group-degraded.mp4: a 4 s, 25 fps, 640x360 clip with a slow camera move over a real
# group photograph shipped in the npm package @vladmandic/face-api (demo/sample3.jpg, three faces),
# degraded the way old footage is (downscale, blur, noise, low bitrate), with a stereo tone track so
# audio passthrough is visible. Prints the clip's path. Skips the work when the clip exists.
set -euo pipefail
cd "$(dirname "$0")/.."
src=node_modules/@vladmandic/face-api/demo/sample3.jpg
out=demo/group-degraded.mp4
if [ -s "$out" ]; then echo "$out"; exit 0; fi
[ -f "$src" ] || { echo "missing $src: run npm ci first" >&2; exit 1; }
mkdir -p demo
tmp="demo/.group-degraded.$$.mp4"
trap 'rm -f "$tmp"' EXIT
ffmpeg -hide_banner -loglevel error -y -loop 1 -framerate 25 -i "$src" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4" \
  -filter_complex "[0:v]scale=1280:-2,zoompan=z='1.15+0.1*on/100':x='iw/2-(iw/zoom/2)+on*0.6':y='ih/2-(ih/zoom/2)':d=1:s=1280x720:fps=25,scale=400:226,gblur=sigma=0.8,noise=alls=10:allf=t,scale=640:360:flags=bilinear[v]" \
  -map "[v]" -map 1:a -t 4 -c:v libx264 -preset veryfast -b:v 350k -pix_fmt yuv420p -c:a aac -b:a 96k -ac 2 \
  -movflags +faststart "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
