//! The main job, `ssfpack INPUT -o DIR`: decode the source once, fan its frames out over bounded
//! channels to one scaler thread per distinct rung size (each size scaled once, from the source or
//! from a size at least twice as large), one encoder per video rung (libx264 + fragment + write;
//! the biggest rungs deal their fragments to several libx264 "lanes", see [`rung`] and
//! [`encoder_lanes`]) and one worker per audio track (resample + AAC + fragment + write), then write the manifests and
//! publish the folder atomically. Pictures are shared (`Arc`, reference-counted buffers), never copied.
//!
//! ```text
//!   decode thread ─▶ scaler 1280x720 ─┬─▶ encoder 3400k ─▶ NAME_3400k.ismv
//!        │                            └─▶ scaler 640x360 ─┬─▶ encoder 1000k ─▶ NAME_1000k.ismv
//!        │                                                └─▶ scaler 320x180 ─▶ encoder 400k …
//!        └──────────AudioPiece──────▶ audio worker ─▶ NAME_audio.isma
//! ```
//!
//! The decode thread owns the timeline: it rebases timestamps so the first video frame is at 0, and
//! marks the fragment boundaries (first frame at or after each `k × D`) once, so every rung forces
//! its IDRs on the same frames. Channels hold a few frames each, so memory stays flat whatever the
//! input's length. The first error cancels everything; SIGINT/SIGTERM do too.

pub mod audio;
pub mod batch;
pub mod copy;
pub mod error;
mod graph;
pub mod ladder;
mod name;
pub mod notes;
pub mod output;
pub mod report;
pub mod rung;
pub mod sink;
pub mod stop;
pub use name::check_name;
pub mod stream;
pub mod summary;
pub mod text;
pub mod timeline;
pub mod tracks;
pub mod video;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::format::presentation::write_manifests;
use crate::media::input::{AudioInfo, Decoded, Source, VideoInfo};
use crate::media::x264::H264Settings;
use crate::media::{self, AudioFrame, Ratio, VideoFrame};

pub use error::PipelineError;
use ladder::{LadderSpec, Rung};
use report::{Bar, Collecting, Note, NoteKind, Report};
pub use summary::{AudioSummary, FileSummary, RungSummary, Summary};
use timeline::{seconds_to_ticks, to_ticks, FragmentGrid, VideoClock};

/// Frames buffered per rung channel.
const VIDEO_QUEUE: usize = 8;
/// Decoded audio frames buffered per audio track.
const AUDIO_QUEUE: usize = 64;

