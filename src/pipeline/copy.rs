//! The `--copy` job (`ssfpack pack --copy IN… -o DIR`): package renditions that are already encoded
//! (H.264 video, AAC audio) into a Smooth Streaming presentation without decoding anything.
//!
//! MP4/MOV sample tables are read directly ([`source`]), fragments are cut at the keyframe times
//! common to all rungs ([`cuts`]), and the sample bytes are copied fragment by fragment through the
//! same [`IsmvWriter`] and manifest builder as the encode job, one worker per output file. The job is
//! bounded by disk I/O: each input byte is read once with positioned reads and written once.

pub mod cuts;
pub mod source;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use self::cuts::CutProblem;
use self::source::{SourceFile, SourceTrack};
use crate::format::fragmenter::Fragment;
use crate::format::presentation::{write_manifests, TrackOutput};
use crate::format::writer::IsmvWriter;
use crate::format::{avc, FormatError, Sample, TrackInfo, TrackKind, TIMESCALE};
use crate::pipeline::output::{audio_file, video_file, Staging};
use crate::pipeline::report::{Bar, Collecting, Note, NoteKind, Report};
use crate::pipeline::stop::{Stop, Stopped};
use crate::pipeline::{PipelineError, Summary};

/// What to tell the user when `--copy` cannot be used.
const REENCODE: &str = "re-encode without --copy (`ssfpack INPUT -o DIR`)";

/// Errors of the copy job. Each names the file and, for timing problems, the presentation time.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Staging and publishing the output folder.
    #[error(transparent)]
    Output(#[from] PipelineError),
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error("{}: {what}; --copy packages H.264 video and AAC-LC audio only: {REENCODE}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error(
        "{}: is a {container} file with H.264/AAC; --copy reads MP4/MOV only: remux it first \
         (`ffmpeg -i IN -c copy OUT.mp4`) or {REENCODE}",
        path.display()
    )]
    Container { path: PathBuf, container: String },
    #[error(
        "{}: keyframes are not aligned with {}: no keyframe at {}{}; {REENCODE} to get aligned fragments",
        path.display(), other.display(), secs(*time), nearest.map(|n| format!(" (nearest at {})", secs(n))).unwrap_or_default()
    )]
    Misaligned { path: PathBuf, other: PathBuf, time: i64, nearest: Option<i64> },
    #[error("{}: open GOP at {}: {detail}; {REENCODE}", path.display(), secs(*time))]
    OpenGop { path: PathBuf, time: i64, detail: String },
    #[error("{0}")]
    Usage(String),
    /// SIGINT or SIGTERM arrived; the partial output was removed.
    #[error("interrupted by signal {0}; nothing was written")]
    Interrupted(i32),
    /// Another worker failed first; its error is the one reported.
    #[error("cancelled")]
    Cancelled,
}

impl From<Stopped> for CopyError {
    fn from(s: Stopped) -> Self {
        match s {
            Stopped::Signal(sig) => CopyError::Interrupted(sig),
            Stopped::Cancelled => CopyError::Cancelled,
        }
    }
}

impl CopyError {
    pub fn input(path: &Path, message: impl std::fmt::Display) -> Self {
        CopyError::Input { path: path.to_path_buf(), message: message.to_string() }
    }

    pub fn unsupported(path: &Path, what: impl std::fmt::Display) -> Self {
        CopyError::Unsupported { path: path.to_path_buf(), what: what.to_string() }
    }
}

/// A time on the presentation timeline, for messages: `3.840 s`.
pub fn secs(ticks: i64) -> String {
    format!("{:.3} s", ticks as f64 / TIMESCALE as f64)
}

