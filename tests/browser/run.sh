#!/usr/bin/env bash
# Browser tests: package a generated 30 s clip with a 3-rung ladder, serve it with `ssfpack serve` and,
# split, with a plain static server (python3 -m http.server), then play both with dash.js 5 and Shaka
# 4.16 in Debian's chromium (playwright-core) (playback.test.mjs). Live (live.test.mjs): FFmpeg
# encodes a generated source in real time and pushes it (`-f ismv`) to a publishing point of the same
# `ssfpack serve` from the start, so the event is long enough to seek back in by the time it is played
# with dash.js. DASH/HLS (dash_hls.test.mjs): dash.js 5, Shaka 5 and hls.js play the MPD and the fMP4
# HLS of a short clip from the origin and from its `--layout dash,hls` files, and the NAME.html of such a
# folder. Prints one closing line "N passed, M failed" for both; non-zero exit on failure.
# Screenshots: target/browser-screenshots/. Set ONLY=<title part> to run one scenario.
# The binary is the dev build that `cargo test` already made (packaging this clip takes as long as with
# a release build, and a fresh release build alone would take most of the time budget);
# SSFPACK_PROFILE=release uses target/release instead; CARGO_TARGET_DIR is honoured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
profile="${SSFPACK_PROFILE:-dev}"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$profile" in
  dev) bin="$target/debug/ssfpack" ;;
  release) bin="$target/release/ssfpack" ;;
  *) echo "SSFPACK_PROFILE must be dev or release" >&2; exit 2 ;;
