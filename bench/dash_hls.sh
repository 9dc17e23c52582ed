#!/usr/bin/env bash
# bench/dash_hls.sh: DASH/HLS segment requests per second against Smooth fragment requests per
# second of the same presentation, from one `ssfpack serve`, with wrk on loopback, in one run. Each
# request list walks every fragment of every rung and the audio in turn; the DASH (mpd-time-csf) and
# HLS (m3u8-cmaf) lists are the same fragments as segments (the Smooth fragment with a tfdt, built
# once and kept in the fragment cache), and the TS list the m3u8-aapl segments (that segment remuxed
# to MPEG-TS by FFmpeg, kept there too). The figure is the ratio (goal >= 0.9: the rewrite must be
# cheap).
#
#   bench/dash_hls.sh [--duration S] [--connections N] [--threads N]
#
# Defaults: 10 s per list, 32 connections, 1 wrk thread; the best of three rounds. SSFPACK_BIN=PATH
# uses that binary instead of a release build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

duration=10 conns=32 threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "dash_hls.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk > /dev/null || { echo "dash_hls.sh: needs wrk (apt-get install wrk)" >&2; exit 2; }

bin=$(ssfpack_bin)
dir="$BENCH_DIR/dash_hls"
pres="$dir/root/movie"
if [ ! -f "$dir/done" ]; then
  rm -rf "$dir" && mkdir -p "$dir/root"
  src=$(make_source 20 clean)
  "$bin" "$src" -o "$pres" --name movie --ladder 1280x720@3400k,640x360@1000k,320x180@400k --x264-preset ultrafast --quiet
  "$bin" split "$pres" --out "$dir/split" > /dev/null
  touch "$dir/done"
fi

# The Smooth fragment URLs, and the same fragments as DASH and HLS segments.
(cd "$dir/split" && find . -path '*QualityLevels(*)/Fragments(*' | sed 's|^\./||' | sort) > "$dir/smooth.txt"
sed 's/)$/,format=mpd-time-csf)/' "$dir/smooth.txt" > "$dir/dash.txt"
sed 's/)$/,format=m3u8-cmaf)/' "$dir/smooth.txt" > "$dir/hls.txt"
sed 's/)$/,format=m3u8-aapl)/' "$dir/smooth.txt" > "$dir/ts.txt"
n=$(wc -l < "$dir/smooth.txt")
cat > "$dir/urls.lua" <<'LUA'
local urls = {}
for line in io.lines(os.getenv("LIST")) do urls[#urls + 1] = line end
local i = 0
request = function()
  i = i % #urls + 1
  return wrk.format("GET", "/movie/movie.ism/" .. urls[i])
end
LUA

port=18482
"$bin" serve "$dir/root" --addr "127.0.0.1:$port" --access-log off > "$dir/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2> /dev/null || true' EXIT
for _ in $(seq 50); do curl -fso /dev/null "http://127.0.0.1:$port/" -m 1 && break || sleep 0.1; done
for list in smooth dash hls ts; do
  first=$(head -n 1 "$dir/$list.txt")
  curl -fso /dev/null "http://127.0.0.1:$port/movie/movie.ism/$first" || { echo "dash_hls.sh: $first is not served" >&2; exit 1; }
done

echo "== $n fragments × 4 forms, wrk -t$threads -c$conns -d${duration}s, load at start: $(load)"
echo "    LIST=$dir/smooth.txt wrk -t$threads -c$conns -d${duration}s --latency -s $dir/urls.lua http://127.0.0.1:$port"
declare -A rps p99
# Three rounds, the order rotated each round (a loaded machine favours whichever runs first).
orders=("smooth dash hls ts" "dash hls ts smooth" "hls ts smooth dash")
for round in 1 2 3; do
  for list in ${orders[$((round - 1))]}; do
    r=$(LIST="$dir/$list.txt" wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s "$dir/urls.lua" "http://127.0.0.1:$port")
    echo "$r" | grep -E 'Requests/sec|Non-2xx|Socket errors' | sed "s/^/  [$list #$round] /"
    v=$(echo "$r" | awk '/Requests\/sec/ { print $2 }')
    q=$(echo "$r" | awk '$1 == "99%" { print $2 }')
    if [ -z "${rps[$list]:-}" ] || [ "$(echo "$v > ${rps[$list]}" | bc -l)" = 1 ]; then rps[$list]=$v; p99[$list]=$q; fi
  done
done
printf '  %-8s %12s %10s\n' form "requests/s" "p99"
for list in smooth dash hls ts; do printf '  %-8s %12s %10s\n' "$list" "${rps[$list]}" "${p99[$list]}"; done
echo "  dash/smooth requests/s: $(ratio "${rps[dash]}" "${rps[smooth]}") (goal >= 0.9)"
echo "  hls/smooth requests/s: $(ratio "${rps[hls]}" "${rps[smooth]}") (goal >= 0.9)"
echo "  ts/smooth requests/s: $(ratio "${rps[ts]}" "${rps[smooth]}")"
