//! What the packaging jobs add to a finished presentation before it is published: the player page
//! `NAME.html`, and with `--layout static|both` the pre-split layout any static web server can host.

use std::path::Path;

use clap::Args;

use crate::format::manifest::ServerManifest;
use crate::origin;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which files the presentation folder holds: a comma list of `ism`, `static`, `dash`, `hls`
/// (`both` = `ism,static`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `NAME.ism`, `NAME.ismc` and the `.ismv`/`.isma` media: for IIS or `ssfpack serve`.
    pub ism: bool,
    /// The pre-split Smooth `Manifest` + `QualityLevels(B)/Fragments(T=t)` files: for nginx, S3, a CDN.
    pub smooth_static: bool,
    /// `NAME.mpd` + `cmaf/` segments.
    pub dash: bool,
    /// `NAME.m3u8` + `cmaf/` segments and playlists.
    pub hls: bool,
    /// `NAME-ts.m3u8` + `ts/` MPEG-TS segments and playlists (HLS for old devices).
    pub hls_ts: bool,
}

impl Layout {
    pub const ISM: Layout = Layout { ism: true, smooth_static: false, dash: false, hls: false, hls_ts: false };

    /// Parses `ism`, `static`, `dash`, `hls`, `hls-ts`, `both`, comma-separated.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut l = Layout { ism: false, smooth_static: false, dash: false, hls: false, hls_ts: false };
        for part in s.split(',').map(str::trim) {
            match part.to_ascii_lowercase().as_str() {
                "ism" => l.ism = true,
                "static" => l.smooth_static = true,
                "both" => (l.ism, l.smooth_static) = (true, true),
                "dash" => l.dash = true,
                "hls" => l.hls = true,
                "hls-ts" => l.hls_ts = true,
                other => {
                    return Err(format!("unknown layout {other:?} (expected ism, static, dash, hls, hls-ts or both)"))
                }
            }
        }
        Ok(l)
    }

    /// The DASH/HLS files to write, if any.
    pub fn protocols(&self) -> Option<origin::cmaf_layout::Protocols> {
        let p = origin::cmaf_layout::Protocols { dash: self.dash, hls: self.hls, hls_ts: self.hls_ts };
        (p.dash || p.hls || p.hls_ts).then_some(p)
    }
}

/// The names of the three layouts there were before DASH/HLS (`Ism`, `Static`, `Both`), so batch
/// records keyed on them stay valid; the others as their comma lists.
impl std::fmt::Debug for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ism, self.smooth_static, self.dash, self.hls, self.hls_ts) {
            (true, false, false, false, false) => f.write_str("Ism"),
            (false, true, false, false, false) => f.write_str("Static"),
            (true, true, false, false, false) => f.write_str("Both"),
            _ => {
                let names = [
                    (self.ism, "ism"),
                    (self.smooth_static, "static"),
                    (self.dash, "dash"),
                    (self.hls, "hls"),
                    (self.hls_ts, "hls-ts"),
                ];
                let on: Vec<&str> = names.iter().filter(|(b, _)| *b).map(|(_, n)| *n).collect();
                f.write_str(&on.join(","))
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Output layout, a comma list: `ism` (origin), `static` (pre-split Smooth files for any web
    /// server), `dash` (`NAME.mpd`), `hls` (`NAME.m3u8`, fMP4), `hls-ts` (`NAME-ts.m3u8`, MPEG-TS);
    /// `both` = `ism,static`.
    #[arg(long, value_parser = Layout::parse, default_value = "ism", value_name = "LIST", help_heading = "Output")]
    pub layout: Layout,
    /// Base URL the written `NAME.html` player page loads dash.js (`dash.all.min.js`,
    /// `dash.mss.min.js`) from.
    #[arg(long, value_name = "URL", default_value = origin::player::DEFAULT_JS_BASE, help_heading = "Output")]
    pub player_js_base: String,
}

impl PublishArgs {
    /// Writes the player page and the requested layout into the staging folder `dir`.
    pub fn finish(&self, dir: &Path, name: &str) -> Result<(), BoxError> {
        if self.layout.smooth_static {
            origin::write_static_layout(dir, name)?;
        }
        if let Some(protocols) = self.layout.protocols() {
            origin::cmaf_layout::write_cmaf_layout(dir, name, dir, protocols)?;
        }
        if !self.layout.ism {
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