/// Work on the finished presentation inside the staging folder, before it is published (so it is
/// as atomic as the rest): the CLI writes the player page and the pre-split layout here. Arguments:
/// the staging folder and the presentation name.
pub type Finish<'a> = &'a (dyn Fn(&Path, &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Sync);

/// A [`Finish`] that does nothing.
pub fn no_finish(_: &Path, _: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

/// The options of `ssfpack INPUT -o DIR`.
#[derive(Debug, Clone)]
pub struct PackageOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Base name of the files; default: the input's file stem.
    pub name: Option<String>,
    pub ladder: LadderSpec,
    /// Fragment duration in seconds.
    pub fragment_duration: f64,
    pub x264_preset: String,
    /// AAC bitrate, bits per second.
    pub audio_bitrate: u32,
    pub force: bool,
    /// Package what decodes from a truncated or corrupt source (with a warning) instead of failing.
    pub allow_truncated: bool,
    /// Cores to plan the encoders for (default: all available). It sets the rungs' lane counts
    /// ([`encoder_lanes`]), so output bytes depend on it and on nothing else about the machine.
    pub threads: Option<usize>,
    /// Text tracks: sidecar subtitles, captions semantics.
    pub text: text::TextOptions,
    /// Audio tracks and channels, deinterlacing.
    pub streams: tracks::StreamChoice,
}

/// Packages `opts.input` into `opts.output`. `signal` is set (to the signal number) by the
/// caller's SIGINT/SIGTERM handler; the job then stops and removes its partial output. Warnings
/// and progress go to `report` (the summary lists the warnings too); nothing is printed.
pub fn package(
    opts: &PackageOptions,
    signal: &AtomicUsize,
    finish: Finish,
    report: &dyn Report,
) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let report = Collecting::new(report);
    let name = name::presentation_name(opts)?;
    if !(opts.fragment_duration.is_finite() && (0.1..=60.0).contains(&opts.fragment_duration)) {
        return Err(PipelineError::Invalid(format!(
            "--fragment-duration {}: must be between 0.1 and 60 seconds",
            opts.fragment_duration
        )));
    }
    check_input(&opts.input)?;
    let staging = output::Staging::prepare(&opts.output, &name, opts.force, &[opts.input.as_path()])?;
    media::init()?;
    let (mut source, video_info, audio_infos) = tracks::open_source(&opts.input, &opts.input, &opts.streams, &report)?;
    let text_sources = text::prepare(&opts.input, &opts.text)?;
    for n in &text_sources.notes {
        report.note(&Note::new(NoteKind::DroppedStream, n.clone()));
    }
    let fragment = seconds_to_ticks(opts.fragment_duration);
    let cores =
        opts.threads.filter(|&n| n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rung_jobs = match &video_info {
        Some(v) => rung_jobs(opts, &name, staging.path(), v, fragment, cores),
        None => Vec::new(),
    };
    if let Some(v) = &video_info {
        let sar = v.sample_aspect.map(|r| (r.num, r.den));
        for n in ladder::fit_notes(&opts.ladder, ladder::display_size(v.width, v.height, sar, v.rotation)) {
            report.note(&Note::new(NoteKind::Ladder, n));
        }
    }
    let audio_jobs = tracks::audio_jobs(
        &name,
        staging.path(),
        &audio_infos,
        (opts.audio_bitrate, opts.streams.audio.channels),
        fragment,
        2,
        &report,
    );

    let overall = Bar::new(report.meter(None, source.duration().map(|d| (d * 1000.0) as u64)));
    let cancel = AtomicBool::new(false);
    let sizes: Vec<(u32, u32)> = rung_jobs.iter().map(|j| (j.rung.width, j.rung.height)).collect();
    let plan = video::scale_plan(&sizes, video_info.as_ref().map_or(0, |v| v.rotation));
    let lanes: Vec<(String, usize)> = rung_jobs.iter().map(|j| (j.file.clone(), j.lanes)).collect();
    let graph =
        graph::Graph { video_info: video_info.as_ref(), audio_infos: &audio_infos, fragment, signal, pace: None };
    let (decoded, results) = graph::run(&mut source, &graph, &plan, rung_jobs, audio_jobs, &cancel, &overall, &report);
    overall.done();

    let sig = signal.load(Ordering::SeqCst);
    if sig != 0 {
        return Err(PipelineError::Interrupted(sig as i32));
    }
    let decoded = match decoded {
        Err(PipelineError::Cancelled) => None,
        Err(e) => return Err(e),
        Ok(stats) => Some(stats),
    };
    let mut outputs = Vec::new();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(o) => outputs.push(o),
            Err(PipelineError::Cancelled) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let stats = decoded.ok_or(PipelineError::Cancelled)?;
    check_extent(opts, &source.extent(), &report)?;
    if source.bad_packets() > 0 {
        report.warn(&format!("{}: skipped {} corrupt packets", opts.input.display(), source.bad_packets()));
    }
    if video_info.is_some() && stats.frames == 0 {
        return Err(PipelineError::Invalid(format!("{}: no video frame could be decoded", opts.input.display())));
    }
    // An audio stream that is declared but never delivers a frame yields an empty track: leave it out.
    outputs.retain(|o| {
        let keep = !o.fragments.is_empty();
        if !keep {
            report.warn(&format!("{}: the source stream has no decodable data; left out", o.file));
            let _ = std::fs::remove_file(staging.path().join(&o.file));
        }
        keep
    });
    if outputs.is_empty() {
        return Err(PipelineError::Invalid(format!("{}: nothing could be decoded", opts.input.display())));
    }
    let grid = text_grid(&outputs);
    let first_text_id = 2 + audio_infos.len() as u32;
    let (texts, text_notes) =
        text::write(&text_sources, &name, staging.path(), &grid, stats.origin.unwrap_or(0), first_text_id)?;
    outputs.extend(texts.iter().map(|w| w.output.clone()));
    for n in text_notes {
        report.note(&Note::new(NoteKind::Text, n));
    }
    write_manifests(staging.path(), &name, &outputs)
        .map_err(|e| PipelineError::format(format!("{name}.ism/.ismc"), e))?;
    finish(staging.path(), &name).map_err(|source| PipelineError::Finish { context: name.clone(), source })?;
    let mut summary = Summary::build(
        opts.input.display().to_string(),
        summary::absolute(&opts.output),
        &name,
        opts.fragment_duration,
        staging.path(),
        &outputs,
        |_| stats.frames,
        started,
    );
    for rung in &mut summary.rungs {
        rung.lanes = lanes.iter().find(|(file, _)| *file == rung.file).map(|&(_, n)| n);
    }
    for warning in summary.over_declared() {
        report.warn(&warning);
    }
    summary.notes = report.notes();
    for t in &mut summary.text {
        if let Some(w) = texts.iter().find(|w| w.output.file == t.file) {
            t.source = w.label.clone();
            t.cues = w.cues;
        }
    }
    summary.source = Some(summary::SourceSummary::new(source.duration(), video_info.as_ref(), &audio_infos));
    summary.warnings = report.warnings();
    staging.commit()?;
    Ok(summary)
}

/// The fragment grid text tracks follow: the video's (the first video rung's fragments), else the
/// first audio track's.
fn text_grid(outputs: &[crate::format::presentation::TrackOutput]) -> Vec<crate::format::manifest::Chunk> {
    use crate::format::TrackKind;
    let by = |k: TrackKind| outputs.iter().find(|o| o.track.kind() == k);
    by(TrackKind::Video)
        .or_else(|| by(TrackKind::Audio))
        .map(|o| o.fragments.iter().map(|f| crate::format::manifest::Chunk { t: f.time, d: f.duration }).collect())
        .unwrap_or_default()
}

/// Refuses, before anything is created, an input that is missing, not a regular file, or empty.
fn check_input(input: &Path) -> Result<(), PipelineError> {
    let fail = |cause: &str| Err(PipelineError::Invalid(format!("{}: {cause}", input.display())));
    match std::fs::metadata(input) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail("no such file"),
        Err(e) => Err(PipelineError::io(input, e)),
        Ok(m) if m.is_dir() => fail("is a directory, not a media file"),
        Ok(m) if m.is_file() && m.len() == 0 => fail("empty file (0 bytes)"),
        Ok(_) => match std::fs::File::open(input) {
            Ok(_) => Ok(()),
            Err(e) => Err(PipelineError::io(input, e)),
        },
    }
}

