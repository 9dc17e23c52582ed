//! `ssfpack push INPUT URL [--to URL]…`: options → [`crate::push::run`], signals, totals, exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::pipeline::stream::StreamOptions;
use crate::push::url::TargetUrl;
use crate::push::{self, PushOptions, PushSummary, StartTime};

/// `ssfpack push`: encode the aligned ladder in real time and push it to live publishing points.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = examples_help!(
        "ssfpack push show.mp4 'http://origin:8080/Live.isml/Streams(cam1)'",
        "ssfpack push show.mp4 'http://a:8080/Live.isml/Streams(cam1)' --to 'http://b:8080/Live.isml/Streams(cam1)'"
    ),
    after_long_help = long_examples_help!(
        "ssfpack push show.mp4 'http://origin:8080/Live.isml/Streams(cam1)'",
        "ssfpack push show.mp4 'http://a:8080/Live.isml/Streams(cam1)' --to 'http://b:8080/Live.isml/Streams(cam1)'",
        "ssfpack push udp://239.0.0.1:1234 'http://origin:8080/Live.isml/Streams(cam1)' --ladder hd --start-time now",
        "ssfpack push show.mp4 'http://origin:8080/Live.isml/Streams(cam1)' --max-outage 300 --json > totals.json",
        "ssfpack push show.mp4 'https://origin.example/Live.isml/Streams(cam1)' --post-per-track --token SECRET"
    )
)]
pub struct PushArgs {
    /// Input: a file (paced at real time), `-` (standard input) or a URL FFmpeg reads (udp://, srt://…).
    pub input: PathBuf,
    /// Repeat a file input from its start at its end, with a continuous timeline (for rehearsals;
    /// until Ctrl-C / SIGTERM, which end the stream cleanly).
    #[arg(long = "loop")]
    pub looping: bool,
    /// Target: http[s]://HOST[:PORT]/PATH/NAME.isml/Streams(ID) (or …/Events(EID)/Streams(ID)).
    pub url: Option<String>,
    /// Another target (primary and backup…); each has its own connection and reconnect state.
    #[arg(long = "to", value_name = "URL", help_heading = "Targets and faults")]
    pub to: Vec<String>,
    #[command(flatten)]
    pub encode: super::EncodeArgs,
    /// Cores to plan the encoders for [default: all available].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Timestamps: `now` (UTC, a restarted encoder continues the point's timeline) or `0`.
    #[arg(long, value_name = "now|0", default_value = "now", value_parser = ["now", "0"], help_heading = "Targets and faults")]
    pub start_time: String,
    /// Send each track on its own POST (Azure's style) to `Streams(ID_TRACK)`: `ID_video1`,
    /// `ID_video2`… (one per rung), `ID_audio`; each with header boxes for its track alone.
    #[arg(long, help_heading = "Targets and faults")]
    pub post_per_track: bool,
    /// Also trust the certificates in this PEM file for https targets (a private CA, a
    /// self-signed origin), besides the system's.
    #[arg(long, value_name = "PEM", help_heading = "Targets and faults")]
    pub ca_file: Option<PathBuf>,
    /// Token for points that require one (sent as `Authorization: Bearer TOKEN`).
    #[arg(long, value_name = "TOKEN", help_heading = "Targets and faults")]
    pub token: Option<String>,
    /// Give up (exit 1) after this long disconnected from a target [default: never].
    #[arg(long, value_name = "SECONDS", help_heading = "Targets and faults")]
    pub max_outage: Option<f64>,
    /// Most fragments waiting per target while disconnected; the oldest are dropped beyond.
    #[arg(long, value_name = "N", default_value_t = 300, help_heading = "Targets and faults")]
    pub buffer_fragments: usize,
    /// Most megabytes waiting per target while disconnected; the oldest are dropped beyond.
    #[arg(long, value_name = "MB", default_value_t = 256, help_heading = "Targets and faults")]
    pub buffer_mb: usize,
    /// No connection messages and no summary line.
    #[arg(short, long, help_heading = "Progress and reports")]
    pub quiet: bool,
    /// Print the totals (fragments, bytes, reconnects, resends, outage seconds, per target) as JSON on stdout.
    #[arg(long, help_heading = "Progress and reports")]
    pub json: bool,
}

pub fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    let mut urls: Vec<String> = args.url.iter().cloned().collect();
    urls.extend(args.to.iter().cloned());
    if urls.is_empty() {
        anyhow::bail!("no target: give URL or --to URL");
    }
    let targets = urls.iter().map(|u| TargetUrl::parse(u)).collect::<Result<Vec<_>, _>>()?;
    let max_outage = match args.max_outage {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            anyhow::bail!("--max-outage {s}: must be a positive number of seconds")
        }
        s => s.map(Duration::from_secs_f64),
    };
    let streams = args.encode.streams();
    let opts = PushOptions {
        stream: StreamOptions {
            input: args.input.clone(),
            ladder: args.encode.ladder,
            fragment_duration: args.encode.fragment_duration,
            x264_preset: args.encode.x264_preset,
            audio_bitrate: args.encode.audio_bitrate,
            threads: args.threads.map(usize::from),
            looping: args.looping,
            streams,
        },
        targets,
        token: args.token,
        per_track: args.post_per_track,
        ca_file: args.ca_file,
        start_time: if args.start_time == "0" { StartTime::Zero } else { StartTime::Now },
        max_outage,
        buffer_fragments: args.buffer_fragments.max(2),
        buffer_bytes: args.buffer_mb.max(1).saturating_mul(1 << 20),
    };
    let signal = super::signals::install()?;
    let quiet = args.quiet;
    let status = move |line: &str| {
        if !quiet {
            eprintln!("ssfpack push: {line}");
        }
    };
    let terminal = super::progress::Terminal::new(false).with_notes(!quiet);
    let summary =
        push::run(&opts, &signal, &terminal, &status).with_context(|| format!("push {}", args.input.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).context("writing the JSON totals")?);
    } else if !args.quiet {
        print_summary(&summary);
    }
    if let Some(f) = summary.failures.first() {
        anyhow::bail!("{f}");
    }
    let sig = signal.load(std::sync::atomic::Ordering::SeqCst);
    if sig != 0 {
        return Ok(super::signals::exit_code(sig as i32));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &PushSummary) {
    eprintln!(
        "ssfpack push: {:.1} s of media in {:.1} s ({:.2}x real time), {} fragments, {} bytes, {} reconnects, {} resent, {:.1} s outage",
        s.media_seconds, s.elapsed_seconds, s.speed, s.fragments, s.bytes, s.reconnects, s.resends, s.outage_seconds
    );
    if s.targets.len() > 1 {
        for t in &s.targets {
            eprintln!(
                "  {}: {} fragments, {} reconnects, {} resent, {} dropped, {:.1} s outage",
                t.url, t.fragments, t.reconnects, t.resends, t.dropped, t.outage_seconds
            );
        }
    }
}
