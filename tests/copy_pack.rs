//! `ssfpack pack --copy`: renditions made at run time by the ffmpeg CLI (3 rungs 640x360/480x270/320x180,
//! B-frames, fixed 48-frame GOPs, AAC) are packaged without re-encoding; the result passes `check`,
//! decodes in FFmpeg, and carries the input samples byte for byte. Misaligned GOPs, open GOPs and
//! other codecs are refused with the file, the time and the re-encode suggestion.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use shiguredo_mp4::demux::{Input, Mp4FileDemuxer};
use shiguredo_mp4::TrackKind as Mp4Kind;
use ssfpack::format::reader::MediaFile;

const BIN: &str = env!("CARGO_BIN_EXE_ssfpack");
const RUNGS: [(&str, &str); 3] = [("640x360", "900k"), ("480x270", "500k"), ("320x180", "250k")];

/// The fixtures, made once (and kept in the target's temp folder between runs; made in a private
/// folder and renamed into place, so parallel test processes never see half a fixture).
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("copy_fixtures_v1");
        if dir.join("done").exists() {
            return dir;
        }
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let t = tmp.path();
        let x264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-bf", "2", "-sc_threshold", "0"];
        let mut args: Vec<String> = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=8"]
            .into_iter()
            .chain(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8"])
            .chain(["-filter_complex", "[0:v]split=3[a][b][c];[b]scale=480:270[b2];[c]scale=320:180[c2]"])
            .map(String::from)
            .collect();
        for (i, (size, rate)) in RUNGS.iter().enumerate() {
            let label = ["[a]", "[b2]", "[c2]"][i];
            args.extend(["-map", label, "-map", "1:a"].map(String::from));
            args.extend(x264.map(String::from));
            args.extend(
                ["-g", "48", "-keyint_min", "48", "-b:v", rate, "-c:a", "aac", "-b:a", "96k"].map(String::from),
            );
            args.push(t.join(format!("r_{size}.mp4")).display().to_string());
        }
        ffmpeg(&args);
        // Same picture as the smallest rung, but a 50-frame GOP: keyframes drift from the others.
        ffmpeg(
            &["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=8"]
                .into_iter()
                .chain(x264)
                .chain(["-g", "50", "-keyint_min", "50"])
                .map(String::from)
                .chain([t.join("g50.mp4").display().to_string()])
                .collect::<Vec<_>>(),
        );
        // x264's open GOPs: keyframes that are not IDR pictures.
        ffmpeg(
            &["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=5"]
                .into_iter()
                .chain(x264)
                .chain(["-g", "48", "-keyint_min", "48", "-x264-params", "open-gop=1"])
                .map(String::from)
                .chain([t.join("open.mp4").display().to_string()])
                .collect::<Vec<_>>(),
        );
        ffmpeg(
            &["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=1", "-c:v", "libx265"]
                .into_iter()
                .chain(["-x265-params", "log-level=error"])
                .map(String::from)
                .chain([t.join("hevc.mp4").display().to_string()])
                .collect::<Vec<_>>(),
        );
        std::fs::write(t.join("done"), b"").unwrap();
        let made = tmp.keep();
        if std::fs::rename(&made, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&made); // another process won the race
        }
        dir
    })
}

fn ffmpeg(args: &[String]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn ssfpack(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("ssfpack runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn rung(size: &str) -> PathBuf {
    fixtures().join(format!("r_{size}.mp4"))
}

/// Frames FFmpeg decodes from a file's first stream, and its error output.
fn decode(file: &Path) -> (u64, String) {
    decode_stream(file, "0")
}

fn decode_stream(file: &Path, stream: &str) -> (u64, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-count_frames"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", s(file)])
        .output()
        .unwrap();
    let frames = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    let null = Command::new("ffmpeg").args(["-v", "error", "-i", s(file), "-f", "null", "-"]).output().unwrap();
    (frames, String::from_utf8_lossy(&null.stderr).into_owned())
}

/// The sample bytes of the first track of `kind` of a progressive MP4, in decode order.
fn input_samples(path: &Path, kind: Mp4Kind) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut d = Mp4FileDemuxer::new();
    d.handle_input(Input { position: 0, data: &data });
    let id = d.tracks().unwrap().iter().find(|t| t.kind == kind).unwrap().track_id;
    let mut out = Vec::new();
    while let Some(x) = d.next_sample().unwrap() {
        if x.track.track_id == id {
            out.push(data[x.data_offset as usize..x.data_offset as usize + x.data_size].to_vec());
        }
    }
    out
}

