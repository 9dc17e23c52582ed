#!/usr/bin/env bash
# bench/batch.sh: `ssfpack batch` over a library of many short clips, against the shell loop users
# write today (one `ssfpack INPUT -o DIR` per file), on the same files in one run; then the rerun
# of the batch, which skips everything (the resume check).
#
#   bench/batch.sh [--clips N] [--seconds S] [--size WxH] [--dir DIR] [--keep]
#
# Makes N clips (default 48) of S seconds (default 2), WxH (default 640x360) 25 fps H.264 + AAC,
# in 4 folders, once under DIR (default /tmp/ssfpack-bench-batch); builds ssfpack in release mode
# (SSFPACK_BIN=PATH uses that binary); runs, with the default ladder and preset:
#   1. loop:  for f in …; do ssfpack "$f" -o OUT/…; done   (sequential, --threads = all cores)
#   2. batch: ssfpack batch LIB -o OUT                      (default plan: cores / 1 files at once)
#   3. rerun: the same batch again (everything up to date)
# and prints wall time, CPU-seconds and peak RSS of each (GNU time), and the ratio.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh
clips=48
seconds=2
size=640x360
dir=/tmp/ssfpack-bench-batch
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clips) clips="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --size) size="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "batch.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

bin=$(ssfpack_bin)
lib="$dir/library-${clips}x${seconds}s-$size"
if [ ! -f "$lib/.complete" ]; then
  echo "bench: generating $clips clips of $seconds s ($size) in $lib (once)" >&2
  rm -rf "$lib"
  for ((i = 0; i < clips; i++)); do
    folder="$lib/show $((i % 4))"
    mkdir -p "$folder"
    ff -f lavfi -i "testsrc2=size=$size:rate=25:duration=$seconds" \
      -f lavfi -i "sine=frequency=$((300 + i)):sample_rate=48000:duration=$seconds" \
      -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -g 50 -c:a aac -b:a 128k "$folder/clip $i.mp4"
  done
  touch "$lib/.complete"
fi

# measure KEY LABEL CMD...: GNU time's wall, user+sys and max RSS for CMD.
declare -A WALL
measure() {
  local key=$1 name=$2 t
  shift 2
  t=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >/dev/null
  read -r wall user sys rss <"$t"
  rm -f "$t"
  WALL[$key]=$wall
  printf '| %-34s | %7.2f s | %6.1f | %5d MiB |\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))"
}

# The shell loop (run by /usr/bin/time as its own bash): one ssfpack per file, in order.
LOOP='while IFS= read -r -d "" f; do rel=${f#"$1"/}; "$3" "$f" -o "$2/${rel%.*}" --quiet; done < <(find "$1" -name "*.mp4" -print0 | sort -z)'

out="$dir/out"
rm -rf "$out"
mkdir -p "$out"
echo "bench: $clips clips x $seconds s, $size, $CORES cores, $("$bin" --version)"
echo "| method | wall | CPU-s | peak RSS |"
echo "|---|---|---|---|"
measure loop "shell loop of \`ssfpack IN -o DIR\`" bash -c "$LOOP" _ "$lib" "$out/loop" "$bin"
measure batch "\`ssfpack batch\`" "$bin" batch "$lib" -o "$out/batch" --quiet
measure rerun "\`ssfpack batch\` rerun (all up to date)" "$bin" batch "$lib" -o "$out/batch" --quiet
printf 'batch / loop wall: %.2f; rerun %.2f s for %d files\n' "$(echo "${WALL[batch]} / ${WALL[loop]}" | bc -l)" "${WALL[rerun]}" "$clips"
n_loop=$(find "$out/loop" -name '*.ism' | wc -l)
n_batch=$(find "$out/batch" -name '*.ism' | wc -l)
echo "presentations: loop $n_loop, batch $n_batch"
[ "$n_loop" = "$clips" ] && [ "$n_batch" = "$clips" ] || { echo "batch.sh: missing outputs" >&2; exit 1; }
first=$(find "$out/batch" -name '*.ism' -print -quit)
"$bin" check "$(dirname "$first")" >/dev/null
[ "$keep" = 1 ] || rm -rf "$out"
