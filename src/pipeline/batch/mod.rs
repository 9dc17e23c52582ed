//! `ssfpack batch SRC_DIR|LIST_FILE -o OUT_ROOT`: package a media library, one presentation per
//! media file, resumably and in parallel, continuing past failures, optionally one shard of it.
//!
//! The steps, one module each: find the files ([`discovery`]), keep this shard's ([`shard`]),
//! skip those whose output's record says they are up to date without probing them ([`record`]),
//! probe the rest ([`crate::media::probe`]), plan how many to package at once ([`plan`]), then
//! package each with [`crate::pipeline::package`] on a worker thread of its own (the job's demux
//! runs on it, so FFmpeg's per-thread last error is the job's own) under its output's lock
//! ([`lock`]). Every output is published through the job's atomic, durable staging folder, with
//! its record inside, so a run killed at any point leaves whole outputs or none, and the next run
//! removes the dead run's staging folders (`Staging::prepare`) and completes the rest.

pub mod discovery;
pub mod lock;
pub mod plan;
pub mod record;
pub mod report;
pub mod shard;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::media::probe::{probe, MediaInfo, Probe};
use crate::pipeline::{package, Finish, PackageOptions, PipelineError};
use discovery::{output_for, Candidate};
use record::{fingerprint, Record};
pub use report::{BatchReport, BatchSummary, FileReport, JobReport, Status, Totals};
use shard::ShardSource;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An OUT_ROOT that would mix outputs with the library (a usage error, exit code 2).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Shard(#[from] shard::ShardError),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
}

impl BatchError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        BatchError::Io { path: path.to_path_buf(), source }
    }
}

/// The options of a batch.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// A library folder, or a list file (one path per line).
    pub source: PathBuf,
    pub out_root: PathBuf,
    /// Files packaged at once (default: [`plan::default_jobs`]).
    pub jobs: Option<usize>,
    pub shard: Option<ShardSource>,
    /// Memory budget, bytes (default: [`plan::available_memory`]).
    pub max_memory: Option<u64>,
    /// Redo every output, up to date or not (replacing only folders ssfpack published).
    pub force: bool,
    /// Each file's job: ladder, fragment duration, preset, audio bitrate, `allow_truncated` and
    /// `threads` (default 1 here) are used; input, output, name and force are set per file.
    pub job: PackageOptions,
    /// The caller's finishing step's options (layout, player page), part of each record.
    pub finish_options: String,
}

impl BatchOptions {
    fn threads(&self) -> usize {
        self.job.threads.filter(|&t| t > 0).unwrap_or(1)
    }

    /// Every option that changes an output's bytes, as recorded.
    fn options_line(&self) -> String {
        let j = &self.job;
        // The stream options only when not the defaults: records written before they existed stay valid.
        let streams = if j.streams == Default::default() { String::new() } else { format!(" streams={:?}", j.streams) };
        format!(
            "ladder={:?} fragment_duration={} x264_preset={} audio_bitrate={} allow_truncated={} threads={} {}{streams}",
            j.ladder,
            j.fragment_duration,
            j.x264_preset,
            j.audio_bitrate,
            j.allow_truncated,
            self.threads(),
            self.finish_options
        )
    }
}

/// One file to package.
struct Job {
    candidate: Candidate,
    output: PathBuf,
    info: MediaInfo,
    record: Record,
    estimate: u64,
}

