//! Shared test support: synthetic presentations written through the library, golden-file comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ssfpack::format::aac::AacConfig;
use ssfpack::format::avc::AvcConfig;
use ssfpack::format::fragmenter::{CutRule, Fragmenter};
use ssfpack::format::presentation::TrackOutput;
use ssfpack::format::writer::IsmvWriter;
use ssfpack::format::{CodecConfig, Sample, TrackInfo};

/// A real x264 SPS/PPS (320x240, High).
pub const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03,
    0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60,
];
pub const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

pub fn video_track(bitrate: u32) -> TrackInfo {
    TrackInfo {
        track_id: 1,
        codec: CodecConfig::H264(AvcConfig::new(SPS.to_vec(), PPS.to_vec()).unwrap()),
        bitrate,
        language: "und".into(),
        name: "video".into(),
    }
}

pub fn audio_track() -> TrackInfo {
    TrackInfo {
        track_id: 1,
        codec: CodecConfig::Aac(AacConfig::from_asc(&[0x11, 0x90]).unwrap()),
        bitrate: 128_000,
        language: "eng".into(),
        name: "audio".into(),
    }
}

/// Writes one track's samples through the fragmenter and writer into `dir/file`.
pub fn write_track(dir: &Path, file: &str, track: TrackInfo, rule: CutRule, samples: Vec<Sample>) -> TrackOutput {
    let out = std::fs::File::create(dir.join(file)).unwrap();
    let mut w = IsmvWriter::new(std::io::BufWriter::new(out), track.clone()).unwrap();
    let mut f = Fragmenter::new(rule, file);
    let mut fragments = Vec::new();
    for s in samples {
        if let Some(frag) = f.push(s).unwrap() {
            fragments.push(w.write_fragment(&frag).unwrap());
        }
    }
    if let Some(frag) = f.finish().unwrap() {
        fragments.push(w.write_fragment(&frag).unwrap());
    }
    w.finish().unwrap();
    TrackOutput { file: file.into(), track, fragments }
}

/// 25 fps video with IDRs every 12 frames and B-frame style reordering (I P B B), fake slice data.
pub fn synthetic_video(frames: i64, seed: u8) -> Vec<Sample> {
    let dur = 400_000i64;
    let mut out = Vec::new();
    let mut i = 0;
    while i < frames {
        // decode order within groups of 3 after the IDR: P(i+2) B(i) B(i+1)
        let idr = i % 12 == 0;
        if idr {
            out.push(sample(i * dur, dur, true, seed, i));
            i += 1;
            continue;
        }
        let group: Vec<i64> =
            if i + 2 < frames && (i + 2) % 12 != 0 && (i + 1) % 12 != 0 { vec![i + 2, i, i + 1] } else { vec![i] };
        for &f in &group {
            out.push(sample(f * dur, dur, false, seed, f));
        }
        i += group.len() as i64;
    }
    out
}

fn sample(pts: i64, dur: i64, sync: bool, seed: u8, n: i64) -> Sample {
    let nal_type = if sync { 0x65 } else { 0x41 };
    let body = vec![nal_type, seed, (n & 0xff) as u8, 0x80];
    let mut data = (body.len() as u32).to_be_bytes().to_vec();
    data.extend(body);
    Sample { pts, duration: dur as u32, sync, data }
}

/// 48 kHz AAC frame timeline (exact sample counts), fake frames.
pub fn synthetic_audio(frames: i64) -> Vec<Sample> {
    let t = |k: i64| (k * 1024 * 10_000_000 + 24_000) / 48_000;
    (0..frames)
        .map(|k| Sample {
            pts: t(k),
            duration: (t(k + 1) - t(k)) as u32,
            sync: true,
            data: vec![0x21, (k & 0xff) as u8],
        })
        .collect()
}

/// Compares `actual` with the golden file, or rewrites it when `UPDATE_GOLDEN=1`.
/// Binary files are compared byte for byte, and a mismatch is shown as a diff of their dumps.
pub fn assert_golden(golden: &Path, actual: &Path) {
    let got = std::fs::read(actual).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(golden, &got).unwrap();
        return;
    }
    let want = std::fs::read(golden)
        .unwrap_or_else(|_| panic!("missing golden file {} (run with UPDATE_GOLDEN=1)", golden.display()));
    if got == want {
        return;
    }
    let text = |b: &[u8], p: &Path| {
        if std::str::from_utf8(b).is_ok() {
            String::from_utf8_lossy(b).into_owned()
        } else {
            ssfpack::format::dump::dump_file(p).unwrap_or_else(|e| e.to_string())
        }
    };
    let want_text = text(&want, golden);
    let got_text = text(&got, actual);
    pretty_assertions::assert_eq!(
        want_text,
        got_text,
        "{} differs from {} (UPDATE_GOLDEN=1 to accept)",
        actual.display(),
        golden.display()
    );
    panic!("{} differs from {} in bytes not shown by the dump", actual.display(), golden.display());
}

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
}
