# bench/lib.sh: helpers shared by the bench scripts (sourced, not run).
#
# Sources are generated with ffmpeg's lavfi (nothing downloaded), cached under $BENCH_DIR; times and
# peak RSS come from GNU time (`/usr/bin/time`), CPU-seconds are user + system of the whole process
# tree. Every figure a script prints comes with the exact command line that produced it.

BENCH_DIR=${BENCH_DIR:-/tmp/ssfpack-bench}
CORES=$(nproc)

# ff ARGS...: ffmpeg, quiet; with BENCH_SHOW=1 prints the command line instead of running it.
ff() {
  if [ "${BENCH_SHOW:-0}" = 1 ]; then
    printf '    ffmpeg -nostdin -y'; printf ' %q' "$@"; echo
  else
    ffmpeg -nostdin -hide_banner -loglevel error -y "$@"
  fi
}

# ssfpack_bin: builds the release binary (CARGO_TARGET_DIR is honoured) and prints its path;
# SSFPACK_BIN=PATH uses that binary instead.
ssfpack_bin() {
  local root target
  if [ -n "${SSFPACK_BIN:-}" ]; then echo "$SSFPACK_BIN"; return; fi
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  (cd "$root" && cargo build --release --quiet) >&2
  target=${CARGO_TARGET_DIR:-$root/target}
  echo "$target/release/ssfpack"
}

# make_source SECONDS [grain]: a 1080p 29.97 fps H.264 High (x264 veryfast CRF 20, B-frames,
# 2 s GOPs) + AAC stereo 48 kHz clip with motion (testsrc2) and, with `grain`, temporal film grain
# (noise=alls=10:allf=t+u, ~25 Mbit/s: a mezzanine-like decode load). Prints its path.
make_source() {
  local seconds=$1 grain=${2:-grain} path vf
  path="$BENCH_DIR/src-1080p-${seconds}s-$grain.mp4"
  if [ ! -s "$path" ]; then
    mkdir -p "$BENCH_DIR"
    vf="testsrc2=size=1920x1080:rate=30000/1001:duration=$seconds"
    [ "$grain" = grain ] && vf="$vf,noise=alls=10:allf=t+u"
    echo "bench: generating $path (once)" >&2
    ff -f lavfi -i "$vf" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
      -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -g 60 -c:a aac -b:a 192k -ac 2 "$path.tmp.mp4"
    mv "$path.tmp.mp4" "$path"
  fi
  echo "$path"
}

# x264_args WxH BITRATE_K PRESET: libx264 exactly as ssfpack configures a rung (src/media/x264.rs):
# High profile, maxrate = bitrate, bufsize = 2 x bitrate, closed GOPs, keyint 2 fragments, IDRs forced
# on the 2 s fragment grid. Threads are left to ffmpeg (auto), as a user would.
# Sets the array X264.
x264_args() {
  local kbps=$2 preset=$3
  X264=(-c:v libx264 -preset "$preset" -profile:v high -pix_fmt yuv420p -b:v "${kbps}k" -maxrate "${kbps}k"
    -bufsize "$((2 * kbps))k" -g 120 -keyint_min 60 -x264-params open-gop=0 -forced-idr 1
    -force_key_frames 'expr:gte(t,n_forced*2)')
}

# ffmpeg_ladder SRC OUTDIR PRESET RUNG...: the whole ladder in one ffmpeg process (one decode,
# split + scale per rung, one libx264 per rung, AAC once), -f ismv outputs. RUNG is WxH@KBPS.
ffmpeg_ladder() {
  local src=$1 out=$2 preset=$3 n i fc maps=()
  shift 3
  n=$#
  fc="[0:v]split=$n"
  for ((i = 0; i < n; i++)); do fc="$fc[s$i]"; done
  i=0
  for r in "$@"; do
    local size=${r%@*} kbps=${r#*@}
    fc="$fc;[s$i]scale=${size/x/:}[o$i]"
    x264_args "$size" "$kbps" "$preset"
    maps+=(-map "[o$i]" "${X264[@]}" -f ismv "$out/v$i.ismv")
    i=$((i + 1))
  done
  mkdir -p "$out"
  ff -i "$src" -filter_complex "$fc" "${maps[@]}" -map 0:a -c:a aac -b:a 128k -f ismv "$out/audio.isma"
}

# naive_ladder SRC OUTDIR PRESET RUNG...: the script users write: one ffmpeg run per rung (each
# decodes the source again), then one for the audio.
naive_ladder() {
  local src=$1 out=$2 preset=$3 i=0
  shift 3
  mkdir -p "$out"
  for r in "$@"; do
    local size=${r%@*} kbps=${r#*@}
    x264_args "$size" "$kbps" "$preset"
    ff -i "$src" -vf "scale=${size/x/:}" "${X264[@]}" -an -f ismv "$out/v$i.ismv"
    i=$((i + 1))
  done
  ff -i "$src" -vn -c:a aac -b:a 128k -f ismv "$out/audio.isma"
}

# ssfpack_ladder BIN SRC OUTDIR PRESET RUNG...
ssfpack_ladder() {
  local bin=$1 src=$2 out=$3 preset=$4 ladder
  shift 4
  ladder=$(IFS=,; echo "$*" | sed 's/@\([0-9]*\)/@\1k/g')
  if [ "${BENCH_SHOW:-0}" = 1 ]; then
    printf '    ssfpack %q -o %q --ladder %q --x264-preset %q --quiet\n' "$src" "$out" "$ladder" "$preset"
    return
  fi
  rm -rf "$out"
  "$bin" "$src" -o "$out" --ladder "$ladder" --x264-preset "$preset" --quiet
}

# timed LABEL CMD...: runs CMD under GNU time; appends "LABEL wall cpu maxrss_kib" to $TIMES.
# BENCH_NICE=-10 (root) runs it at a higher priority than the other jobs of a shared machine, so
# that wall times approach those of an idle one (each method gets the same treatment).
timed() {
  local label=$1 tf
  shift
  tf=$(mktemp)
  if [ -n "${BENCH_NICE:-}" ]; then set -- nice -n "$BENCH_NICE" "$@"; fi
  /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@"
  read -r wall user sys rss < "$tf"
  rm -f "$tf"
  echo "$label $wall $(echo "$user + $sys" | bc -l) $rss" >> "$TIMES"
}

# timed_fn LABEL FUNCTION ARGS...: `timed` for a shell function of the calling script; the variables
# named in $EXPORTS are passed along.
timed_fn() {
  local label=$1
  shift
  # shellcheck disable=SC2086
  timed "$label" bash -c "set -euo pipefail; $(declare -f); $(declare -p $EXPORTS); $(printf '%q ' "$@")"
}

# best LABEL: the run of LABEL with the smallest wall time, as "wall cpu rss".
best() { awk -v l="$1" '$1 == l { print $2, $3, $4 }' "$TIMES" | sort -g | head -n 1; }

# ratio A B: A / B with 2 decimals.
ratio() { echo "scale=4; $1 / $2" | bc -l | xargs printf '%.2f'; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
