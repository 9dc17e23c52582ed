//! `ssfpack check` and the reader against independent writers (the ffmpeg CLI) and against corrupted
//! copies of a good presentation: each rule breaks and is reported.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use ssfpack::format::fragmenter::CutRule;
use ssfpack::format::presentation::write_manifests;
use ssfpack::format::reader::MediaFile;

fn ssfpack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ssfpack"))
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).output().expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const LAVFI: [&str; 8] =
    ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=6", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=6"];

fn check(path: &Path) -> (bool, String) {
    let out = ssfpack().arg("check").arg(path).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn ffmpeg_ismv_parses() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ff.ismv");
    let mut args = LAVFI.to_vec();
    args.extend(["-c:v", "libx264", "-g", "50", "-c:a", "aac", "-f", "ismv", f.to_str().unwrap()]);
    ffmpeg(&args);
    let m = MediaFile::open(&f).unwrap();
    assert_eq!(m.tracks.len(), 2, "video + audio in one file");
    assert!(m.tracks.iter().all(|t| t.codec.is_some()), "avcC and esds parse: {:?}", m.tracks);
    assert!(m.fragments.len() >= 4);
    assert!(m.fragments.iter().all(|f| f.tfxd.is_some() && f.mdat.is_some()));
    assert!(m.mfra.is_some());
    let dump = ssfpack().arg("dump").arg(&f).output().unwrap();
    assert!(dump.status.success());
    assert!(String::from_utf8_lossy(&dump.stdout).contains("uuid[tfxd]"));
}

#[test]
fn ffmpeg_smoothstreaming_missing_first_t_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ss");
    let mut args = LAVFI.to_vec();
    args.extend([
        "-c:v",
        "libx264",
        "-bf",
        "3",
        "-g",
        "50",
        "-c:a",
        "aac",
        "-f",
        "smoothstreaming",
        "-min_frag_duration",
        "2000000",
        out.to_str().unwrap(),
    ]);
    ffmpeg(&args);
    let (ok, report) = check(&out);
    assert!(!ok, "{report}");
    assert!(report.contains("Fragments(video=0)") || report.contains("Fragments(video=0)"), "{report}");
}

/// A good presentation written through the library, to corrupt.
fn good(dir: &Path) {
    let grid = CutRule::Grid { duration: 20_000_000 };
    let outputs = vec![
        write_track(dir, "p_800k.ismv", video_track(800_000), grid, synthetic_video(125, 1)),
        write_track(dir, "p_400k.ismv", video_track(400_000), grid, synthetic_video(125, 2)),
        write_track(
            dir,
            "p_audio.isma",
            audio_track(),
            CutRule::AudioGrid { duration: 20_000_000 },
            synthetic_audio(235),
        ),
    ];
    write_manifests(dir, "p", &outputs).unwrap();
}

#[test]
fn good_presentation_passes_and_json_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    good(dir.path());
    let (ok, report) = check(dir.path());
    assert!(ok, "{report}");
    let out = ssfpack().args(["check", "--json"]).arg(dir.path()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["violations"].as_array().unwrap().len(), 0);
    assert_eq!(v[0]["rungs"], 3);
}

fn corrupt(edit: impl FnOnce(&Path), expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    good(dir.path());
    edit(dir.path());
    let (ok, report) = check(dir.path());
    assert!(!ok, "corruption not detected:\n{report}");
    assert!(report.contains(expect), "expected {expect:?} in:\n{report}");
}

#[test]
fn wrong_tfxd_time_is_reported() {
    corrupt(
        |d| {
            let p = d.join("p_400k.ismv");
            let mut b = std::fs::read(&p).unwrap();
            // The first tfxd's time field: find the tfxd uuid and bump the time's low byte.
            let uuid = ssfpack::format::boxes::TFXD_UUID;
            let at = b.windows(16).position(|w| w == uuid).unwrap();
            b[at + 16 + 4 + 7] = 0x42;
            std::fs::write(&p, b).unwrap();
        },
        "p_400k.ismv track 1 (video, 400000 bps) fragment 0: tfxd time is 66",
    );
}

#[test]
fn missing_mfra_is_reported() {
    corrupt(
        |d| {
            let p = d.join("p_audio.isma");
            let b = std::fs::read(&p).unwrap();
            let at = b.windows(4).rposition(|w| w == b"mfra").unwrap() - 4;
            std::fs::write(&p, &b[..at]).unwrap();
        },
        "no mfra",
    );
}

#[test]
fn missing_codec_private_data_is_reported() {
    corrupt(
        |d| {
            let p = d.join("p.ismc");
            let x = std::fs::read_to_string(&p).unwrap().replace("CodecPrivateData=\"1190\"", "CodecPrivateData=\"\"");
            std::fs::write(&p, x).unwrap();
        },
        "no CodecPrivateData",
    );
}

#[test]
fn misaligned_rungs_are_reported() {
    corrupt(
        |d| {
            write_track(
                d,
                "p_400k.ismv",
                video_track(400_000),
                CutRule::Grid { duration: 40_000_000 },
                synthetic_video(125, 2),
            );
        },
        "rungs not aligned",
    );
}

#[test]
fn mismatched_bitrate_is_reported() {
    corrupt(
        |d| {
            let p = d.join("p.ism");
            let x =
                std::fs::read_to_string(&p).unwrap().replace("systemBitrate=\"400000\"", "systemBitrate=\"400001\"");
            std::fs::write(&p, x).unwrap();
        },
        "matches no QualityLevel Bitrate",
    );
}

#[test]
fn a_folder_without_a_presentation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, report) = check(dir.path());
    assert!(!ok);
    assert!(report.contains("no .ism"), "{report}");
}
