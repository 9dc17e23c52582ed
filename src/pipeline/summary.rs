//! What a packaging job wrote, for people (the CLI's summary) and CI (`--json`).

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::format::presentation::TrackOutput;
use crate::format::TIMESCALE;

/// What was written, for people (`--quiet` off) and CI (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub input: String,
    pub output: String,
    pub name: String,
    /// Presentation duration, seconds (end of the longest track).
    pub duration: f64,
    /// Wall-clock time of the whole job, seconds.
    pub elapsed: f64,
    /// `duration / elapsed`.
    pub speed: f64,
    pub fragment_duration: f64,
    pub rungs: Vec<RungSummary>,
    pub audio: Vec<AudioSummary>,
    /// Every file in the folder (manifests included), with its size.
    pub files: Vec<FileSummary>,
    pub total_bytes: u64,
    /// The job's warnings, in order (also printed on stderr unless `--quiet`).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RungSummary {
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub bitrate: u32,
    pub fragments: usize,
    pub frames: u64,
    pub bytes: u64,
    /// libx264 lanes that coded the rung (encode job only; see `pipeline::encoder_lanes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lanes: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AudioSummary {
    pub file: String,
    pub name: String,
    pub language: String,
    pub bitrate: u32,
    pub sample_rate: u32,
    pub channels: u16,
    pub fragments: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub bytes: u64,
}

impl Summary {
    /// Builds the summary from what was written into `dir` (the staging folder, before it is
    /// published: nothing can fail after the rename). `frames(i)` is the frame count of output `i`.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        input: String,
        output: String,
        name: &str,
        fragment_duration: f64,
        dir: &Path,
        outputs: &[TrackOutput],
        frames: impl Fn(usize) -> u64,
        started: Instant,
    ) -> Summary {
        let mut files = Vec::new();
        list_files(dir, dir, &mut files);
        files.sort_by(|a, b| a.file.cmp(&b.file));
        let mut rungs = Vec::new();
        let mut audio = Vec::new();
        let mut end = 0u64;
        for (i, o) in outputs.iter().enumerate() {
            let bytes = o.fragments.iter().map(|f| f.size).sum::<u64>();
            if let Some(last) = o.fragments.last() {
                end = end.max(last.time + last.duration);
            }
            match &o.track.codec {
                crate::format::CodecConfig::H264(c) => rungs.push(RungSummary {
                    file: o.file.clone(),
                    width: c.width,
                    height: c.height,
                    bitrate: o.track.bitrate,
                    fragments: o.fragments.len(),
                    frames: frames(i),
                    bytes,
                    lanes: None,
                }),
                crate::format::CodecConfig::Aac(c) => audio.push(AudioSummary {
                    file: o.file.clone(),
                    name: o.track.name.clone(),
                    language: o.track.language.clone(),
                    bitrate: o.track.bitrate,
                    sample_rate: c.sample_rate,
                    channels: c.channels,
                    fragments: o.fragments.len(),
                    bytes,
                }),
            }
        }
        let duration = end as f64 / TIMESCALE as f64;
        let elapsed = started.elapsed().as_secs_f64();
        Summary {
            input,
            output,
            name: name.to_string(),
            duration,
            elapsed,
            speed: if elapsed > 0.0 { duration / elapsed } else { 0.0 },
            fragment_duration,
            total_bytes: files.iter().map(|f| f.bytes).sum(),
            warnings: Vec::new(),
            rungs,
            audio,
            files,
        }
    }
}

/// Every regular file below `dir`, with its path relative to `root` and its size.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<FileSummary>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => list_files(root, &path, out),
            // The staging and published markers are bookkeeping, not part of the presentation.
            Ok(t) if t.is_file() && e.file_name().to_string_lossy().starts_with(".ssfpack-") => {}
            Ok(t) if t.is_file() => out.push(FileSummary {
                file: path.strip_prefix(root).unwrap_or(&path).display().to_string(),
                bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
            }),
            _ => {}
        }
    }
}
