//! Bad inputs and hostile conditions for `ssfpack INPUT -o DIR`: each must end with a documented
//! exit code, exactly one stderr line `ssfpack: error: …` naming the file and the cause, no panic,
//! no output folder (an existing one unchanged) and no `.NAME.ssfpack-*` temporary folder left.
//! Sources are generated at run time (ffmpeg CLI, or bytes) into one shared temporary folder.
//! Audio-only, video-only, one-frame, negative- and jumping-timestamp sources are not errors: they
//! must make presentations that `ssfpack check` accepts.

mod package_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use package_support::{check, ffmpeg, testdata};

const FAST: [&str; 5] = ["--ladder", "160x90@100k", "--x264-preset", "ultrafast", "-q"];

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssfpack")
}

/// The generated sources, made once for all tests.
fn sources() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
        let av = |secs: u32, extra: &[&str], out: &str| {
            let v = format!("testsrc=size=320x180:rate=25:duration={secs}");
            let a = format!("sine=duration={secs}");
            let mut args = vec!["-f", "lavfi", "-i", &v, "-f", "lavfi", "-i", &a];
            args.extend_from_slice(&["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]);
            args.extend_from_slice(extra);
            let out = p(out);
            args.push(&out);
            ffmpeg(&args);
        };
        av(2, &[], "good.mp4");
        av(4, &["-movflags", "+faststart"], "whole_faststart.mp4");
        av(4, &[], "whole.mkv");
        av(2, &["-output_ts_offset", "-1", "-f", "mpegts"], "negative_ts.ts");
        let half = |from: &str, to: &str| {
            let bytes = std::fs::read(p(from)).unwrap();
            std::fs::write(p(to), &bytes[..bytes.len() / 2]).unwrap();
        };
        half("whole_faststart.mp4", "truncated.mp4");
        half("whole.mkv", "truncated.mkv");
        // 100 s forward jump in both streams after 2 s.
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=25:duration=4",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=4",
            "-vf",
            "setpts='PTS+if(gte(N,50),100/TB,0)'",
            "-af",
            "asetpts='PTS+if(gte(T,2),100/TB,0)'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            &p("jumping_ts.mkv"),
        ]);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=25:duration=0.04",
            "-c:v",
            "libx264",
            &p("one_frame.mp4"),
        ]);
        // 12 s to interrupt or race against.
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25:duration=12",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            &p("long.mkv"),
        ]);
        // The video sample entry renamed to a codec FFmpeg does not know.
        ffmpeg(&["-f", "lavfi", "-i", "testsrc=size=320x180:duration=1", "-c:v", "libx264", &p("h264.mp4")]);
        let h264 = std::fs::read(p("h264.mp4")).unwrap();
        std::fs::write(p("unknown_codec.mp4"), replace(&replace(&h264, b"avc1", b"zzzz"), b"avcC", b"zzzC")).unwrap();
        // Subtitles and an attachment, no audio or video. (FFmpeg 5.1 cannot write an MKV whose
        // only stream is an attachment: its output does not parse.)
        std::fs::write(p("subs.srt"), "1\n00:00:00,000 --> 00:00:01,000\nhello\n").unwrap();
        std::fs::write(p("note.txt"), "an attachment\n").unwrap();
        ffmpeg(&[
            "-i",
            &p("subs.srt"),
            "-attach",
            &p("note.txt"),
            "-metadata:s:t",
            "mimetype=text/plain",
            "-map",
            "0",
            &p("no_audio_video.mkv"),
        ]);
        // Raw video with a 2x2 picture, and headers claiming 16384x16384 and 8200x8200.
        ffmpeg(&["-f", "lavfi", "-i", "color=s=2x2:d=1:r=25", "-pix_fmt", "yuv420p", &p("tiny_2x2.y4m")]);
        ffmpeg(&["-f", "lavfi", "-i", "color=s=320x180:d=0.2:r=25", "-pix_fmt", "yuv420p", &p("small.y4m")]);
        let y4m = std::fs::read(p("small.y4m")).unwrap();
        let resized = |size: &str| {
            let end = y4m.iter().position(|&b| b == b'\n').unwrap();
            let header = String::from_utf8_lossy(&y4m[..end]).replace("W320 H180", size);
            [header.as_bytes(), &y4m[end..]].concat()
        };
        std::fs::write(p("huge_16384.y4m"), resized("W16384 H16384")).unwrap();
        std::fs::write(p("huge_8200.y4m"), resized("W8200 H8200")).unwrap();
        std::fs::write(p("empty.mp4"), b"").unwrap();
        std::fs::create_dir(p("a_directory.mp4")).unwrap();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let noise: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(p("random_bytes.mp4"), noise).unwrap();
        dir
    })
    .path()
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = hay.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