/// Runs the batch. `signal` is set by the caller's SIGINT/SIGTERM handler: running jobs stop and
/// remove their staging folders, no new job starts, and the summary says `interrupted_by`.
pub fn run(
    opts: &BatchOptions,
    signal: &AtomicUsize,
    finish: Finish,
    report: &dyn BatchReport,
) -> Result<BatchSummary, BatchError> {
    let started = Instant::now();
    check_roots(&opts.source, &opts.out_root)?;
    crate::media::init()?;
    let listing = discovery::list(&opts.source, &opts.out_root)?;
    let mut totals = Totals { hidden: listing.hidden, ..Totals::default() };
    let mut files: Vec<FileReport> = Vec::new();
    let fail = |input: String, output: Option<String>, error: String| FileReport {
        input,
        output,
        status: Status::Failed,
        seconds: 0.0,
        duration: None,
        reason: None,
        error: Some(error),
        warnings: Vec::new(),
    };
    for (entry, error) in &listing.bad_entries {
        files.push(fail(entry.clone(), None, error.clone()));
    }
    let shard = opts.shard.as_ref().map(|s| s.shard);
    let mine: Vec<usize> = (0..listing.candidates.len())
        .filter(|&i| shard.is_none_or(|s| s.contains(&listing.candidates[i].key())))
        .collect();
    totals.files = mine.len() + listing.bad_entries.len();
    totals.other_shards = listing.candidates.len() - mine.len();
    let options = opts.options_line();
    let out_root = &opts.out_root;

    // Up to date without a probe: a record under one of the file's two possible output names.
    let mut todo: Vec<(usize, Record)> = Vec::new();
    for &i in &mine {
        let c = &listing.candidates[i];
        let current = match fingerprint(&c.path) {
            Ok(fp) => Record::new(&c.key(), fp, &options),
            Err(e) => {
                files.push(fail(c.key(), None, format!("{}: {e}", c.path.display())));
                continue;
            }
        };
        let done = [false, true].into_iter().map(|s| output_for(&c.relative, s)).find(|o| {
            !opts.force && Record::read(&out_root.join(o)).is_some_and(|r| r.stale_because(&current).is_none())
        });
        match done {
            Some(o) => {
                let stem = c.relative.file_stem().unwrap_or_default().to_string_lossy();
                crate::pipeline::output::staging::remove_stale_beside(&out_root.join(&o), &stem);
                files.push(skipped(c, &out_root.join(o), Status::UpToDate));
            }
            None => todo.push((i, current)),
        }
    }

    // Probe what is left, and the same-stem neighbours that decide its output's name.
    let stems = discovery::stems(&listing.candidates);
    let mut wanted: Vec<usize> = todo.iter().map(|(i, _)| *i).collect();
    for (i, _) in &todo {
        wanted.extend_from_slice(discovery::same_stem(&listing.candidates[*i].relative, &stems));
    }
    wanted.sort_unstable();
    wanted.dedup();
    let probes: HashMap<usize, Probe> = wanted.par_iter().map(|&i| (i, probe(&listing.candidates[i].path))).collect();
    let is_media = |i: &usize| matches!(probes.get(i), Some(Probe::Media(_)));
    let mut jobs: Vec<Job> = Vec::new();
    let mut outputs: HashMap<PathBuf, String> = HashMap::new();
    for (i, current) in todo {
        let c = listing.candidates[i].clone();
        match probes.get(&i) {
            Some(Probe::Media(info)) => {
                let shares = discovery::same_stem(&c.relative, &stems).iter().any(|j| *j != i && is_media(j));
                let output = output_for(&c.relative, shares);
                if let Some(other) = outputs.insert(output.clone(), c.key()) {
                    let shown = out_root.join(&output).display().to_string();
                    files.push(fail(c.key(), Some(shown.clone()), format!("{shown}: also the output of {other}")));
                    continue;
                }
                let shape = plan::JobShape {
                    ladder: &opts.job.ladder,
                    preset: &opts.job.x264_preset,
                    threads: opts.threads(),
                    fragment_duration: opts.job.fragment_duration,
                    video: info.video,
                };
                let estimate = plan::estimate(&shape);
                jobs.push(Job { candidate: c, output, info: info.clone(), record: current, estimate });
            }
            Some(Probe::Corrupt(e)) => files.push(fail(c.key(), None, e.to_string())),
            Some(Probe::NotMedia(why)) if listing.from_list => {
                files.push(fail(c.key(), None, format!("{}: not a media file: {why}", c.path.display())))
            }
            _ => totals.not_media += 1,
        }
    }
    for f in files.iter().filter(|f| f.status == Status::Failed) {
        report.finished(f);
    }

    let budget = opts.max_memory.or_else(plan::available_memory).unwrap_or(u64::MAX);
    let largest = jobs.iter().map(|j| j.estimate).max().unwrap_or(0);
    let workers = opts
        .jobs
        .filter(|&n| n > 0)
        .unwrap_or_else(|| plan::default_jobs(plan::cores(), opts.threads(), jobs.len(), budget, largest))
        .min(jobs.len().max(1));
    let media_ms: u64 = jobs.iter().filter_map(|j| j.info.duration).map(|d| (d * 1000.0) as u64).sum();
    report.planned(jobs.len(), media_ms);
    files.extend(run_jobs(opts, jobs, workers, budget, signal, finish, report));

    for f in &files {
        match f.status {
            Status::Packaged => {
                totals.packaged += 1;
                totals.media_seconds += f.duration.unwrap_or(0.0);
            }
            Status::UpToDate => totals.up_to_date += 1,
            Status::Busy => totals.busy += 1,
            Status::Failed => totals.failed += 1,
            Status::Interrupted => totals.interrupted += 1,
        }
    }
    // In the library's order (as listed), whatever order they finished in.
    let order: HashMap<String, usize> = listing.candidates.iter().enumerate().map(|(i, c)| (c.key(), i)).collect();
    files.sort_by_key(|f| order.get(&f.input).copied().unwrap_or(usize::MAX));
    let sig = signal.load(Ordering::SeqCst);
    Ok(BatchSummary {
        source: opts.source.display().to_string(),
        out_root: out_root.display().to_string(),
        shard: opts.shard.clone(),
        jobs: workers,
        threads: opts.threads(),
        memory_budget: budget,
        elapsed: started.elapsed().as_secs_f64(),
        totals,
        files,
        interrupted_by: (sig != 0).then_some(sig as i32),
    })
}

