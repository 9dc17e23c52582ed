//! The command line: argument definitions and one function per command. Exit codes are documented in
//! the README: 0 success, 1 failure (or `check` found violations), 2 usage error, 130/143 interrupted.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod inspect;
mod serve;
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
}

/// Parses arguments, runs the command, prints errors as one line, returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ssfpack: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Check(args)) => inspect::check(args),
        Some(Command::Dump(args)) => inspect::dump(args),
        Some(Command::Serve(args)) => serve::serve(args),
        Some(Command::Split(args)) => split::split(args),
        None => anyhow::bail!("packaging is not wired yet: {:?}", cli.package.input),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SSFPACK_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
