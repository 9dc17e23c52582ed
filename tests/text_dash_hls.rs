//! TTML text tracks in DASH and HLS: a short source with a SubRip sidecar packaged by the binary,
//! served as `mpd-time-csf`, `m3u8-cmaf` and `m3u8-aapl`, and written as the static
//! `--layout dash,hls`.
//!
//! DASH: the MPD is read with a generic XML event parser; every text segment's TTML document is
//! parsed with quick-xml (not our model) and its cue times must be absolute (the track's timeline,
//! ISO/IEC 14496-30), equal to the source cues within 1 ms; ffprobe reads init + segments as one
//! `stpp` stream. HLS: a `SUBTITLES` rendition named by every variant, a media playlist of WebVTT
//! segments read by FFmpeg's `webvtt` demuxer; each cue at the segment's `X-TIMESTAMP-MAP` time plus
//! its own must be the source cue within 1 ms.

mod common;
mod origin_support;
mod package_support;

use std::process::Command;

use origin_support::TestServer;
use quick_xml::events::Event;
use ssfpack::format::manifest::ClientManifest;
use ssfpack::origin::PlayerConfig;

/// Cues that cross the 2 s fragment boundaries (split in the fragments, whole here).
const EN_SRT: &str = "1\n00:00:00,500 --> 00:00:01,250\nHello & <i>welcome</i>\n\n\
2\n00:00:01,800 --> 00:00:03,400\nAcross a boundary\n\n3\n00:00:03,600 --> 00:00:03,950\nLast\n\n";

/// `(begin ms, end ms, text)` of every `p` of a TTML document, read with quick-xml.
fn ttml_cues(doc: &[u8]) -> Vec<(f64, f64, String)> {
    let mut r = quick_xml::Reader::from_reader(doc);
    let mut buf = Vec::new();
    let (mut cues, mut current) = (Vec::new(), None::<(f64, f64, String)>);
    let clock = |v: &str| {
        let p: Vec<f64> = v.split(':').map(|x| x.parse().unwrap()).collect();
        (p[0] * 3600.0 + p[1] * 60.0 + p[2]) * 1000.0
    };
    loop {
        match r.read_event_into(&mut buf).expect("well-formed TTML") {
            Event::Start(e) if e.name().as_ref() == b"p" => {
                let attr = |k: &str| {
                    let a = e.attributes().flatten().find(|a| a.key.as_ref() == k.as_bytes()).unwrap();
                    a.unescape_value().unwrap().into_owned()
                };
                current = Some((clock(&attr("begin")), clock(&attr("end")), String::new()));
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.2.push_str(&t.unescape().unwrap());
                }
            }
            Event::End(e) if e.name().as_ref() == b"p" => cues.push(current.take().unwrap()),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    cues
}

/// Pieces of one cue in consecutive fragments joined back.
fn merged(pieces: Vec<(f64, f64, String)>) -> Vec<(f64, f64, String)> {
    let mut out: Vec<(f64, f64, String)> = Vec::new();
    for p in pieces {
        match out.last_mut() {
            Some(last) if last.2 == p.2 && (last.1 - p.0).abs() < 0.5 => last.1 = p.1,
            _ => out.push(p),
        }
    }
    out
}

fn mdat_payload(segment: &[u8]) -> &[u8] {
    let at = segment.windows(4).position(|w| w == b"mdat").expect("an mdat");
    &segment[at + 4..]
}

/// The source (4 s, one 200k rung, `EN_SRT` as English captions) packaged with `layout`.
fn packaged(tmp: &std::path::Path, layout: &str) -> (std::path::PathBuf, ClientManifest) {
    let srt = tmp.join("en.srt");
    std::fs::write(&srt, EN_SRT).unwrap();
    let src = tmp.join("src.mp4");
    #[rustfmt::skip]
    package_support::ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=4", "-f", "lavfi", "-i", "sine=d=4",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", src.to_str().unwrap(),
    ]);
    let out = tmp.join("out");
    let sub = format!("--subtitles={}:en", srt.display());
    package_support::package(&src, &out, &["--ladder", "160x90@200k", "--captions", &sub, "--layout", layout]);
    let m = ClientManifest::from_xml(&std::fs::read_to_string(out.join("src.ismc")).unwrap(), "src.ismc").unwrap();
    (out, m)
}

/// The source cues, `(begin ms, end ms, text)`.
const WANT: [(f64, f64, &str); 3] =
    [(500.0, 1250.0, "Hello & welcome"), (1800.0, 3400.0, "Across a boundary"), (3600.0, 3950.0, "Last")];

fn assert_cues(got: &[(f64, f64, String)]) {
    assert_eq!(got.len(), WANT.len(), "{got:?}");
    for (g, w) in got.iter().zip(WANT) {
        assert!((g.0 - w.0).abs() <= 1.0 && (g.1 - w.1).abs() <= 1.0 && g.2 == w.2, "{g:?} vs {w:?}");
    }
}