/// Below this share of the stated duration a source counts as truncated (and at least
/// `TRUNCATION_SLACK` seconds short): a last frame's duration or a stream ending early is not.
const TRUNCATION_SHARE: f64 = 0.01;
const TRUNCATION_SLACK: f64 = 2.0;

/// Fails on a source that stopped decoding well before its stated end (or whose demuxer failed
/// mid-file), unless `--allow-truncated`, which only warns.
fn check_extent(
    opts: &PackageOptions,
    extent: &media::input::Extent,
    report: &dyn Report,
) -> Result<(), PipelineError> {
    let short = match extent.expected {
        Some(d) => extent.decoded < d - (d * TRUNCATION_SHARE).max(TRUNCATION_SLACK),
        None => false,
    };
    if !short && extent.read_error.is_none() {
        return Ok(());
    }
    let of = extent.expected.map(|d| format!(" of {d:.2} s")).unwrap_or_default();
    let why = extent.read_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
    let message =
        format!("{}: truncated or corrupt: decoding stopped at {:.2} s{of}{why}", opts.input.display(), extent.decoded);
    if opts.allow_truncated {
        report.warn(&format!("{message}; packaging what decodes (--allow-truncated)"));
        Ok(())
    } else {
        Err(PipelineError::Invalid(format!("{message} (--allow-truncated packages what decodes)")))
    }
}