fn src(name: &str) -> PathBuf {
    sources().join(name)
}

fn run(input: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(bin()).arg(input).arg("-o").arg(out).args(extra).output().expect("run ssfpack")
}

/// Every file under `dir` with its contents, to prove a folder unchanged.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                m.extend(snapshot(&p));
            } else {
                m.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    m
}

/// `.NAME.ssfpack-*` temporary folders left in `dir`.
fn debris(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.contains(".ssfpack-"))
                .collect()
        })
        .unwrap_or_default()
}

/// The contract of a failed run.
fn assert_clean_failure(case: &str, o: &Output, code: i32, out: &Path, mentions: &[&str], cause: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "[{case}] exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "[{case}] exactly one stderr line, got: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("ssfpack: error: "), "[{case}] `ssfpack: error:` prefix: {line}");
    for m in mentions {
        assert!(line.contains(m), "[{case}] the line names `{m}`: {line}");
    }
    assert!(line.contains(cause), "[{case}] the line gives the cause `{cause}`: {line}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "[{case}] no panic: {stderr}");
    assert!(!out.exists(), "[{case}] no output folder {}", out.display());
    let parent = out.parent().unwrap();
    assert_eq!(debris(parent), Vec::<String>::new(), "[{case}] temporary folders left in {}", parent.display());
}

#[test]
fn bad_inputs_fail_with_one_line_and_leave_nothing() {
    // (case, input file, cause in the error line)
    let cases: &[(&str, &str, &str)] = &[
        ("missing file", "does_not_exist.mp4", "no such file"),
        ("a directory", "a_directory.mp4", "is a directory"),
        ("0-byte file", "empty.mp4", "empty file (0 bytes)"),
        ("random bytes named .mp4", "random_bytes.mp4", "not a media file FFmpeg can read"),
        ("MP4 truncated halfway", "truncated.mp4", "truncated or corrupt: decoding stopped at"),
        ("MKV truncated halfway", "truncated.mkv", "truncated or corrupt: decoding stopped at"),
        ("only stream in an unknown codec", "unknown_codec.mp4", "no decoder for an unknown codec (tag `zzzz`)"),
        ("no audio and no video", "no_audio_video.mkv", "no video or audio stream"),
        ("2x2 video", "tiny_2x2.y4m", "video is 2x2: too small to scale"),
        ("16384x16384 header", "huge_16384.y4m", "Picture size 16384x16384 is invalid"),
        ("8200x8200 header", "huge_8200.y4m", "video is 8200x8200: too large"),
    ];
    for &(case, file, cause) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = run(&src(file), &out, &FAST);
        assert_clean_failure(case, &o, 1, &out, &[file], cause);
    }
}

#[test]
fn truncated_sources_package_what_decodes_with_allow_truncated() {
    for file in ["truncated.mp4", "truncated.mkv"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = run(&src(file), &out, &[&FAST[..], &["--allow-truncated"]].concat());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{file}: {stderr}");
        assert!(
            stderr.lines().any(|l| l.starts_with("ssfpack: warning: ") && l.contains(file) && l.contains("truncated")),
            "{file}: a warning names the file: {stderr}"
        );
        check(&out);
        assert!(debris(tmp.path()).is_empty());
    }
}

#[test]
fn odd_but_valid_sources_make_presentations() {
    let cases: Vec<(&str, PathBuf)> = vec![
        ("negative timestamps", src("negative_ts.ts")),
        ("timestamps jumping 100 s", src("jumping_ts.mkv")),
        ("one frame", src("one_frame.mp4")),
        ("audio only", testdata("audio_only.m4a")),
        ("video only", testdata("video_only.mkv")),
    ];
    for (case, input) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = run(&input, &out, &FAST);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "[{case}] {stderr}");
        assert!(!stderr.contains("panicked"), "[{case}] {stderr}");
        check(&out);
        assert!(debris(tmp.path()).is_empty(), "[{case}] temporary folders left");
    }
}

#[test]
fn existing_output_without_force_is_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"precious").unwrap();
    let before = snapshot(&out);
    let o = run(&src("good.mp4"), &out, &FAST);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("ssfpack: error: ") && lines[0].contains("already exists (use --force"), "{stderr}");
    assert!(lines[0].contains(out.to_str().unwrap()), "{stderr}");
    assert_eq!(snapshot(&out), before, "existing folder unchanged");
    assert!(debris(tmp.path()).is_empty());
}

