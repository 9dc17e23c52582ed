#!/usr/bin/env bash
# bench/live.sh: a live publishing point in `ssfpack serve`, two figures in one run.
#  1. Latency: a recorded FFmpeg ingest stream (`-movflags isml+frag_keyframe -f ismv`) is pushed box
#     by box (bench/live_push.py); for each video fragment, the time from the last byte of its
#     successor (which its tfrf must name) to the fragment being listed in the live manifest and
#     answered 200. p50/p99.
#  2. Viewers: wrk requests the live manifest and the listed fragments, in turn, from `ssfpack serve`
#     (the event still live), and the same bytes saved as files from nginx; requests/s ratio.
#
#   bench/live.sh [--seconds S] [--duration S] [--connections N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

seconds=120 duration=10 conns=32
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "live.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk > /dev/null && command -v nginx > /dev/null || { echo "live.sh: needs wrk and nginx" >&2; exit 2; }
bin=$(ssfpack_bin)
dir="$BENCH_DIR/live"
rm -rf "$dir" && mkdir -p "$dir/root" "$dir/static"
ff -f lavfi -i "testsrc2=s=1280x720:r=25:d=$seconds" -f lavfi -i "sine=frequency=440:sample_rate=48000:d=$seconds" \
  -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -b:v 3000k -pix_fmt yuv420p -c:a aac -b:a 128k \
  -movflags isml+frag_keyframe -f ismv "$dir/stream.ismv"
"$bin" live create "$dir/root/Live.isml" 2> /dev/null
port_ssf=18490 port_ngx=18491
"$bin" serve "$dir/root" --addr "127.0.0.1:$port_ssf" --access-log off > "$dir/serve.log" 2>&1 &
ssf_pid=$!
trap 'kill $ssf_pid ${ngx_pid:-} 2> /dev/null || true' EXIT
for _ in $(seq 50); do curl -fso /dev/null "http://127.0.0.1:$port_ssf/" -m 1 && break || sleep 0.1; done

echo "== latency ($seconds s stream, 2 s fragments, 1280x720 3 Mbit/s + AAC), load at start: $(load)"
echo "    python3 bench/live_push.py 127.0.0.1 $port_ssf /Live.isml $dir/stream.ismv"
python3 bench/live_push.py 127.0.0.1 $port_ssf /Live.isml "$dir/stream.ismv" | sed 's/^/  /'

# The same answers as static files for nginx: the live manifest and every listed fragment.
curl -fs "http://127.0.0.1:$port_ssf/Live.isml/Manifest" > "$dir/static/Manifest"
python3 - "$dir" <<'PY' > "$dir/urls.txt"
import re, sys
xml = open(sys.argv[1] + "/static/Manifest").read()
for si in re.finditer(r'<StreamIndex[^>]*Name="([^"]+)".*?</StreamIndex>', xml, re.S):
    name, block = si.group(1), si.group(0)
    rates = re.findall(r'Bitrate="(\d+)"', block)
    t = 0
    for c in re.finditer(r'<c( t="(\d+)")? d="(\d+)"( r="(\d+)")?', block):
        if c.group(2): t = int(c.group(2))
        for _ in range(int(c.group(5) or 1)):
            for b in rates: print(f"QualityLevels({b})/Fragments({name}={t})")
            t += int(c.group(3))
PY
while read -r u; do
  mkdir -p "$dir/static/$(dirname "$u")"
  curl -fs "http://127.0.0.1:$port_ssf/Live.isml/$u" > "$dir/static/$u"
done < "$dir/urls.txt"
# Every 10th request is the manifest, as when many viewers join.
awk '{ print } NR % 9 == 0 { print "Manifest" }' "$dir/urls.txt" > "$dir/mixed.txt"
cat > "$dir/urls.lua" <<LUA
local urls = {}
for line in io.lines("$dir/mixed.txt") do urls[#urls + 1] = line end
local base = os.getenv("BASE") or "/"
local i = 0
request = function() i = i % #urls + 1; return wrk.format("GET", base .. urls[i]) end
LUA
cat > "$dir/nginx.conf" <<NGX
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; keepalive_requests 1000000; default_type video/mp4;
  server { listen 127.0.0.1:$port_ngx; root $dir/static; } }
NGX
nginx -c "$dir/nginx.conf" &
ngx_pid=$!
for _ in $(seq 50); do curl -fso /dev/null "http://127.0.0.1:$port_ngx/Manifest" -m 1 && break || sleep 0.1; done
n=$(wc -l < "$dir/urls.txt")
echo "== viewers: live manifest + $n listed fragments, wrk -t1 -c$conns -d${duration}s, load: $(load)"
declare -A rps
for s in ssfpack nginx; do
  if [ $s = ssfpack ]; then base=/Live.isml/ port=$port_ssf; else base=/ port=$port_ngx; fi
  r=$(BASE=$base wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$dir/urls.lua" "http://127.0.0.1:$port")
  echo "$r" | grep -E 'Requests/sec|Non-2xx|99%' | sed "s/^/  [$s] /"
  rps[$s]=$(echo "$r" | awk '/Requests\/sec/ { print $2 }')
done
echo "  ssfpack/nginx requests/s (live manifest + fragments): $(ratio "${rps[ssfpack]}" "${rps[nginx]}")"
