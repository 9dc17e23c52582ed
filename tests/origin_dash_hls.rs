//! DASH and HLS from the same `.ismv` files: a real encode (FFmpeg source, `ssfpack` ladder) served
//! by the origin as `mpd-time-csf`/`mpd-time-cmaf`/`m3u8-cmaf`. The MPD is read with a generic XML
//! event parser (not our model) and checked against the `.ismc` (every `t`/`d`, bandwidths, codecs
//! strings computed here from the SPS/ASC bytes); the HLS playlists line by line; every track's
//! init segment + segments, concatenated, decode in FFmpeg with every frame at its time; golden
//! files for a synthetic presentation; 404s and cache headers; a live point pushed by FFmpeg.

mod common;
mod origin_support;
mod package_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use origin_support::process::ServeProcess;
use origin_support::{request, TestServer};
use quick_xml::events::Event;
use ssfpack::format::manifest::{ClientManifest, StreamIndex};
use ssfpack::origin::PlayerConfig;

const SECOND: f64 = 10_000_000.0;

/// A 4 s 25 fps H.264 + AAC source packaged into two video rungs and audio, made once.
fn presentation() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src.mp4");
        package_support::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=4",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            src.to_str().unwrap(),
        ]);
        let out = tmp.path().join("out");
        package_support::package(&src, &out, &["--ladder", "320x180@400k,160x90@150k"]);
        (tmp, out)
    });
    out
}

fn client(dir: &Path) -> ClientManifest {
    ClientManifest::from_xml(&std::fs::read_to_string(dir.join("src.ismc")).unwrap(), "src.ismc").unwrap()
}

/// The codecs string of a level, computed here from its CodecPrivateData bytes: the three bytes
/// after the SPS NAL header, or the AAC object type (first 5 bits of the ASC).
fn expected_codecs(fourcc: &str, cpd: &str) -> String {
    let bytes: Vec<u8> = (0..cpd.len()).step_by(2).map(|i| u8::from_str_radix(&cpd[i..i + 2], 16).unwrap()).collect();
    if fourcc == "H264" {
        let sps = bytes.windows(5).position(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == 7).unwrap() + 5;
        format!("avc1.{:02X}{:02X}{:02X}", bytes[sps], bytes[sps + 1], bytes[sps + 2])
    } else {
        format!("mp4a.40.{}", bytes[0] >> 3)
    }
}

/// One element of an XML document: its name, attributes and path of ancestor names.
#[derive(Debug, Clone)]
struct Element {
    path: Vec<String>,
    attrs: BTreeMap<String, String>,
}

/// Every element of `xml` in document order (a generic event parser; fails on malformed XML).
fn elements(xml: &str) -> Vec<Element> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        let ev = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                stack.pop();
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().into_owned())
                })
                .collect();
            stack.push(name);
            out.push(Element { path: stack.clone(), attrs });
            if empty {
                stack.pop();
            }
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    out
}

/// `(t, d)` of every segment a `SegmentTimeline` lists, `r` expanded.
fn expand(ss: &[&Element]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut next = 0;
    for s in ss {
        let t = s.attrs.get("t").map_or(next, |t| t.parse().unwrap());
        let d: u64 = s.attrs["d"].parse().unwrap();
        let r: u64 = s.attrs.get("r").map_or(0, |r| r.parse().unwrap());
        for i in 0..=r {
            out.push((t + i * d, d));
        }
        next = t + (r + 1) * d;
    }
    out
}