#[test]
fn ttml_tracks_are_imsc1_stpp_adaptation_sets_with_absolute_times() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, m) = packaged(tmp.path(), "ism,dash");
    let text = m.streams.iter().find(|s| s.kind == "text").expect("a text stream");
    let bitrate = text.quality_levels[0].bitrate;
    let server = TestServer::start(&out, PlayerConfig::default());

    // The MPD's text AdaptationSet, read with a generic event parser.
    let mpd = server.get("/src.ism/Manifest(format=mpd-time-csf)");
    assert_eq!(mpd.status, 200);
    let xml = String::from_utf8(mpd.body.clone()).unwrap();
    let mut r = quick_xml::Reader::from_str(&xml);
    let (mut in_text, mut seen) = (false, Vec::new());
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attrs: Vec<(String, String)> = e
                    .attributes()
                    .flatten()
                    .map(|a| {
                        (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().into_owned())
                    })
                    .collect();
                let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                match e.name().as_ref() {
                    b"AdaptationSet" => {
                        in_text = get("contentType").as_deref() == Some("text");
                        if in_text {
                            seen.push(format!("set {:?} {:?}", get("mimeType"), get("lang")));
                        }
                    }
                    b"Role" if in_text => seen.push(format!("role {:?}", get("value"))),
                    b"SegmentTemplate" if in_text => seen.push(format!("media {:?}", get("media"))),
                    b"Representation" if in_text => seen.push(format!("codecs {:?}", get("codecs"))),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let name = &text.name;
    assert_eq!(
        seen,
        [
            "set Some(\"application/mp4\") Some(\"eng\")".to_string(),
            "role Some(\"caption\")".into(),
            format!("media Some(\"QualityLevels($Bandwidth$)/Fragments({name}=$Time$,format=mpd-time-csf)\")"),
            "codecs Some(\"stpp.ttml.im1t\")".into(),
        ]
    );

    // Every segment's document has absolute times; together they are the source cues.
    let base = format!("/src.ism/QualityLevels({bitrate})/Fragments({name}");
    let init = server.get(&format!("{base}=i,format=mpd-time-csf)"));
    assert_eq!((init.status, init.header("content-type")), (200, Some("application/mp4")));
    let mut all = init.body.clone();
    let mut pieces = Vec::new();
    for c in &text.chunks {
        let seg = server.get(&format!("{base}={},format=mpd-time-csf)", c.t));
        assert_eq!((seg.status, seg.header("content-type")), (200, Some("application/mp4")), "fragment {}", c.t);
        assert!(
            seg.header("cache-control").is_some_and(|v| v.contains("max-age")),
            "{:?}",
            seg.header("cache-control")
        );
        for cue in ttml_cues(mdat_payload(&seg.body)) {
            let (start, end) = (c.t as f64 / 10_000.0, (c.t + c.d) as f64 / 10_000.0);
            assert!(cue.0 >= start - 1.0 && cue.1 <= end + 1.0, "cue {cue:?} outside fragment {start}..{end} ms");
            pieces.push(cue);
        }
        // The static layout's file is the served segment.
        let file = out.join(format!("cmaf/{name}_{bitrate}/{}.m4s", c.t));
        assert_eq!(std::fs::read(&file).unwrap(), seg.body, "{}", file.display());
        all.extend_from_slice(&seg.body);
    }
    assert_cues(&merged(pieces));
    let static_mpd = std::fs::read_to_string(out.join("src.mpd")).unwrap();
    assert!(static_mpd.contains("contentType=\"text\""), "{static_mpd}");

    // ffprobe reads init + segments as one stpp stream with every document a packet at its time.
    let joined = tmp.path().join("text.mp4");
    std::fs::write(&joined, &all).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_tag_string:packet=pts_time", "-of", "csv=p=0"])
        .arg(&joined)
        .output()
        .unwrap();
    assert!(probe.status.success(), "{}", String::from_utf8_lossy(&probe.stderr));
    let lines = String::from_utf8(probe.stdout).unwrap();
    assert!(lines.lines().any(|l| l == "stpp"), "{lines}");
    let times: Vec<f64> = lines.lines().filter_map(|l| l.parse().ok()).collect();
    let expect: Vec<f64> = text.chunks.iter().map(|c| c.t as f64 / 1e7).collect();
    assert_eq!(times.len(), expect.len(), "{lines}");
    assert!(times.iter().zip(&expect).all(|(a, b)| (a - b).abs() < 0.001), "{times:?} vs {expect:?}");
}

/// `(MPEGTS, LOCAL ms)` of a WebVTT segment's `X-TIMESTAMP-MAP` header line.
fn timestamp_map(vtt: &str) -> (u64, f64) {
    let line = vtt.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix("X-TIMESTAMP-MAP="));
    let (mut mpegts, mut local) = (None, None);
    for part in line.expect("an X-TIMESTAMP-MAP header").split(',') {
        if let Some(v) = part.strip_prefix("MPEGTS:") {
            mpegts = Some(v.parse().unwrap());
        } else if let Some(v) = part.strip_prefix("LOCAL:") {
            let p: Vec<f64> = v.split(':').map(|x| x.parse().unwrap()).collect();
            local = Some((p[0] * 3600.0 + p[1] * 60.0 + p[2]) * 1000.0);
        }
    }
    (mpegts.unwrap(), local.unwrap())
}

