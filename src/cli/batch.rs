//! `ssfpack batch SRC_DIR|LIST_FILE -o OUT_ROOT`: options → [`crate::pipeline::batch::run`], the
//! batch's progress bar, the summary (or `--json` report) and the exit code: 0 when every media file
//! is packaged or up to date, 1 when any failed, 2 for a usage error, 130/143 when interrupted.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::format::TIMESCALE;
use crate::pipeline::batch::shard::{self, Shard};
use crate::pipeline::batch::{self, plan, BatchError, BatchOptions, BatchReport, BatchSummary, FileReport, Status};
use crate::pipeline::report::Meter;
use crate::pipeline::PackageOptions;

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!(
        "ssfpack batch /media/library -o /srv/smooth",
        "ssfpack batch films.txt -o /srv/smooth --jobs 4 --json > report.json",
        "ssfpack batch /shared/media -o /shared/smooth --shard 2/8"
    ),
    after_long_help = long_examples_help!(
        "ssfpack batch /media/library -o /srv/smooth",
        "ssfpack batch films.txt -o /srv/smooth --jobs 4 --json > report.json",
        "ssfpack batch /shared/media -o /shared/smooth --shard 2/8",
        "",
        "Without --shard, the shard is read from a Slurm array (SLURM_ARRAY_TASK_*), a Kubernetes",
        "Indexed Job (JOB_COMPLETION_INDEX with --shard-count) or an AWS Batch array",
        "(AWS_BATCH_JOB_ARRAY_INDEX/_SIZE). See docs/batch.md."
    )
)]
pub struct BatchArgs {
    /// A library folder (searched recursively; media is found by probing) or a list file (one
    /// path per line, relative to the list's folder).
    #[arg(value_name = "SRC_DIR|LIST_FILE")]
    pub source: PathBuf,
    /// Output root: each input gets OUT_ROOT/<relative path without extension>/.
    #[arg(short, long, value_name = "OUT_ROOT")]
    pub output: PathBuf,
    /// Files packaged at once [default: cores / --threads, fewer if memory is short].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Package only shard I of N (stable hash of each file's relative path).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes); also
    /// SSFPACK_SHARD_COUNT.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,
    /// Memory the running jobs may use together (e.g. 8G) [default: 90 % of the available memory].
    #[arg(long, value_name = "SIZE", value_parser = plan::parse_memory)]
    pub max_memory: Option<u64>,
    #[command(flatten)]
    pub encode: super::EncodeArgs,
    /// Package what decodes from truncated or corrupt sources, with a warning, instead of failing.
    #[arg(long, help_heading = "Input")]
    pub allow_truncated: bool,
    /// Cores each file's job is planned for (its libx264 lanes) [default: 1]. Output bytes depend
    /// on it and on nothing else: not on --jobs, not on the machine.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    #[command(flatten)]
    pub publish: super::publish::PublishArgs,
    #[command(flatten)]
    pub out: super::package::OutputArgs,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: BatchArgs) -> anyhow::Result<ExitCode> {
    let signal = super::signals::install()?;
    let shard = match shard::resolve(args.shard, args.shard_count, &|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => return Ok(super::package::usage_error(&e.to_string())),
    };
    let opts = BatchOptions {
        source: args.source.clone(),
        out_root: args.output.clone(),
        jobs: args.jobs.map(usize::from),
        shard,
        max_memory: args.max_memory,
        force: args.out.force,
        job: PackageOptions {
            input: PathBuf::new(),
            output: PathBuf::new(),
            name: None,
            ladder: args.encode.ladder.clone(),
            fragment_duration: args.encode.fragment_duration,
            x264_preset: args.encode.x264_preset.clone(),
            audio_bitrate: args.encode.audio_bitrate,
            force: false,
            allow_truncated: args.allow_truncated,
            threads: Some(args.threads.map_or(1, usize::from)),
            text: Default::default(),
            streams: args.encode.streams(),
        },
        finish_options: format!("layout={:?} player_js_base={}", args.publish.layout, args.publish.player_js_base),
    };
    let finish = |dir: &std::path::Path, name: &str| args.publish.finish(dir, name);
    let progress = Progress::new(!args.out.quiet);
    let result = batch::run(&opts, &signal, &finish, &progress);
    progress.clear();
    let summary = match result {
        Ok(s) => s,
        Err(e @ (BatchError::Refused(_) | BatchError::Shard(_))) => {
            return Ok(super::package::usage_error(&e.to_string()))
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("batch {}", args.source.display()))),
    };
    if args.out.json {
        println!("{}", serde_json::to_string_pretty(&summary).context("writing the JSON report")?);
    } else if !args.out.quiet {
        print_summary(&summary);
    }
    if let Some(sig) = summary.interrupted_by {
        eprintln!(
            "ssfpack: error: batch {}: interrupted by {}; {} packaged, nothing half-written (run it again to finish)",
            args.source.display(),
            super::signals::name(sig),
            summary.totals.packaged
        );
        return Ok(super::signals::exit_code(sig));
    }
    Ok(if summary.totals.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_summary(s: &BatchSummary) {
    let t = &s.totals;
    let shard = s.shard.as_ref().map(|x| format!(" in shard {} ({})", x.shard, x.from)).unwrap_or_default();
    println!(
        "batch: {} files{shard}: {} packaged ({:.1} s of media), {} up to date, {} busy, {} failed, {} interrupted; \
         {} not media, {} hidden, {} in other shards; {} at once, {} thread(s) each, {:.1} s",
        t.files,
        t.packaged,
        t.media_seconds,
        t.up_to_date,
        t.busy,
        t.failed,
        t.interrupted,
        t.not_media,
        t.hidden,
        t.other_shards,
        s.jobs,
        s.threads,
        s.elapsed
    );
    let failed: Vec<&FileReport> = s.files.iter().filter(|f| f.status == Status::Failed).collect();
    if !failed.is_empty() {
        println!("failed:");
        for f in failed {
            println!("  {}", f.error.as_deref().unwrap_or(&f.input));
        }
    }
}

/// The batch's terminal output: one overall bar (files, media time done, ETA) with a line per
/// file being packaged beneath it, only when stderr is a terminal and not `--quiet`; failures and
/// warnings as `ssfpack: error:`/`warning:` lines above the bars, always.
struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    state: Arc<Mutex<State>>,
    /// Whether `note:` lines are printed (not with `--quiet`).
    notes: bool,
}

