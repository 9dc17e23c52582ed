//! What the packaging jobs add to a finished presentation before it is published: the player page
//! `NAME.html`, and with `--layout static|both` the pre-split layout any static web server can host.

use std::path::Path;

use clap::{Args, ValueEnum};

use crate::format::manifest::ServerManifest;
use crate::origin;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which files the presentation folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// `NAME.ism`, `NAME.ismc` and the `.ismv`/`.isma` media: for IIS or `ssfpack serve`.
    Ism,
    /// Only the pre-split `Manifest` + `QualityLevels(B)/Fragments(T=t)` files: for nginx, S3, a CDN.
    Static,
    /// Both.
    Both,
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Output layout: `ism` (origin), `static` (pre-split files for any web server), or `both`.
    #[arg(long, value_enum, default_value = "ism", help_heading = "Output")]
    pub layout: Layout,
    /// Base URL the written `NAME.html` player page loads dash.js (`dash.all.min.js`,
    /// `dash.mss.min.js`) from.
    #[arg(long, value_name = "URL", default_value = origin::player::DEFAULT_JS_BASE, help_heading = "Output")]
    pub player_js_base: String,
}

impl PublishArgs {
    /// Writes the player page and the requested layout into the staging folder `dir`.
    pub fn finish(&self, dir: &Path, name: &str) -> Result<(), BoxError> {
        if self.layout != Layout::Ism {
            origin::write_static_layout(dir, name)?;
        }
        if self.layout == Layout::Static {
            remove_ism_layout(dir, name)?;
        }
        origin::player::write_page(dir, name, &self.player_js_base)?;
        Ok(())
    }
}

/// Removes the server manifest, the client manifest and the media files it names.
fn remove_ism_layout(dir: &Path, name: &str) -> Result<(), BoxError> {
    let ism = dir.join(format!("{name}.ism"));
    let server = ServerManifest::from_xml(&std::fs::read_to_string(&ism)?, &ism.display().to_string())?;
    let mut files: Vec<String> = server.tracks.iter().map(|t| t.src.clone()).collect();
    files.sort();
    files.dedup();
    files.push(server.client_manifest.clone());
    for f in files {
        std::fs::remove_file(dir.join(&f)).map_err(|e| format!("{}: {e}", dir.join(&f).display()))?;
    }
    std::fs::remove_file(&ism)?;
    Ok(())
}
