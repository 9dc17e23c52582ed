//! Shared support for the `ssfpack batch` tests: a generated media library, running the batch,
//! reading its `--json` report and checking every output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const TINY: &[&str] = &["--ladder", "160x90@100k", "--x264-preset", "ultrafast", "--audio-bitrate", "64k"];

/// Runs `ffmpeg -nostdin -v error -y ARGS`, panicking on failure.
pub fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-y"]).args(args).output().expect("run ffmpeg");
    assert!(o.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn clip(path: &Path, seconds: f64, size: &str, video: &[&str], audio: &[&str]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let d = format!("{seconds}");
    let src = format!("testsrc=size={size}:rate=25:duration={d}");
    let sine = format!("sine=frequency=440:duration={d}");
    let mut args: Vec<&str> = Vec::new();
    if !video.is_empty() {
        args.extend(["-f", "lavfi", "-i", &src]);
    }
    if !audio.is_empty() {
        args.extend(["-f", "lavfi", "-i", &sine]);
    }
    args.extend(video);
    args.extend(audio);
    args.push(path.to_str().unwrap());
    ffmpeg(&args);
}

/// The media files of [`library`], relative to it.
pub const MEDIA: &[&str] = &[
    "show one/s1/e01.mp4",
    "show one/s1/e01.mkv",
    "show one/s1/e02.mp4",
    "movies/clip.ts",
    "movies/deep/nested/été.mov",
    "movies/silent.avi",
    "audio/song.mp3",
];
/// The corrupt file (a failure) and the files that are not media (skipped).
pub const CORRUPT: &str = "movies/broken.mp4";
pub const NOT_MEDIA: &[&str] = &["movies/notes.txt", "movies/poster.png"];

/// Generates the library: nested folders, a folder name with a space, non-ASCII names, two files
/// with the same stem, mixed containers (MP4, Matroska, MPEG-TS, MOV, AVI, MP3) and codecs (H.264,
/// MPEG-4 part 2, MPEG-2, MJPEG; AAC, Vorbis, MP2, MP3), audio-only and video-only sources, a
/// corrupt MP4 and two files that are not media.
pub fn library(root: &Path) {
    let h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];
    clip(&root.join(MEDIA[0]), 1.5, "320x180", &h264, &["-c:a", "aac"]);
    clip(&root.join(MEDIA[1]), 1.0, "320x180", &["-c:v", "mpeg4"], &["-c:a", "libvorbis"]);
    clip(&root.join(MEDIA[2]), 2.0, "256x144", &h264, &["-c:a", "aac"]);
    clip(&root.join(MEDIA[3]), 1.0, "320x240", &["-c:v", "mpeg2video"], &["-c:a", "mp2"]);
    clip(&root.join(MEDIA[4]), 1.0, "320x180", &["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"], &["-c:a", "aac"]);
    clip(&root.join(MEDIA[5]), 1.0, "320x180", &["-c:v", "mpeg4"], &[]);
    clip(&root.join(MEDIA[6]), 1.0, "", &[], &["-c:a", "libmp3lame"]);
    let whole = std::fs::read(root.join(MEDIA[0])).unwrap();
    std::fs::write(root.join(CORRUPT), &whole[..whole.len() / 3]).unwrap();
    std::fs::write(root.join(NOT_MEDIA[0]), "episode notes\n").unwrap();
    ffmpeg(&["-f", "lavfi", "-i", "testsrc=size=64x64", "-frames:v", "1", root.join(NOT_MEDIA[1]).to_str().unwrap()]);
}

/// Where a media file's output goes (the documented names).
pub fn output_of(rel: &str) -> String {
    match rel {
        "show one/s1/e01.mp4" | "show one/s1/e01.mkv" => rel.to_string(),
        _ => rel.rsplit_once('.').map(|(s, _)| s.to_string()).unwrap(),
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssfpack")
}

/// `ssfpack batch SRC -o OUT --json TINY… EXTRA…`, with no scheduler variables.
pub fn batch_cmd(src: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("batch").arg(src).arg("-o").arg(out).arg("--json").args(TINY).args(extra);
    for v in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "SSFPACK_SHARD_COUNT"] {
        c.env_remove(v);
    }
    c
}

pub fn batch(src: &Path, out: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let o = batch_cmd(src, out, extra).output().expect("run ssfpack batch");
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "--json report: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o, report)
}

/// (input, status) of every file of a report.
pub fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["input"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string()))
        .collect()
}

pub fn with_status(report: &serde_json::Value, status: &str) -> Vec<String> {
    let mut v: Vec<String> = statuses(report).into_iter().filter(|(_, s)| s == status).map(|(i, _)| i).collect();
    v.sort();
    v
}

/// `ssfpack check DIR` must pass.
pub fn check(dir: &Path) {
    let o = Command::new(bin()).arg("check").arg(dir).output().unwrap();
    assert!(
        o.status.success(),
        "check {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every folder and file under `root` (relative), to look for leftovers.
pub fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Staging folders (`.NAME.ssfpack-XXXXXX`) anywhere under `root`.
pub fn staging_folders(root: &Path) -> Vec<PathBuf> {
    tree(root)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with('.') && n.contains(".ssfpack-") && !n.starts_with(".ssfpack-")
        })
        .filter(|p| root.join(p).is_dir())
        .collect()
}

/// Every output folder under `root` that holds a presentation (`*.ism`), relative.
pub fn presentations(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = tree(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ism"))
        .filter(|p| !p.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')))
        .map(|p| p.parent().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
