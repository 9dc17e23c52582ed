#!/usr/bin/env python3
"""bench/live_push.py: push a recorded ingest stream (FFmpeg `-movflags isml+frag_keyframe -f ismv FILE`)
to a publishing point box by box, and measure, for every fragment, the time from the last byte of
the fragment after it being sent to the fragment being listed in the live manifest and served (200):
a fragment is listed once its successor arrived (its tfrf must name it), so that is the latency a
viewer sees. Prints p50/p99/max in milliseconds. Sends no end of stream (the event stays live)."""
import re
import socket
import sys
import time
import urllib.request

host, port, path, stream_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(stream_file, "rb").read()
boxes, i = [], 0
while i + 8 <= len(data):
    size = int.from_bytes(data[i:i + 4], "big")
    kind = data[i + 4:i + 8]
    if size == 1:
        size = int.from_bytes(data[i + 8:i + 16], "big")
    boxes.append((kind, data[i:i + size]))
    i += size
header = b"".join(b for k, b in boxes if k in (b"ftyp", b"uuid", b"moov"))
pairs = []
for k, b in boxes:
    if k == b"moof":
        pairs.append(b)
    elif k == b"mdat":
        pairs[-1] += b

s = socket.create_connection((host, port))
s.sendall(f"POST {path}/Streams(bench) HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())


def chunk(b):
    s.sendall(b"%x\r\n" % len(b) + b + b"\r\n")


base = f"http://{host}:{port}{path}"


def listed_video_times():
    xml = urllib.request.urlopen(base + "/Manifest").read().decode()
    m = re.search(r'<StreamIndex Type="video"[^>]*Name="([^"]+)".*?</StreamIndex>', xml, re.S)
    if not m:
        return None, []
    name, block = m.group(1), m.group(0)
    bitrate = re.search(r'Bitrate="(\d+)"', block).group(1)
    times, t = [], 0
    for c in re.finditer(r'<c( t="(\d+)")? d="(\d+)"( r="(\d+)")?', block):
        if c.group(2):
            t = int(c.group(2))
        for _ in range(int(c.group(5) or 1)):
            times.append(t)
            t += int(c.group(3))
    return (name, bitrate), times


def is_video(p):
    at = p.find(b"tfhd")
    return p[at + 8:at + 12] == b"\0\0\0\x01"


chunk(header)
lat = []
video = 0
for p in pairs:
    chunk(p)
    sent = time.perf_counter()
    if not is_video(p):
        continue
    video += 1
    if video < 2:
        continue
    # The previous video fragment (number video-1) can now be listed and served.
    deadline = sent + 5
    while time.perf_counter() < deadline:
        try:
            (name, bitrate), times = listed_video_times()
            if len(times) >= video - 1:
                url = f"{base}/QualityLevels({bitrate})/Fragments({name}={times[video - 2]})"
                if urllib.request.urlopen(url).status == 200:
                    lat.append((time.perf_counter() - sent) * 1000)
                    break
        except Exception:
            pass
        time.sleep(0.0005)
lat.sort()
if not lat:
    sys.exit("live_push.py: nothing was measured")
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
print(f"fragments measured {len(lat)}: listed+served after the successor's last byte p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {lat[-1]:.1f} ms")