fn frames(file: &Path, kind: &str) -> (u64, f64, f64) {
    let probe = |entries: &str, extra: &[&str]| {
        let o = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", kind])
            .args(extra)
            .args(["-show_entries", entries, "-of", "csv=p=0"])
            .arg(file)
            .output()
            .unwrap();
        assert!(o.status.success(), "ffprobe {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // (An MPEG-TS file lists its stream under its program too: the first count.)
    let counts = probe("stream=nb_read_frames", &["-count_frames"]);
    let count = counts.lines().find_map(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("{counts:?}"));
    let out = probe("frame=best_effort_timestamp_time", &[]);
    let times: Vec<f64> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
    let min = times.iter().copied().fold(f64::MAX, f64::min);
    let max = times.iter().copied().fold(f64::MIN, f64::max);
    (count, min, max)
}

/// `BANDWIDTH` and `AVERAGE-BANDWIDTH` of each variant of a master playlist, by the bitrate in
/// its URI.
fn announced_rates(master: &str) -> BTreeMap<u32, (u64, u64)> {
    let lines: Vec<&str> = master.lines().collect();
    let mut out = BTreeMap::new();
    for w in lines.windows(2) {
        let Some(attrs) = w[0].strip_prefix("#EXT-X-STREAM-INF:") else { continue };
        let get =
            |k: &str| -> u64 { attrs.split(',').find_map(|a| a.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap() };
        let b: u32 = w[1].split(['(', ')']).nth(1).unwrap().parse().unwrap();
        out.insert(b, (get("BANDWIDTH="), get("AVERAGE-BANDWIDTH=")));
    }
    out
}

/// The RFC 8216 4.1 peak (largest rate of contiguous segments lasting 0.5–1.5 × the target
/// duration) and average segment bit rates of a media playlist of `src.ism`, computed here from
/// its `EXTINF`s and the sizes of the segments the origin serves.
fn served_rates(server: &TestServer, format: &str, stream: &str, bitrate: u32) -> (f64, f64) {
    let base = format!("/src.ism/QualityLevels({bitrate})");
    let playlist = server.get(&format!("{base}/Manifest({stream},format={format})")).text();
    let target: f64 = playlist.lines().find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:")).unwrap().parse().unwrap();
    let (mut segs, mut d) = (Vec::new(), None);
    for l in playlist.lines() {
        if let Some(x) = l.strip_prefix("#EXTINF:") {
            d = Some(x.trim_end_matches(',').parse::<f64>().unwrap());
        } else if !l.starts_with('#') {
            let r = server.get(&format!("{base}/{l}"));
            assert_eq!(r.status, 200, "{l}");
            segs.push((d.take().unwrap(), r.body.len() as f64));
        }
    }
    let mut peak = 0f64;
    for i in 0..segs.len() {
        let (mut t, mut b) = (0.0, 0.0);
        for &(d, n) in &segs[i..] {
            t += d;
            b += n;
            if t > 1.5 * target {
                break;
            }
            if t >= 0.5 * target {
                peak = peak.max(b * 8.0 / t);
            }
        }
    }
    let (secs, bytes) = segs.iter().fold((0.0, 0.0), |(t, b), s| (t + s.0, b + s.1));
    (peak, bytes * 8.0 / secs)
}

fn assert_close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!((got - want).abs() <= want * tolerance + 1.0, "{what}: {got} announced, {want} measured here");
}

/// Fetches `init` and `segments` (origin URL paths), writes them concatenated, and returns the file.
fn concatenated(server: &TestServer, dir: &Path, name: &str, init: &str, segments: &[String]) -> PathBuf {
    let mut bytes = Vec::new();
    for url in std::iter::once(&init.to_string()).chain(segments) {
        let r = server.get(url);
        assert_eq!(r.status, 200, "{url}");
        assert!(matches!(r.header("content-type"), Some("video/mp4" | "audio/mp4")), "{url}");
        bytes.extend(r.body);
    }
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn mpd_matches_the_smooth_manifest_and_every_track_decodes() {
    let dir = presentation();
    let m = client(dir);
    let server = TestServer::start(dir, PlayerConfig::default());
    let scratch = tempfile::tempdir().unwrap();
    for (url, profile) in [
        ("/src.ism/Manifest(format=mpd-time-csf)", "urn:mpeg:dash:profile:isoff-live:2011"),
        ("/src.ism/Manifest(format=mpd-time-cmaf).mpd", "urn:mpeg:dash:profile:cmaf:2019"),
    ] {
        let r = server.get(url);
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(r.header("content-type"), Some("application/dash+xml"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
        let els = elements(&r.text());
        let mpd = &els[0];
        assert_eq!(mpd.path, ["MPD"]);
        assert_eq!(mpd.attrs["type"], "static");
        assert!(mpd.attrs["profiles"].contains(profile), "{:?}", mpd.attrs);
        let sets: Vec<&Element> = els.iter().filter(|e| e.path.last().unwrap() == "AdaptationSet").collect();
        assert_eq!(sets.len(), m.streams.len());
        for (i, (set, stream)) in sets.iter().zip(&m.streams).enumerate() {
            assert_eq!(set.attrs["contentType"], stream.kind);
            // This set's descendants: the elements after it and before the next set.
            let start = els.iter().position(|e| std::ptr::eq(e, *set)).unwrap();
            let end = sets.get(i + 1).map_or(els.len(), |n| els.iter().position(|e| std::ptr::eq(e, *n)).unwrap());
            let inside = &els[start + 1..end];
            let template = inside.iter().find(|e| e.path.last().unwrap() == "SegmentTemplate").unwrap();
            assert_eq!(template.attrs["timescale"], "10000000");
            let format = if url.contains("cmaf") { "mpd-time-cmaf" } else { "mpd-time-csf" };
            assert_eq!(
                template.attrs["media"],
                format!("QualityLevels($Bandwidth$)/Fragments({}=$Time$,format={format})", stream.name)
            );
            assert_eq!(
                template.attrs["initialization"],
                format!("QualityLevels($Bandwidth$)/Fragments({}=i,format={format})", stream.name)
            );
            let ss: Vec<&Element> = inside.iter().filter(|e| e.path.last().unwrap() == "S").collect();
            let want: Vec<(u64, u64)> = stream.chunks.iter().map(|c| (c.t, c.d)).collect();
            assert_eq!(expand(&ss), want, "{}: the exact Smooth t/d", stream.name);
            let reps: Vec<&Element> = inside.iter().filter(|e| e.path.last().unwrap() == "Representation").collect();
            assert_eq!(reps.len(), stream.quality_levels.len());
            for (rep, q) in reps.iter().zip(&stream.quality_levels) {
                assert_eq!(rep.attrs["bandwidth"], q.bitrate.to_string());
                assert_eq!(rep.attrs["codecs"], expected_codecs(&q.fourcc, &q.codec_private_data));
                // Every level: init + every segment from the template, decoded.
                let fill = |t: &str, time: &str| {
                    format!("/src.ism/{}", t.replace("$Bandwidth$", &q.bitrate.to_string()).replace("$Time$", time))
                };
                let segs: Vec<String> =
                    want.iter().map(|(t, _)| fill(&template.attrs["media"], &t.to_string())).collect();
                let name = format!("{}_{}_{format}.mp4", stream.name, q.bitrate);
                let file =
                    concatenated(&server, scratch.path(), &name, &fill(&template.attrs["initialization"], ""), &segs);
                check_decodes(dir, stream, q.bitrate, &file);
            }
        }
    }
}

/// The concatenated segments decode with no error, as many frames as the Smooth file holds, from
/// 0 to the end of the presentation (the `tfdt`s put every segment at its time).
fn check_decodes(dir: &Path, stream: &StreamIndex, bitrate: u32, file: &Path) {
    let errors = package_support::decode_errors(file);
    assert!(errors.is_empty(), "{}: {errors}", file.display());
    let kind = if stream.kind == "video" { "v" } else { "a" };
    let smooth = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            if kind == "v" {
                n.ends_with(&format!("_{}k.ismv", bitrate / 1000))
            } else {
                n.ends_with(".isma")
            }
        })
        .unwrap();
    // Every segment carries a tfdt with its Smooth time (MSE parsers require it; FFmpeg does not).
    let parsed = ssfpack::format::reader::MediaFile::open(file).unwrap();
    let tfdts: Vec<Option<u64>> = parsed.fragments.iter().map(|f| f.tfdt).collect();
    let want_tfdts: Vec<Option<u64>> = stream.chunks.iter().map(|c| Some(c.t)).collect();
    assert_eq!(tfdts, want_tfdts, "{}", file.display());
    let (n, first, last) = frames(file, kind);
    let (want, want_first, want_last) = frames(&smooth, kind);
    assert_eq!(n, want, "{}: every frame of {}", file.display(), smooth.display());
    if kind == "v" {
        assert_eq!(n, 100, "4 s at 25 fps");
    }
    // Every frame at the time it has in the Smooth file (the tfdts put each segment in place).
    assert!((first - want_first).abs() < 0.001, "{}: starts at {first}, not {want_first}", file.display());
    assert!((last - want_last).abs() < 0.001, "{}: ends at {last}, not {want_last}", file.display());
    let span = stream.chunks.last().map(|c| (c.t + c.d) as f64 / SECOND).unwrap();
    assert!(
        last - first > span - 0.2,
        "{}: frames from {first} to {last}, the presentation is {span} s",
        file.display()
    );
}

#[test]
fn hls_playlists_line_by_line_and_every_level_decodes() {
    let dir = presentation();
    let m = client(dir);
    let server = TestServer::start(dir, PlayerConfig::default());
    let scratch = tempfile::tempdir().unwrap();
    let r = server.get("/src.ism/Manifest(format=m3u8-cmaf).m3u8");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.apple.mpegurl"));
    let video = m.stream("video").unwrap();
    let audio = m.stream("audio").unwrap();
    let a = &audio.quality_levels[0];
    let acodec = expected_codecs(&a.fourcc, &a.codec_private_data);
    let mut want = vec![
        "#EXTM3U".to_string(),
        "#EXT-X-VERSION:7".into(),
        "#EXT-X-INDEPENDENT-SEGMENTS".into(),
        format!(
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"QualityLevels({})/Manifest(audio,format=m3u8-cmaf)\"",
            a.channels.unwrap(),
            a.bitrate
        ),
    ];
    let text = r.text();
    let announced = announced_rates(&text);
    for q in &video.quality_levels {
        // Measured (RFC 8216 4.1) from the segments served, video plus audio: checked here to
        // the rounding of EXTINF, then the line compared with the announced figures.
        let (b, avg) = announced[&q.bitrate];
        let (vp, va) = served_rates(&server, "m3u8-cmaf", "video", q.bitrate);
        let (ap, aa) = served_rates(&server, "m3u8-cmaf", "audio", a.bitrate);
        assert_close(b as f64, vp + ap, 1e-4, "BANDWIDTH");
        assert_close(avg as f64, va + aa, 1e-4, "AVERAGE-BANDWIDTH");
        assert!(b >= avg && b != u64::from(q.bitrate + a.bitrate), "{b} {avg}: measured, not nominal");
        want.push(format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={b},AVERAGE-BANDWIDTH={avg},CODECS=\"{},{acodec}\",RESOLUTION={}x{},FRAME-RATE=25.000,AUDIO=\"audio\"",
            expected_codecs(&q.fourcc, &q.codec_private_data),
            q.max_width.unwrap(),
            q.max_height.unwrap(),
        ));
        want.push(format!("QualityLevels({})/Manifest(video,format=m3u8-cmaf)", q.bitrate));
    }
    assert_eq!(text.lines().collect::<Vec<_>>(), want);

    let levels = video.quality_levels.iter().map(|q| (video, q.bitrate)).chain([(audio, a.bitrate)]);
    for (stream, bitrate) in levels {
        let base = format!("/src.ism/QualityLevels({bitrate})");
        let url = format!("{base}/Manifest({},format=m3u8-cmaf).m3u8", stream.name);
        let r = server.get(&url);
        assert_eq!(r.status, 200, "{url}");
        let longest = stream.chunks.iter().map(|c| c.d).max().unwrap() as f64 / SECOND;
        let mut want = vec![
            "#EXTM3U".to_string(),
            "#EXT-X-VERSION:7".into(),
            format!("#EXT-X-TARGETDURATION:{}", longest.round() as u64),
            "#EXT-X-MEDIA-SEQUENCE:0".into(),
            "#EXT-X-INDEPENDENT-SEGMENTS".into(),
            "#EXT-X-PLAYLIST-TYPE:VOD".into(),
            format!("#EXT-X-MAP:URI=\"Fragments({}=i,format=m3u8-cmaf)\"", stream.name),
        ];
        for c in &stream.chunks {
            want.push(format!("#EXTINF:{:.6},", c.d as f64 / SECOND));
            want.push(format!("Fragments({}={},format=m3u8-cmaf)", stream.name, c.t));
        }
        want.push("#EXT-X-ENDLIST".into());
        let text = r.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, want, "{url}");
        // The URIs resolve against the playlist's folder.
        let segs: Vec<String> = lines.iter().filter(|l| !l.starts_with('#')).map(|l| format!("{base}/{l}")).collect();
        let init = format!("{base}/Fragments({}=i,format=m3u8-cmaf)", stream.name);
        let file = concatenated(&server, scratch.path(), &format!("{}_{bitrate}.mp4", stream.name), &init, &segs);
        check_decodes(dir, stream, bitrate, &file);
    }
}

#[test]
fn unknown_formats_and_missing_things_are_404_segments_cache_like_fragments() {
    let dir = presentation();
    let m = client(dir);
    let server = TestServer::start(dir, PlayerConfig::default());
    let v = m.stream("video").unwrap();
    let (b, t) = (v.quality_levels[0].bitrate, v.chunks[1].t);
    for url in [
        "/src.ism/Manifest(format=hds)".to_string(),
        "/src.ism/Manifest(format=mpd-time-csf).m3u8".into(),
        "/nope.ism/Manifest(format=mpd-time-csf)".into(),
        format!("/src.ism/QualityLevels({b})/Manifest(video,format=mpd-time-csf)"),
        "/src.ism/QualityLevels(1)/Manifest(video,format=m3u8-cmaf)".into(),
        format!("/src.ism/QualityLevels({b})/Manifest(text,format=m3u8-cmaf)"),
        format!("/src.ism/QualityLevels({b})/Fragments(video={},format=m3u8-cmaf)", t + 1),
        "/src.ism/QualityLevels(1)/Fragments(video=i,format=mpd-time-csf)".into(),
        format!("/src.ism/QualityLevels({b})/Fragments(video={t},format=smooth)"),
    ] {
        assert_eq!(server.get(&url).status, 404, "{url}");
    }
    if !Path::new(env!("CARGO_MANIFEST_DIR")).join("src/media/ts.rs").exists() {
        let url = format!("/src.ism/QualityLevels({b})/Fragments(video={t},format=m3u8-aapl)");
        assert_eq!(server.get(&url).status, 404, "{url}: no MPEG-TS remux yet");
    }
    // A segment: the fragment's validators and Cache-Control, a 304 on revalidation.
    let url = format!("/src.ism/QualityLevels({b})/Fragments(video={t},format=mpd-time-csf)");
    let r = server.get(&url);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    let smooth = server.get(&format!("/src.ism/QualityLevels({b})/Fragments(video={t})"));
    assert_eq!(smooth.header("cache-control"), r.header("cache-control"));
    assert!(r.body.len() > smooth.body.len(), "the segment is the fragment plus a tfdt");
    let etag = r.header("etag").unwrap().to_string();
    assert_ne!(Some(etag.as_str()), smooth.header("etag"));
    let again = server.request("GET", &url, &[("If-None-Match", &etag)]);
    assert_eq!((again.status, again.body.len()), (304, 0));
    let head = server.request("HEAD", &url, &[]);
    assert_eq!((head.status, head.header("content-length")), (200, Some(r.body.len().to_string().as_str())));
    // The index and the player page offer the formats.
    let index = server.get("/").text();
    assert!(index.contains("href=\"/src.ism/Manifest(format=mpd-time-csf)\">DASH</a>"), "{index}");
    assert!(index.contains("href=\"/src.ism/Manifest(format=m3u8-cmaf)\">HLS</a>"), "{index}");
    let page = server.get("/src.ism/player").text();
    assert!(page.contains("href=\"Manifest(format=m3u8-cmaf)\">HLS</a>"), "{page}");
}

#[test]
fn golden_mpd_and_playlists_of_a_synthetic_presentation() {
    let tmp = tempfile::tempdir().unwrap();
    origin_support::write_presentation(tmp.path(), "syn", 3, 0, 1);
    let server = TestServer::start(tmp.path(), PlayerConfig::default());
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/dash_hls");
    for (url, file) in [
        ("/syn.ism/Manifest(format=mpd-time-csf)", "syn.mpd"),
        ("/syn.ism/Manifest(format=m3u8-cmaf)", "syn.m3u8"),
        ("/syn.ism/QualityLevels(800000)/Manifest(video,format=m3u8-cmaf)", "syn_video_800000.m3u8"),
        ("/syn.ism/QualityLevels(128000)/Manifest(audio,format=m3u8-aapl)", "syn_audio_128000_aapl.m3u8"),
    ] {
        let r = server.get(url);
        assert_eq!(r.status, 200, "{url}");
        let actual = tmp.path().join(file);
        std::fs::write(&actual, &r.body).unwrap();
        common::assert_golden(&golden.join(file), &actual);
    }
}

/// `ffmpeg -re` pushes a 6 s encode into a point; while it is on, the MPD is dynamic and the HLS
/// playlists have no end; the listed segments decode; once it ends both are on demand.
#[test]
fn a_live_point_as_dash_and_hls() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src.mp4");
    package_support::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=25:duration=6",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-keyint_min",
        "50",
        "-sc_threshold",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        src.to_str().unwrap(),
    ]);
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ssfpack")).args(["live", "create"]).arg(root.join("Live.isml")).output();
    assert!(o.unwrap().status.success());
    let serve = ServeProcess::start(&root, &[]);
    let mut ff = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re", "-i"])
        .arg(&src)
        .args(["-c", "copy", "-movflags", "isml+frag_keyframe", "-f", "ismv"])
        .arg(format!("http://{}/Live.isml/Streams(feed1)", serve.addr))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| request(serve.addr, "GET", path, &[]);
    let end = Instant::now() + Duration::from_secs(30);
    let mpd = loop {
        let r = get("/Live.isml/Manifest(format=mpd-time-csf)");
        if r.status == 200 && elements(&r.text()).iter().any(|e| e.path.last().unwrap() == "S") {
            break r;
        }
        assert!(Instant::now() < end, "no live MPD");
        std::thread::sleep(Duration::from_millis(200));
    };
    let els = elements(&mpd.text());
    assert_eq!(els[0].attrs["type"], "dynamic");
    for a in ["availabilityStartTime", "publishTime", "minimumUpdatePeriod"] {
        assert!(els[0].attrs.contains_key(a), "{a}: {:?}", els[0].attrs);
    }
    assert!(!els[0].attrs.contains_key("mediaPresentationDuration"));
    let m = ClientManifest::from_xml(&get("/Live.isml/Manifest").text(), "live").unwrap();
    assert!(m.is_live);
    let master = get("/Live.isml/Manifest(format=m3u8-cmaf)").text();
    let playlist = master.lines().find(|l| l.starts_with("QualityLevels(")).unwrap().to_string();
    let media = get(&format!("/Live.isml/{playlist}")).text();
    assert!(!media.contains("#EXT-X-ENDLIST"), "a live playlist has no end: {media}");
    assert!(media.contains("#EXT-X-MAP:URI="));
    let v = m.streams.iter().find(|s| s.kind == "video").unwrap();
    let (b, n) = (v.quality_levels[0].bitrate, &v.name);
    let mut bytes = get(&format!("/Live.isml/QualityLevels({b})/Fragments({n}=i,format=mpd-time-csf)")).body;
    for c in &v.chunks {
        let r = get(&format!("/Live.isml/QualityLevels({b})/Fragments({n}={},format=mpd-time-csf)", c.t));
        assert_eq!(r.status, 200);
        bytes.extend(r.body);
    }
    let file = tmp.path().join("live.mp4");
    std::fs::write(&file, bytes).unwrap();
    assert_eq!(package_support::decode_errors(&file), "");
    assert_eq!(frames(&file, "v").0, v.chunks.len() as u64 * 50, "2 s fragments at 25 fps");
    let future = v.chunks.last().map(|c| c.t + 10 * c.d).unwrap();
    assert_eq!(get(&format!("/Live.isml/QualityLevels({b})/Fragments({n}={future},format=m3u8-cmaf)")).status, 404);
    assert!(ff.wait().unwrap().success());
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let r = get("/Live.isml/Manifest(format=mpd-time-csf)");
        if elements(&r.text())[0].attrs["type"] == "static" {
            break;
        }
        assert!(Instant::now() < end, "the MPD never became static");
        std::thread::sleep(Duration::from_millis(200));
    }
    let media = get(&format!("/Live.isml/{playlist}")).text();
    assert!(media.ends_with("#EXT-X-ENDLIST\n"), "{media}");
}

