//! `ssfpack push`'s encode: the main job's graph (same rungs, closed GOPs cut at the same times in
//! every rung, same AAC), paced at real time for file inputs, with every track going to a live
//! output instead of a file. One stream carries all tracks, so their track ids differ: the video
//! rungs are 1…N, the audio tracks N+1….

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::report::{Bar, Collecting, Report};
use super::sink::LiveOutput;
use super::timeline::seconds_to_ticks;
use super::{graph, ladder, rung_jobs, video, PackageOptions, PipelineError};
use crate::format::TIMESCALE;

/// The options of `ssfpack push` that shape the encode.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Anything FFmpeg reads; `-` is standard input.
    pub input: PathBuf,
    pub ladder: ladder::LadderSpec,
    pub fragment_duration: f64,
    pub x264_preset: String,
    pub audio_bitrate: u32,
    pub threads: Option<usize>,
    /// Repeat a file input from its start at its end, the timeline continuing (rehearsals).
    pub looping: bool,
    /// Audio tracks and channels, deinterlacing.
    pub streams: super::tracks::StreamChoice,
}

/// What the encode did.
#[derive(Debug, Clone)]
pub struct StreamSummary {
    pub frames: u64,
    /// Media time encoded, seconds.
    pub media_seconds: f64,
    pub elapsed_seconds: f64,
    /// Whether the decode was paced at real time (a file input).
    pub paced: bool,
}

/// Real-time pacing of the decode, and the request to end the input early (a signal).
pub struct Pace<'a> {
    /// When the first frame came out of the decoder: the clock starts there, after the encoders
    /// and the source have opened.
    start: std::sync::OnceLock<Instant>,
    paced: bool,
    halt: &'a AtomicUsize,
    report: &'a dyn Report,
    /// When the encoder last warned it was behind real time.
    warned: Mutex<Option<Instant>>,
}

/// A lag below this is jitter, not falling behind.
const BEHIND: Duration = Duration::from_secs(2);

impl Pace<'_> {
    /// Waits until the frame at `pts` (ticks from the start) is due; warns (once a minute) when
    /// the encode runs behind real time.
    pub fn wait(&self, pts: i64) {
        let due = Duration::from_nanos(u64::try_from(pts).unwrap_or(0).saturating_mul(100));
        let start = *self.start.get_or_init(|| Instant::now() - due);
        let elapsed = start.elapsed();
        if elapsed > due + BEHIND {
            let mut w = self.warned.lock().unwrap_or_else(PoisonError::into_inner);
            if w.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                *w = Some(Instant::now());
                self.report.warn(&format!(
                    "encoding is {:.1} s behind real time (the ladder is too big for this machine?)",
                    (elapsed - due).as_secs_f64()
                ));
            }
        }
        if !self.paced {
            return;
        }
        while !self.halted() {
            let now = start.elapsed();
            if now >= due {
                break;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(50)));
        }
    }

    /// The input must end now.
    pub fn halted(&self) -> bool {
        self.halt.load(Ordering::Relaxed) != 0
    }
}

/// Whether an input is live (a pipe, a network stream, a device, a growing file is not known to
/// be): no pacing for those, they come at their own rate.
pub fn is_live_input(input: &Path) -> bool {
    let text = input.to_string_lossy();
    text == "-"
        || text.contains("://")
        || text.starts_with("pipe:")
        || std::fs::metadata(input).is_ok_and(|m| !m.is_file())
}

