//! `ssfpack pack --copy IN… -o DIR`: package renditions that are already H.264/AAC without
//! re-encoding ([`crate::pipeline::copy`]), with the encode job's atomic output, progress and `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::format::TIMESCALE;
use crate::pipeline::copy::{self, CopyError, CopyOptions};
use crate::pipeline::PipelineError;

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!(
        "ssfpack pack --copy movie_3000k.mp4 movie_1500k.mp4 movie_800k.mp4 -o Movie",
        "ssfpack pack --copy movie.mp4 --audio movie_eng.m4a --audio movie_fra.m4a -o Movie",
    ),
    after_long_help = long_examples_help!(
        "ssfpack pack --copy movie_3000k.mp4 movie_1500k.mp4 movie_800k.mp4 -o Movie",
        "ssfpack pack --copy movie.mp4 --audio movie_eng.m4a --audio movie_fra.m4a -o Movie",
        "ssfpack pack --copy a.mp4 b.mp4 --bitrates 3000k,1500k -o Movie --json",
    )
)]
pub struct PackArgs {
    /// Input files: every H.264 video track becomes a rung; the first file's AAC audio becomes the
    /// audio track(s) unless --audio is given.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output folder (created; must not exist unless --force).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Copy the streams as they are (no decoding, no encoding). Required: packaging several
    /// renditions is only possible by copying.
    #[arg(long)]
    pub copy: bool,
    /// Take the audio track(s) from these files instead of the first input (repeatable).
    #[arg(long, value_name = "FILE")]
    pub audio: Vec<PathBuf>,
    /// Minimum fragment duration in seconds: each fragment ends at the first keyframe common to
    /// all rungs at least this long after its start (0.1 to 60).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = super::parse_fragment_duration)]
    pub fragment_duration: f64,
    /// Bitrates of the video rungs, in input order (e.g. 3000k,1500k); default: measured.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_bitrate_arg)]
    pub bitrates: Vec<u32>,
    /// Base name of the output files (default: the first input's stem); not starting with `.`, no
    /// `/ \ ? # %` or control characters.
    #[arg(long, value_name = "NAME", value_parser = super::parse_name_arg)]
    pub name: Option<String>,
    #[command(flatten)]
    pub out: super::package::OutputArgs,
    #[command(flatten)]
    pub publish: super::publish::PublishArgs,
}

fn parse_bitrate_arg(s: &str) -> Result<u32, String> {
    crate::pipeline::ladder::parse_bitrate(s).map_err(|e| e.to_string())
}

/// Exit codes: 0 done, 1 failed or refused, 2 usage, 130/143 interrupted; on failure no output
/// folder is left behind and an existing one is untouched.
pub fn run(args: PackArgs) -> anyhow::Result<ExitCode> {
    if !args.copy {
        eprintln!(
            "ssfpack: error: `pack` needs --copy (it packages existing H.264/AAC renditions as they are); \
             to encode a ladder from one file, run `ssfpack INPUT -o DIR`"
        );
        return Ok(ExitCode::from(2));
    }
    if !(args.fragment_duration.is_finite() && (0.1..=60.0).contains(&args.fragment_duration)) {
        eprintln!("ssfpack: error: --fragment-duration {}: must be between 0.1 and 60 seconds", args.fragment_duration);
        return Ok(ExitCode::from(2));
    }
    let signal = super::signals::install()?;
    let opts = CopyOptions {
        inputs: args.inputs,
        audio: args.audio,
        output: args.output,
        name: args.name,
        fragment_duration: (args.fragment_duration * TIMESCALE as f64).round() as u64,
        bitrates: args.bitrates,
        force: args.out.force,
    };
    let finish = |dir: &std::path::Path, name: &str| args.publish.finish(dir, name);
    let terminal = args.out.terminal();
    let result = copy::run(&opts, &signal, &finish, &terminal);
    terminal.finish();
    match result {
        Ok(summary) => {
            args.out.report(&summary, "copied")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(CopyError::Interrupted(sig)) => {
            eprintln!(
                "ssfpack: error: packaging with --copy: interrupted by {}; nothing was written",
                super::signals::name(sig)
            );
            Ok(super::signals::exit_code(sig))
        }
        Err(CopyError::Usage(message) | CopyError::Output(PipelineError::Refused(message))) => {
            Ok(super::package::usage_error(&message))
        }
        Err(e) => Err(anyhow::Error::new(e).context("packaging with --copy")),
    }
}
