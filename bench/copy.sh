#!/usr/bin/env bash
# bench/copy.sh: how fast `ssfpack pack --copy` packages an existing ladder, against
# `ffmpeg -c copy -f ismv` on the same files and `cat` of the same bytes (the I/O floor).
#
#   bench/copy.sh [--seconds N] [--runs N] [--dir DIR] [--keep]
#
# Makes a 1080p/720p/360p ladder (N seconds, default 60, x264 ultrafast with 2 B-frames and
# 48-frame GOPs, AAC 128k) once into DIR (default /tmp/ssfpack-bench-copy), builds ssfpack in
# release mode, then times each method RUNS times (default 3) with a warm page cache and prints the
# best time of each (until the command exits, and until `sync -f` has put the output on disk) and
# the ratios. ffmpeg gets one run per rendition (video only) plus one for the
# audio, so both tools read and write the same streams.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=60
runs=3
dir=/tmp/ssfpack-bench-copy
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "copy.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
mkdir -p "$dir"
src="$dir/src-${seconds}s"
if [ ! -f "$src/done" ]; then
  echo "copy.sh: making a ${seconds} s 1080p/720p/360p ladder in $src (once)" >&2
  rm -rf "$src" && mkdir -p "$src"
  x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -bf 2 -g 48 -keyint_min 48 -sc_threshold 0)
  ff -f lavfi -i "testsrc2=size=1920x1080:rate=25:duration=$seconds" \
     -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
     -filter_complex "[0:v]split=3[a][b][c];[b]scale=1280:720[b2];[c]scale=640:360[c2]" \
     -map "[a]" -map 1:a "${x264[@]}" -b:v 6000k -c:a aac -b:a 128k "$src/r1080.mp4" \
     -map "[b2]" -map 1:a "${x264[@]}" -b:v 3000k -c:a aac -b:a 128k "$src/r720.mp4" \
     -map "[c2]" -map 1:a "${x264[@]}" -b:v 1000k -c:a aac -b:a 128k "$src/r360.mp4"
  touch "$src/done"
fi
inputs=("$src/r1080.mp4" "$src/r720.mp4" "$src/r360.mp4")

cargo build --release --quiet
bin="$(pwd)/target/release/ssfpack"
out="$dir/out"

now() { date +%s.%N; }
best() { sort -g | head -n 1; }

run_ssfpack() {
  "$bin" pack --copy --quiet "${inputs[@]}" -o "$out/ssf"
}
run_ffmpeg() {
  for i in "${inputs[@]}"; do
    ff -i "$i" -map 0:v -c copy -f ismv "$out/$(basename "$i" .mp4).ismv"
  done
  ff -i "${inputs[0]}" -map 0:a -c copy -f ismv "$out/audio.isma"
}
run_cat() {
  for i in "${inputs[@]}"; do cat "$i" > "$out/$(basename "$i")"; done
}

cat "${inputs[@]}" > /dev/null # warm the page cache
sync -f "$dir" 2>/dev/null || true
declare -A t ts
for method in ssfpack ffmpeg cat; do
  times=()
  synced=()
  for _ in $(seq "$runs"); do
    rm -rf "$out" && mkdir -p "$out" && sync -f "$dir" 2>/dev/null || true
    t0=$(now)
    "run_$method"
    t1=$(now)
    sync -f "$out" 2>/dev/null || true
    t2=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
    synced+=("$(echo "$t2 - $t0" | bc -l)")
  done
  t[$method]=$(printf '%s\n' "${times[@]}" | best)
  ts[$method]=$(printf '%s\n' "${synced[@]}" | best)
done
bytes=$(cat "${inputs[@]}" | wc -c)

"$bin" pack --copy --quiet "${inputs[@]}" -o "$out/check" --force
"$bin" check "$out/check" >/dev/null || { echo "copy.sh: ssfpack check FAILED" >&2; exit 1; }

printf 'ladder: %s s, 3 renditions + AAC, %.1f MB in %s (best of %s runs, warm cache, load %s)\n' \
  "$seconds" "$(echo "$bytes / 1000000" | bc -l)" "$src" "$runs" "$(cut -d' ' -f1 /proc/loadavg)"
printf '  %-8s %10s %10s   %s\n' method written MB/s "written + sync -f"
for m in ssfpack ffmpeg cat; do
  printf '  %-8s %8.3f s %10.1f   %8.3f s\n' "$m" "${t[$m]}" "$(echo "$bytes / ${t[$m]} / 1000000" | bc -l)" "${ts[$m]}"
done
printf 'ratios (written): ffmpeg/ssfpack = %.2f  ssfpack/cat = %.2f\n' \
  "$(echo "${t[ffmpeg]} / ${t[ssfpack]}" | bc -l)" "$(echo "${t[ssfpack]} / ${t[cat]}" | bc -l)"
printf 'ratios (synced):  ffmpeg/ssfpack = %.2f  ssfpack/cat = %.2f\n' \
  "$(echo "${ts[ffmpeg]} / ${ts[ssfpack]}" | bc -l)" "$(echo "${ts[ssfpack]} / ${ts[cat]}" | bc -l)"

[ "$keep" = 1 ] || rm -rf "$out"