fn rung_jobs(
    opts: &PackageOptions,
    name: &str,
    dir: &Path,
    v: &VideoInfo,
    fragment: u64,
    cores: usize,
) -> Vec<rung::RungJob> {
    let sar = v.sample_aspect.map(|r| (r.num, r.den));
    let display = ladder::display_size(v.width, v.height, sar, v.rotation);
    let rungs = ladder::resolve(&opts.ladder, display);
    let rate = v.frame_rate.unwrap_or(Ratio::new(25, 1));
    let fps = rate.num as f64 / rate.den.max(1) as f64;
    let per_fragment = (opts.fragment_duration * fps).ceil().clamp(1.0, 10_000.0) as u32;
    let lanes = encoder_lanes(&rungs, cores);
    rungs
        .into_iter()
        .zip(lanes)
        .map(|(rung, lanes)| {
            let file = output::video_file(name, rung.bitrate);
            rung::RungJob {
                path: dir.join(&file),
                file,
                track_id: 1,
                settings: H264Settings {
                    width: rung.width,
                    height: rung.height,
                    bitrate: u64::from(rung.bitrate),
                    preset: opts.x264_preset.clone(),
                    keyint: 2 * per_fragment,
                    frame_rate: rate,
                    vbv_init: H264Settings::vbv_init_for_lanes(lanes),
                    bt709: v.plan.tone_map.is_some(),
                },
                rung,
                fragment,
                lanes,
                queue: lane_queue(lanes, per_fragment as usize),
                live: None,
            }
        })
        .collect()
}

/// Most libx264 lanes for one rung: beyond this a lane's lookahead and reference buffers cost more
/// memory than the core is worth.
const MAX_LANES: usize = 8;

/// libx264 lanes per rung (see [`rung`]) on `cores` cores: each rung gets the share of the cores
/// its pixel rate is of the ladder's, rounded up, so the biggest rung, whose encoder would
/// otherwise set the wall time alone, is spread over as many cores as its share of the work
/// (720p of a 720/360/180 ladder is 76 % of the pixels: 2 lanes on 2 cores, 4 on 4, 8 (the cap)
/// on 16).
///
/// Each lane is one single-threaded libx264. x264's own threads are never used: with `threads>1`,
/// frame or sliced, its VBV rate control reads the sizes of frames still being encoded by other
/// threads, so two runs differ (FFmpeg 5.1 / x264 0.164, 5 runs each of a 720p VBV encode:
/// `threads=2` gave 5 different streams, `sliced-threads=1` 5, `sync-lookahead=0:lookahead-threads=1`
/// 5, `threads=1` 1; docs/benchmarks.md). Lanes are reproducible: the same lane count gives the
/// same bytes, whatever the timing.
pub fn encoder_lanes(rungs: &[Rung], cores: usize) -> Vec<usize> {
    let cost = |r: &Rung| u64::from(r.width) * u64::from(r.height);
    let total = rungs.iter().map(cost).sum::<u64>().max(1);
    let cores = cores.max(1);
    rungs
        .iter()
        .map(|r| usize::try_from((cores as u64 * cost(r)).div_ceil(total)).unwrap_or(1).clamp(1, cores.min(MAX_LANES)))
        .collect()
}

/// Pictures that may wait for a rung's lanes, all together (`rung::Budget`). With L lanes running
/// side by side, lane i still holds i/L of its fragment of `per_fragment` pictures while the router
/// fills the next one: (L-1)/2 fragments in all. Less and the router waits on one lane while the
/// others starve (measured on the 720p rung of bench/ladder.sh with a limit per lane: 8 pictures
/// kept 91 % of the two cores busy, 22 94 %, 38 95-97 %).
pub fn lane_queue(lanes: usize, per_fragment: usize) -> usize {
    per_fragment * lanes.saturating_sub(1) / 2 + VIDEO_QUEUE
}

fn estimated_frames(v: &VideoInfo) -> Option<u64> {
    v.frames.or_else(|| {
        let rate = v.frame_rate?;
        Some((v.duration? * rate.num as f64 / rate.den as f64).round() as u64)
    })
}

fn cancel_on_error<T>(cancel: &AtomicBool, r: Result<T, PipelineError>) -> Result<T, PipelineError> {
    if r.is_err() {
        cancel.store(true, Ordering::SeqCst);
    }
    r
}

struct Fanout<'a> {
    video: Vec<Sender<Arc<video::SourceFrame>>>,
    audio: Vec<Sender<audio::AudioPiece>>,
    stop: stop::Stop<'a>,
    pace: Option<&'a stream::Pace<'a>>,
}

