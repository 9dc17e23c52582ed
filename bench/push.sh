#!/usr/bin/env bash
# bench/push.sh: `ssfpack push` into `ssfpack serve`, against FFmpeg pushing the same ladder, in one run.
#  1. Real time: for each ladder, largest first, `ssfpack push SRC URL --ladder L` (default preset
#     `fast`, paced at real time) and `ffmpeg -re -i SRC -filter_complex split… -f ismv URL` (one
#     process, x264 as ssfpack configures it). A push keeps real time when it never warns that it is
#     behind (its decode more than 2 s behind the wall clock); FFmpeg, when its wall time is within
#     2 s of the source's length. The largest ladder that keeps real time is the figure.
#  2. Encoder-to-listed latency: while ssfpack pushes (`--start-time now`: fragment times are UTC),
#     the live manifest is polled every 50 ms; for each video fragment, the wall time it is first
#     listed minus the UTC time its last frame was due (its end). p50/p99/max.
#
#   bench/push.sh [--seconds S] [--ladders "L1;L2;…"]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

seconds=30
ladders="1280x720@3400,640x360@1000,320x180@400;960x540@2000,640x360@1000,320x180@400;640x360@1000,320x180@400;320x180@400"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --ladders) ladders=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "push.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
bin=$(ssfpack_bin)
src=$(make_source "$seconds" plain)
dir="$BENCH_DIR/push"
rm -rf "$dir" && mkdir -p "$dir/root"
"$bin" live create "$dir/root/Show.isml" 2> /dev/null
"$bin" live create "$dir/root/FF.isml" 2> /dev/null
port=18495
"$bin" serve "$dir/root" --addr "127.0.0.1:$port" --access-log off > "$dir/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2> /dev/null || true' EXIT
for _ in $(seq 50); do curl -fso /dev/null "http://127.0.0.1:$port/" -m 1 && break || sleep 0.1; done

# poll_latency OUT: first-listed wall time of every video fragment of Show's live manifest.
poll_latency() {
  python3 - "$port" "$1" <<'PY'
import re, sys, time, urllib.request
port, out = sys.argv[1], sys.argv[2]
# Polls until the event has been listed and then stops being live (or 2 s of errors), at most 10 min.
seen, misses, end = {}, 0, time.time() + 600
while misses < 40 and time.time() < end:
    try:
        xml = urllib.request.urlopen(f"http://127.0.0.1:{port}/Show.isml/Manifest", timeout=2).read().decode()
    except Exception:
        misses += 1 if seen else 0; time.sleep(0.05); continue
    now = time.time()
    if 'ISLIVE="TRUE"' not in xml.upper():
        # Before the push (the previous event, on demand) or after its end.
        misses += 1 if seen else 0; time.sleep(0.05); continue
    block = re.search(r'<StreamIndex[^>]*Type="video".*?</StreamIndex>', xml, re.S)
    t = 0
    for c in re.finditer(r'<c( t="(\d+)")? d="(\d+)"( r="(\d+)")?', block.group(0) if block else ""):
        if c.group(2): t = int(c.group(2))
        for _ in range(int(c.group(5) or 1)):
            d = int(c.group(3)); seen.setdefault(t, (d, now)); t += d
    misses = 0
    time.sleep(0.05)
with open(out, "w") as f:
    for t, (d, w) in sorted(seen.items()):
        f.write(f"{w - (t + d) / 1e7:.3f}\n")
PY
}

echo "== $seconds s source $(basename "$src"), default preset (fast), $CORES cores, load at start: $(load)"
best_ssf="" best_ff=""
IFS=';' read -ra list <<< "$ladders"
for l in "${list[@]}"; do
  IFS=',' read -ra rungs <<< "$l"
  ladder=$(echo "$l" | sed 's/@\([0-9]*\)/@\1k/g')
  echo "-- ladder $ladder (+ AAC 128k), load: $(load)"
  echo "    ssfpack push $src http://127.0.0.1:$port/Show.isml/Streams(cam1) --ladder $ladder --json"
  poll_latency "$dir/latency.txt" & poll_pid=$!
  start=$(date +%s.%N)
  "$bin" push "$src" "http://127.0.0.1:$port/Show.isml/Streams(cam1)" --ladder "$ladder" --json \
    > "$dir/push.json" 2> "$dir/push.err" || { echo "  push failed: $(tail -1 "$dir/push.err")"; }
  wall=$(echo "$(date +%s.%N) - $start" | bc -l)
  wait $poll_pid || true
  behind=$(grep -c 'behind real time' "$dir/push.err" || true)
  speed=$(python3 -c "import json;print('%.2f' % json.load(open('$dir/push.json'))['speed'])" 2> /dev/null || echo "?")
  lat=$(sort -g "$dir/latency.txt" | awk '{ a[NR] = $1 } END { if (NR) printf "p50 %.2f s, p99 %.2f s, max %.2f s (%d fragments)", a[int(NR*0.5+0.5)], a[int(NR*0.99+0.5)], a[NR], NR }')
  printf '  [ssfpack] wall %.1f s, media/wall %s, behind-real-time warnings: %s; encoder-to-listed %s\n' "$wall" "$speed" "$behind" "$lat"
  [ "$behind" = 0 ] && [ -z "$best_ssf" ] && best_ssf=$ladder
  # FFmpeg: one process, split + scale per rung, -re, one ismv push with every track.
  fc="[0:v]split=${#rungs[@]}"; maps=()
  for ((i = 0; i < ${#rungs[@]}; i++)); do fc="$fc[s$i]"; done
  for ((i = 0; i < ${#rungs[@]}; i++)); do
    size=${rungs[$i]%@*} kbps=${rungs[$i]#*@}
    fc="$fc;[s$i]scale=${size/x/:}[o$i]"
    maps+=(-map "[o$i]" "-c:v:$i" libx264 "-b:v:$i" "${kbps}k" "-maxrate:v:$i" "${kbps}k" "-bufsize:v:$i" "$((2 * kbps))k")
  done
  # x264 as in bench/lib.sh's x264_args (ssfpack's settings), once for every rung.
  common=(-preset fast -profile:v high -pix_fmt yuv420p -g 120 -keyint_min 60 -x264-params open-gop=0 -forced-idr 1
    -force_key_frames 'expr:gte(t,n_forced*2)')
  cmd=(ffmpeg -nostdin -hide_banner -loglevel error -re -i "$src" -filter_complex "$fc" "${maps[@]}" "${common[@]}" -map 0:a -c:a aac -b:a 128k
    -movflags isml+frag_keyframe -f ismv "http://127.0.0.1:$port/FF.isml/Streams(ff)")
  echo "    ${cmd[*]}"
  start=$(date +%s.%N)
  "${cmd[@]}" 2> "$dir/ff.err" || echo "  ffmpeg failed: $(tail -1 "$dir/ff.err")"
  ffwall=$(echo "$(date +%s.%N) - $start" | bc -l)
  keeps=$(echo "$ffwall <= $seconds + 2" | bc -l)
  printf '  [ffmpeg]  wall %.1f s for %s s of media (%s)\n' "$ffwall" "$seconds" "$([ "$keeps" = 1 ] && echo "keeps real time" || echo "behind")"
  [ "$keeps" = 1 ] && [ -z "$best_ff" ] && best_ff=$ladder
  [ -n "$best_ssf" ] && [ -n "$best_ff" ] && break
done
echo "== largest ladder at >= 1.0x real time: ssfpack push ${best_ssf:-none}; ffmpeg ${best_ff:-none}"
