//! The command line: argument definitions and one function per command. Exit codes are documented in
//! the README: 0 success, 1 failure (or `check` found violations), 2 usage error, 130/143 interrupted.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit codes and environment, shown by `--help` of every command (and so in the man pages).
macro_rules! exit_codes_help {
    () => {
        "Exit codes:
  0    success
  1    failure (one line `ssfpack: error: ...` on stderr), or `check` found violations
  2    usage error: a bad option or value, or an output path refused (it would replace an input)
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM (nothing is left behind)

Environment:
  SSFPACK_LOG  diagnostics on stderr: `debug`, `info`, `warn` (default), or a tracing filter such
               as `ssfpack=debug`; FFmpeg's own messages appear with `debug`
  NO_COLOR     no colours in SSFPACK_LOG output (never coloured when stderr is not a terminal)"
    };
}

/// `--help` of a subcommand: its examples (`-h`), then with `--help` the exit codes.
macro_rules! examples_help {
    ($($line:literal),+ $(,)?) => {
        concat!("Examples:", $("\n  ", $line),+)
    };
}

macro_rules! long_examples_help {
    ($($line:literal),+ $(,)?) => {
        concat!(examples_help!($($line),+), "\n\n", exit_codes_help!())
    };
}

mod batch;
mod docs;
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
mod text;

/// Package any video into Microsoft Smooth Streaming.
#[derive(Debug, Parser)]
#[command(
    name = "ssfpack",
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = examples_help!(
        "ssfpack input.mp4 -o MyStaticFolder",
        "ssfpack input.mkv -o Out --ladder 1280x720@2500k,-1x360@800k --fragment-duration 2",
        "ssfpack input.mp4 -o Out --layout static --json --quiet",
        "ssfpack pack --copy movie_3000k.mp4 movie_1500k.mp4 -o Movie",
        "ssfpack check MyStaticFolder",
        "ssfpack dump MyStaticFolder/input_1500k.ismv",
        "ssfpack serve MyStaticFolder",
    ),
    after_long_help = long_examples_help!(
        "ssfpack input.mp4 -o MyStaticFolder",
        "ssfpack input.mkv -o Out --ladder 1280x720@2500k,-1x360@800k --fragment-duration 2",
        "ssfpack input.mp4 -o Out --layout static --json --quiet",
        "ssfpack pack --copy movie_3000k.mp4 movie_1500k.mp4 -o Movie",
        "ssfpack check MyStaticFolder",
        "ssfpack dump MyStaticFolder/input_1500k.ismv",
        "ssfpack serve MyStaticFolder",
        "ssfpack completions bash > ~/.local/share/bash-completion/completions/ssfpack",
    ),
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
    /// Package a media library (folder or list file) into OUT_ROOT: resumable, parallel, sharded.
    Batch(batch::BatchArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write all of them into a folder with --out.
    Man(docs::ManArgs),
    /// Live encoder: encode the aligned ladder in real time and push it to publishing points.
    Push(push::PushArgs),
}

/// `ssfpack INPUT -o DIR`: encode an aligned H.264/AAC ladder and write a presentation.
#[derive(Debug, Clone, Args)]
pub struct PackageArgs {
    /// Input media file (anything FFmpeg reads).
    #[arg(required = true, help_heading = "Input")]
    pub input: Option<PathBuf>,
    /// Package what decodes from a truncated or corrupt source, with a warning, instead of failing.
    #[arg(long, help_heading = "Input")]
    pub allow_truncated: bool,
    #[command(flatten)]
    pub encode: EncodeArgs,
    #[command(flatten)]
    pub text: text::TextArgs,
    /// Cores to plan the encoders for (1 to 1024) [default: all available]. The biggest rungs are
    /// coded by up to this many single-threaded libx264 instances, each taking whole fragments in
    /// turn; the output is byte-identical for the same input, options and --threads.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024),
          help_heading = "Ladder and encoding")]
    pub threads: Option<u16>,
    /// Output folder (created; must not exist unless --force).
    #[arg(short, long, required = true, value_name = "DIR", help_heading = "Output")]
    pub output: Option<PathBuf>,
    /// Base name of the output files (default: the input file's stem): 1 to 200 bytes, not
    /// starting with `.`, no `/ \ ? # %` or control characters.
    #[arg(long, value_name = "NAME", value_parser = parse_name_arg, help_heading = "Output")]
    pub name: Option<String>,
    #[command(flatten)]
    pub out: package::OutputArgs,
    #[command(flatten)]
    pub publish: publish::PublishArgs,
}