#[test]
fn unwritable_output_location() {
    let tmp = tempfile::tempdir().unwrap();
    // Below a regular file: no folder can be created there, whoever runs the test.
    std::fs::write(tmp.path().join("a_file"), b"x").unwrap();
    let out = tmp.path().join("a_file").join("out");
    let o = run(&src("good.mp4"), &out, &FAST);
    assert_clean_failure("output below a file", &o, 1, &out, &["good.mp4", "a_file/out"], "os error");
    // A read-only file system (root ignores directory permissions): a read-only tmpfs when mounting
    // is permitted, else a 0555 folder when not root.
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs"])
        .arg(&ro)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !mounted {
        if is_root {
            eprintln!("unwritable_output_location: cannot mount a read-only tmpfs here; read-only case skipped");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let out = ro.join("out");
    let o = run(&src("good.mp4"), &out, &FAST);
    let cause = if mounted { "Read-only file system" } else { "Permission denied" };
    if mounted {
        let _ = Command::new("umount").arg(&ro).status();
    }
    assert_clean_failure("read-only output location", &o, 1, &out, &["good.mp4", "ro/out"], cause);
}

/// Runs ssfpack under `ulimit -f 20`: writes past 20 KiB fail with EFBIG.
fn run_with_file_size_limit(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let script = format!("ulimit -f 20; exec \"$0\" \"$1\" -o \"$2\" {}", extra.join(" "));
    Command::new("bash").args(["-c", &script, bin(), input.to_str().unwrap(), out.to_str().unwrap()]).output().unwrap()
}

#[test]
fn full_disk_via_file_size_limit() {
    // `ulimit -f` makes writes past 20 KiB fail: SIGXFSZ must not kill ssfpack before it cleans up.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_with_file_size_limit(&src("good.mp4"), &out, &FAST);
    assert_clean_failure("ulimit -f", &o, 1, &out, &["good.mp4", "out"], "File too large");
}

#[test]
fn full_disk_in_a_rung_coded_by_lanes() {
    // Video only, --threads 3: the rung is coded by 3 lanes, the failing write is in the rung's
    // writer thread and the lanes stop with it. The write error is the one reported. long.mkv is
    // 12 s without audio: 6 fragments, so the lanes are still sending when the writer fails.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_with_file_size_limit(&src("long.mkv"), &out, &[&FAST[..], &["--threads", "3"]].concat());
    assert_clean_failure("ulimit -f, lanes", &o, 1, &out, &["long.mkv", "out"], "File too large");
}

#[test]
fn full_disk_on_a_tiny_tmpfs() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=32k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("full_disk_on_a_tiny_tmpfs: mounting a tmpfs is not permitted here; skipped");
        return;
    }
    let out = mnt.join("out");
    let o = run(&src("good.mp4"), &out, &FAST);
    let left = debris(&mnt);
    let exists = out.exists();
    let _ = Command::new("umount").arg(&mnt).status();
    assert!(left.is_empty() && !exists, "nothing left on the full file system: {left:?}");
    assert_clean_failure("tiny tmpfs", &o, 1, &out, &["good.mp4", "out"], "No space left on device");
}

fn spawn(input: &Path, out: &Path, extra: &[&str]) -> Child {
    Command::new(bin())
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sigint_and_sigterm_halfway_remove_the_temporary_folder() {
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let slow = ["--ladder", "320x180@300k,160x90@100k", "--x264-preset", "veryslow", "-q"];
        let child = spawn(&src("long.mkv"), &out, &slow);
        let started = Instant::now();
        while debris(tmp.path()).is_empty() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        let killed = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let o = child.wait_with_output().unwrap();
        assert_clean_failure(&format!("SIG{sig}"), &o, code, &out, &["long.mkv", "out"], &format!("SIG{sig}"));
    }
}

#[test]
fn two_runs_into_the_same_output_one_wins_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let args = ["--ladder", "160x90@100k", "--x264-preset", "ultrafast", "-q"];
    let a = spawn(&src("long.mkv"), &out, &args);
    let b = spawn(&src("long.mkv"), &out, &args);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (won, lost) = match (a.status.success(), b.status.success()) {
        (true, false) => (a, b),
        (false, true) => (b, a),
        _ => panic!(
            "exactly one run must win: {:?} {} / {:?} {}",
            a.status,
            String::from_utf8_lossy(&a.stderr),
            b.status,
            String::from_utf8_lossy(&b.stderr)
        ),
    };
    assert!(won.stderr.is_empty(), "{}", String::from_utf8_lossy(&won.stderr));
    let stderr = String::from_utf8_lossy(&lost.stderr);
    assert_eq!(lost.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("ssfpack: error: ") && stderr.contains("already exists"), "{stderr}");
    check(&out);
    assert!(debris(tmp.path()).is_empty(), "temporary folders left: {:?}", debris(tmp.path()));
}
