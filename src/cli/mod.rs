//! The command line: argument definitions and one function per command. Exit codes are documented in
//! the README: 0 success, 1 failure (or `check` found violations), 2 usage error, 130/143 interrupted.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod inspect;
mod live;
mod pack;
mod package;
mod progress;
mod publish;
mod push;
mod serve;
mod signals;
mod split;

/// Package any video into Microsoft Smooth Streaming.
#[derive(Debug, Parser)]
#[command(
    name = "ssfpack",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  ssfpack input.mp4 -o MyStaticFolder\n  ssfpack check MyStaticFolder\n  ssfpack dump MyStaticFolder/input_1500k.ismv"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub package: PackageArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a Smooth Streaming presentation (`.ism` folder or pre-split `Manifest` layout).
    Check(inspect::CheckArgs),
    /// Print the box tree of a fragmented MP4 (`.ismv`, `.isma`, a fragment file).
    Dump(inspect::DumpArgs),
    /// Serve every presentation under a folder with IIS URL semantics, plus player pages.
    Serve(serve::ServeArgs),
    /// Write the pre-split static layout (`Manifest`, `QualityLevels(B)/Fragments(…)`) of a presentation.
    Split(split::SplitArgs),
    /// Package existing H.264/AAC renditions without re-encoding (`pack --copy IN1 IN2 … -o DIR`).
    Pack(pack::PackArgs),
    /// Live publishing points: `live create DIR/NAME.isml` (then `serve DIR` takes pushes).
    Live(live::LiveArgs),
    /// Live encoder: encode the aligned ladder in real time and push it to publishing points.
    Push(push::PushArgs),
}

/// `ssfpack INPUT -o DIR`: encode an aligned H.264/AAC ladder and write a presentation.
#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    /// Input media file (anything FFmpeg reads).
    #[arg(required = true)]
    pub input: Option<PathBuf>,
    /// Output folder (created; must not exist unless --force).
    #[arg(short, long, required = true)]
    pub output: Option<PathBuf>,
    /// Video rungs: `auto` (derived from the source), a preset (azure-1080p, hd, sd, mobile), or
    /// WxH@BITRATE[,WxH@BITRATE...] (e.g. 1280x720@2500k,640x360@800k; -1 for a side keeps the aspect).
    #[arg(long, value_name = "LADDER", default_value = "auto", value_parser = parse_ladder_arg)]
    pub ladder: crate::pipeline::ladder::LadderSpec,
    /// Fragment duration in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub fragment_duration: f64,
    /// x264 preset (speed/quality trade-off).
    #[arg(long, value_name = "NAME", default_value = "fast", value_parser = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"])]
    pub x264_preset: String,
    /// AAC-LC bitrate per audio track (e.g. 128k).
    #[arg(long, value_name = "BITRATE", default_value = "128k", value_parser = parse_bitrate_arg)]
    pub audio_bitrate: u32,
    /// Base name of the output files (default: the input file's stem).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub out: package::OutputArgs,
    /// Package what decodes from a truncated or corrupt source, with a warning, instead of failing.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Cores to plan the encoders for [default: all available]. The biggest rungs are coded by up
    /// to this many single-threaded libx264 instances, each taking whole fragments in turn; the
    /// output is byte-identical for the same input, options and --threads.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    #[command(flatten)]
    pub publish: publish::PublishArgs,
}

fn parse_ladder_arg(s: &str) -> Result<crate::pipeline::ladder::LadderSpec, String> {
    crate::pipeline::ladder::parse_ladder(s).map_err(|e| e.to_string())
}

fn parse_bitrate_arg(s: &str) -> Result<u32, String> {
    crate::pipeline::ladder::parse_bitrate(s).map_err(|e| e.to_string())
}

/// Parses arguments, runs the command, prints errors as one line, returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ssfpack: error: {}", one_line(&err));
            ExitCode::from(1)
        }
    }
}

/// The error chain on one line, `outer: inner: …`, leaving out a cause whose text the previous
/// message already ends with (typed errors print their source as part of their own message), and
/// with any line break flattened.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || out.ends_with(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out.replace(['\n', '\r'], " ")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Check(args)) => inspect::check(args),
        Some(Command::Dump(args)) => inspect::dump(args),
        Some(Command::Serve(args)) => serve::serve(args),
        Some(Command::Split(args)) => split::split(args),
        Some(Command::Pack(args)) => pack::run(args),
        Some(Command::Live(args)) => live::run(args),
        Some(Command::Push(args)) => push::run(args),
        None => package::run(cli.package),
    }
}

/// Warnings go to stderr as plain `WARN message` lines (no colours, times or module paths, which
/// unattended logs do not want); `SSFPACK_LOG=debug` gives the full diagnostic format.
fn init_tracing() {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    let _ = match tracing_subscriber::EnvFilter::try_from_env("SSFPACK_LOG") {
        Ok(filter) => builder.with_env_filter(filter).try_init(),
        Err(_) => builder
            // Warnings, and what a live operator needs to see (streams connecting, ending, archived).
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,ssfpack::origin::live=info"))
            .without_time()
            .with_target(false)
            .with_ansi(false)
            .try_init(),
    };
}
