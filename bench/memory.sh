#!/usr/bin/env bash
# bench/memory.sh: peak RSS of `ssfpack INPUT -o DIR` for a short and a 5x longer 1080p source with
# the same 4-rung ladder (1080p@6000k, 720p@3400k, 360p@1000k, 180p@400k + AAC): memory must not grow
# with the input's length (frames stream through bounded channels). One ffmpeg process doing the same
# job on the short source is shown for reference.
#
#   bench/memory.sh [--seconds N] [--preset P]
#
# Defaults: 60 s and 300 s sources (testsrc2, no grain: cheap to decode), x264 preset ultrafast so
# the 5-minute run stays short on 2 cores (memory depends on frame sizes and queue depths, which the
# preset barely changes; bench/ladder.sh reports the veryfast RSS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

seconds=60 preset=ultrafast
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --preset) preset=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "memory.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

bin=$(ssfpack_bin)
out="$BENCH_DIR/out-memory"
TIMES="$BENCH_DIR/memory-times.txt"
: > "$TIMES"
EXPORTS="BENCH_DIR"
LADDER=(1920x1080@6000 1280x720@3400 640x360@1000 320x180@400)
short=$(make_source "$seconds" clean)
long=$(make_source "$((5 * seconds))" clean)

echo "== commands"
BENCH_SHOW=1 ssfpack_ladder "$bin" "$short" "$out/short" "$preset" "${LADDER[@]}"
BENCH_SHOW=1 ssfpack_ladder "$bin" "$long" "$out/long" "$preset" "${LADDER[@]}"
BENCH_SHOW=1 ffmpeg_ladder "$short" "$out/ffmpeg" "$preset" "${LADDER[@]}"
echo "== peak RSS (load at start: $(load))"
timed_fn "ssfpack-${seconds}s" ssfpack_ladder "$bin" "$short" "$out/short" "$preset" "${LADDER[@]}"
timed_fn "ssfpack-$((5 * seconds))s" ssfpack_ladder "$bin" "$long" "$out/long" "$preset" "${LADDER[@]}"
rm -rf "$out/ffmpeg"
timed_fn "ffmpeg-${seconds}s" ffmpeg_ladder "$short" "$out/ffmpeg" "$preset" "${LADDER[@]}"
printf '  %-16s %8s %8s %10s\n' run wall CPU-s "peak RSS"
for l in "ssfpack-${seconds}s" "ssfpack-$((5 * seconds))s" "ffmpeg-${seconds}s"; do
  read -r w c r <<< "$(best "$l")"
  printf '  %-16s %7.1fs %7.1fs %6d MiB\n' "$l" "$w" "$c" "$((r / 1024))"
done
read -r _ _ r1 <<< "$(best "ssfpack-${seconds}s")"
read -r _ _ r5 <<< "$(best "ssfpack-$((5 * seconds))s")"
echo "  ssfpack RSS 5x longer / short: $(ratio "$r5" "$r1") (goal: 1.0, flat; < 500 MiB)"
rm -rf "$out"