/// The sample bytes of a PIFF file, in file order.
fn output_samples(path: &Path) -> Vec<Vec<u8>> {
    let m = MediaFile::open(path).unwrap();
    m.fragments.iter().flat_map(|f| f.samples.iter()).map(|r| m.read_at(r.offset, u64::from(r.size)).unwrap()).collect()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "ssfpack failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn ladder_packages_checks_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ladder");
    let inputs: Vec<PathBuf> = RUNGS.iter().map(|(size, _)| rung(size)).collect();
    let mut args = vec!["pack", "--copy", "--json", "--name", "movie", "-o", s(&out)];
    args.extend(inputs.iter().map(|p| s(p)));
    let summary = json(&ssfpack(&args));
    assert_eq!(summary["rungs"].as_array().unwrap().len(), 3, "{summary}");
    assert_eq!(summary["audio"].as_array().unwrap().len(), 1, "{summary}");
    // 48-frame GOPs at 25 fps with 2 s minimum fragments: cuts at 0, 3.84, 7.68.
    for r in summary["rungs"].as_array().unwrap() {
        assert_eq!(r["fragments"], 3, "{r}");
        assert_eq!(r["frames"], 200, "{r}");
    }
    let check = ssfpack(&["check", s(&out)]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    let ismc = std::fs::read_to_string(out.join("movie.ismc")).unwrap();
    assert!(ismc.contains(r#"<c t="0" d="38400000" r="2"/>"#), "{ismc}");
    for (i, r) in summary["rungs"].as_array().unwrap().iter().enumerate() {
        let file = out.join(r["file"].as_str().unwrap());
        let (frames, errors) = decode(&file);
        assert_eq!((frames, errors.as_str()), (200, ""), "{}", file.display());
        // Byte for byte the input's samples, in decode order.
        assert!(
            input_samples(&inputs[i], Mp4Kind::Video) == output_samples(&file),
            "{} samples differ",
            file.display()
        );
    }
    let audio = out.join(summary["audio"][0]["file"].as_str().unwrap());
    let (frames, errors) = decode(&audio);
    assert_eq!(errors, "");
    assert_eq!(frames, decode_stream(&inputs[0], "a:0").0);
    // The priming frame (before the first video frame) is the only one not copied.
    let input_audio = input_samples(&inputs[0], Mp4Kind::Audio);
    assert!(input_audio[1..] == output_samples(&audio)[..], "audio samples differ");
}

#[test]
fn misaligned_keyframes_are_refused_with_file_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let g50 = fixtures().join("g50.mp4");
    let r = ssfpack(&["pack", "--copy", s(&rung("320x180")), s(&g50), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("g50.mp4") && err.contains("not aligned"), "{err}");
    assert!(err.contains("3.840 s") && err.contains("without --copy"), "{err}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no staging folder left");
}

#[test]
fn open_gops_and_other_codecs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let r = ssfpack(&["pack", "--copy", s(&fixtures().join("open.mp4")), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success() && err.contains("open.mp4") && err.contains("open GOP at 3.840 s"), "{err}");
    assert!(err.contains("without --copy"), "{err}");

    let r = ssfpack(&["pack", "--copy", s(&fixtures().join("hevc.mp4")), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success() && err.contains("hevc.mp4") && err.contains("HEVC"), "{err}");
    assert!(err.contains("without --copy"), "{err}");

    let webm = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vp9_opus.webm");
    let r = ssfpack(&["pack", "--copy", s(&webm), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success() && err.contains("vp9") && err.contains("without --copy"), "{err}");
    assert!(!out.exists());
}

#[test]
fn single_file_with_edit_list_and_b_frames() {
    // testdata/sample.mp4: H.264 with B-frames + AAC, everything shifted by 1.4 s (edit lists),
    // audio priming 22 ms before the first frame.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.mp4");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let summary = json(&ssfpack(&["pack", "--copy", "--json", s(&sample), "-o", s(&a)]));
    assert_eq!(summary["rungs"][0]["fragments"], 5, "{summary}");
    assert!(ssfpack(&["check", s(&a)]).status.success());
    let ismc = std::fs::read_to_string(a.join("sample.ismc")).unwrap();
    assert!(ismc.contains(r#"<c t="0" d="20000000" r="5"/>"#), "{ismc}");
    let video = a.join(summary["rungs"][0]["file"].as_str().unwrap());
    assert_eq!(decode(&video), (250, String::new()));
    // Deterministic: the same job twice gives the same bytes.
    let again = json(&ssfpack(&["pack", "--copy", "--json", s(&sample), "-o", s(&b)]));
    for f in again["files"].as_array().unwrap() {
        let name = f["file"].as_str().unwrap();
        assert!(std::fs::read(a.join(name)).unwrap() == std::fs::read(b.join(name)).unwrap(), "{name} differs");
    }
}

#[test]
fn bitrates_and_audio_from_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let m4a = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/audio_only.m4a");
    let (hi, lo) = (rung("640x360"), rung("320x180"));
    let summary = json(&ssfpack(&[
        "pack",
        "--copy",
        "--json",
        s(&hi),
        s(&lo),
        "--audio",
        s(&m4a),
        "--bitrates",
        "3000k,1500k",
        "-o",
        s(&out),
    ]));
    let rates: Vec<u64> = summary["rungs"].as_array().unwrap().iter().map(|r| r["bitrate"].as_u64().unwrap()).collect();
    assert_eq!(rates, [3_000_000, 1_500_000]);
    assert_eq!(summary["audio"][0]["sample_rate"], 44100, "{summary}");
    assert!(ssfpack(&["check", s(&out)]).status.success());
    // An existing folder is refused without --force, replaced with it.
    let again = ssfpack(&["pack", "--copy", s(&lo), "-o", s(&out)]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert!(ssfpack(&["pack", "--copy", "--quiet", "--force", s(&lo), "-o", s(&out)]).status.success());
    let ism: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(ism.len(), 6, "{ism:?}"); // r_320x180.ism/.ismc/.html, one rung, one audio, the marker
}
