//! `ssfpack INPUT -o DIR`: options → [`crate::pipeline::package`], signals, summary, exit code.

use std::process::ExitCode;

use anyhow::Context;

use super::PackageArgs;
use crate::pipeline::{self, PackageOptions, PipelineError, Summary};

/// How a job that writes a presentation treats its output folder and reports (shared by the encode
/// job and `pack --copy`).
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Replace an existing output folder (only once the new presentation is complete).
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// No progress bars, no `note:` lines and no summary (warnings are still printed).
    #[arg(short, long, help_heading = "Progress and reports")]
    pub quiet: bool,
    /// Print a machine-readable summary on stdout (schema in the README); progress bars still go
    /// to stderr when it is a terminal, unless --quiet.
    #[arg(long, help_heading = "Progress and reports")]
    pub json: bool,
}

impl OutputArgs {
    /// Where the job's progress and warnings go: bars on stderr when it is a terminal unless
    /// `--quiet` (`--json` only changes stdout), and warning lines.
    pub fn terminal(&self) -> super::progress::Terminal {
        super::progress::Terminal::new(!self.quiet)
    }

    /// Prints the summary of a finished job: JSON, a few lines for people, or nothing.
    pub fn report(&self, summary: &Summary, verb: &str) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(summary).context("writing the JSON summary")?);
        } else if !self.quiet {
            print_summary(summary, verb);
        }
        Ok(())
    }
}

/// Runs the packaging job. Exit codes: 0 done, 1 failed, 130 (SIGINT) / 143 (SIGTERM) interrupted;
/// in every failure case no output folder is left behind and an existing one is untouched.
pub fn run(args: PackageArgs) -> anyhow::Result<ExitCode> {
    let input = args.input.context("missing INPUT")?;
    let output = args.output.context("missing -o DIR")?;
    let signal = super::signals::install()?;
    let streams = args.encode.streams();
    let opts = PackageOptions {
        input: input.clone(),
        output: output.clone(),
        name: args.name,
        ladder: args.encode.ladder,
        fragment_duration: args.encode.fragment_duration,
        x264_preset: args.encode.x264_preset,
        audio_bitrate: args.encode.audio_bitrate,
        force: args.out.force,
        allow_truncated: args.allow_truncated,
        threads: args.threads.map(usize::from),
        text: args.text.options(),
        streams,
    };
    let finish = |dir: &std::path::Path, name: &str| args.publish.finish(dir, name);
    let terminal = args.out.terminal();
    let result = pipeline::package(&opts, &signal, &finish, &terminal);
    terminal.finish();
    match result {
        Ok(summary) => {
            args.out.report(&summary, "encoded")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(PipelineError::Interrupted(sig)) => {
            eprintln!(
                "ssfpack: error: packaging {} into {}: interrupted by {}; nothing was written",
                input.display(),
                output.display(),
                super::signals::name(sig)
            );
            Ok(super::signals::exit_code(sig))
        }
        Err(PipelineError::Refused(message)) => Ok(usage_error(&message)),
        // Errors about the source name it already; the others (output side) get both as context.
        Err(e) if e.to_string().starts_with(&input.display().to_string()) => Err(e.into()),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("packaging {} into {}", input.display(), output.display())))
        }
    }
}

/// Prints a usage error (a refused option or output path) and gives exit code 2.
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("ssfpack: error: {message}");
    ExitCode::from(2)
}

/// The human summary on stdout, shared by the encode and `--copy` jobs.
fn print_summary(s: &Summary, verb: &str) {
    println!(
        "{}: {} files, {:.1} MB, {:.2} s of media {verb} in {:.1} s ({:.2}x realtime)",
        s.output,
        s.files.len(),
        s.total_bytes as f64 / 1e6,
        s.duration,
        s.elapsed,
        s.speed
    );
    for r in &s.rungs {
        println!(
            "  {:<28} {:>5}x{:<5} {:>6}k (avg {}k, peak {}k)  {:>4} fragments  {:>9} bytes{}",
            r.file,
            r.width,
            r.height,
            r.bitrate / 1000,
            r.average_bitrate.div_ceil(1000),
            r.peak_bitrate.div_ceil(1000),
            r.fragments,
            r.bytes,
            match r.lanes {
                Some(n) if n > 1 => format!("  ({n} libx264 lanes)"),
                _ => String::new(),
            }
        );
    }
    for a in &s.audio {
        println!(
            "  {:<28} {:>5} Hz {}ch {:>6}k  {:>4} fragments  {:>9} bytes  ({}, {})",
            a.file,
            a.sample_rate,
            a.channels,
            a.bitrate / 1000,
            a.fragments,
            a.bytes,
            a.name,
            a.language
        );
    }
    for t in &s.text {
        println!(
            "  {:<28} TTML {} {:>4} cues  {:>4} fragments  {:>9} bytes  ({}, {}, from {})",
            t.file, t.subtype, t.cues, t.fragments, t.bytes, t.name, t.language, t.source
        );
    }
    // Manifests, player page, and the pre-split layout if one was written.
    let media: Vec<&str> = s
        .rungs
        .iter()
        .map(|r| r.file.as_str())
        .chain(s.audio.iter().map(|a| a.file.as_str()))
        .chain(s.text.iter().map(|t| t.file.as_str()))
        .collect();
    let mut others: Vec<&str> =
        s.files.iter().map(|f| f.file.as_str()).filter(|f| !f.contains('/') && !media.contains(f)).collect();
    let fragments = s.files.iter().filter(|f| f.file.starts_with("QualityLevels(")).count();
    let split = format!("QualityLevels(…)/ ({fragments} fragment files)");
    if fragments > 0 {
        others.push(&split);
    }
    println!("  {}", others.join(", "));
}