#[derive(Default)]
struct State {
    files: usize,
    done: usize,
    done_ms: u64,
    /// Position and length (ms) of each running file.
    running: HashMap<String, (u64, u64)>,
}

impl Progress {
    fn new(bars: bool) -> Self {
        let target = if bars && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(1));
        overall.set_style(style("{prefix:>8} [{bar:30}] {percent:>3}% {msg} ETA {eta}"));
        overall.set_prefix("batch");
        Progress { multi, overall, state: Arc::new(Mutex::new(State::default())), notes: bars }
    }

    fn clear(&self) {
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }

    fn redraw(overall: &ProgressBar, s: &State) {
        let running: u64 = s.running.values().map(|(p, _)| *p).sum();
        let done = s.done_ms + running;
        overall.set_position(done);
        let total = overall.length().unwrap_or(0);
        overall.set_message(format!("{}/{} files, {} of {} of media", s.done, s.files, clock(done), clock(total)));
    }
}

impl BatchReport for Progress {
    fn warn(&self, message: &str) {
        self.multi.suspend(|| eprintln!("ssfpack: warning: {message}"));
    }

    fn note(&self, message: &str) {
        if self.notes {
            self.multi.suspend(|| eprintln!("ssfpack: note: {message}"));
        }
    }

    fn planned(&self, files: usize, media_ms: u64) {
        self.overall.set_length(media_ms.max(1));
        if let Ok(mut s) = self.state.lock() {
            s.files = files;
            Self::redraw(&self.overall, &s);
        }
    }

    fn started(&self, file: &str, media_ms: Option<u64>) -> Box<dyn Meter> {
        let total = media_ms.unwrap_or(0);
        let bar = self.multi.add(ProgressBar::new(total.max(1)));
        bar.set_style(style("{prefix:>8} [{bar:30}] {percent:>3}% {msg}"));
        bar.set_prefix("");
        bar.set_message(file.to_string());
        if let Ok(mut s) = self.state.lock() {
            s.running.insert(file.to_string(), (0, total));
        }
        Box::new(FileMeter {
            bar,
            file: file.to_string(),
            overall: self.overall.clone(),
            state: Arc::clone(&self.state),
        })
    }

    fn finished(&self, file: &FileReport) {
        match file.status {
            Status::Failed => {
                let line = file.error.as_deref().unwrap_or("failed");
                self.multi.suspend(|| eprintln!("ssfpack: error: {line}"));
            }
            Status::Busy => self.warn(&format!("{}: another ssfpack batch is packaging it; skipped", file.input)),
            _ => {}
        }
        if let Ok(mut s) = self.state.lock() {
            if let Some((_, total)) = s.running.remove(&file.input) {
                s.done_ms += total;
            }
            if file.output.is_some() && file.status != Status::UpToDate {
                s.done += 1;
            }
            Self::redraw(&self.overall, &s);
        }
    }
}

struct FileMeter {
    bar: ProgressBar,
    file: String,
    overall: ProgressBar,
    state: Arc<Mutex<State>>,
}

impl Meter for FileMeter {
    fn item(&self, _: i64) {}

    fn media(&self, media: i64) {
        let ms = (media.max(0) as u64) / (TIMESCALE / 1000);
        self.bar.set_position(ms);
        if let Ok(mut s) = self.state.lock() {
            if let Some(entry) = s.running.get_mut(&self.file) {
                entry.0 = ms.min(entry.1);
            }
            Progress::redraw(&self.overall, &s);
        }
    }

    fn done(&self) {
        self.bar.finish_and_clear();
    }
}

/// `1:02:03` or `2:03` for a duration in milliseconds.
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}