/// `--layout ism,dash,hls`: `NAME.mpd`, `NAME.m3u8` and `cmaf/` beside the `.ism`, each segment
/// and init file the bytes `serve` answers for it, every playlist line a relative file that exists;
/// `split --layout dash` refuses to replace a `cmaf/` folder it did not write.
#[test]
fn static_layout_files_are_the_served_bytes_and_split_refuses_foreign_files() {
    let dir = presentation();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let src = dir.parent().unwrap().join("src.mp4");
    package_support::package(&src, &out, &["--ladder", "320x180@400k,160x90@150k", "--layout", "ism,dash,hls,hls-ts"]);
    let m = client(&out);
    let server = TestServer::start(&out, PlayerConfig::default());
    for s in &m.streams {
        for q in &s.quality_levels {
            let rung = out.join(format!("cmaf/{}_{}", s.name, q.bitrate));
            let served =
                server.get(&format!("/src.ism/QualityLevels({})/Fragments({}=i,format=m3u8-cmaf)", q.bitrate, s.name));
            assert_eq!(std::fs::read(rung.join("init.mp4")).unwrap(), served.body, "{}", rung.display());
            for c in &s.chunks {
                let url =
                    format!("/src.ism/QualityLevels({})/Fragments({}={},format=mpd-time-csf)", q.bitrate, s.name, c.t);
                let file = rung.join(format!("{}.m4s", c.t));
                assert_eq!(std::fs::read(&file).unwrap(), server.get(&url).body, "{}", file.display());
            }
            let playlist = std::fs::read_to_string(rung.join("index.m3u8")).unwrap();
            let uris: Vec<&str> = playlist.lines().filter(|l| !l.starts_with('#')).collect();
            assert_eq!(uris.len(), s.chunks.len());
            for u in uris {
                assert!(rung.join(u).is_file(), "{u}");
            }
            assert!(playlist.contains("#EXT-X-MAP:URI=\"init.mp4\""));
        }
    }
    let master = std::fs::read_to_string(out.join("src.m3u8")).unwrap();
    for l in master.lines().filter(|l| !l.starts_with('#')) {
        assert!(out.join(l).is_file(), "{l}");
    }
    // hls-ts: `ts/TRACK_B/T.ts` are the served m3u8-aapl segments, and FFmpeg's HLS demuxer plays
    // `src-ts.m3u8` from the files alone with every frame of the top rung.
    for s in &m.streams {
        for q in &s.quality_levels {
            let rung = out.join(format!("ts/{}_{}", s.name, q.bitrate));
            for c in &s.chunks {
                let url =
                    format!("/src.ism/QualityLevels({})/Fragments({}={},format=m3u8-aapl)", q.bitrate, s.name, c.t);
                let file = rung.join(format!("{}.ts", c.t));
                assert_eq!(std::fs::read(&file).unwrap(), server.get(&url).body, "{}", file.display());
            }
            let playlist = std::fs::read_to_string(rung.join("index.m3u8")).unwrap();
            assert!(playlist.contains("#EXT-X-VERSION:4") && !playlist.contains("EXT-X-MAP"), "{playlist}");
        }
    }
    let ts_master = std::fs::read_to_string(out.join("src-ts.m3u8")).unwrap();
    assert!(ts_master.contains("\nts/video_400000/index.m3u8\n"), "{ts_master}");
    let (played, _, _) = frames(&out.join("src-ts.m3u8"), "v:0");
    assert_eq!(played, frames(&out.join("src_400k.ismv"), "v").0, "frames of src-ts.m3u8");
    let mpd = std::fs::read_to_string(out.join("src.mpd")).unwrap();
    let els = elements(&mpd);
    let templates: Vec<&Element> = els.iter().filter(|e| e.path.last().unwrap() == "SegmentTemplate").collect();
    assert_eq!(templates[0].attrs["media"], "cmaf/video_$Bandwidth$/$Time$.m4s");
    assert!(std::fs::read_to_string(out.join(".ssfpack-published.json"))
        .unwrap()
        .contains("cmaf/video_400000/init.mp4"));
    // NAME.html tries what the folder holds: the origin's (then a split's) Smooth manifest, the MPD, HLS.
    let page = std::fs::read_to_string(out.join("src.html")).unwrap();
    assert!(
        page.contains(r#""manifests":["src.ism/Manifest","Manifest","src.mpd","src.m3u8","src-ts.m3u8"]"#),
        "{page}"
    );
    // A dash-only split into a folder with someone else's cmaf/ is refused, and nothing is replaced.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("cmaf")).unwrap();
    std::fs::write(other.join("cmaf/notes.txt"), "mine").unwrap();
    let o = package_support::ssfpack(&[
        "split",
        out.to_str().unwrap(),
        "--layout",
        "dash",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cmaf"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(other.join("cmaf/notes.txt")).unwrap(), "mine");
    assert!(!other.join("src.mpd").exists());
    // --force replaces a folder of DASH/HLS files ssfpack published (its marker lists them), and
    // `--layout dash,hls` alone leaves no Smooth files.
    drop(server);
    package_support::package(&src, &out, &["--ladder", "160x90@150k", "--layout", "dash,hls", "--force"]);
    let names: Vec<String> =
        std::fs::read_dir(&out).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".ism") && !n.ends_with(".ismv") && !n.ends_with(".ismc")), "{names:?}");
    assert!(out.join("src.mpd").is_file() && out.join("src.m3u8").is_file());
    assert!(!out.join("cmaf/video_400000").exists(), "the old rung is gone");
    assert!(out.join("cmaf/video_150000/init.mp4").is_file());
    // With no Smooth manifest, NAME.html plays the MPD (dash.js), else the HLS playlist.
    let page = std::fs::read_to_string(out.join("src.html")).unwrap();
    assert!(page.contains(r#""manifests":["src.mpd","src.m3u8"]"#), "{page}");
}

/// `m3u8-aapl`: HLS v4, no `EXT-X-MAP`, MPEG-TS segments (`video/mp2t`, remuxed by FFmpeg from the
/// same CMAF segments): each level's segments, concatenated, decode with every frame of its file.
#[test]
fn m3u8_aapl_serves_mpeg_ts_segments_that_decode() {
    let dir = presentation();
    let m = client(dir);
    let server = TestServer::start(dir, PlayerConfig::default());
    let scratch = tempfile::tempdir().unwrap();
    let master = server.get("/src.ism/Manifest(format=m3u8-aapl).m3u8").text();
    assert!(master.starts_with("#EXTM3U\n#EXT-X-VERSION:4\n"), "{master}");
    assert!(master.contains("#EXT-X-MEDIA:TYPE=AUDIO"), "{master}");
    for s in &m.streams {
        for q in &s.quality_levels {
            let base = format!("/src.ism/QualityLevels({})", q.bitrate);
            let init = format!("{base}/Fragments({}=i,format=m3u8-aapl)", s.name);
            assert_eq!(server.get(&init).status, 404, "{init}: TS has no init segment");
            let playlist = server.get(&format!("{base}/Manifest({},format=m3u8-aapl)", s.name)).text();
            assert!(
                playlist.starts_with("#EXTM3U\n#EXT-X-VERSION:4\n") && !playlist.contains("EXT-X-MAP"),
                "{playlist}"
            );
            let mut bytes = Vec::new();
            for uri in playlist.lines().filter(|l| !l.starts_with('#')) {
                let r = server.get(&format!("{base}/{uri}"));
                assert_eq!((r.status, r.header("content-type")), (200, Some("video/mp2t")), "{uri}");
                assert_eq!(r.body[0], 0x47, "{uri}: a TS packet");
                bytes.extend(r.body);
            }
            let file = scratch.path().join(format!("{}_{}.ts", s.name, q.bitrate));
            std::fs::write(&file, bytes).unwrap();
            assert_eq!(package_support::decode_errors(&file), "", "{}", file.display());
            let kind = if s.kind == "video" { "v" } else { "a" };
            let smooth = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    if kind == "v" {
                        n.ends_with(&format!("_{}k.ismv", q.bitrate / 1000))
                    } else {
                        n.ends_with(".isma")
                    }
                })
                .unwrap();
            assert_eq!(frames(&file, kind).0, frames(&smooth, kind).0, "{}: every frame", file.display());
        }
    }
}