/// `(begin ms, end ms, text)` of each cue of a WebVTT file, as FFmpeg's `webvtt` demuxer and
/// decoder read them (local times, markup removed).
fn ffmpeg_vtt_cues(file: &std::path::Path) -> Vec<(f64, f64, String)> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "webvtt", "-i"])
        .arg(file)
        .args(["-f", "srt", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let srt = String::from_utf8(out.stdout).unwrap();
    let clock = |v: &str| {
        let p: Vec<f64> = v.trim().replace(',', ".").split(':').map(|x| x.parse().unwrap()).collect();
        (p[0] * 3600.0 + p[1] * 60.0 + p[2]) * 1000.0
    };
    srt.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let lines: Vec<&str> = b.trim().lines().collect();
            let (from, to) = lines[1].split_once("-->").unwrap();
            let text = lines[2..].join(" ").replace("<i>", "").replace("</i>", "");
            (clock(from), clock(to), text)
        })
        .collect()
}

#[test]
fn ttml_tracks_are_webvtt_subtitle_renditions_in_both_hls_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, m) = packaged(tmp.path(), "ism,dash,hls");
    let text = m.streams.iter().find(|s| s.kind == "text").expect("a text stream");
    let (name, bitrate) = (&text.name, text.quality_levels[0].bitrate);
    let server = TestServer::start(&out, PlayerConfig::default());
    let captions = "CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog,\
                    public.accessibility.describes-music-and-sound\"";
    for format in ["m3u8-cmaf", "m3u8-aapl"] {
        let master = server.get(&format!("/src.ism/Manifest(format={format})")).text();
        let playlist = format!("QualityLevels({bitrate})/Manifest({name},format={format})");
        let rendition = format!(
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"eng (CC)\",LANGUAGE=\"en\",DEFAULT=NO,\
             AUTOSELECT=YES,FORCED=NO,{captions},URI=\"{playlist}\""
        );
        assert!(master.lines().any(|l| l == rendition), "{format}: no {rendition}\n{master}");
        let variants: Vec<&str> = master.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF:")).collect();
        assert!(!variants.is_empty() && variants.iter().all(|v| v.ends_with(",SUBTITLES=\"subs\"")), "{master}");

        let media = server.get(&format!("/src.ism/{playlist}"));
        assert_eq!((media.status, media.header("content-type")), (200, Some("application/vnd.apple.mpegurl")));
        let media = media.text();
        assert!(!media.contains("EXT-X-MAP"), "WebVTT segments have no init segment: {media}");
        assert!(media.ends_with("#EXT-X-ENDLIST\n"), "{media}");
        let uris: Vec<&str> = media.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(uris.len(), text.chunks.len(), "{media}");
        let init = server.get(&format!("/src.ism/QualityLevels({bitrate})/Fragments({name}=i,format={format})"));
        assert_eq!(init.status, 404, "{format}: no init segment for WebVTT");

        let mut pieces = Vec::new();
        for (c, uri) in text.chunks.iter().zip(&uris) {
            assert_eq!(*uri, format!("Fragments({name}={},format={format})", c.t));
            let seg = server.get(&format!("/src.ism/QualityLevels({bitrate})/{uri}"));
            assert_eq!((seg.status, seg.header("content-type")), (200, Some("text/vtt; charset=utf-8")), "{uri}");
            let vtt = seg.text();
            assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
            let (mpegts, local) = timestamp_map(&vtt);
            assert_eq!(mpegts, c.t * 9 / 1000, "{uri}: MPEGTS is the fragment start at 90 kHz");
            let file = tmp.path().join(format!("{format}-{}.vtt", c.t));
            std::fs::write(&file, &vtt).unwrap();
            for (b, e, t) in ffmpeg_vtt_cues(&file) {
                let at = mpegts as f64 / 90.0 - local;
                let (start, end) = (c.t as f64 / 10_000.0, (c.t + c.d) as f64 / 10_000.0);
                assert!(b + at >= start - 1.0 && e + at <= end + 1.0, "{uri}: cue {b}..{e} outside {start}..{end}");
                pieces.push((b + at, e + at, t));
            }
            // The static layout's file is the served segment (both forms: the same bytes).
            let file = out.join(format!("cmaf/{name}_{bitrate}/{}.vtt", c.t));
            assert_eq!(std::fs::read_to_string(&file).unwrap(), vtt, "{}", file.display());
        }
        assert_cues(&merged(pieces));
    }

    // The static master and the text playlist name the files beside them.
    let master = std::fs::read_to_string(out.join("src.m3u8")).unwrap();
    assert!(master.contains(&format!("URI=\"cmaf/{name}_{bitrate}/index.m3u8\"")), "{master}");
    let media = std::fs::read_to_string(out.join(format!("cmaf/{name}_{bitrate}/index.m3u8"))).unwrap();
    let uris: Vec<String> = media.lines().filter(|l| !l.starts_with('#')).map(String::from).collect();
    let want: Vec<String> = text.chunks.iter().map(|c| format!("{}.vtt", c.t)).collect();
    assert_eq!(uris, want, "{media}");
}
