//! What a packaging job wrote, for people (the CLI's summary) and CI (`--json`; the schema is in
//! the README, "The `--json` summary").

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::format::presentation::TrackOutput;
use crate::format::TIMESCALE;
use crate::media::input::{AudioInfo, VideoInfo};

/// What was written, for people (`--quiet` off) and CI (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub input: String,
    /// The published folder, as an absolute path.
    pub output: String,
    pub name: String,
    /// Presentation duration, seconds (end of the longest track).
    pub duration: f64,
    /// Wall-clock time of the whole job, seconds.
    pub elapsed: f64,
    /// `duration / elapsed`.
    pub speed: f64,
    pub fragment_duration: f64,
    /// What the source is (encode job; `None` for `pack --copy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceSummary>,
    pub rungs: Vec<RungSummary>,
    pub audio: Vec<AudioSummary>,
    /// The text tracks (TTML), in manifest order.
    pub text: Vec<TextSummary>,
    /// Every file in the folder (manifests included), with its size.
    pub files: Vec<FileSummary>,
    pub total_bytes: u64,
    /// The job's warnings, in order (also printed on stderr, with `--quiet` too).
    pub warnings: Vec<String>,
    /// What the job changed or left out of the source (a stream not packaged, a downmix, a
    /// deinterlace, a `WxH` rung fitted to the source's aspect…), in order; also printed on stderr
    /// as `note:` lines unless `--quiet`.
    pub notes: Vec<super::report::Note>,
    /// ssfpack's version and the libraries that decide the output bytes (`ssfpack --version`).
    pub tools: BTreeMap<String, String>,
}

/// One text track written (`NAME_text_LANG.ismt`).
#[derive(Debug, Clone, Serialize)]
pub struct TextSummary {
    pub file: String,
    /// The `StreamIndex` name (`text_eng`).
    pub name: String,
    /// ISO 639-2/T.
    pub language: String,
    /// `SUBT` or `CAPT`.
    pub subtype: String,
    /// Where the cues came from: `stream N (codec)` of the input, or the sidecar file.
    pub source: String,
    pub cues: usize,
    pub fragments: usize,
    pub bytes: u64,
}

