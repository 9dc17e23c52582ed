//! Shared support for the `ssfpack INPUT -o DIR` tests: run the binary, generate sources with the
//! `ffmpeg` CLI, and inspect the output with ffprobe and the format reader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ssfpack::format::reader::MediaFile;

pub const TICKS: f64 = 10_000_000.0;

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}

pub fn ssfpack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssfpack")).args(args).output().expect("run ssfpack")
}

/// Packages `input` into `out` with `extra` options and `--json`; panics with stderr on failure.
pub fn package(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = ssfpack(&args);
    assert!(
        o.status.success(),
        "ssfpack {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    serde_json::from_slice(&o.stdout).expect("--json prints JSON")
}

/// Runs `ffmpeg -nostdin -v error -y ARGS`, panicking on failure.
pub fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-y"]).args(args).output().expect("run ffmpeg");
    assert!(o.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// `ssfpack check DIR` must pass.
pub fn check(dir: &Path) {
    let o = ssfpack(&["check", dir.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "check {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Decodes a whole file with FFmpeg; returns what it printed at `-v error` (empty = no errors).
/// `-enc_time_base -1` keeps the file's own time base: otherwise FFmpeg's null output guesses a
/// frame-rate time base and complains about VFR sources (the sources themselves included).
pub fn decode_errors(file: &Path) -> String {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-enc_time_base", "-1", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let mut s = String::from_utf8_lossy(&o.stderr).into_owned();
    if !o.status.success() {
        s.push_str("(ffmpeg failed)");
    }
    s
}

/// Frames ffprobe decodes in the first stream of `file` of the given type (`v` or `a`).
pub fn count_frames(file: &Path, kind: &str) -> u64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let text = String::from_utf8_lossy(&o.stdout);
    text.trim().trim_end_matches(',').parse().unwrap_or_else(|_| panic!("ffprobe on {}: {text}", file.display()))
}

/// Presentation times (seconds) of the video frames of `file`, in presentation order.
pub fn frame_times(file: &Path) -> Vec<f64> {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let mut t: Vec<f64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t
}

/// The `(tfxd time, tfxd duration)` of every fragment of a written file, with a check that each
/// video fragment starts with a sync sample.
pub fn fragments(file: &Path) -> Vec<(u64, u64)> {
    let m = MediaFile::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    m.fragments
        .iter()
        .map(|f| {
            let x = f.tfxd.unwrap_or_else(|| panic!("{}: fragment without tfxd", file.display()));
            assert!(
                f.samples.first().is_some_and(|s| s.is_sync()),
                "{}: fragment at {} does not start with a sync sample",
                file.display(),
                x.time
            );
            (x.time, x.duration)
        })
        .collect()
}

/// Files in `dir` with the extension `ext`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

/// Asserts the whole presentation: `check` passes, every rung decodes without error with `frames`
/// frames and the same fragment times, the video ends within one frame of `video_end` seconds, and
/// each audio track decodes cleanly and ends within two AAC frames of `audio_end` seconds.
pub fn assert_presentation(dir: &Path, frames: Option<u64>, video_end: Option<f64>, audio_end: Option<f64>) {
    check(dir);
    let videos = files(dir, "ismv");
    let audios = files(dir, "isma");
    assert_eq!(videos.is_empty(), frames.is_none(), "video rungs in {}", dir.display());
    let mut reference: Option<Vec<(u64, u64)>> = None;
    for v in &videos {
        assert_eq!(decode_errors(v), "", "{} decodes with errors", v.display());
        if let Some(n) = frames {
            assert_eq!(count_frames(v, "v"), n, "{} frame count", v.display());
        }
        let f = fragments(v);
        assert_eq!(f.first().map(|x| x.0), Some(0), "{} starts at 0", v.display());
        for w in f.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "{}: contiguous fragments", v.display());
        }
        match &reference {
            None => reference = Some(f),
            Some(r) => assert_eq!(&f, r, "{} is not aligned with the first rung", v.display()),
        }
    }
    if let (Some(r), Some(end)) = (&reference, video_end) {
        let last = r.last().map(|x| (x.0 + x.1) as f64 / TICKS).unwrap();
        let frame = end / frames.unwrap_or(1).max(1) as f64;
        assert!((last - end).abs() < frame, "video ends at {last}, source at {end}");
    }
    for a in &audios {
        assert_eq!(decode_errors(a), "", "{} decodes with errors", a.display());
        let f = fragments(a);
        assert_eq!(f.first().map(|x| x.0), Some(0), "{} starts at 0", a.display());
        for w in f.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "{}: contiguous fragments", a.display());
        }
        if let Some(end) = audio_end {
            let last = f.last().map(|x| (x.0 + x.1) as f64 / TICKS).unwrap();
            assert!((last - end).abs() <= 2.0 * 1024.0 / 44_100.0, "{} ends at {last}, expected {end}", a.display());
        }
    }
}
