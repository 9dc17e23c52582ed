//! `media::ts::remux`: fMP4 init + media segment → one MPEG-TS segment, checked with ffprobe and
//! ffmpeg (codecs, stream count, start times, exact timestamps, gapless concatenation, decode).
//! Inputs come from the `ffmpeg` CLI (`frag_keyframe+empty_moov+default_base_moof`) and from a real
//! ssfpack presentation whose fragments get a `tfdt` inserted here (the DASH/HLS segment code
//! that will do it in the origin lives on another branch).

mod package_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::Bytes;
use package_support::{ffmpeg, package, testdata};
use shiguredo_mp4::boxes::{MoofBox, TfdtBox};
use shiguredo_mp4::{Decode, Encode};
use ssfpack::format::reader::MediaFile;
use ssfpack::format::scan::BoxScanner;
use ssfpack::media::ts::{remux, SegmentId, TrackSegment, TsError};

/// Splits a fragmented MP4 into its init segment (everything before the first `moof`) and its
/// `moof`+`mdat` pairs.
fn split(bytes: &[u8]) -> (Bytes, Vec<Bytes>) {
    let mut scanner = BoxScanner::new(1 << 30);
    scanner.push(bytes);
    let (mut init, mut segments) = (Vec::new(), Vec::<Vec<u8>>::new());
    while let Some(b) = scanner.next_box().unwrap() {
        if b.is(b"moof") {
            segments.push(b.bytes);
        } else if b.is(b"mdat") {
            segments.last_mut().expect("mdat after a moof").extend_from_slice(&b.bytes);
        } else if segments.is_empty() {
            init.extend_from_slice(&b.bytes);
        }
    }
    (Bytes::from(init), segments.into_iter().map(Bytes::from).collect())
}

/// One remux input; also sets FFmpeg up as the origin does (its log into the per-thread slot).
fn track(name: &str, time: u64, init: &Bytes, segment: &Bytes) -> TrackSegment {
    ssfpack::media::init().unwrap();
    TrackSegment { id: SegmentId { track: name.into(), time }, init: init.clone(), segment: segment.clone() }
}