/// The error for a file that is not MP4/MOV: names its codecs when FFmpeg can read it.
fn not_mp4(path: &Path) -> CopyError {
    match crate::media::demux::probe(path) {
        Ok(p) if p.streams.iter().all(|s| s.codec == "h264" || s.codec == "aac") && !p.streams.is_empty() => {
            CopyError::Container { path: path.to_path_buf(), container: p.container }
        }
        Ok(p) => {
            let list: Vec<String> = p.streams.iter().map(|s| format!("{} {}", s.codec, s.kind)).collect();
            CopyError::unsupported(path, format!("is a {} file with {}", p.container, list.join(", ")))
        }
        Err(_) => CopyError::unsupported(path, "is not an MP4/MOV file FFmpeg can read"),
    }
}

/// The job's inputs and settings.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Files whose H.264 video tracks become the rungs (and whose first file gives the audio).
    pub inputs: Vec<PathBuf>,
    /// Files whose AAC tracks become the audio tracks instead of the first input's.
    pub audio: Vec<PathBuf>,
    pub output: PathBuf,
    /// Base name of the manifests and media files (default: the first input's stem).
    pub name: Option<String>,
    /// Minimum fragment duration, [`TIMESCALE`] units.
    pub fragment_duration: u64,
    /// Bitrates of the video rungs in input order, bits per second (default: measured).
    pub bitrates: Vec<u32>,
    /// Replace an existing output folder.
    pub force: bool,
}

/// One output file to write: a source track rebased to the presentation timeline, its fragment
/// boundaries, and its identity.
struct Job {
    track: SourceTrack,
    info: TrackInfo,
    file: String,
    /// Decode-order sample indices where fragments start (the first is 0).
    starts: Vec<usize>,
    /// Fragment start times (for video, the cut times).
    times: Vec<i64>,
}

/// Runs the whole job: plan (everything refusable is refused before a byte is written), copy every
/// track in parallel, write the manifests, publish the folder atomically. `signal` is set by the
/// caller's SIGINT/SIGTERM handler; the job then stops and removes its partial output.
pub fn run(
    opts: &CopyOptions,
    signal: &AtomicUsize,
    finish: super::Finish,
    report: &dyn Report,
) -> Result<Summary, CopyError> {
    let started = Instant::now();
    let report = Collecting::new(report);
    let inputs: Vec<&Path> = opts.inputs.iter().chain(&opts.audio).map(PathBuf::as_path).collect();
    crate::pipeline::output::guard::check_output(&opts.output, &inputs)?;
    let (name, jobs) = plan(opts)?;
    let staging = Staging::prepare(&opts.output, &name, opts.force, &inputs)?;
    let duration = jobs.iter().map(|j| j.track.span().1).max().unwrap_or(0);
    let overall = Bar::new(report.meter(None, Some((duration as f64 / TIMESCALE as f64 * 1000.0) as u64)));
    let bars: Vec<Bar> =
        jobs.iter().map(|j| Bar::new(report.meter(Some(&j.file), Some(j.track.samples.len() as u64)))).collect();
    let cancel = AtomicBool::new(false);
    let stop = Stop { cancel: &cancel, signal };
    let results: Vec<Result<TrackOutput, CopyError>> = jobs
        .par_iter()
        .zip(&bars)
        .enumerate()
        .map(|(i, (job, bar))| {
            let overall = (i == 0).then_some(&overall);
            let r = write_track(job, staging.path(), bar, overall, &stop);
            if r.is_err() {
                cancel.store(true, Ordering::SeqCst);
            }
            r
        })
        .collect();
    overall.done();
    let sig = signal.load(Ordering::SeqCst);
    if sig != 0 {
        return Err(CopyError::Interrupted(sig as i32));
    }
    let mut outputs = Vec::with_capacity(results.len());
    let mut cancelled = false;
    for r in results {
        match r {
            Ok(o) => outputs.push(o),
            Err(CopyError::Cancelled) => cancelled = true,
            Err(e) => return Err(e),
        }
    }
    if cancelled {
        return Err(CopyError::Cancelled);
    }
    write_manifests(staging.path(), &name, &outputs)?;
    finish(staging.path(), &name).map_err(|source| PipelineError::Finish { context: name.clone(), source })?;
    let inputs: Vec<String> = opts.inputs.iter().map(|p| p.display().to_string()).collect();
    let summary = Summary::build(
        inputs.join(" "),
        super::summary::absolute(&opts.output),
        &name,
        opts.fragment_duration as f64 / TIMESCALE as f64,
        staging.path(),
        &outputs,
        |i| jobs.get(i).map_or(0, |j| j.track.samples.len() as u64),
        started,
    );
    let mut summary = summary;
    // Text tracks need a decode and a TTML conversion: the encode job does them, --copy does not.
    for p in &opts.inputs {
        for (id, lang) in source::open(p).map(|f| f.text).unwrap_or_default() {
            report.note(&Note::new(
                NoteKind::DroppedStream,
                format!(
                    "{}: text track {id} ({lang}): not packaged: --copy carries video and audio only; package \
                     without --copy to convert it to a TTML text track",
                    p.display()
                ),
            ));
        }
    }
    summary.warnings = report.warnings();
    summary.notes = report.notes();
    staging.commit()?;
    Ok(summary)
}

