#!/usr/bin/env bash
# bench/origin.sh: fragment requests per second and latency of `ssfpack serve` against nginx (Debian
# package) serving the pre-split layout (`ssfpack split`) of the same presentation, with wrk on
# loopback. Every request is a real fragment (video rungs and audio, in turn, from a URL list), so both
# servers answer the same bytes.
#
#   bench/origin.sh [--duration S] [--connections N] [--threads N]
#
# Defaults: 10 s per server, 32 connections, 1 wrk thread (on 2 cores, wrk competes with the
# server for CPU: the ratio is the figure, not the absolute rate).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. bench/lib.sh

duration=10 conns=32 threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift ;;
    --connections) conns=$2; shift ;;
    --threads) threads=$2; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "origin.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
command -v wrk > /dev/null && command -v nginx > /dev/null || { echo "origin.sh: needs wrk and nginx (apt-get install wrk nginx)" >&2; exit 2; }

bin=$(ssfpack_bin)
dir="$BENCH_DIR/origin"
pres="$dir/root/movie"
if [ ! -f "$dir/done" ]; then
  rm -rf "$dir" && mkdir -p "$dir/root"
  src=$(make_source 20 clean)
  "$bin" "$src" -o "$pres" --name movie --ladder 1280x720@3400k,640x360@1000k,320x180@400k --x264-preset ultrafast --quiet
  "$bin" split "$pres" --out "$dir/split" > /dev/null
  touch "$dir/done"
fi

# The same fragment URLs for both servers, relative to each one's base.
(cd "$dir/split" && find . -path '*QualityLevels(*)/Fragments(*' | sed 's|^\./||' | sort) > "$dir/urls.txt"
n=$(wc -l < "$dir/urls.txt")
bytes=$(cd "$dir/split" && tr '\n' '\0' < "$dir/urls.txt" | xargs -0 cat | wc -c)
cat > "$dir/urls.lua" <<LUA
local urls = {}
for line in io.lines("$dir/urls.txt") do urls[#urls + 1] = line end
local base = os.getenv("BASE") or "/"
local i = 0
request = function()
  i = i % #urls + 1
  return wrk.format("GET", base .. urls[i])
end
LUA

port_ssf=18480 port_ngx=18481
cat > "$dir/nginx.conf" <<NGX
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { application/vnd.ms-sstr+xml Manifest; }
  default_type video/mp4;
  server {
    listen 127.0.0.1:$port_ngx;
    root $dir/split;
  }
}
NGX

"$bin" serve "$dir/root" --addr "127.0.0.1:$port_ssf" --access-log off > "$dir/serve.log" 2>&1 &
ssf_pid=$!
nginx -c "$dir/nginx.conf" &
ngx_pid=$!
trap 'kill $ssf_pid $ngx_pid 2> /dev/null || true' EXIT
for p in $port_ssf $port_ngx; do
  for _ in $(seq 50); do curl -fso /dev/null "http://127.0.0.1:$p/" -m 1 && break || sleep 0.1; done
done
first=$(head -n 1 "$dir/urls.txt")
cmp <(curl -fs "http://127.0.0.1:$port_ssf/movie/movie.ism/$first") <(curl -fs "http://127.0.0.1:$port_ngx/$first") \
  || { echo "origin.sh: the two servers answer different bytes for $first" >&2; exit 1; }

echo "== $n fragment URLs ($((bytes / n / 1024)) KiB average), wrk -t$threads -c$conns -d${duration}s, load at start: $(load)"
echo "    BASE=/movie/movie.ism/ wrk -t$threads -c$conns -d${duration}s --latency -s $dir/urls.lua http://127.0.0.1:$port_ssf"
echo "    BASE=/ wrk -t$threads -c$conns -d${duration}s --latency -s $dir/urls.lua http://127.0.0.1:$port_ngx"
run_wrk() { BASE=$1 wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s "$dir/urls.lua" "http://127.0.0.1:$2"; }
declare -A rps p99
for round in 1 2; do
  for s in ssfpack nginx; do
    if [ "$s" = ssfpack ]; then r=$(run_wrk /movie/movie.ism/ $port_ssf); else r=$(run_wrk / $port_ngx); fi
    echo "$r" | grep -E 'Requests/sec|Non-2xx|Socket errors' | sed "s/^/  [$s #$round] /"
    v=$(echo "$r" | awk '/Requests\/sec/ { print $2 }')
    q=$(echo "$r" | awk '$1 == "99%" { print $2 }')
    if [ -z "${rps[$s]:-}" ] || [ "$(echo "$v > ${rps[$s]}" | bc -l)" = 1 ]; then rps[$s]=$v; p99[$s]=$q; fi
  done
done
printf '  %-8s %12s %10s\n' server "requests/s" "p99"
for s in ssfpack nginx; do printf '  %-8s %12s %10s\n' "$s" "${rps[$s]}" "${p99[$s]}"; done
echo "  ssfpack/nginx requests/s: $(ratio "${rps[ssfpack]}" "${rps[nginx]}") (goal >= 0.8)"