/// `m3u8-aapl` announces the measured rates of its MPEG-TS segments (estimated from three remuxed
/// segments per track): within 2 % of the rates of the TS segments served, and not the nominal
/// ones; `m3u8-cmaf`'s are lower (the same media with less container overhead).
#[test]
fn m3u8_aapl_bandwidth_is_measured_on_the_ts_segments() {
    let dir = presentation();
    let m = client(dir);
    let server = TestServer::start(dir, PlayerConfig::default());
    let ts = announced_rates(&server.get("/src.ism/Manifest(format=m3u8-aapl)").text());
    let fmp4 = announced_rates(&server.get("/src.ism/Manifest(format=m3u8-cmaf)").text());
    let a = &m.stream("audio").unwrap().quality_levels[0];
    let (ap, aa) = served_rates(&server, "m3u8-aapl", "audio", a.bitrate);
    for q in &m.stream("video").unwrap().quality_levels {
        let (vp, va) = served_rates(&server, "m3u8-aapl", "video", q.bitrate);
        let (b, avg) = ts[&q.bitrate];
        eprintln!(
            "{}: TS BANDWIDTH {b} (served {:.0}), AVERAGE {avg} (served {:.0}); fMP4 {:?}",
            q.bitrate,
            vp + ap,
            va + aa,
            fmp4[&q.bitrate]
        );
        assert_close(b as f64, vp + ap, 0.02, "TS BANDWIDTH");
        assert_close(avg as f64, va + aa, 0.02, "TS AVERAGE-BANDWIDTH");
        assert!(b > fmp4[&q.bitrate].0 && avg > fmp4[&q.bitrate].1, "TS costs more than fMP4");
    }
}