fn ffprobe(args: &[&str], file: &Path) -> String {
    let o = Command::new("ffprobe").args(["-v", "error"]).args(args).arg(file).output().expect("run ffprobe");
    assert!(o.status.success(), "ffprobe {args:?} {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// (pts, dts) of every packet of the first stream, in the file's time base, and that time base.
fn packets(file: &Path) -> Vec<(i64, i64)> {
    let out = ffprobe(&["-select_streams", "0", "-show_entries", "packet=pts,dts", "-of", "csv=p=0"], file);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split(',').map(|v| v.trim().parse::<i64>().unwrap_or_else(|_| panic!("packet line {l:?}")));
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect()
}

fn stream_info(file: &Path) -> Vec<String> {
    // JSON: the CSV form repeats a TS's streams under its program.
    let out = ffprobe(&["-show_entries", "stream=codec_name,start_time", "-of", "json"], file);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{},{}", s["codec_name"].as_str().unwrap(), s["start_time"].as_str().unwrap()))
        .collect()
}

/// The NAL unit types of a TS segment's H.264 stream in order, as FFmpeg's demuxer hands the
/// Annex B bytes over (`-c copy -f h264`), split on start codes.
fn annexb_nal_types(ts: &Path) -> Vec<u8> {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(ts)
        .args(["-c", "copy", "-f", "h264", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let b = o.stdout;
    (3..b.len()).filter(|&i| b[i - 3..i] == [0, 0, 1]).map(|i| b[i] & 0x1f).collect()
}

/// What FFmpeg prints at `-v warning` decoding `file` (continuity errors, timestamp jumps…).
fn decode_warnings(file: &Path) -> String {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "warning", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The PIDs of a TS segment's first three packets (FFmpeg's muxer: SDT, PAT, PMT).
fn first_pids(ts: &[u8]) -> Vec<u16> {
    ts.chunks(188).take(3).map(|p| ((u16::from(p[1]) & 0x1f) << 8) | u16::from(p[2])).collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Ok(keep) = std::env::var("SSFPACK_TS_KEEP") {
        std::fs::write(Path::new(&keep).join(name), bytes).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A 6 s H.264 (B-frames, 2 s GOPs, 25 fps) + AAC source, fragmented by FFmpeg, one track per file.
fn cli_fragments(dir: &Path) -> (PathBuf, PathBuf) {
    let (v, a) = (dir.join("v.mp4"), dir.join("a.mp4"));
    let frag = "frag_keyframe+empty_moov+default_base_moof";
    #[rustfmt::skip]
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=6", "-c:v", "libx264", "-preset", "veryfast",
             "-g", "50", "-bf", "3", "-movflags", frag, "-f", "mp4", v.to_str().unwrap()]);
    #[rustfmt::skip]
    ffmpeg(&["-f", "lavfi", "-i", "sine=f=440:d=6:r=48000", "-c:a", "aac", "-b:a", "96k",
             "-frag_duration", "2000000", "-movflags", frag, "-f", "mp4", a.to_str().unwrap()]);
    (v, a)
}

#[test]
fn cli_fragments_remux_with_exact_timestamps_and_join() {
    let dir = tempfile::tempdir().unwrap();
    let (v, a) = cli_fragments(dir.path());
    for (file, codec) in [(&v, "h264"), (&a, "aac")] {
        let (init, segments) = split(&std::fs::read(file).unwrap());
        assert!(segments.len() >= 3, "{codec}: {} fragments", segments.len());
        let source = packets(file);
        let tb = ffprobe(&["-select_streams", "0", "-show_entries", "stream=time_base", "-of", "csv=p=0"], file);
        let den: i64 = tb.trim().split('/').nth(1).unwrap().parse().unwrap();
        let mut joined = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let ts = remux(&[track(codec, i as u64, &init, seg)]).unwrap();
            assert_eq!(ts.len() % 188, 0, "{codec} segment {i}: whole TS packets");
            assert_eq!(first_pids(&ts), [0x11, 0, 0x1000], "{codec} segment {i}: SDT, PAT, PMT first");
            let p = write(dir.path(), &format!("{codec}{i}.ts"), &ts);
            let info = stream_info(&p);
            assert_eq!(info.len(), 1, "{codec} segment {i}: {info:?}");
            assert!(info[0].starts_with(codec), "{codec} segment {i}: {info:?}");
            if codec == "h264" {
                let nals = annexb_nal_types(&p);
                let idr = nals.iter().position(|&t| t == 5).expect("an IDR");
                assert!(nals[..idr].contains(&7) && nals[..idr].contains(&8), "{i}: SPS/PPS before the IDR: {nals:?}");
                assert_eq!(nals[0], 9, "{i}: access unit delimiter first");
            }
            joined.extend_from_slice(&ts);
        }
        let all = write(dir.path(), &format!("{codec}-all.ts"), &joined);
        let got = packets(&all);
        assert_eq!(got.len(), source.len(), "{codec}: every sample, once");
        // PTS: the source's, rescaled to 90 kHz (FFmpeg's 12800 Hz video and 48 kHz audio clocks
        // both land on whole ticks). DTS: never above the PTS, never going back.
        let to90 = |t: i64| t * 90_000 / den;
        let mut want: Vec<i64> = source.iter().map(|&(pts, _)| to90(pts)).collect();
        let mut have: Vec<i64> = got.iter().map(|&(pts, _)| pts).collect();
        want.sort_unstable();
        have.sort_unstable();
        assert_eq!(have, want, "{codec}: presentation times preserved exactly");
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "{codec}: DTS strictly increasing across segments");
        assert!(got.iter().all(|&(pts, dts)| dts <= pts), "{codec}: DTS <= PTS");
        let warnings = decode_warnings(&all);
        assert!(warnings.trim().is_empty(), "{codec}: concatenated segments decode cleanly: {warnings}");
    }
}

/// Inserts `tfdt` (= the Smooth time) into a PIFF fragment's `traf` and moves the `trun` data
/// offset by the bytes added, as the DASH/HLS segment code does.
fn with_tfdt(fragment: &[u8], time: u64) -> Bytes {
    let (mut moof, moof_size) = MoofBox::decode(fragment).unwrap();
    let traf = &mut moof.traf_boxes[0];
    traf.tfdt_box = Some(TfdtBox { version: 1, base_media_decode_time: time });
    let new_size = moof.encode_to_vec().unwrap().len();
    for trun in &mut moof.traf_boxes[0].trun_boxes {
        if let Some(off) = trun.data_offset.as_mut() {
            *off += (new_size - moof_size) as i32;
        }
    }
    let mut out = moof.encode_to_vec().unwrap();
    out.extend_from_slice(&fragment[moof_size..]);
    Bytes::from(out)
}

/// One ssfpack track as an init segment and its fragments with `tfdt`: (init, [(t, segment)]).
fn smooth_track(file: &Path) -> (Bytes, Vec<(u64, Bytes)>, u32) {
    let media = MediaFile::open(file).unwrap();
    let mut init = Vec::new();
    for b in &media.top_level {
        let name = ssfpack::format::boxes::type_name(b.box_type);
        if name == "ftyp" || name == "moov" {
            init.extend(media.read_at(b.offset, b.size).unwrap());
        }
    }
    let fragments = media
        .fragments
        .iter()
        .map(|f| {
            let t = f.tfxd.expect("PIFF tfxd").time;
            (t, with_tfdt(&media.read_at(f.moof_offset, f.byte_len()).unwrap(), t))
        })
        .collect();
    (Bytes::from(init), fragments, media.tracks[0].timescale)
}

fn presentation() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // veryfast: x264 with B-frames, so the Smooth fragments carry negative composition offsets.
    package(&testdata("sample.mp4"), &out, &["--ladder", "320x180@300k", "--x264-preset", "veryfast"]);
    dir
}

fn ismv(dir: &Path, suffix: &str) -> PathBuf {
    let out = dir.join("out");
    std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == suffix))
        .unwrap_or_else(|| panic!("no .{suffix} in {}", out.display()))
}