/// The encode options every encoding command shares: the main job, `batch` and `push`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Ladder and encoding")]
pub struct EncodeArgs {
    /// Video rungs: `auto` (derived from the source), a preset (azure-1080p, hd, sd, mobile), or
    /// WxH@BITRATE[,WxH@BITRATE...] (e.g. 1280x720@2500k,-1x360@800k). The bitrate needs a unit:
    /// k (kbit/s) or M (Mbit/s). -1 for a side keeps the display aspect; a WxH of another aspect
    /// than the source's is the box the picture fits in (aspect kept, even sizes), never a stretch.
    #[arg(long, value_name = "LADDER", default_value = "auto", value_parser = parse_ladder_arg,
          allow_hyphen_values = true)]
    pub ladder: crate::pipeline::ladder::LadderSpec,
    /// Fragment duration in seconds (0.1 to 60).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_fragment_duration)]
    pub fragment_duration: f64,
    /// x264 preset (speed/quality trade-off).
    #[arg(long, value_name = "NAME", default_value = "fast", value_parser = [
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"])]
    pub x264_preset: String,
    /// AAC-LC bitrate per audio track, with a unit: k (kbit/s) or M (e.g. 128k; 1k to 1000M).
    #[arg(long, value_name = "BITRATE", default_value = "128k", value_parser = parse_bitrate_arg)]
    pub audio_bitrate: u32,
    /// Channels per audio track: 2 (stereo; mono stays mono), 6 (more than two channels become
    /// 5.1), or source (the source's count, up to 5.1). A downmix is a note.
    #[arg(long, value_name = "2|6|source", default_value = "2", value_parser = crate::pipeline::tracks::parse_channels,
          help_heading = "Audio and video")]
    pub audio_channels: crate::media::aac::Channels,
    /// Audio tracks to package, in order: `all` (file order), or stream indexes and ISO 639-2
    /// languages, e.g. `fra,eng` or `2,1`. The first is the default track. The others are notes.
    #[arg(long, value_name = "all|LIST", default_value = "all", value_parser = crate::pipeline::tracks::parse_tracks,
          help_heading = "Audio and video")]
    pub audio_tracks: crate::pipeline::tracks::AudioTracks,
    /// Language of the audio stream INDEX (e.g. 1=eng), for a track tagged `und` or mis-tagged
    /// (repeatable).
    #[arg(long, value_name = "INDEX=LANG", value_parser = crate::pipeline::tracks::parse_language,
          help_heading = "Audio and video")]
    pub audio_lang: Vec<(usize, String)>,
    /// Deinterlace with libavfilter's bwdif: auto (when the stream's field order says interlaced,
    /// or, if it does not say, when FFmpeg's idet finds the first seconds interlaced), on, off.
    #[arg(long, value_name = "auto|on|off", default_value = "auto",
          value_parser = crate::pipeline::tracks::parse_deinterlace, help_heading = "Audio and video")]
    pub deinterlace: crate::media::filter::Deinterlace,
    /// Pictures out of the deinterlacer: `frame` (one per frame, frame rate kept) or `field` (one
    /// per field: 25i becomes 50 fps).
    #[arg(long, value_name = "frame|field", default_value = "frame", value_parser = ["frame", "field"],
          help_heading = "Audio and video")]
    pub deinterlace_rate: String,
}

impl EncodeArgs {
    /// The stream options of the encode.
    pub fn streams(&self) -> crate::pipeline::tracks::StreamChoice {
        crate::pipeline::tracks::StreamChoice {
            audio: crate::pipeline::tracks::AudioChoice {
                channels: self.audio_channels,
                tracks: self.audio_tracks.clone(),
                languages: self.audio_lang.clone(),
            },
            deinterlace: self.deinterlace,
            field_rate: self.deinterlace_rate == "field",
        }
    }
}

fn parse_ladder_arg(s: &str) -> Result<crate::pipeline::ladder::LadderSpec, String> {
    crate::pipeline::ladder::parse_ladder(s).map_err(|e| e.to_string())
}

fn parse_bitrate_arg(s: &str) -> Result<u32, String> {
    crate::pipeline::ladder::parse_bitrate(s).map_err(|e| e.to_string())
}

fn parse_fragment_duration(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=60.0).contains(&v) => Ok(v),
        Ok(_) => Err("must be between 0.1 and 60 seconds".into()),
        Err(_) => Err("not a number of seconds (e.g. 2 or 1.5)".into()),
    }
}

fn parse_name_arg(s: &str) -> Result<String, String> {
    crate::pipeline::check_name(s).map(|()| s.to_string())
}

/// Parses arguments, runs the command, prints errors as one line, returns the exit code.
pub fn main() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(message) = docs::mistyped_subcommand(&args) {
        return package::usage_error(&message);
    }
    // `-vV` (as rustc and cargo spell it): the long version.
    for a in args.iter_mut().skip(1) {
        if a == "-vV" || a == "-Vv" {
            *a = "--version".into();
        }
    }
    let long_version = docs::long_version();
    let cmd = <Cli as clap::CommandFactory>::command().long_version(long_version);
    let cli = match cmd.try_get_matches_from(args).and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
        Some(Command::Batch(args)) => batch::run(args),
        Some(Command::Completions(args)) => docs::completions(args),
        Some(Command::Man(args)) => docs::man(args),
        Some(Command::Push(args)) => push::run(args),
        None => package::run(cli.package),
    }
}

/// Warnings go to stderr as plain `WARN message` lines (no colours, times or module paths, which
/// unattended logs do not want); `SSFPACK_LOG=debug` gives the full diagnostic format, coloured
/// only when stderr is a terminal and `NO_COLOR` is unset or empty (https://no-color.org).
fn init_tracing() {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr);
    let _ = match tracing_subscriber::EnvFilter::try_from_env("SSFPACK_LOG") {
        Ok(filter) => builder.with_env_filter(filter).with_ansi(log_colours()).try_init(),
        Err(_) => builder
            // Warnings, and what a live operator needs to see (streams connecting, ending, archived).
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,ssfpack::origin::live=info"))
            .without_time()
            .with_target(false)
            .with_ansi(false)
            .try_init(),
    };
}

/// Whether `SSFPACK_LOG` output may be coloured.
fn log_colours() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
