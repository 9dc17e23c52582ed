//! `ssfpack INPUT -o DIR` on sources generated at test time with the `ffmpeg` CLI: 1080p 29.97 with
//! B-frames (default ladder), variable frame rate, 44.1 kHz mono, 854x480 and an odd size, rotation
//! metadata, several audio languages, and an interrupted run.

mod package_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use package_support::*;

/// Fragment starts (ticks) the grid rule gives for frames at `times` (seconds, from the source):
/// the first frame at or after each k × d, times rebased to the first frame.
fn expected_boundaries(times: &[f64], d: f64) -> Vec<u64> {
    let t0 = times[0];
    let ticks: Vec<i64> = times.iter().map(|t| ((t - t0) * TICKS).round() as i64).collect();
    let d = (d * TICKS).round() as i64;
    let mut next = 0;
    let mut out = Vec::new();
    for t in ticks {
        if t >= next {
            out.push(t as u64);
            next = (t / d + 1) * d;
        }
    }
    out
}

fn starts(file: &Path) -> Vec<u64> {
    fragments(file).iter().map(|f| f.0).collect()
}

#[test]
fn hd_1080p_29_97_with_b_frames_default_ladder() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("hd.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30000/1001:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-bf",
        "3",
        "-x264-params",
        "bframes=3:b-adapt=0",
        "-g",
        "45",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-shortest",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let s = package(&src, &out, &["--x264-preset", "ultrafast", "--fragment-duration", "1"]);
    let sizes: Vec<(u64, u64, u64)> = s["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap(), r["bitrate"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        sizes,
        vec![
            (1920, 1080, 6_000_000),
            (1280, 720, 3_400_000),
            (960, 540, 2_250_000),
            (640, 360, 1_000_000),
            (320, 180, 400_000)
        ]
    );
    assert_presentation(&out, Some(90), Some(90.0 * 1001.0 / 30000.0), Some(3.0));
    // 29.97 fps, 1 s fragments: frames 0, 30, 60 (30 × 333,667 ≥ 10,000,000).
    let times = frame_times(&src);
    let want = expected_boundaries(&times, 1.0);
    assert_eq!(want, vec![0, 10_010_000, 20_020_000]);
    assert_eq!(starts(&out.join("hd_6000k.ismv")), want);
}

#[test]
fn variable_frame_rate_cuts_on_source_time() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("vfr.mkv");
    // 2 s at 25 fps, 2 s at 10 fps, 1 s at 30 fps, concatenated with their own timestamps.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=10:duration=2",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30:duration=1",
        "-filter_complex",
        "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]",
        "-map",
        "[v]",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        src.to_str().unwrap(),
    ]);
    let times = frame_times(&src);
    assert_eq!(times.len(), 50 + 20 + 30, "VFR source");
    let out = tmp.path().join("out");
    package(
        &src,
        &out,
        &["--x264-preset", "ultrafast", "--ladder", "320x240@400k,160x120@150k", "--fragment-duration", "1.3"],
    );
    assert_presentation(&out, Some(100), Some(5.0), None);
    let want = expected_boundaries(&times, 1.3);
    assert_eq!(starts(&out.join("vfr_400k.ismv")), want);
    assert_eq!(starts(&out.join("vfr_150k.ismv")), want);
}