/// What makes the workers stop early: another worker's error, or a signal.
/// Opens the inputs, picks the tracks, rebases their times and computes every fragment boundary.
/// Everything that can be refused is refused here, before a byte is written.
fn plan(opts: &CopyOptions) -> Result<(String, Vec<Job>), CopyError> {
    let first = opts.inputs.first().ok_or_else(|| CopyError::Usage("no input file".into()))?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => first.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "presentation".into()),
    };
    super::check_name(&name).map_err(CopyError::Usage)?;
    let sources: Vec<SourceFile> = opts.inputs.iter().map(|p| source::open(p)).collect::<Result<_, _>>()?;
    let mut video: Vec<SourceTrack> = sources.iter().flat_map(|s| s.video.iter().cloned()).collect();
    let mut audio: Vec<SourceTrack> = if opts.audio.is_empty() {
        sources[0].audio.clone()
    } else {
        let files: Vec<SourceFile> = opts.audio.iter().map(|p| source::open(p)).collect::<Result<_, _>>()?;
        for f in &files {
            if f.audio.is_empty() {
                return Err(CopyError::input(&f.path, "has no audio track (given with --audio)"));
            }
        }
        files.into_iter().flat_map(|f| f.audio).collect()
    };
    if video.is_empty() && audio.is_empty() {
        return Err(CopyError::input(first, "has no H.264 video or AAC audio track"));
    }
    if !opts.bitrates.is_empty() && opts.bitrates.len() != video.len() {
        return Err(CopyError::Usage(format!(
            "--bitrates lists {} values but the inputs have {} video rungs",
            opts.bitrates.len(),
            video.len()
        )));
    }
    for t in &video {
        cuts::check_gops(&t.samples).map_err(|p| gop_error(t, p))?;
    }

    // One timeline for everything: the first video keyframe (or the first audio frame) is 0.
    let origin = match video.iter().map(|t| t.span().0).min() {
        Some(v) => v,
        None => audio.iter().map(|t| t.span().0).min().unwrap_or(0),
    };
    for t in &mut video {
        t.samples.iter_mut().for_each(|s| s.pts -= origin);
    }
    for t in &mut audio {
        rebase_audio(t, origin)?;
    }

    let d = i64::try_from(opts.fragment_duration).unwrap_or(i64::MAX).max(1);
    let keyframes: Vec<Vec<i64>> = video.iter().map(|t| cuts::keyframe_times(&t.samples)).collect();
    let video_cuts = cuts::video_cuts(&keyframes, d).map_err(|p| match p {
        CutProblem::Misaligned { rung, time, nearest } => {
            let other = if rung == 0 { 1 } else { 0 };
            CopyError::Misaligned {
                path: video[rung].path.clone(),
                other: video.get(other).map(|t| t.path.clone()).unwrap_or_default(),
                time,
                nearest,
            }
        }
        other => gop_error(&video[0], other),
    })?;

    let mut jobs = Vec::new();
    let mut used = Vec::new();
    for (i, t) in video.into_iter().enumerate() {
        let starts = cuts::video_boundaries(&t.samples, &video_cuts).map_err(|time| CopyError::Misaligned {
            path: t.path.clone(),
            other: first.clone(),
            time,
            nearest: None,
        })?;
        check_idrs(&t, &starts)?;
        let bitrate = match opts.bitrates.get(i) {
            Some(&b) => b,
            None => measured_bitrate(&t, &used),
        };
        let file = video_file(&name, bitrate);
        if jobs.iter().any(|j: &Job| j.file == file) {
            return Err(CopyError::Usage(format!(
                "two video rungs would share the bitrate {}k (file {file}); give distinct --bitrates",
                bitrate / 1000
            )));
        }
        used.push(bitrate);
        let info =
            TrackInfo { track_id: 1, codec: t.codec.clone(), bitrate, language: "und".into(), name: "video".into() };
        jobs.push(Job { file, info, starts, times: video_cuts.clone(), track: t });
    }
    let count = audio.len();
    let names = crate::pipeline::tracks::stream_names(&audio.iter().map(|t| t.language.clone()).collect::<Vec<_>>());
    for (i, (t, stream_name)) in audio.into_iter().zip(names).enumerate() {
        let cut_times = if video_cuts.is_empty() { cuts::audio_grid(&t.samples, d) } else { video_cuts.clone() };
        let starts = cuts::audio_boundaries(&t.samples, &cut_times);
        let times = starts.iter().map(|&k| t.samples[k].pts).collect();
        let info = TrackInfo {
            track_id: 2 + i as u32,
            codec: t.codec.clone(),
            bitrate: measured_bitrate(&t, &[]),
            language: t.language.clone(),
            name: stream_name,
        };
        jobs.push(Job { file: audio_file(&name, &t.language, i, count), track: t, info, starts, times });
    }
    Ok((name, jobs))
}

