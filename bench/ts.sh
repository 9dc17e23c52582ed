#!/usr/bin/env bash
# bench/ts.sh: how fast `media::ts::remux` turns one 2 s 720p fMP4 fragment into an MPEG-TS segment
# (HLS `format=m3u8-aapl`), against `ffmpeg -c copy -f mpegts` on the same init + fragment bytes
# (one process per segment, as a shell-script origin would do it).
#
#   bench/ts.sh [--iterations N] [--threads N] [--release] [--dir DIR]
#
# Makes the fragment once with ffmpeg (testsrc2 1280x720 25 fps, x264 veryfast 3 Mbit/s, 2 s GOP,
# frag_keyframe+empty_moov+default_base_moof), runs examples/ts_remux_bench.rs (debug build with
# the project's opt-level 2 dependencies unless --release; FFmpeg itself is the system's build
# either way), then times N ffmpeg runs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
iterations=200
threads=1
profile=()
dir=/tmp/ssfpack-bench-ts
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --release) profile=(--release) ;;
    --dir) dir="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "ts.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$dir"
src="$dir/hd.mp4"
if [ ! -f "$src" ]; then
  ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=1280x720:r=25:d=2 \
    -c:v libx264 -preset veryfast -b:v 3M -g 50 -movflags frag_keyframe+empty_moov+default_base_moof \
    -f mp4 "$src"
fi
echo "ssfpack media::ts::remux:"
cargo run -q "${profile[@]}" --example ts_remux_bench -- "$src" "$iterations" "$threads"

n=$(( iterations / 4 > 0 ? iterations / 4 : 1 ))
echo "ffmpeg -c copy -f mpegts, one process per segment ($n runs):"
start=$(date +%s.%N)
for _ in $(seq "$n"); do
  ffmpeg -nostdin -hide_banner -loglevel error -y -i "$src" -c copy -muxdelay 0 -f mpegts "$dir/out.ts"
done
end=$(date +%s.%N)
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f segments/s (%.2f ms per segment)\n", n / (e - s), (e - s) * 1000 / n }'
