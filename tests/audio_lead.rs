//! A source whose video starts long after its audio (the file interleaves 140 s of audio before
//! the first video packet): the audio waiting for the first video frame is bounded, so peak memory
//! stays flat, and the output is the same presentation as ever (audio from the first video frame).
//! Peak RSS is read with GNU time (`/usr/bin/time -f %M`, installed by scripts/setup).

mod package_support;

use std::path::Path;
use std::process::Command;

use package_support::{check, ffmpeg};

/// (peak RSS in KiB, stderr) of `ssfpack INPUT -o OUT` with a tiny ladder.
fn peak_rss(input: &Path, out: &Path) -> (u64, String) {
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_ssfpack"))
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--ladder", "160x90@100k", "--x264-preset", "ultrafast", "-q", "--threads", "1"])
        .output()
        .expect("run /usr/bin/time (scripts/setup installs it)");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{}: {err}", input.display());
    let kib = err.lines().last().and_then(|l| l.trim().parse().ok()).expect("time printed %M");
    (kib, err)
}

fn source(path: &Path, video_offset: &str) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "aevalsrc=sin(440*2*PI*t)|sin(550*2*PI*t):s=48000:d=150",
        "-itsoffset",
        video_offset,
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x90:rate=25:duration=10",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        path.to_str().unwrap(),
    ]);
}

#[test]
fn audio_before_a_late_video_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (late, early) = (dir.path().join("late.mkv"), dir.path().join("early.mkv"));
    source(&late, "140");
    source(&early, "0");
    let (late_kib, late_err) = peak_rss(&late, &dir.path().join("late_out"));
    let (early_kib, _) = peak_rss(&early, &dir.path().join("early_out"));
    eprintln!("peak RSS: {late_kib} KiB (video at 140 s), {early_kib} KiB (video at 0)");
    // Measured: +26 MB with the 30 s bound; +120 MB unbounded (140 s of decoded stereo audio).
    assert!(
        late_kib < early_kib + 50 * 1024,
        "peak RSS {late_kib} KiB with the video at 140 s vs {early_kib} KiB with it at 0"
    );
    assert!(!late_err.contains("warning"), "only audio before the video was dropped: {late_err}");
    check(&dir.path().join("late_out"));
    let ismc = std::fs::read_to_string(dir.path().join("late_out/late.ismc")).unwrap();
    let duration: f64 = ismc.split("Duration=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!((duration / 1e7 - 10.0).abs() < 0.5, "the presentation is the 10 s the video covers: {duration}");
}
