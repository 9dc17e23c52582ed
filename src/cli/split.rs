//! `ssfpack split DIR`: write the pre-split static layout (`Manifest` + `QualityLevels(B)/Fragments(…)`)
//! of an existing presentation, so a plain static file server can host it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::origin::{cmaf_layout, player, split};
use crate::pipeline::output::guard;
use crate::pipeline::PipelineError;

#[derive(Debug, Clone, Args)]
#[command(
    after_help = examples_help!("ssfpack split Out", "ssfpack split Out --out /srv/www/Out"),
    after_long_help = long_examples_help!(
        "ssfpack split Out                       # Out/Manifest, Out/QualityLevels(B)/Fragments(...)",
        "ssfpack split Out --out /srv/www/Out",
        "ssfpack split Folder --name movie       # when Folder holds several .ism files",
    )
)]
pub struct SplitArgs {
    /// Presentation folder (holding `NAME.ism`, `NAME.ismc` and the media files).
    pub dir: PathBuf,
    /// Which presentation, when the folder holds several `.ism` files.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Write the layout here instead of into DIR next to the `.ism`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Base URL the written `NAME.html` loads dash.js from [default: the base an existing page
    /// ssfpack wrote has, else the jsDelivr CDN]. The page is rewritten to play what the folder
    /// now holds (a page ssfpack did not write is left alone).
    #[arg(long, value_name = "URL")]
    pub player_js_base: Option<String>,
    /// What to write, a comma list: `static` (the pre-split Smooth layout), `dash` (`NAME.mpd`),
    /// `hls` (`NAME.m3u8`); DASH and HLS share their `cmaf/` segment files.
    #[arg(long, value_parser = super::publish::Layout::parse, default_value = "static", value_name = "LIST")]
    pub layout: super::publish::Layout,
}

pub fn split(args: SplitArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.clone().unwrap_or_else(|| args.dir.clone());
    // Into the presentation's own folder is the normal case; anywhere else must be a folder the
    // user can spare (never `/`, `~` or the current folder or one above it).
    let same = guard::resolve(&out).ok() == guard::resolve(&args.dir).ok();
    if !same {
        if let Err(PipelineError::Refused(message)) = guard::check_output(&out, &[]) {
            return Ok(super::package::usage_error(&message));
        }
    }
    let name = match &args.name {
        Some(n) => n.trim_end_matches(".ism").to_string(),
        None => only_presentation(&args.dir)?,
    };
    let ctx = || format!("cannot split {}", args.dir.join(format!("{name}.ism")).display());
    let mut written = Vec::new();
    if args.layout.smooth_static {
        let report = split::write_static_layout_into(&args.dir, &name, &out).with_context(ctx)?;
        written.push(format!("{} fragments ({:.1} MB) and Manifest", report.fragments, report.bytes as f64 / 1e6));
    }
    if let Some(protocols) = args.layout.protocols() {
        let report = cmaf_layout::write_cmaf_layout(&args.dir, &name, &out, protocols).with_context(ctx)?;
        let tops: Vec<String> = [(protocols.dash, ".mpd"), (protocols.hls, ".m3u8"), (protocols.hls_ts, "-ts.m3u8")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, ext)| format!("{name}{ext}"))
            .collect();
        written.push(format!(
            "{} segments ({:.1} MB) and {}",
            report.fragments,
            report.bytes as f64 / 1e6,
            tops.join(", ")
        ));
    }
    if written.is_empty() {
        return Ok(super::package::usage_error("--layout names nothing split writes (static, dash, hls, hls-ts)"));
    }
    let page = out.join(format!("{name}.html"));
    if page.exists() && !player::is_own_page(&page) {
        eprintln!("ssfpack: note: {} is not a page ssfpack wrote; left as it is", page.display());
    } else {
        // Rewritten for what the folder holds now, keeping the dash.js base it was written with.
        let base = args
            .player_js_base
            .clone()
            .or_else(|| player::page_js_base(&page))
            .unwrap_or_else(|| player::DEFAULT_JS_BASE.to_string());
        player::write_page(&out, &name, &base).with_context(|| format!("cannot write {}", page.display()))?;
    }
    eprintln!("ssfpack: wrote {} into {}; player page {}", written.join("; "), out.display(), page.display());
    Ok(ExitCode::SUCCESS)
}

/// The name of the single `.ism` in `dir`.
fn only_presentation(dir: &Path) -> anyhow::Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".ism").map(str::to_string))
        .collect();
    names.sort();
    match names.len() {
        1 => Ok(names.remove(0)),
        0 => anyhow::bail!("{} holds no .ism presentation", dir.display()),
        _ => anyhow::bail!(
            "{} holds several presentations ({}); choose one with --name",
            dir.display(),
            names.join(", ")
        ),
    }
}