#[test]
fn smooth_fragments_remux_at_their_smooth_times_and_decode_joined() {
    let dir = presentation();
    for (file, codec) in [(ismv(dir.path(), "ismv"), "h264"), (ismv(dir.path(), "isma"), "aac")] {
        let (init, fragments, timescale) = smooth_track(&file);
        assert_eq!(timescale, 10_000_000);
        assert!(fragments.len() >= 4, "{codec}: {} fragments", fragments.len());
        let mut joined = Vec::new();
        for (t, seg) in &fragments {
            let ts = remux(&[track(codec, *t, &init, seg)]).unwrap();
            write(dir.path(), &format!("{codec}-{t}.mp4"), &[&init[..], &seg[..]].concat());
            let p = write(dir.path(), &format!("{codec}-{t}.ts"), &ts);
            let info = stream_info(&p);
            assert_eq!(info.len(), 1, "{codec} at {t}: {info:?}");
            let (name, start) = info[0].split_once(',').unwrap();
            assert_eq!(name, codec);
            let start: f64 = start.parse().unwrap();
            let want = *t as f64 / 1e7;
            assert!((start - want).abs() <= 1.0 / 90_000.0 + 1e-9, "{codec} at {t}: start_time {start}, want {want}");
            joined.extend_from_slice(&ts);
        }
        let all = write(dir.path(), &format!("{codec}-all.ts"), &joined);
        let got = packets(&all);
        let samples: usize = MediaFile::open(&file).unwrap().fragments.iter().map(|f| f.samples.len()).sum();
        assert_eq!(got.len(), samples, "{codec}: frame count = sum of the fragments' samples");
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1), "{codec}: DTS monotonic across segments");
        assert!(got.iter().all(|&(pts, dts)| dts <= pts), "{codec}: DTS <= PTS");
        let warnings = decode_warnings(&all);
        assert!(warnings.trim().is_empty(), "{codec}: joined segments decode cleanly: {warnings}");
    }
}