/// OUT_ROOT may lie inside the library (it is then left out of the walk) but may not be the
/// library or hold it, nor be `/`, the home folder or the current folder (the job's guard).
fn check_roots(source: &Path, out_root: &Path) -> Result<(), BatchError> {
    let out = crate::pipeline::output::guard::resolve(out_root).map_err(|e| BatchError::io(out_root, e))?;
    let src = source.canonicalize().map_err(|e| BatchError::io(source, e))?;
    let library = if src.is_dir() { src } else { crate::durable::parent_of(&src).to_path_buf() };
    if library.starts_with(&out) {
        return Err(BatchError::Refused(format!(
            "-o {}: holds the library {}; choose an output folder outside it (or inside it, in a folder of its own)",
            out_root.display(),
            source.display()
        )));
    }
    crate::pipeline::output::guard::check_output(out_root, &[]).map_err(|e| BatchError::Refused(e.to_string()))
}

fn skipped(c: &Candidate, output: &Path, status: Status) -> FileReport {
    FileReport {
        input: c.key(),
        output: Some(output.display().to_string()),
        status,
        seconds: 0.0,
        duration: None,
        reason: None,
        error: None,
        warnings: Vec::new(),
    }
}

/// Memory admitted to running jobs: a job waits until its estimate fits, or nothing runs.
struct Gate {
    used: Mutex<(u64, usize)>,
    freed: Condvar,
    budget: u64,
}

impl Gate {
    /// Waits (in bounded steps, giving up on a signal) until `bytes` fit; `false` on a signal.
    fn enter(&self, bytes: u64, signal: &AtomicUsize) -> bool {
        let Ok(mut used) = self.used.lock() else { return false };
        loop {
            if signal.load(Ordering::SeqCst) != 0 {
                return false;
            }
            if used.1 == 0 || used.0.saturating_add(bytes) <= self.budget {
                used.0 += bytes;
                used.1 += 1;
                return true;
            }
            match self.freed.wait_timeout(used, Duration::from_millis(200)) {
                Ok((u, _)) => used = u,
                Err(_) => return false,
            }
        }
    }

    fn leave(&self, bytes: u64) {
        if let Ok(mut used) = self.used.lock() {
            used.0 = used.0.saturating_sub(bytes);
            used.1 = used.1.saturating_sub(1);
        }
        self.freed.notify_all();
    }
}