impl Fanout<'_> {
    fn check(&self) -> Result<(), PipelineError> {
        Ok(self.stop.check()?)
    }

    fn video(&self, frame: VideoFrame, pts: i64, duration: i64, boundary: bool) -> Result<(), PipelineError> {
        if let Some(pace) = self.pace {
            pace.wait(pts);
        }
        let shared = Arc::new(video::SourceFrame {
            frame,
            pts,
            duration: duration.clamp(1, i64::from(u32::MAX)) as u32,
            boundary,
        });
        for tx in &self.video {
            // A closed channel means that worker stopped on an error: it is the one reported.
            tx.send(Arc::clone(&shared)).map_err(|_| PipelineError::Cancelled)?;
        }
        Ok(())
    }

    fn audio(&self, track: usize, frame: AudioFrame, pts: Option<i64>) -> Result<(), PipelineError> {
        match self.audio.get(track) {
            Some(tx) => tx.send(audio::AudioPiece { frame, pts }).map_err(|_| PipelineError::Cancelled),
            None => Ok(()),
        }
    }
}

/// Most audio kept, per track, while waiting for the first video frame (which sets the
/// presentation's origin). Audio before the origin is cut anyway, and a file interleaves its
/// streams by time, so only the last seconds before the first video frame can be needed: older
/// frames are dropped, and memory stays flat when the video starts late or never decodes.
const AUDIO_LEAD_SECONDS: u32 = 30;

/// The audio decoded before the first video frame, bounded by [`AUDIO_LEAD_SECONDS`] per track.
#[derive(Default)]
struct AudioBacklog {
    frames: std::collections::VecDeque<(usize, AudioFrame)>,
    /// Samples held per track.
    held: Vec<u64>,
    /// End (source ticks) of the latest frame dropped, to tell whether it was needed.
    dropped_until: Option<i64>,
}

impl AudioBacklog {
    /// Queues a frame; returns the oldest frame of that track if the track is now over its bound.
    fn push(&mut self, track: usize, frame: AudioFrame, rate: u32) -> Option<AudioFrame> {
        if self.held.len() <= track {
            self.held.resize(track + 1, 0);
        }
        self.held[track] += frame.samples() as u64;
        self.frames.push_back((track, frame));
        if self.held[track] <= u64::from(AUDIO_LEAD_SECONDS) * u64::from(rate.max(1)) {
            return None;
        }
        let at = self.frames.iter().position(|(t, _)| *t == track)?;
        let (_, oldest) = self.frames.remove(at)?;
        self.held[track] -= oldest.samples() as u64;
        Some(oldest)
    }
}

/// What the decode loop saw.
#[derive(Debug, Clone, Default)]
struct DecodeStats {
    frames: u64,
    dropped: u64,
    /// The input time (ticks) of the presentation's 0.
    origin: Option<i64>,
}