/// Every fragment of a video rung must start with an IDR picture: reads each cut's keyframe now, so
/// that a stream with non-IDR keyframes (x264's open GOP) is refused before anything is written.
fn check_idrs(t: &SourceTrack, starts: &[usize]) -> Result<(), CopyError> {
    let file = File::open(&t.path).map_err(|e| CopyError::Io { path: t.path.clone(), source: e })?;
    for &i in starts {
        let Some(s) = t.samples.get(i) else { continue };
        if !avc::sample_is_idr(&source::read_sample(&file, t, s)?) {
            return Err(not_idr(t, s.pts));
        }
    }
    Ok(())
}

fn not_idr(t: &SourceTrack, time: i64) -> CopyError {
    CopyError::OpenGop {
        path: t.path.clone(),
        time,
        detail: format!("track {}: the keyframe is not an IDR picture, so a fragment cannot start there", t.track_id),
    }
}

fn gop_error(t: &SourceTrack, p: CutProblem) -> CopyError {
    match p {
        CutProblem::OpenGop { time } => CopyError::OpenGop {
            path: t.path.clone(),
            time,
            detail: format!(
                "track {}: a frame after the keyframe in decode order is presented before it, so a fragment \
                 cannot start there",
                t.track_id
            ),
        },
        CutProblem::NoLeadingKeyframe => CopyError::OpenGop {
            path: t.path.clone(),
            time: t.samples.first().map(|s| s.pts).unwrap_or(0),
            detail: format!("track {}: the first frame is not a keyframe", t.track_id),
        },
        CutProblem::Misaligned { time, .. } => CopyError::input(&t.path, format!("no keyframe at {}", secs(time))),
    }
}

