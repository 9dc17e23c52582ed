//! `ssfpack live create DIR/NAME.isml`: write a live publishing point file (IIS's `.isml` format)
//! that `ssfpack serve DIR` then accepts pushes to.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::format::manifest::PointFile;

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!(
        "ssfpack live create media/Live.isml",
        "ssfpack live create media/Concert.isml --dvr-window 3600 --title \"Spring concert\"",
        "ssfpack serve media    # encoders push to http://HOST:8080/Live.isml/Streams(feed1)"
    ),
    after_long_help = long_examples_help!(
        "ssfpack live create media/Live.isml",
        "ssfpack live create media/Concert.isml --dvr-window 3600 --title \"Spring concert\"",
        "ssfpack serve media    # encoders push to http://HOST:8080/Live.isml/Streams(feed1)",
        "ffmpeg -re -i in.mp4 -c:v libx264 -g 50 -c:a aac -movflags isml+frag_keyframe -f ismv \\",
        "  'http://HOST:8080/Live.isml/Streams(feed1)'"
    )
)]
pub struct LiveArgs {
    #[command(subcommand)]
    pub command: LiveCommand,
}

#[derive(Debug, Subcommand)]
pub enum LiveCommand {
    /// Create a publishing point file NAME.isml (IIS Media Services' format; a copied IIS file works too).
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The point file to write, ending in `.isml`, inside the folder `ssfpack serve` serves.
    pub path: PathBuf,
    /// Fragments announced ahead in each live fragment's tfrf (IIS `lookaheadChunks`).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub lookahead: u32,
    /// DVR window in seconds: how far back viewers may seek (IIS `manifestWindowLength`; 0: the whole event).
    #[arg(long, value_name = "SECONDS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=31_536_000))]
    pub dvr_window: u64,
    /// Title of the point.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub title: String,
    /// Replace an existing point file (only a valid `.isml`; its events are kept).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
    let LiveCommand::Create(a) = args.command;
    let name = a.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".isml").unwrap_or("");
    if stem.is_empty() || stem.starts_with('.') || !stem.chars().all(|c| c.is_alphanumeric() || "_-. ".contains(c)) {
        return Ok(super::package::usage_error(&format!(
            "{}: a point file is NAME.isml, NAME made of letters, digits, `_`, `-`, `.` and spaces",
            a.path.display()
        )));
    }
    if a.path.exists() {
        let text = std::fs::read_to_string(&a.path).unwrap_or_default();
        let valid = PointFile::from_xml(&text, "").is_ok_and(|p| p.metas.iter().any(|(n, _)| n == "module"));
        if !a.force || !valid {
            let why =
                if valid { "use --force to replace it" } else { "it is not a publishing point file; not replaced" };
            return Ok(super::package::usage_error(&format!("{} already exists ({why})", a.path.display())));
        }
    }
    let point = PointFile::new(&a.title, a.lookahead, a.dvr_window);
    let xml = point.to_xml().context("writing the point file")?;
    if let Some(dir) = a.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::durable::replace_synced(&a.path, xml.as_bytes())
        .with_context(|| format!("cannot write {}", a.path.display()))?;
    eprintln!(
        "ssfpack: created {} (lookahead {}, DVR window {}); `ssfpack serve` on its folder takes pushes to …/{name}/Streams(ID)",
        a.path.display(),
        a.lookahead,
        if a.dvr_window == 0 { "the whole event".to_string() } else { format!("{} s", a.dvr_window) }
    );
    Ok(ExitCode::SUCCESS)
}
