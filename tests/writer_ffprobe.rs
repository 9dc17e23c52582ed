//! The writer alone, proven by an independent reader: real x264 and AAC bitstreams made by the ffmpeg
//! CLI are written through the library (no FFmpeg linked), then FFmpeg decodes the result with zero
//! errors and the expected frame count, and `ssfpack check` passes.

mod common;

use std::path::Path;
use std::process::Command;

use common::write_track;
use shiguredo_mp4::bitstream::aac::parse_adts_frame;
use ssfpack::format::aac::AacConfig;
use ssfpack::format::avc::{annexb_to_sample, AvcConfig};
use ssfpack::format::fragmenter::CutRule;
use ssfpack::format::presentation::write_manifests;
use ssfpack::format::{CodecConfig, Sample, TrackInfo};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// x264 with B-frames and closed 1 s GOPs: Annex-B access units (split on AUDs) with the pts and
/// key flags ffprobe reports for the same packets.
fn x264_samples(dir: &Path) -> (AvcConfig, Vec<Sample>) {
    let mp4 = dir.join("v.mp4");
    let es = dir.join("v.h264");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:r=25:d=5",
            "-c:v",
            "libx264",
            "-bf",
            "3",
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
            "-x264-params",
            "aud=1:open-gop=0",
            "-pix_fmt",
            "yuv420p",
            mp4.to_str().unwrap(),
        ],
    );
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            mp4.to_str().unwrap(),
            "-c",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            es.to_str().unwrap(),
        ],
    );
    let probe = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=time_base:packet=pts,duration,flags",
            "-of",
            "csv=p=0",
            mp4.to_str().unwrap(),
        ],
    );
    let mut lines = probe.lines();
    let mut packets = Vec::new();
    let mut time_base = (1i64, 1i64);
    for l in &mut lines {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() == 1 && f[0].contains('/') {
            let (n, d) = f[0].split_once('/').unwrap();
            time_base = (n.parse().unwrap(), d.parse().unwrap());
        } else if f.len() >= 3 {
            packets.push((f[0].parse::<i64>().unwrap(), f[1].parse::<i64>().unwrap(), f[2].starts_with('K')));
        }
    }
    let bytes = std::fs::read(&es).unwrap();
    // Access units start at their AUD (the bitstream filter may put SPS/PPS ahead of the first one).
    let mut starts: Vec<usize> =
        bytes.windows(4).enumerate().filter(|(_, w)| *w == [0, 0, 1, 9]).map(|(i, _)| i).collect();
    starts[0] = 0;
    assert_eq!(starts.len(), packets.len(), "one AUD per access unit");
    let first_au = &bytes[starts[0]..starts[1]];
    let config = AvcConfig::from_extradata(first_au).unwrap();
    let tick = |v: i64| v * 10_000_000 * time_base.0 / time_base.1;
    let min_pts = packets.iter().map(|p| p.0).min().unwrap();
    let samples = packets
        .iter()
        .enumerate()
        .map(|(i, &(pts, dur, key))| {
            let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
            Sample {
                pts: tick(pts - min_pts),
                duration: tick(dur) as u32,
                sync: key,
                data: annexb_to_sample(&bytes[starts[i]..end], &config).unwrap(),
            }
        })
        .collect();
    (config, samples)
}

fn aac_samples(dir: &Path) -> (AacConfig, Vec<Sample>) {
    let adts = dir.join("a.aac");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:r=48000:d=5",
            "-ac",
            "2",
            "-c:a",
            "aac",
            "-f",
            "adts",
            adts.to_str().unwrap(),
        ],
    );
    let bytes = std::fs::read(&adts).unwrap();
    let mut rest = bytes.as_slice();
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (header, _) = parse_adts_frame(rest).unwrap();
        let len = usize::from(header.frame_length);
        let head = if header.protection_absent { 7 } else { 9 };
        frames.push(rest[head..len].to_vec());
        rest = &rest[len..];
    }
    let t = |k: i64| (k * 1024 * 10_000_000 + 24_000) / 48_000;
    let samples = frames
        .into_iter()
        .enumerate()
        .map(|(k, data)| {
            let k = k as i64;
            Sample { pts: t(k), duration: (t(k + 1) - t(k)) as u32, sync: true, data }
        })
        .collect();
    (AacConfig::from_asc(&[0x11, 0x90]).unwrap(), samples)
}

#[test]
fn ffmpeg_decodes_what_the_writer_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (avc, video) = x264_samples(dir.path());
    let (aac, audio) = aac_samples(dir.path());
    let frames = video.len();
    let track = |codec, bitrate, name: &str| TrackInfo {
        track_id: 1,
        codec,
        bitrate,
        language: "und".into(),
        name: name.into(),
    };
    let outputs = vec![
        write_track(
            dir.path(),
            "w_video.ismv",
            track(CodecConfig::H264(avc), 500_000, "video"),
            CutRule::Grid { duration: 20_000_000 },
            video,
        ),
        write_track(
            dir.path(),
            "w_audio.isma",
            track(CodecConfig::Aac(aac), 128_000, "audio"),
            CutRule::AudioGrid { duration: 20_000_000 },
            audio,
        ),
    ];
    write_manifests(dir.path(), "w", &outputs).unwrap();
    assert_eq!(outputs[0].fragments.len(), 3, "cuts at the 2 s and 4 s IDRs");

    for f in ["w_video.ismv", "w_audio.isma"] {
        let p = dir.path().join(f);
        let out =
            Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&p).args(["-f", "null", "-"]).output().unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let counted = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v",
            "-show_entries",
            "stream=nb_read_frames,width,height",
            "-of",
            "csv=p=0",
            dir.path().join("w_video.ismv").to_str().unwrap(),
        ],
    );
    assert_eq!(counted.trim(), format!("320,240,{frames}"));
    let check = Command::new(env!("CARGO_BIN_EXE_ssfpack")).arg("check").arg(dir.path()).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}