/// The decode thread: one pass over the source, frames rebased to the presentation timeline and
/// sent to every worker.
fn decode(
    source: &mut Source,
    video_info: Option<&VideoInfo>,
    audio_infos: &[AudioInfo],
    fragment: u64,
    fan: Fanout<'_>,
    overall: &Bar,
    report: &dyn Report,
) -> Result<DecodeStats, PipelineError> {
    let rate = video_info.and_then(|v| v.frame_rate).unwrap_or(Ratio::new(25, 1));
    let nominal = to_ticks(1, Ratio::new(rate.den, rate.num.max(1)));
    let tb = video_info.map_or(Ratio::new(1, 1), |v| v.time_base);
    let mut clock = VideoClock::new(tb, nominal);
    let mut grid = FragmentGrid::new(fragment);
    let mut stats = DecodeStats::default();
    // The frame waiting for its successor (its duration is the gap to the next one).
    let mut held: Option<(VideoFrame, i64, bool, i64)> = None;
    let mut last_duration = nominal;
    // Audio decoded before the first video frame: it needs the origin the video defines.
    let mut backlog = AudioBacklog::default();
    let mut origin: Option<i64> = None;
    let audio_ticks = |track: usize, f: &AudioFrame| -> Option<i64> {
        let tb = audio_infos.get(track)?.time_base;
        f.timestamp().map(|t| to_ticks(t, tb))
    };
    while let Some(decoded) = source.next_frame()? {
        fan.check()?;
        if fan.pace.is_some_and(|p| p.halted()) {
            break;
        }
        match decoded {
            Decoded::Video(frame) => {
                let packet_duration = to_ticks(frame.packet().duration, tb);
                let Some(pts) = clock.stamp(frame.timestamp()) else {
                    stats.dropped += 1;
                    continue;
                };
                if origin.is_none() {
                    let o = clock.origin().unwrap_or(0);
                    origin = Some(o);
                    if let Some(lost) = backlog.dropped_until.filter(|&t| t > o) {
                        report.warn(&format!(
                            "the video starts more than {AUDIO_LEAD_SECONDS} s later in the file than the audio \
                             (badly interleaved): {:.2} s of audio after the start were dropped",
                            (lost - o) as f64 / crate::format::TIMESCALE as f64
                        ));
                    }
                    for (track, f) in backlog.frames.drain(..) {
                        let t = audio_ticks(track, &f).map(|t| t - o);
                        fan.audio(track, f, t)?;
                    }
                }
                if let Some((prev, prev_pts, prev_boundary, _)) = held.take() {
                    last_duration = pts - prev_pts;
                    fan.video(prev, prev_pts, last_duration, prev_boundary)?;
                }
                let boundary = grid.is_boundary(pts);
                held = Some((frame, pts, boundary, packet_duration));
                stats.frames += 1;
                overall.media(pts);
            }
            Decoded::Audio { track, frame } => {
                let abs = audio_ticks(track, &frame);
                let o = match origin {
                    Some(o) => o,
                    None if video_info.is_some() => {
                        let rate = audio_infos.get(track).map_or(48_000, |a| a.sample_rate);
                        let dropped = backlog.push(track, frame, rate);
                        if let Some(end) = dropped.and_then(|f| audio_ticks(track, &f)) {
                            backlog.dropped_until = backlog.dropped_until.max(Some(end));
                        }
                        continue;
                    }
                    None => *origin.insert(abs.unwrap_or(0)),
                };
                let t = abs.map(|a| a - o);
                if video_info.is_none() {
                    overall.media(t.unwrap_or(0));
                }
                fan.audio(track, frame, t)?;
            }
        }
    }
    if let Some((frame, pts, boundary, packet_duration)) = held.take() {
        let duration = if packet_duration > 0 { packet_duration } else { last_duration };
        fan.video(frame, pts, duration, boundary)?;
    }
    // No video frame at all: the audio defines the origin.
    let o = origin.unwrap_or_else(|| backlog.frames.front().and_then(|(t, f)| audio_ticks(*t, f)).unwrap_or(0));
    stats.origin = Some(o);
    for (track, f) in backlog.frames.drain(..) {
        let t = audio_ticks(track, &f).map(|t| t - o);
        fan.audio(track, f, t)?;
    }
    if stats.dropped > 0 {
        report.warn(&format!("dropped {} video frames with repeated timestamps", stats.dropped));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::encoder_lanes;
    use super::ladder::Rung;

    fn rungs(sizes: &[(u32, u32)]) -> Vec<Rung> {
        sizes.iter().map(|&(width, height)| Rung { width, height, bitrate: 1_000_000 }).collect()
    }

    #[test]
    fn the_biggest_rungs_get_lanes_in_proportion_to_their_pixels() {
        let ladder = rungs(&[(1280, 720), (640, 360), (320, 180)]);
        assert_eq!(encoder_lanes(&ladder, 1), vec![1, 1, 1]);
        assert_eq!(encoder_lanes(&ladder, 2), vec![2, 1, 1]);
        assert_eq!(encoder_lanes(&ladder, 16), vec![8, 4, 1]);
        let hd = rungs(&[(1920, 1080), (1280, 720), (640, 360), (320, 180)]);
        assert_eq!(encoder_lanes(&hd, 2), vec![2, 1, 1, 1]);
        assert_eq!(encoder_lanes(&hd, 4), vec![3, 2, 1, 1]);
        assert_eq!(encoder_lanes(&rungs(&[(640, 360)]), 2), vec![2]);
        assert_eq!(encoder_lanes(&[], 2), Vec::<usize>::new());
    }
}