#[test]
fn broken_input_is_a_typed_error_naming_the_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let (v, _) = cli_fragments(dir.path());
    let (init, segments) = split(&std::fs::read(v).unwrap());
    let seg = &segments[1];

    // Garbage instead of the media segment.
    let garbage = Bytes::from(vec![0x5a; 4096]);
    let e = remux(&[track("video", 20_000_000, &init, &garbage)]).unwrap_err();
    assert!(matches!(e, TsError::Empty { .. } | TsError::Demux { .. }), "{e:?}");
    assert!(e.to_string().contains("track video, fragment 20000000"), "{e}");

    // No init segment: nothing says what the samples are.
    let e = remux(&[track("video", 7, &Bytes::new(), seg)]).unwrap_err();
    assert!(e.to_string().starts_with("track video, fragment 7: "), "{e}");

    // A media segment cut in its mdat: the samples that are there, or an error, never a panic.
    let cut = seg.slice(..seg.len() / 2);
    match remux(&[track("video", 8, &init, &cut)]) {
        Ok(ts) => assert_eq!(ts.len() % 188, 0),
        Err(e) => assert!(e.to_string().contains("fragment 8"), "{e}"),
    }

    // A codec MPEG-TS segments here do not carry.
    let vp9 = dir.path().join("vp9.mp4");
    #[rustfmt::skip]
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=2", "-c:v", "libvpx-vp9", "-deadline", "realtime",
             "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", vp9.to_str().unwrap()]);
    let (vinit, vsegs) = split(&std::fs::read(vp9).unwrap());
    let e = remux(&[track("video", 0, &vinit, &vsegs[0])]).unwrap_err();
    assert!(matches!(e, TsError::Codec { ref codec, .. } if codec == "vp9"), "{e:?}");
}

#[test]
fn two_threads_remux_at_once_with_the_same_result() {
    let dir = tempfile::tempdir().unwrap();
    let (v, a) = cli_fragments(dir.path());
    let (vi, vs) = split(&std::fs::read(v).unwrap());
    let (ai, as_) = split(&std::fs::read(a).unwrap());
    let alone: Vec<Vec<u8>> = vs.iter().map(|s| remux(&[track("video", 0, &vi, s)]).unwrap()).collect();
    let threads: Vec<_> = (0..2)
        .map(|n| {
            let (vi, vs, ai, as_) = (vi.clone(), vs.clone(), ai.clone(), as_.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for _ in 0..5 {
                    out = vs.iter().map(|s| remux(&[track("video", n, &vi, s)]).unwrap()).collect::<Vec<_>>();
                    for s in &as_ {
                        remux(&[track("audio", n, &ai, s)]).unwrap();
                    }
                }
                out
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), alone, "same bytes from every thread");
    }
}

#[test]
fn video_and_audio_mux_into_one_program() {
    let dir = tempfile::tempdir().unwrap();
    let (v, a) = cli_fragments(dir.path());
    let (vi, vs) = split(&std::fs::read(v).unwrap());
    let (ai, as_) = split(&std::fs::read(a).unwrap());
    let ts = remux(&[track("video", 0, &vi, &vs[0]), track("audio", 0, &ai, &as_[0])]).unwrap();
    let p = write(dir.path(), "muxed.ts", &ts);
    let mut info = stream_info(&p);
    info.sort();
    assert_eq!(info.len(), 2, "{info:?}");
    assert!(info[0].starts_with("aac,") && info[1].starts_with("h264,"), "{info:?}");
    let warnings = decode_warnings(&p);
    assert!(warnings.trim().is_empty(), "{warnings}");
    assert!(matches!(remux(&[]), Err(TsError::NoTracks)));
}
