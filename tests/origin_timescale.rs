//! Stream timescales other than 10^7 in DASH/HLS/Smooth URLs. A real encode (FFmpeg source,
//! `ssfpack` ladder) is rewritten box by box to a 90 kHz presentation (every `mdhd`, `trex`,
//! `trun` duration and composition offset, `tfxd` and `tfra` time, and a client manifest whose
//! StreamIndexes say `TimeScale="90000"`), as another packager would write it; a second copy keeps
//! the 10^7 media and says 90 kHz only in its manifest. Both are served: the MPD's timelines are
//! in 90 kHz, every segment's `tfdt` is its time in the track's timescale, the HLS `EXTINF`s are
//! the 90 kHz durations, init + segments decode in FFmpeg with every frame at the time of the
//! original, and Smooth fragments are found at the 90 kHz times.

mod common;
mod origin_support;
mod package_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use origin_support::TestServer;
use shiguredo_mp4::boxes::{MfraBox, MoofBox, MoovBox};
use ssfpack::format::boxes::{decode, encode, PiffBox, Tfxd};
use ssfpack::format::manifest::{Chunk, ClientManifest};
use ssfpack::format::reader::MediaFile;
use ssfpack::origin::PlayerConfig;

const TS: u64 = 90_000;

/// 10^7 units → 90 kHz, rounded to the nearest.
fn scale(x: u64) -> u64 {
    (x * 9 + 500) / 1000
}

fn scale_signed(x: i64) -> i64 {
    (x as f64 * 9.0 / 1000.0).round() as i64
}

/// The source packaged into two video rungs and audio (4 s, 25 fps, 48 kHz AAC).
fn packaged(tmp: &Path) -> PathBuf {
    let src = tmp.join("src.mp4");
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
    let out = tmp.join("orig");
    package_support::package(&src, &out, &["--ladder", "320x180@400k,160x90@150k"]);
    out
}

/// Rewrites a PIFF file's times to 90 kHz in place; every box keeps its size (so `tfra` offsets
/// stay right).
fn rewrite_media(file: &Path) {
    let data = std::fs::read(file).unwrap();
    let (mut out, mut pos) = (Vec::new(), 0);
    while pos < data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &data[pos + 4..pos + 8];
        let b = &data[pos..pos + size];
        let new = match kind {
            b"moov" => {
                let (mut moov, _): (MoovBox, usize) = decode(b, "moov").unwrap();
                for trak in &mut moov.trak_boxes {
                    let mdhd = &mut trak.mdia_box.mdhd_box;
                    mdhd.timescale = std::num::NonZeroU32::new(TS as u32).unwrap();
                    mdhd.duration = scale(mdhd.duration);
                }
                for trex in moov.mvex_box.iter_mut().flat_map(|m| m.trex_boxes.iter_mut()) {
                    trex.default_sample_duration = scale(trex.default_sample_duration.into()) as u32;
                }
                encode(&moov, "moov").unwrap()
            }
            b"moof" => {
                let (mut moof, _): (MoofBox, usize) = decode(b, "moof").unwrap();
                for traf in &mut moof.traf_boxes {
                    let d = &mut traf.tfhd_box.default_sample_duration;
                    *d = d.map(|d| scale(d.into()) as u32);
                    for s in traf.trun_boxes.iter_mut().flat_map(|t| t.samples.iter_mut()) {
                        s.duration = s.duration.map(|d| scale(d.into()) as u32);
                        s.composition_time_offset = s.composition_time_offset.map(scale_signed);
                    }
                    for u in &mut traf.unknown_boxes {
                        if let PiffBox::Tfxd(x) = PiffBox::from_unknown(u).unwrap() {
                            *u = PiffBox::Tfxd(Tfxd { time: scale(x.time), duration: scale(x.duration) }).to_unknown();
                        }
                    }
                }
                encode(&moof, "moof").unwrap()
            }
            b"mfra" => {
                let (mut mfra, _): (MfraBox, usize) = decode(b, "mfra").unwrap();
                for e in mfra.tfra_boxes.iter_mut().flat_map(|t| t.entries.iter_mut()) {
                    e.time = scale(e.time);
                }
                encode(&mfra, "mfra").unwrap()
            }
            _ => b.to_vec(),
        };
        assert_eq!(new.len(), size, "{}: {} keeps its size", file.display(), String::from_utf8_lossy(kind));
        out.extend(new);
        pos += size;
    }
    std::fs::write(file, out).unwrap();
}

/// The client manifest with every StreamIndex in 90 kHz (`TimeScale="90000"`, each `t`/`d`
/// rescaled, contiguous); the root keeps 10^7.
fn rewrite_manifest(file: &Path) {
    let mut m = ClientManifest::from_xml(&std::fs::read_to_string(file).unwrap(), "ismc").unwrap();
    for s in &mut m.streams {
        s.timescale = Some(TS);
        s.chunks = s.chunks.iter().map(|c| Chunk { t: scale(c.t), d: scale(c.t + c.d) - scale(c.t) }).collect();
    }
    std::fs::write(file, m.to_xml().unwrap()).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// (frame count, first and last frame time in seconds) of a file's `kind` (v/a) stream.
fn frames(file: &Path, kind: &str) -> (usize, f64, f64) {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", kind, "-show_entries", "frame=best_effort_timestamp_time"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "ffprobe {}", file.display());
    let times: Vec<f64> = String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
    let min = times.iter().copied().fold(f64::MAX, f64::min);
    let max = times.iter().copied().fold(f64::MIN, f64::max);
    (times.len(), min, max)
}

fn media_file(dir: &Path, stream: &str, bitrate: u32) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            if stream == "video" {
                n.ends_with(&format!("_{}k.ismv", bitrate / 1000))
            } else {
                n.ends_with(".isma")
            }
        })
        .unwrap()
}