/// The source of an encode job, as FFmpeg sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    /// Seconds, as the container states it (`None` when it does not).
    pub duration: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<SourceVideo>,
    pub audio: Vec<SourceAudio>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceVideo {
    /// FFmpeg's decoder name (`h264`, `vp9`, `mpeg2video`…).
    pub codec: String,
    /// Coded size.
    pub width: u32,
    pub height: u32,
    /// Displayed size (sample aspect ratio and rotation applied, square pixels within the coded
    /// size): what the ladder is fitted to.
    pub display_width: u32,
    pub display_height: u32,
    pub rotation: u32,
    /// Frames per second, when known.
    pub frame_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceAudio {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub language: String,
    /// The stream's `title` tag (Smooth Streaming has no place for it in the manifests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RungSummary {
    pub file: String,
    pub width: u32,
    pub height: u32,
    /// Declared in the manifests (bit/s): what players choose the rung by.
    pub bitrate: u32,
    /// RFC 6381 codec string (`avc1.64001E`), H.264 profile name and level.
    pub codec: String,
    pub profile: String,
    pub level: String,
    /// Frames per second delivered (frames / duration).
    pub frame_rate: f64,
    /// Bit/s over the whole track (fragments, `moof`+`mdat`) and in its biggest fragment.
    pub average_bitrate: u64,
    pub peak_bitrate: u64,
    pub fragments: usize,
    pub frames: u64,
    /// Size of the file, as in `files`.
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
    /// RFC 6381 codec string (`mp4a.40.2`: AAC-LC).
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bit/s over the whole track and in its biggest fragment.
    pub average_bitrate: u64,
    pub peak_bitrate: u64,
    pub fragments: usize,
    /// Size of the file, as in `files`.
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
        let mut text = Vec::new();
        let mut end = 0u64;
        let nominal = (fragment_duration * TIMESCALE as f64) as u64;
        for (i, o) in outputs.iter().enumerate() {
            let bytes = files.iter().find(|f| f.file == o.file).map_or(0, |f| f.bytes);
            if let Some(last) = o.fragments.last() {
                end = end.max(last.time + last.duration);
            }
            let (average_bitrate, peak_bitrate) = rates(&o.fragments, nominal);
            let seconds = o.fragments.iter().map(|f| f.duration).sum::<u64>() as f64 / TIMESCALE as f64;
            match &o.track.codec {
                crate::format::CodecConfig::H264(c) => rungs.push(RungSummary {
                    file: o.file.clone(),
                    width: c.width,
                    height: c.height,
                    bitrate: o.track.bitrate,
                    codec: c.codec_string(),
                    profile: profile_name(c.profile).to_string(),
                    level: level_name(c.profile),
                    frame_rate: if seconds > 0.0 {
                        (frames(i) as f64 / seconds * 1000.0).round() / 1000.0
                    } else {
                        0.0
                    },
                    average_bitrate,
                    peak_bitrate,
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
                    codec: "mp4a.40.2".into(),
                    sample_rate: c.sample_rate,
                    channels: c.channels,
                    average_bitrate,
                    peak_bitrate,
                    fragments: o.fragments.len(),
                    bytes,
                }),
                crate::format::CodecConfig::Ttml(c) => text.push(TextSummary {
                    file: o.file.clone(),
                    name: o.track.name.clone(),
                    language: o.track.language.clone(),
                    subtype: c.role.subtype().to_string(),
                    source: String::new(),
                    cues: 0,
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
            notes: Vec::new(),
            source: None,
            tools: crate::media::versions::tools().into_iter().collect(),
            rungs,
            audio,
            text,
            files,
        }
    }
}

impl Summary {
    /// A warning for each rung whose average exceeds the bitrate its manifest declares (players
    /// choose rungs by the declared value).
    pub fn over_declared(&self) -> Vec<String> {
        self.rungs
            .iter()
            .filter(|r| r.average_bitrate > u64::from(r.bitrate))
            .map(|r| {
                format!(
                    "{}: averages {}k, above the {}k its manifest declares (the source needs more bits than \
                     the rung allows: give it a higher bitrate or a smaller size)",
                    r.file,
                    r.average_bitrate.div_ceil(1000),
                    r.bitrate / 1000
                )
            })
            .collect()
    }
}

impl SourceSummary {
    /// What FFmpeg said about the source.
    pub fn new(duration: Option<f64>, video: Option<&VideoInfo>, audio: &[AudioInfo]) -> SourceSummary {
        SourceSummary {
            duration,
            video: video.map(|v| {
                let (display_width, display_height) =
                    super::ladder::display_size(v.width, v.height, v.sample_aspect.map(|r| (r.num, r.den)), v.rotation);
                SourceVideo {
                    codec: v.codec.clone(),
                    width: v.width,
                    height: v.height,
                    display_width,
                    display_height,
                    rotation: v.rotation,
                    frame_rate: v
                        .frame_rate
                        .filter(|r| r.num > 0 && r.den > 0)
                        .map(|r| (r.num as f64 / r.den as f64 * 1000.0).round() / 1000.0),
                }
            }),
            audio: audio
                .iter()
                .map(|a| SourceAudio {
                    codec: a.codec.clone(),
                    sample_rate: a.sample_rate,
                    channels: a.channels,
                    language: a.language.clone(),
                    title: a.title.clone(),
                })
                .collect(),
        }
    }
}

/// Average and peak bit/s of a track's fragments (`moof`+`mdat`, what a player downloads). The
/// peak leaves out a last fragment shorter than half the nominal duration, whose rate says little.
fn rates(fragments: &[crate::format::writer::FragmentEvent], nominal: u64) -> (u64, u64) {
    let per_second = |bytes: u64, ticks: u64| {
        if ticks == 0 {
            0
        } else {
            (bytes as f64 * 8.0 * TIMESCALE as f64 / ticks as f64).round() as u64
        }
    };
    let (bytes, ticks) = fragments.iter().fold((0, 0), |(b, t), f| (b + f.size, t + f.duration));
    let n = fragments.len();
    let peak = fragments
        .iter()
        .enumerate()
        .filter(|(i, f)| n == 1 || *i + 1 < n || f.duration * 2 >= nominal)
        .map(|(_, f)| per_second(f.size, f.duration))
        .max()
        .unwrap_or(0);
    (per_second(bytes, ticks), peak)
}

/// The H.264 profile of `profile_idc`, constraint flags and level (`AvcConfig::profile`).
fn profile_name(p: [u8; 3]) -> &'static str {
    match p[0] {
        66 if p[1] & 0x40 != 0 => "Constrained Baseline",
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4 Predictive",
        _ => "unknown",
    }
}

/// `3.1` for level_idc 31; `1b` for level_idc 9, or 11 with constraint_set3 in Baseline/Main.
fn level_name(p: [u8; 3]) -> String {
    match p {
        [_, _, 9] => "1b".into(),
        [66 | 77, c, 11] if c & 0x10 != 0 => "1b".into(),
        [_, _, l] => format!("{}.{}", l / 10, l % 10),
    }
}

/// `path` made absolute with its parent folder's symbolic links and `..` resolved (the folder
/// itself may not exist yet: it is published after the summary is built).
pub fn absolute(path: &Path) -> String {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name).display().to_string(),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::writer::FragmentEvent;

    #[test]
    fn profile_and_level_names() {
        assert_eq!((profile_name([100, 0, 30]), level_name([100, 0, 30]).as_str()), ("High", "3.0"));
        assert_eq!((profile_name([66, 0xc0, 11]), level_name([66, 0xd0, 11]).as_str()), ("Constrained Baseline", "1b"));
        assert_eq!(level_name([77, 0, 41]), "4.1");
    }

    #[test]
    fn average_and_peak_leave_out_a_short_last_fragment_from_the_peak() {
        let f = |size: u64, duration: u64| FragmentEvent {
            track_id: 1,
            index: 0,
            time: 0,
            duration,
            offset: 0,
            size,
            samples: 1,
        };
        // 2 s at 100 kbit/s, 2 s at 200 kbit/s, then 0.2 s at 1 Mbit/s.
        let frags = [f(25_000, 20_000_000), f(50_000, 20_000_000), f(25_000, 2_000_000)];
        let (avg, peak) = rates(&frags, 20_000_000);
        assert_eq!(peak, 200_000);
        assert_eq!(avg, (100_000.0_f64 * 8.0 / 4.2).round() as u64);
    }
}