#[test]
fn mono_44_1_khz_and_odd_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("sd.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=854x480:rate=24:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:sample_rate=44100:duration=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "1",
        "-ar",
        "44100",
        "-shortest",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let s = package(&src, &out, &["--x264-preset", "ultrafast"]);
    let sizes: Vec<(u64, u64)> = s["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(sizes, vec![(854, 480), (640, 360), (320, 180)], "three rungs, never upscaled");
    assert_eq!((s["audio"][0]["sample_rate"].as_u64(), s["audio"][0]["channels"].as_u64()), (Some(44100), Some(1)));
    assert_presentation(&out, Some(72), Some(3.0), Some(3.0));
    let ismc = std::fs::read_to_string(out.join("sd.ismc")).unwrap();
    assert!(ismc.contains(r#"SamplingRate="44100""#) && ismc.contains(r#"Channels="1""#), "{ismc}");
    // Audio fragments cut on AAC frames within one frame of the video boundaries.
    let video = fragments(&out.join("sd_1800k.ismv"));
    let audio = fragments(&out.join("sd_audio.isma"));
    assert_eq!(video.len(), audio.len());
    for (v, a) in video.iter().zip(&audio) {
        assert!(v.0.abs_diff(a.0) <= 232_200, "audio fragment {} vs video {}", a.0, v.0);
    }

    // An odd-sized, 4:4:4 source: rungs come out even.
    let odd = tmp.path().join("odd.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=853x479:rate=25:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv444p",
        odd.to_str().unwrap(),
    ]);
    let out = tmp.path().join("odd_out");
    let s = package(&odd, &out, &["--x264-preset", "ultrafast"]);
    for r in s["rungs"].as_array().unwrap() {
        assert_eq!((r["width"].as_u64().unwrap() % 2, r["height"].as_u64().unwrap() % 2), (0, 0), "{r}");
    }
    assert_eq!(s["rungs"][0]["width"], 852);
    assert_presentation(&out, Some(25), Some(1.0), None);
}

#[test]
fn rotation_metadata_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        plain.to_str().unwrap(),
    ]);
    // FFmpeg 5.1 turns the `rotate` tag into a display matrix only when stream-copying.
    let src = tmp.path().join("phone.mp4");
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", "rotate=90", src.to_str().unwrap()]);
    let out = tmp.path().join("out");
    let s = package(&src, &out, &["--x264-preset", "ultrafast"]);
    assert_eq!((s["rungs"][0]["width"].as_u64(), s["rungs"][0]["height"].as_u64()), (Some(180), Some(320)), "{s}");
    assert_presentation(&out, Some(25), Some(1.0), None);
    // The pixels are turned the way `ffmpeg` (autorotate) shows the source.
    let reference = tmp.path().join("ref.y4m");
    let ours = tmp.path().join("ours.y4m");
    ffmpeg(&["-i", src.to_str().unwrap(), "-frames:v", "1", "-pix_fmt", "yuv420p", reference.to_str().unwrap()]);
    let rung = out.join("phone_400k.ismv");
    ffmpeg(&["-i", rung.to_str().unwrap(), "-frames:v", "1", "-pix_fmt", "yuv420p", ours.to_str().unwrap()]);
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-i", reference.to_str().unwrap(), "-i", ours.to_str().unwrap(), "-lavfi", "psnr"])
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    let psnr: f64 = log
        .split("average:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no PSNR in {log}"));
    assert!(psnr > 30.0, "rotated picture differs from ffmpeg's autorotate (PSNR {psnr})");
}

#[test]
fn every_audio_track_with_its_language() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("multi.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:sample_rate=32000:duration=2",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "libopus",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=fra",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let s = package(&src, &out, &["--x264-preset", "ultrafast", "--audio-bitrate", "96k"]);
    let audio: Vec<(String, String, String, u64)> = s["audio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["file"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                a["language"].as_str().unwrap().to_string(),
                a["bitrate"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        audio,
        vec![
            ("multi_audio_eng_0.isma".into(), "audio_eng".into(), "eng".into(), 96_000),
            ("multi_audio_fra_1.isma".into(), "audio_fra".into(), "fra".into(), 96_000)
        ]
    );
    assert_presentation(&out, Some(50), Some(2.0), Some(2.0));
    let ismc = std::fs::read_to_string(out.join("multi.ismc")).unwrap();
    assert!(ismc.contains(r#"Language="fra""#), "{ismc}");
}

#[test]
fn interrupted_run_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("long.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=60",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssfpack"))
        .args([src.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "--x264-preset", "slow"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the job is under way (its temporary folder exists), then interrupt it.
    let started = Instant::now();
    while std::fs::read_dir(tmp.path()).unwrap().count() < 2 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit code after SIGINT");
    assert!(!out.exists(), "no output folder");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("long.mkv")], "temporary folder removed");
}

#[test]
fn audio_gap_is_filled_with_silence_and_stays_in_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("gap.mkv");
    // 4 s of tone whose second second is missing (timestamps jump from 1 s to 2 s).
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=4",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-af",
        "aselect='not(between(t,1,2))'",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "flac",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    package(&src, &out, &["--x264-preset", "ultrafast"]);
    assert_presentation(&out, Some(100), Some(4.0), Some(4.0));
    let volume = |from: &str, to: &str| -> f64 {
        let o = Command::new("ffmpeg")
            .args(["-nostdin", "-i", out.join("gap_audio.isma").to_str().unwrap()])
            .args(["-af", &format!("atrim={from}:{to},volumedetect"), "-f", "null", "-"])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&o.stderr);
        log.split("max_volume:").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).unwrap()
    };
    assert!(volume("1.15", "1.85") < -80.0, "silence in the gap");
    assert!(volume("2.2", "3.8") > -30.0, "the tone after the gap");
}