/// Moves an audio track onto the presentation timeline: frames that end before the origin (AAC
/// priming) are dropped, then a first frame that straddles the origin by less than half a frame is
/// moved onto it.
fn rebase_audio(t: &mut SourceTrack, origin: i64) -> Result<(), CopyError> {
    t.samples.retain(|s| s.pts + i64::from(s.duration / 2) >= origin);
    let shift = match t.samples.first() {
        Some(s) if s.pts < origin => origin - s.pts,
        Some(_) => 0,
        None => {
            return Err(CopyError::input(&t.path, format!("track {}: no audio after the video starts", t.track_id)))
        }
    };
    t.samples.iter_mut().for_each(|s| s.pts += shift - origin);
    Ok(())
}

/// Total sample bytes × 8 / duration, rounded to whole kbit/s and moved up until unique (the `.ism`
/// keys `QualityLevels(B)` by bitrate, and file names carry it in kbit/s).
fn measured_bitrate(t: &SourceTrack, used: &[u32]) -> u32 {
    let (start, end) = t.span();
    let ticks = u128::try_from(end - start).unwrap_or(0).max(1);
    let bps = u128::from(t.bytes()) * 8 * u128::from(TIMESCALE) / ticks;
    let mut kbps = u32::try_from((bps + 500) / 1000).unwrap_or(u32::MAX / 1000).clamp(1, u32::MAX / 1000 - 1);
    while used.contains(&(kbps * 1000)) {
        kbps += 1;
    }
    kbps * 1000
}

/// Copies one track into `dir/job.file`, one fragment at a time.
fn write_track(job: &Job, dir: &Path, bar: &Bar, overall: Option<&Bar>, stop: &Stop) -> Result<TrackOutput, CopyError> {
    let t = &job.track;
    let src = File::open(&t.path).map_err(|e| CopyError::Io { path: t.path.clone(), source: e })?;
    let path = dir.join(&job.file);
    let out = File::create(&path).map_err(|e| CopyError::Io { path: path.clone(), source: e })?;
    let mut writer = IsmvWriter::new(BufWriter::with_capacity(1 << 20, out), job.info.clone())?;
    let video = job.info.kind() == TrackKind::Video;
    let mut events = Vec::with_capacity(job.starts.len());
    for (k, &from) in job.starts.iter().enumerate() {
        let to = job.starts.get(k + 1).copied().unwrap_or(t.samples.len());
        let range = &t.samples[from..to];
        stop.check()?;
        let mut samples = Vec::with_capacity(range.len());
        for (j, (s, data)) in range.iter().zip(source::read_samples(&src, t, range)?).enumerate() {
            bar.frame(s.pts);
            let idr = video && s.sync && avc::sample_is_idr(&data);
            if video && j == 0 && !idr {
                return Err(not_idr(t, s.pts));
            }
            let pts = s.pts;
            samples.push(Sample { pts, duration: s.duration, sync: if video { idr } else { true }, data });
        }
        let start = u64::try_from(job.times.get(k).copied().unwrap_or(0)).unwrap_or(0);
        let end = match t.samples.get(to) {
            Some(_) => job.times.get(k + 1).copied(),
            None => range.iter().map(|s| s.pts + i64::from(s.duration)).max(),
        };
        let end = u64::try_from(end.unwrap_or(0)).unwrap_or(0);
        let fragment = Fragment { start, end, samples };
        if let Some(late) = fragment.samples.iter().find(|s| s.pts < 0 || s.pts as u64 >= end) {
            return Err(CopyError::OpenGop {
                path: t.path.clone(),
                time: late.pts,
                detail: format!("track {}: a frame is presented outside its fragment", t.track_id),
            });
        }
        events.push(writer.write_fragment(&fragment)?);
        if let Some(o) = overall {
            o.media(i64::try_from(end).unwrap_or(i64::MAX));
        }
    }
    // mfra, then flush and sync: a write error at the end (a full disk) fails the job here rather
    // than being dropped with the buffer.
    super::output::close_track(writer, &path, &job.file)?;
    bar.done();
    Ok(TrackOutput { file: job.file.clone(), track: job.info.clone(), fragments: events })
}