/// Serves the 90 kHz `dir` and checks every rung as DASH and HLS (and Smooth) against the 10^7
/// original `orig`.
fn check(dir: &Path, orig: &Path) {
    let m = ClientManifest::from_xml(&std::fs::read_to_string(dir.join("src.ismc")).unwrap(), "ismc").unwrap();
    let server = TestServer::start(dir, PlayerConfig::default());
    let mpd = server.get("/src.ism/Manifest(format=mpd-time-csf)").text();
    assert_eq!(mpd.matches("timescale=\"90000\"").count(), 2, "{mpd}");
    let scratch = tempfile::tempdir().unwrap();
    for s in &m.streams {
        assert_eq!(s.timescale, Some(TS));
        assert!(mpd.contains(&format!("<S t=\"{}\" d=\"{}\"", s.chunks[0].t, s.chunks[0].d)), "{mpd}");
        for q in &s.quality_levels {
            let base = format!("/src.ism/QualityLevels({})", q.bitrate);
            let playlist = server.get(&format!("{base}/Manifest({},format=m3u8-cmaf)", s.name)).text();
            let mut bytes = server.get(&format!("{base}/Fragments({}=i,format=mpd-time-csf)", s.name)).body;
            for c in &s.chunks {
                let extinf =
                    format!("#EXTINF:{:.6},\nFragments({}={},format=m3u8-cmaf)", c.d as f64 / TS as f64, s.name, c.t);
                assert!(playlist.contains(&extinf), "{extinf} in {playlist}");
                let r = server.get(&format!("{base}/Fragments({}={},format=mpd-time-csf)", s.name, c.t));
                assert_eq!(r.status, 200, "{} {}", s.name, c.t);
                let f = MediaFile::parse(std::io::Cursor::new(&r.body), r.body.len() as u64, "seg".as_ref()).unwrap();
                assert_eq!(f.fragments[0].tfdt, Some(c.t), "{} {}: tfdt = t in the track's 90 kHz", s.name, c.t);
                let smooth = server.get(&format!("{base}/Fragments({}={})", s.name, c.t));
                assert_eq!(smooth.status, 200, "Smooth {} {}", s.name, c.t);
                bytes.extend(r.body);
            }
            let file = scratch.path().join(format!("{}_{}.mp4", s.name, q.bitrate));
            std::fs::write(&file, bytes).unwrap();
            assert_eq!(package_support::decode_errors(&file), "", "{}", file.display());
            let kind = if s.kind == "video" { "v" } else { "a" };
            let (n, first, last) = frames(&file, kind);
            let (n0, first0, last0) = frames(&media_file(orig, &s.name, q.bitrate), kind);
            assert_eq!(n, n0, "{}: every frame", file.display());
            assert!(
                (first - first0).abs() < 0.001 && (last - last0).abs() < 0.001,
                "{first} {last} vs {first0} {last0}"
            );
        }
    }
}

#[test]
fn a_90khz_presentation_as_dash_hls_and_smooth() {
    let tmp = tempfile::tempdir().unwrap();
    let orig = packaged(tmp.path());
    let dir = tmp.path().join("khz90");
    copy_dir(&orig, &dir);
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        if matches!(p.extension().and_then(|x| x.to_str()), Some("ismv" | "isma")) {
            rewrite_media(&p);
        }
    }
    rewrite_manifest(&dir.join("src.ismc"));
    check(&dir, &orig);
}

/// The manifest in 90 kHz over media in 10^7: the origin rescales the URL's time to find the
/// fragment, and the `tfdt` is in the media's timescale.
#[test]
fn a_manifest_timescale_other_than_the_media_s() {
    let tmp = tempfile::tempdir().unwrap();
    let orig = packaged(tmp.path());
    let dir = tmp.path().join("mixed");
    copy_dir(&orig, &dir);
    rewrite_manifest(&dir.join("src.ismc"));
    let server = TestServer::start(&dir, PlayerConfig::default());
    let m = ClientManifest::from_xml(&std::fs::read_to_string(dir.join("src.ismc")).unwrap(), "ismc").unwrap();
    let o = ClientManifest::from_xml(&std::fs::read_to_string(orig.join("src.ismc")).unwrap(), "ismc").unwrap();
    for (s, so) in m.streams.iter().zip(&o.streams) {
        let q = &s.quality_levels[0];
        for (c, co) in s.chunks.iter().zip(&so.chunks) {
            let url =
                format!("/src.ism/QualityLevels({})/Fragments({}={},format=mpd-time-csf)", q.bitrate, s.name, c.t);
            let r = server.get(&url);
            assert_eq!(r.status, 200, "{url}");
            let f = MediaFile::parse(std::io::Cursor::new(&r.body), r.body.len() as u64, "seg".as_ref()).unwrap();
            assert_eq!(f.fragments[0].tfdt, Some(co.t), "{url}: tfdt in the media's 10^7");
        }
    }
}