esac
work=$(mktemp -d "${TMPDIR:-/tmp}/ssfpack-browser.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "browser tests: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (apt-get install chromium)"
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/dashjs" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
fi
(cd "$repo" && cargo build --quiet --profile "$profile" --bin ssfpack) || fail "cargo build failed"

# A 30 s clip (so that 10 s of playback and a seek to 24 s fit), 3 rungs, 2 s fragments.
ffmpeg -nostdin -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=s=640x360:r=25:d=30" -f lavfi -i "sine=frequency=440:sample_rate=48000:d=30" \
  -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 96k -shortest "$work/clip.mp4" || fail "ffmpeg failed"
mkdir -p "$work/origin" "$work/static/js"
"$bin" "$work/clip.mp4" -o "$work/origin/clip" --name clip -q \
  --ladder 640x360@900k,480x270@500k,320x180@250k --x264-preset veryfast || fail "packaging failed"

# In the origin's folder too: a pre-split copy (listed on the index page, played by /_player/) and a
# portrait clip (the page's box must follow the picture).
"$bin" split "$work/origin/clip" --out "$work/origin/clip-static" >/dev/null || fail "split --out failed"
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=180x320:r=25:d=4" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/portrait.mp4" || fail "ffmpeg (portrait) failed"
"$bin" "$work/portrait.mp4" -o "$work/origin/portrait" --name portrait -q \
  --ladder 180x320@300k,90x160@100k --x264-preset ultrafast || fail "packaging (portrait) failed"

# Text tracks (text.test.mjs): a 6 s clip with mov_text subtitles in English and French.
printf '1\n00:00:00,500 --> 00:00:01,750\nHello world\n\n2\n00:00:02,200 --> 00:00:04,600\nSecond cue\non two lines\n' >"$work/en.srt"
printf '1\n00:00:01,000 --> 00:00:02,500\nBonjour\n' >"$work/fr.srt"
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=6" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:d=6" -i "$work/en.srt" -i "$work/fr.srt" \
  -map 0 -map 1 -map 2 -map 3 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -c:s mov_text \
  -metadata:s:s:0 language=eng -metadata:s:s:1 language=fre "$work/subs.mp4" || fail "ffmpeg (subs) failed"
"$bin" "$work/subs.mp4" -o "$work/origin/subs" --name subs -q --ladder 320x180@300k \
  --x264-preset ultrafast || fail "packaging (subs) failed"

# Two audio languages (eng, fra: 440 and 660 Hz), for the page's audio-language menu.
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "testsrc2=s=320x180:r=25:d=8" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:d=8" -f lavfi -i "sine=frequency=660:sample_rate=48000:d=8" \
  -map 0:v -map 1:a -map 2:a -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac \
  -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra "$work/langs.mkv" || fail "ffmpeg (langs) failed"
"$bin" "$work/langs.mkv" -o "$work/origin/langs" --name langs -q \
  --ladder 320x180@300k,160x90@100k --x264-preset ultrafast || fail "packaging (langs) failed"

# The static site: the split layout alone (no .ism/.ismc/.ismv/.isma), dash.js/Shaka from node_modules.
cp -r "$work/origin/clip" "$work/static/clip"
"$bin" split "$work/static/clip" --player-js-base /js/dashjs/modern/umd/ || fail "split failed"
rm -f "$work/static/clip/"*.ism "$work/static/clip/"*.ismc "$work/static/clip/"*.ismv "$work/static/clip/"*.isma
ln -s "$here/node_modules/dashjs/dist" "$work/static/js/dashjs"
ln -s "$here/node_modules/shaka-player/dist" "$work/static/js/shaka"
ln -s "$here/node_modules/codem-isoboxer/dist" "$work/static/js/isoboxer"
cp "$here/shaka.html" "$work/static/shaka.html"
# The page `ssfpack INPUT -o DIR` writes (dash.js from the CDN), on a host that is not ssfpack serve.
cp "$work/origin/clip/clip.html" "$work/static/clip/cdn.html"

# DASH/HLS (dash_hls.test.mjs): a 16 s clip, 2 rungs, packaged with --layout ism,dash,hls,hls-ts; its
# DASH/HLS files alone on the static site; dash.js, Shaka 5 and hls.js from node_modules.
ffmpeg -nostdin -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=s=480x270:r=25:d=16" -f lavfi -i "sine=frequency=440:sample_rate=48000:d=16" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 96k -shortest "$work/dh.mp4" || fail "ffmpeg (dh) failed"
"$bin" "$work/dh.mp4" -o "$work/origin/dh" --name dh -q --ladder 480x270@600k,240x136@200k \
  --x264-preset ultrafast --layout ism,dash,hls,hls-ts || fail "packaging (dh) failed"
mkdir -p "$work/static/dh"
cp -r "$work/origin/dh/cmaf" "$work/origin/dh/ts" "$work/origin/dh/dh.mpd" "$work/origin/dh/dh.m3u8" \
  "$work/origin/dh/dh-ts.m3u8" "$work/static/dh/"
# The NAME.html of a folder with no Smooth manifest (dash_hls.test.mjs): `--layout dash,hls` (dash.js
# plays the MPD), `split --layout hls` and `--layout hls-ts` (HLS alone: the browser's own HLS).
"$bin" "$work/dh.mp4" -o "$work/static/dh-page" --name dh -q --ladder 480x270@600k,240x136@200k \
  --x264-preset ultrafast --layout dash,hls --player-js-base /js/dashjs/modern/umd/ || fail "packaging (dh-page) failed"
"$bin" split "$work/origin/dh" --layout hls --out "$work/static/dh-page-hls" \
  --player-js-base /js/dashjs/modern/umd/ >/dev/null || fail "split --layout hls failed"
"$bin" split "$work/origin/dh" --layout hls-ts --out "$work/static/dh-page-ts" \
  --player-js-base /js/dashjs/modern/umd/ >/dev/null || fail "split --layout hls-ts failed"
ln -s "$here/node_modules/shaka-player-5/dist" "$work/static/js/shaka5"
ln -s "$here/node_modules/hls.js/dist" "$work/static/js/hlsjs"
cp "$here/players.html" "$work/static/players.html"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
origin_port=$(free_port)
static_port=$(free_port)
# Live: a point to push to and one nobody pushes to.
"$bin" live create "$work/origin/live.isml" >/dev/null || fail "live create failed"
"$bin" live create "$work/origin/idle.isml" >/dev/null || fail "live create failed"
"$bin" live create "$work/origin/pushed.isml" >/dev/null || fail "live create failed"
"$bin" serve "$work/origin" --addr "127.0.0.1:$origin_port" \
  --player-js-dir "$here/node_modules/dashjs/dist" --access-log "$work/access.log" 2>"$work/serve.log" &
pids+=($!)
python3 -m http.server "$static_port" --bind 127.0.0.1 --directory "$work/static" >"$work/static.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$origin_port/" "http://127.0.0.1:$static_port/shaka.html"; do
  for _ in $(seq 50); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
  curl -sf -o /dev/null "$url" || { cat "$work/serve.log" >&2; fail "server at $url did not start"; }
done

# The encoder: 480x270 25 fps with 2 s GOPs + AAC, encoded as it is pushed (-re), for at most
# $live_secs s (the whole suite takes less; cleanup stops it).
live_secs=300
ffmpeg -nostdin -hide_banner -loglevel error -re \
  -f lavfi -i "testsrc2=s=480x270:r=25:d=$live_secs" -f lavfi -i "sine=frequency=440:sample_rate=48000:d=$live_secs" \
  -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p -b:v 600k \
  -c:a aac -b:a 96k -movflags isml+frag_keyframe -f ismv \
  "http://127.0.0.1:$origin_port/live.isml/Streams(s1)" 2>"$work/push.log" &
pids+=($!)
# And ssfpack's own encoder, one POST per track, looping the clip until cleanup stops it.
"$bin" push "$work/clip.mp4" "http://127.0.0.1:$origin_port/pushed.isml/Streams(enc)" --loop --post-per-track \
  --ladder 320x180@300k,160x90@100k --x264-preset ultrafast -q 2>"$work/ssfpack-push.log" &
pids+=($!)

mkdir -p "$repo/target/browser-screenshots"
status=0
passed=0
failed=0
# Runs one test file, shows its lines but its closing one, and adds that to the totals (a file that
# ends without one counts as one failure).
run_tests() {
  local out="$work/$1.out" rc=0
  (cd "$here" && ORIGIN_URL="http://127.0.0.1:$origin_port" STATIC_URL="http://127.0.0.1:$static_port" \
    SCREENSHOT_DIR="$repo/target/browser-screenshots" PRESENTATION=clip LIVE_POINT=live IDLE_POINT=idle PUSHED_POINT=pushed \
    DH_PRESENTATION=dh \
    timeout 240 node "$1") >"$out" 2>&1 || rc=$?
  grep -Ev '^[0-9]+ passed, [0-9]+ failed$' "$out" || true
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1 || true)
  if [ -n "$line" ]; then
    passed=$((passed + ${line%% passed*}))
    line=${line#*passed, }
    failed=$((failed + ${line%% failed*}))
  else
    echo "browser tests: $1 ended without a closing line (exit $rc)" >&2
    failed=$((failed + 1))
  fi
  [ "$rc" -eq 0 ] || status=1
}
run_tests playback.test.mjs
run_tests text.test.mjs
run_tests live.test.mjs
run_tests dash_hls.test.mjs
if ! kill -0 "${pids[-2]}" 2>/dev/null; then
  echo "the live push ended early:" >&2
  cat "$work/push.log" >&2
fi
if ! kill -0 "${pids[-1]}" 2>/dev/null; then
  echo "ssfpack push ended early:" >&2
  cat "$work/ssfpack-push.log" >&2
fi
echo "origin access log: $(wc -l <"$work/access.log") requests; $(grep -c '" 200 ' "$work/access.log" || true) answered 200" >&2
grep -v '" 200 ' "$work/access.log" | grep -v ' "POST ' | sed 's/^/  not 200: /' | head -5 >&2 || true
echo "live fragment answers: $(grep -c 'isml/QualityLevels.*" 200 ' "$work/access.log" || true) × 200, $(grep -c 'isml/QualityLevels.*" 412 ' "$work/access.log" || true) × 412, $(grep -c 'isml/QualityLevels.*" 404 ' "$work/access.log" || true) × 404" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