/// Encodes `opts.input` into `live` until the input ends or `halt` is set (to a signal number: the
/// input then ends cleanly, the encoders flush and every track ends). Warnings and progress go
/// to `report`.
pub fn encode_live(
    opts: &StreamOptions,
    live: Arc<dyn LiveOutput>,
    halt: &AtomicUsize,
    report: &dyn Report,
) -> Result<StreamSummary, PipelineError> {
    let started = Instant::now();
    let report = Collecting::new(report);
    if !(opts.fragment_duration.is_finite() && (0.5..=20.0).contains(&opts.fragment_duration)) {
        return Err(PipelineError::Invalid(format!(
            "--fragment-duration {}: live fragments must be between 0.5 and 20 seconds",
            opts.fragment_duration
        )));
    }
    crate::media::init()?;
    let paced = !is_live_input(&opts.input);
    let open_path = if opts.input.as_os_str() == "-" { PathBuf::from("pipe:0") } else { opts.input.clone() };
    if opts.looping && !paced {
        return Err(PipelineError::Invalid(format!(
            "{}: --loop repeats a file; a live input cannot be repeated",
            opts.input.display()
        )));
    }
    let (mut source, video_info, audio_infos) =
        super::tracks::open_source(&open_path, &opts.input, &opts.streams, &report)?;
    source.set_looping(opts.looping);
    let fragment = seconds_to_ticks(opts.fragment_duration);
    let cores =
        opts.threads.filter(|&n| n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let package = PackageOptions {
        input: opts.input.clone(),
        output: PathBuf::new(),
        name: Some("live".into()),
        ladder: opts.ladder.clone(),
        fragment_duration: opts.fragment_duration,
        x264_preset: opts.x264_preset.clone(),
        audio_bitrate: opts.audio_bitrate,
        force: false,
        allow_truncated: true,
        threads: Some(cores),
        text: Default::default(),
        streams: opts.streams.clone(),
    };
    let mut rungs = match &video_info {
        Some(v) => rung_jobs(&package, "live", Path::new(""), v, fragment, cores),
        None => Vec::new(),
    };
    for (i, job) in rungs.iter_mut().enumerate() {
        job.track_id = 1 + i as u32;
        job.live = Some(Arc::clone(&live));
    }
    let first_audio = 1 + rungs.len() as u32;
    let mut audio_jobs = super::tracks::audio_jobs(
        "live",
        Path::new(""),
        &audio_infos,
        (opts.audio_bitrate, opts.streams.audio.channels),
        fragment,
        first_audio,
        &report,
    );
    for job in &mut audio_jobs {
        job.live = Some(Arc::clone(&live));
    }
    if rungs.is_empty() && audio_jobs.is_empty() {
        return Err(PipelineError::Invalid(format!("{}: no video or audio stream", opts.input.display())));
    }
    live.expect(rungs.len() + audio_jobs.len());

    let overall = Bar::new(report.meter(None, None));
    let cancel = AtomicBool::new(false);
    let sizes: Vec<(u32, u32)> = rungs.iter().map(|j| (j.rung.width, j.rung.height)).collect();
    let plan = video::scale_plan(&sizes, video_info.as_ref().map_or(0, |v| v.rotation));
    let pace = Pace { start: std::sync::OnceLock::new(), paced, halt, report: &report, warned: Mutex::new(None) };
    // Signals end the input (through `pace`), they do not cancel the graph.
    let never = AtomicUsize::new(0);
    let graph = graph::Graph {
        video_info: video_info.as_ref(),
        audio_infos: &audio_infos,
        fragment,
        signal: &never,
        pace: Some(&pace),
    };
    let (decoded, results) = graph::run(&mut source, &graph, &plan, rungs, audio_jobs, &cancel, &overall, &report);
    overall.done();
    let mut first_error =
        decoded.as_ref().err().filter(|e| !matches!(e, PipelineError::Cancelled)).map(|e| e.to_string());
    for r in &results {
        if let Err(e) = r {
            if !matches!(e, PipelineError::Cancelled) {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if let Some(e) = first_error {
        return Err(PipelineError::Invalid(e));
    }
    let stats = decoded?;
    let media_seconds = results
        .iter()
        .flatten()
        .filter_map(|o| o.fragments.last().map(|f| (f.time + f.duration) as f64 / TIMESCALE as f64))
        .fold(0.0, f64::max);
    Ok(StreamSummary { frames: stats.frames, media_seconds, elapsed_seconds: started.elapsed().as_secs_f64(), paced })
}
