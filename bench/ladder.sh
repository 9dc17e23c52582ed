#!/usr/bin/env bash
# bench/ladder.sh: encode + package a ladder with ssfpack, against what a user would run instead,
# side by side in one run (interleaved, best of --runs), on a generated 1080p 29.97 fps clip with
# motion and film grain (bench/lib.sh make_source).
#
#   bench/ladder.sh [--seconds N] [--runs N] [--preset P] [--baseline BIN] [--skip-scaling]
#
#   1. ladder   720p@3400k, 360p@1000k, 180p@400k + AAC 128k, libx264 --preset (veryfast):
#               ssfpack | one ffmpeg process (split + scale per rung, -f ismv) | one ffmpeg run per
#               rung (the naive script). --baseline BIN adds another ssfpack build to the same runs.
#   2. limit    each method's CPU-seconds (user + sys) and wall / (CPU-seconds / cores); plus the
#               libx264-only cost: the same rungs encoded with -threads 1 (as ssfpack does) from
#               pre-scaled raw frames, all rungs at once.
#   3. scaling  1, 2, 4 rungs (720p; 720p+360p; 1080p+720p+360p+180p): ssfpack vs one ffmpeg.
#
# Defaults: 10 s clip, 2 runs. Peak RSS comes from GNU time. All commands are printed first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

seconds=10 runs=2 preset=veryfast baseline="" scaling=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --runs) runs=$2; shift ;;
    --preset) preset=$2; shift ;;
    --baseline) baseline=$2; shift ;;
    --skip-scaling) scaling=0 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "ladder.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

bin=$(ssfpack_bin)
src=$(make_source "$seconds" grain)
raw="$BENCH_DIR/raw-${seconds}s"
out="$BENCH_DIR/out-ladder"
TIMES="$BENCH_DIR/ladder-times.txt"
EXPORTS="bin src out preset baseline raw LADDER BENCH_DIR"
: > "$TIMES"
LADDER=(1280x720@3400 640x360@1000 320x180@400)

method() { # method NAME RUNG...
  local m=$1
  shift
  case "$m" in
    ssfpack) ssfpack_ladder "$bin" "$src" "$out/ssfpack" "$preset" "$@" ;;
    baseline) ssfpack_ladder "$baseline" "$src" "$out/baseline" "$preset" "$@" ;;
    ffmpeg) rm -rf "$out/ffmpeg"; ffmpeg_ladder "$src" "$out/ffmpeg" "$preset" "$@" ;;
    naive) rm -rf "$out/naive"; naive_ladder "$src" "$out/naive" "$preset" "$@" ;;
  esac
}

methods=(ssfpack ffmpeg naive)
[ -n "$baseline" ] && methods=(ssfpack baseline ffmpeg naive)
echo "== commands (source: $src; ladder ${LADDER[*]} kbit/s, preset $preset)"
for m in "${methods[@]}"; do echo "  $m:"; BENCH_SHOW=1 method "$m" "${LADDER[@]}"; done

echo "== 1/2. ladder, best of $runs interleaved runs (cores: $CORES, load at start: $(load))"
cat "$src" > /dev/null
for _ in $(seq "$runs"); do
  for m in "${methods[@]}"; do timed_fn "$m" method "$m" "${LADDER[@]}"; done
done
"$bin" check "$out/ssfpack" > /dev/null || { echo "ladder.sh: ssfpack check FAILED" >&2; exit 1; }

# libx264 alone: the same rungs from pre-scaled raw 4:2:0 frames, -threads 1, all rungs at once.
if [ ! -f "$raw/done" ]; then
  mkdir -p "$raw"
  ff -i "$src" -filter_complex "[0:v]split=3[a][b][c];[a]scale=1280:720[a1];[b]scale=640:360[b1];[c]scale=320:180[c1]" \
    -map '[a1]' -f rawvideo "$raw/1280x720.yuv" -map '[b1]' -f rawvideo "$raw/640x360.yuv" \
    -map '[c1]' -f rawvideo "$raw/320x180.yuv"
  touch "$raw/done"
fi
x264_only() {
  local pids=()
  for r in "${LADDER[@]}"; do
    local size=${r%@*} kbps=${r#*@}
    x264_args "$size" "$kbps" "$preset"
    ff -f rawvideo -pix_fmt yuv420p -s "$size" -r 30000/1001 -i "$raw/$size.yuv" "${X264[@]}" -threads 1 -f null - &
    pids+=($!)
  done
  wait "${pids[@]}"
}
echo "  x264-only:"; BENCH_SHOW=1 x264_only | sed 's/$/ \&/'
cat "$raw"/*.yuv > /dev/null
for _ in $(seq "$runs"); do timed_fn x264-only x264_only; done

read -r fw fc _ <<< "$(best ffmpeg)"
printf '  %-10s %8s %8s %7s %9s   %s\n' method wall CPU-s "util" "peak RSS" "wall/ffmpeg  CPU/ffmpeg"
for m in "${methods[@]}" x264-only; do
  read -r w c r <<< "$(best "$m")"
  printf '  %-10s %7.2fs %7.2fs %6.0f%% %6d MiB   %5s        %5s\n' "$m" "$w" "$c" \
    "$(echo "100 * $c / $w / $CORES" | bc -l)" "$((r / 1024))" "$(ratio "$w" "$fw")" "$(ratio "$c" "$fc")"
done
read -r sw sc _ <<< "$(best ssfpack)"
read -r nw _ _ <<< "$(best naive)"
echo "  ssfpack/ffmpeg wall $(ratio "$sw" "$fw") (goal <= 1.0, aim 0.9); ssfpack/naive wall $(ratio "$sw" "$nw") (goal <= 0.6)"
echo "  ssfpack wall vs its own limit (CPU-s / cores): $(echo "100 * $sc / $CORES / $sw" | bc -l | xargs printf '%.0f')% (goal >= 97%)"
echo "  load at end: $(load)"

[ "$scaling" = 1 ] || exit 0
echo "== 3. scaling: rungs vs wall time, best of $runs (load at start: $(load))"
declare -A SETS=([1]="1280x720@3400" [2]="1280x720@3400 640x360@1000" [4]="1920x1080@6000 1280x720@3400 640x360@1000 320x180@400")
for n in 1 2 4; do
  for _ in $(seq "$runs"); do
    for m in ssfpack ffmpeg; do
      # shellcheck disable=SC2086
      timed_fn "$m-$n" method "$m" ${SETS[$n]}
    done
  done
done
printf '  %-6s %-44s %9s %9s %9s %9s %7s\n' rungs ladder ssfpack ffmpeg "ssf CPU" "ff CPU" "ratio"
for n in 1 2 4; do
  read -r sw sc _ <<< "$(best "ssfpack-$n")"
  read -r fw fc _ <<< "$(best "ffmpeg-$n")"
  printf '  %-6s %-44s %8.2fs %8.2fs %8.2fs %8.2fs %7s\n' "$n" "${SETS[$n]}" "$sw" "$fw" "$sc" "$fc" "$(ratio "$sw" "$fw")"
done
echo "  load at end: $(load)"
