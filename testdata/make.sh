#!/usr/bin/env bash
# Regenerates the test media in testdata/ from FFmpeg's synthetic lavfi sources.
#
#   testdata/make.sh            rewrite the media files in testdata/
#   testdata/make.sh --check    regenerate into a temp dir and compare with the
#                               committed files and SHA256SUMS (exit 1 on mismatch)
#   testdata/make.sh --out DIR  write the files into DIR instead
#
# Every file is made with bit-exact flags, fixed seeds and single-threaded
# encoders, so the same FFmpeg build gives byte-identical output. A different
# FFmpeg / x264 / libvpx version will give different bytes (but the same
# properties); SHA256SUMS records what Debian 12's FFmpeg 5.1 produced.
# See README.md in this folder for what each file is for.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here"
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1 ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "make.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

command -v ffmpeg >/dev/null || { echo "make.sh: ffmpeg not found (run scripts/setup)" >&2; exit 1; }

if [ "$check" = 1 ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# Common flags: no banner, no stdin, deterministic muxing/encoding, no metadata
# (no encoder/creation_time tags), single thread.
ff() {
  ffmpeg -nostdin -hide_banner -loglevel error -y "$@"
}
BITEXACT=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -map_chapters -1 -threads 1)

# sample.mp4 -- the quick-start sample: H.264 High (B-frames) + AAC stereo 48 kHz,
# 640x360 25 fps, 10 s, with a non-zero start time (1.4 s) via -output_ts_offset.
ff -f lavfi -i "testsrc2=size=640x360:rate=25:duration=10" \
   -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" \
   -map 0:v -map 1:a \
   -c:v libx264 -profile:v high -pix_fmt yuv420p -preset medium -bf 3 -g 50 -keyint_min 25 \
   -b:v 650k -maxrate 900k -bufsize 1300k \
   -c:a aac -b:a 96k -ac 2 -ar 48000 \
   -output_ts_offset 1.4 -movflags +faststart \
   "${BITEXACT[@]}" "$out/sample.mp4"

# vp9_opus.webm -- VP9 + Opus in WebM, 320x240 30 fps, 4 s (non-H.264 input to transcode).
ff -f lavfi -i "testsrc=size=320x240:rate=30:duration=4" \
   -f lavfi -i "sine=frequency=660:sample_rate=48000:duration=4:beep_factor=4" \
   -map 0:v -map 1:a \
   -c:v libvpx-vp9 -pix_fmt yuv420p -b:v 300k -deadline good -cpu-used 4 -row-mt 0 -g 60 \
   -c:a libopus -b:a 64k -ac 2 -ar 48000 \
   "${BITEXACT[@]}" "$out/vp9_opus.webm"

# mpeg2_mp2.ts -- MPEG-2 video + MP2 audio in MPEG-TS, 352x288 at 30000/1001 fps,
# 4 s (fractional frame rate, TS input with its own non-zero start time).
ff -f lavfi -i "mandelbrot=size=352x288:rate=30000/1001" \
   -f lavfi -i "sine=frequency=1000:sample_rate=48000" \
   -map 0:v -map 1:a -t 4 \
   -c:v mpeg2video -pix_fmt yuv420p -b:v 800k -maxrate 1000k -bufsize 1000k -bf 2 -g 15 \
   -c:a mp2 -b:a 128k -ac 2 -ar 48000 \
   "${BITEXACT[@]}" -f mpegts "$out/mpeg2_mp2.ts"

# audio_only.m4a -- AAC-LC mono 44.1 kHz, 5 s, no video track.
# Sine tone mixed with seeded pink noise (anoisesrc's default seed is random).
ff -f lavfi -i "sine=frequency=880:sample_rate=44100:duration=5" \
   -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:amplitude=0.05:duration=5:seed=12345" \
   -filter_complex "[0:a][1:a]amix=inputs=2:duration=shortest:normalize=0[a]" \
   -map "[a]" \
   -c:a aac -b:a 64k -ac 1 -ar 44100 \
   "${BITEXACT[@]}" "$out/audio_only.m4a"

# video_only.mkv -- H.264 in Matroska with no audio, 426x240 (width not a
# multiple of 16) at 24 fps, 4 s.
ff -f lavfi -i "smptehdbars=size=426x240:rate=24:duration=4" \
   -f lavfi -i "testsrc2=size=160x120:rate=24:duration=4" \
   -filter_complex "[0:v][1:v]overlay=x='mod(t*60,266)':y=60:shortest=1,format=yuv420p[v]" \
   -map "[v]" \
   -c:v libx264 -profile:v high -preset medium -bf 2 -g 48 -crf 26 \
   "${BITEXACT[@]}" "$out/video_only.mkv"

files=(sample.mp4 vp9_opus.webm mpeg2_mp2.ts audio_only.m4a video_only.mkv)

if [ "$check" = 1 ]; then
  rc=0
  for f in "${files[@]}"; do
    if cmp -s "$out/$f" "$here/$f"; then
      echo "make.sh: $f identical"
    else
      echo "make.sh: $f DIFFERS from the committed file (different FFmpeg build?)"
      rc=1
    fi
  done
  (cd "$out" && sha256sum -c --quiet "$here/SHA256SUMS") || rc=1
  exit "$rc"
fi

if [ "$out" = "$here" ]; then
  (cd "$here" && sha256sum "${files[@]}" > SHA256SUMS)
fi
(cd "$out" && ls -l "${files[@]}")