fn run_jobs(
    opts: &BatchOptions,
    jobs: Vec<Job>,
    workers: usize,
    budget: u64,
    signal: &AtomicUsize,
    finish: Finish,
    report: &dyn BatchReport,
) -> Vec<FileReport> {
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let gate = Gate { used: Mutex::new((0, 0)), freed: Condvar::new(), budget };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some((n, job)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let file = if gate.enter(job.estimate, signal) {
                        let f = package_one(opts, &job, signal, finish, report);
                        gate.leave(job.estimate);
                        f
                    } else {
                        let mut f = skipped(&job.candidate, &opts.out_root.join(&job.output), Status::Interrupted);
                        f.error = Some("not started: interrupted".into());
                        f
                    };
                    report.finished(&file);
                    if let Ok(mut r) = results.lock() {
                        r.push((n, file));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(n, _)| *n);
    results.into_iter().map(|(_, f)| f).collect()
}

/// Packages one file under its output's lock.
fn package_one(
    opts: &BatchOptions,
    job: &Job,
    signal: &AtomicUsize,
    finish: Finish,
    report: &dyn BatchReport,
) -> FileReport {
    let started = Instant::now();
    let key = job.candidate.key();
    let output = opts.out_root.join(&job.output);
    let mut file = skipped(&job.candidate, &output, Status::Failed);
    let outcome = |mut f: FileReport, status: Status, error: Option<String>| {
        f.status = status;
        f.error = error;
        f.seconds = started.elapsed().as_secs_f64();
        f
    };
    if signal.load(Ordering::SeqCst) != 0 {
        return outcome(file, Status::Interrupted, Some("not started: interrupted".into()));
    }
    let _lock = match lock::try_lock(&opts.out_root, &discovery::key(&job.output)) {
        Ok(Some(l)) => l,
        Ok(None) => return outcome(file, Status::Busy, None),
        Err(e) => return outcome(file, Status::Failed, Some(format!("locking {}: {e}", output.display()))),
    };
    let name = job.candidate.relative.file_stem().map(|s| s.to_string_lossy().into_owned());
    // No other batch can be writing this output now: staging folders of runs killed here or on
    // another machine sharing OUT_ROOT go.
    crate::pipeline::output::staging::remove_abandoned(&output, name.as_deref().unwrap_or_default());
    // Looked at again under the lock: another process may have just published it.
    let exists = output.symlink_metadata().is_ok();
    let reason = match (exists, Record::read(&output)) {
        (false, _) => "new",
        (true, _) if opts.force => "--force",
        (true, Some(r)) => match r.stale_because(&job.record) {
            None => return outcome(file, Status::UpToDate, None),
            Some(why @ "made from another input") => {
                let e = format!(
                    "{}: exists, {why} ({}); move it away or rename one of the inputs",
                    output.display(),
                    r.input
                );
                return outcome(file, Status::Failed, Some(e));
            }
            Some(why) => why,
        },
        (true, None) => {
            let e =
                format!("{}: exists and was not made by ssfpack batch (use --force to replace it)", output.display());
            return outcome(file, Status::Failed, Some(e));
        }
    };
    file.reason = Some(reason.to_string());
    let package_opts = PackageOptions {
        input: job.candidate.path.clone(),
        output: output.clone(),
        name,
        force: exists,
        ..opts.job.clone()
    };
    let with_record = |dir: &Path, name: &str| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        finish(dir, name)?;
        job.record.write(dir)?;
        Ok(())
    };
    let job_report = JobReport {
        file: &key,
        batch: report,
        media_ms: job.info.duration.map(|d| (d * 1000.0) as u64),
        warnings: Mutex::new(Vec::new()),
    };
    match package(&package_opts, signal, &with_record, &job_report) {
        Ok(summary) => {
            file.duration = Some(summary.duration);
            file.warnings = summary.warnings;
            outcome(file, Status::Packaged, None)
        }
        Err(PipelineError::Interrupted(_)) => {
            outcome(file, Status::Interrupted, Some("interrupted; nothing of it was published".into()))
        }
        Err(e) => {
            file.warnings = job_report.warnings.into_inner().unwrap_or_default();
            let text = e.to_string();
            let shown = job.candidate.path.display().to_string();
            let text = if text.starts_with(&shown) { text } else { format!("{shown}: {text}") };
            outcome(file, Status::Failed, Some(text.replace(['\n', '\r'], " ")))
        }
    }
}
