//! Player pages: the presentation list (`GET /`), one dash.js page per presentation, and the standalone
//! `NAME.html` written next to a presentation (the successor of the old `Static.html`).
//!
//! The page template, its CSS and JS are ssfpack's own (`src/origin/player/`). dash.js itself is never
//! bundled: pages load `dash.all.min.js` and `dash.mss.min.js` from a configurable base URL —
//! `--player-js-base URL`, else `/_player/dashjs/…` served from a local `node_modules/dashjs/dist`
//! (`--player-js-dir`, or found under `tests/browser/` or `./node_modules`), else [`DEFAULT_JS_BASE`].

pub mod live;

use std::path::{Path, PathBuf};

use super::catalog::{regular_file_stamp, Catalog, CatalogError, Stamp};
use super::url::{encode_segment, PLAYER_PREFIX};
use crate::format::manifest::ClientManifest;

/// Where pages load dash.js from when nothing else is configured: the exact dash.js release the
/// browser tests run, from the jsDelivr mirror of npm.
pub const DEFAULT_JS_BASE: &str = "https://cdn.jsdelivr.net/npm/dashjs@5.2.1/dist/modern/umd/";

const PAGE: &str = include_str!("player/page.html");
const PLAYER_JS: &str = include_str!("player/player.js");
const PLAYER_CSS: &str = include_str!("player/player.css");

/// Where dash.js comes from, as configured on the command line.
#[derive(Debug, Clone, Default)]
pub struct PlayerConfig {
    /// A URL (absolute, or relative to the page) of the folder holding `dash.all.min.js` and
    /// `dash.mss.min.js`.
    pub js_base: Option<String>,
    /// A local dash.js `dist` folder (or one containing the two files) to serve under `/_player/dashjs/`.
    pub js_dir: Option<PathBuf>,
}

/// The resolved player configuration of a running server.
#[derive(Debug, Clone)]
pub struct PlayerAssets {
    js_base: String,
    /// Whether `js_base` is the CDN only because nothing else was configured or found.
    fallback: bool,
    /// The canonical local dash.js folder served under `/_player/dashjs/`.
    dashjs_dir: Option<PathBuf>,
}

impl PlayerAssets {
    /// Resolves `config`: an explicit base wins; else a local folder (given or found); else the CDN.
    pub fn new(config: &PlayerConfig) -> Self {
        let candidates: Vec<PathBuf> = match &config.js_dir {
            Some(d) => vec![d.clone()],
            None => {
                vec![PathBuf::from("tests/browser/node_modules/dashjs/dist"), PathBuf::from("node_modules/dashjs/dist")]
            }
        };
        let found = candidates.iter().find_map(|d| {
            let dir = d.canonicalize().ok()?;
            let sub = dashjs_subdir(&dir)?;
            Some((dir, sub))
        });
        let (dashjs_dir, local_base) = match found {
            Some((dir, sub)) => (Some(dir), Some(format!("/_player/dashjs/{sub}"))),
            None => (None, None),
        };
        let configured = config.js_base.clone().or(local_base);
        let fallback = configured.is_none();
        let js_base = configured.unwrap_or_else(|| DEFAULT_JS_BASE.to_string());
        PlayerAssets { js_base, fallback, dashjs_dir }
    }

    /// The base URL pages load dash.js from.
    pub fn js_base(&self) -> &str {
        &self.js_base
    }

    /// The local dash.js folder, if one is served.
    pub fn dashjs_dir(&self) -> Option<&Path> {
        self.dashjs_dir.as_deref()
    }

    /// A file under `/_player/dashjs/…`, contained in the dash.js folder.
    pub fn dashjs_file(&self, segments: &[String]) -> Result<(PathBuf, Stamp), CatalogError> {
        let not_found = || CatalogError::NotFound(format!("_player/{}", segments.join("/")));
        let (Some(dir), Some((first, rest))) = (&self.dashjs_dir, segments.split_first()) else {
            return Err(not_found());
        };
        if first != "dashjs" || rest.is_empty() {
            return Err(not_found());
        }
        let mut p = dir.clone();
        rest.iter().for_each(|s| p.push(s));
        let real = p.canonicalize().map_err(|_| not_found())?;
        if !real.starts_with(dir) {
            return Err(not_found());
        }
        let stamp = regular_file_stamp(&real).ok_or_else(not_found)?;
        Ok((real, stamp))
    }
}

/// The sub-folder (with trailing `/`, or empty) of a dash.js `dist` folder that holds both scripts.
fn dashjs_subdir(dir: &Path) -> Option<String> {
    ["", "modern/umd/", "dist/modern/umd/", "legacy/umd/"]
        .into_iter()
        .find(|sub| {
            let d = dir.join(sub);
            d.join("dash.all.min.js").is_file() && d.join("dash.mss.min.js").is_file()
        })
        .map(str::to_string)
}

/// `/_player/config.json`: what a page served by `ssfpack serve` asks the server for, so that a
/// `NAME.html` written with the CDN's address loads the server's own dash.js instead.
pub const SERVER_CONFIG: &str = "config.json";

/// The body of [`SERVER_CONFIG`]: `{"jsBase": URL}` when the server has a dash.js of its own or was
/// given `--player-js-base`, else `{"jsBase": null}` (the page keeps the base it was written with).
pub fn server_config(assets: &PlayerAssets) -> String {
    let base = (!assets.fallback).then(|| assets.js_base.clone());
    serde_json::json!({ "jsBase": base, "server": "ssfpack" }).to_string()
}

/// `/_player/`: a player page for any manifest URL, given as `?manifest=URL` (or typed into it).
pub fn render_generic_page(assets: &PlayerAssets) -> String {
    render_page(&Page { title: "ssfpack player", manifests: &[], js_base: assets.js_base() })
}

/// ssfpack's own assets under `/_player/`: (body, content type).
pub fn embedded_asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "player.js" => Some((PLAYER_JS, "text/javascript; charset=utf-8")),
        "player.css" => Some((PLAYER_CSS, "text/css; charset=utf-8")),
        _ => None,
    }
}

/// What a player page needs.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub title: &'a str,
    /// Manifest URLs to try in order, relative to the page.
    pub manifests: &'a [String],
    /// Base URL of the dash.js scripts.
    pub js_base: &'a str,
}

/// Renders a self-contained player page (the CSS and JS are inlined, so `NAME.html` is one file).
pub fn render_page(page: &Page<'_>) -> String {
    render_with(page, &serde_json::json!({ "jsBase": page.js_base, "manifests": page.manifests }))
}

/// Renders the page with `config` as the player's configuration (`window.ssfpack`'s input).
fn render_with(page: &Page<'_>, config: &serde_json::Value) -> String {
    // JSON inside <script>: escape '<' so no "</script>" can close the element early.
    let config = config.to_string().replace('<', "\\u003c");
    PAGE.replace("{{CSS}}", PLAYER_CSS)
        .replace("{{JS}}", PLAYER_JS)
        .replace("{{CONFIG}}", &config)
        .replace("{{TITLE}}", &escape_html(page.title))
        .replace("{{FORMATS}}", &page.manifests.first().map(|m| format_links(m)).unwrap_or_default())
}

/// The DASH and HLS forms of an origin's `NAME.ism/Manifest` (or `.isml`), as links (empty for a
/// pre-split `Manifest`, which has none).
pub fn format_links(manifest: &str) -> String {
    // `Manifest` alone is the page of an origin's `NAME.ism/player` (relative to the `.ism`).
    let base = match manifest.strip_suffix("Manifest") {
        Some("") => "",
        Some(b) if b.to_ascii_lowercase().ends_with(".ism/") || b.to_ascii_lowercase().ends_with(".isml/") => b,
        _ => return String::new(),
    };
    let links: Vec<String> = FORMATS
        .iter()
        .map(|(label, f)| format!("<a href=\"{}Manifest(format={f})\">{label}</a>", escape_html(base)))
        .collect();
    format!(" · also as {}", links.join(" · "))
}

/// The DASH/HLS forms the origin answers, as (label, `format=`). (`m3u8-aapl` joins once its
/// MPEG-TS segments are served.)
pub const FORMATS: [(&str, &str); 3] =
    [("DASH", "mpd-time-csf"), ("DASH (CMAF)", "mpd-time-cmaf"), ("HLS", "m3u8-cmaf")];

/// Writes `DIR/NAME.html`: a player page for what `DIR` holds now ([`page_manifests`]), so write it
/// after the layout.
pub fn write_page(dir: &Path, name: &str, js_base: &str) -> std::io::Result<PathBuf> {
    let manifests = page_manifests(dir, name);
    let html = render_page(&Page { title: name, manifests: &manifests, js_base });
    let path = dir.join(format!("{name}.html"));
    crate::durable::replace_synced(&path, html.as_bytes())?;
    Ok(path)
}

/// The manifests the page of the presentation `NAME` in `dir` tries, in this order, for the files
/// there: `NAME.ism/Manifest` (played from an origin, `ssfpack serve` or IIS) and the pre-split
/// `Manifest` (what the folder becomes for a static host after `ssfpack split`) when it has the
/// `.ism` or the `Manifest`, then `NAME.mpd` (dash.js plays these three), `NAME.m3u8` and
/// `NAME-ts.m3u8` (the browser's own HLS: a folder with HLS alone). A folder with none of them gets
/// the first two.
pub fn page_manifests(dir: &Path, name: &str) -> Vec<String> {
    let has = |file: &str| dir.join(file).is_file();
    let ism = format!("{}/Manifest", encode_segment(&format!("{name}.ism")));
    let mut found = Vec::new();
    if has(&format!("{name}.ism")) {
        found.push(ism.clone());
    }
    if has(&format!("{name}.ism")) || has("Manifest") {
        found.push("Manifest".to_string());
    }
    for ext in [".mpd", ".m3u8", "-ts.m3u8"] {
        let file = format!("{name}{ext}");
        if has(&file) {
            found.push(encode_segment(&file));
        }
    }
    if found.is_empty() {
        found = vec![ism, "Manifest".to_string()];
    }
    found
}

/// The dash.js base URL a page ssfpack wrote was written with (its embedded configuration's
/// `jsBase`), so that rewriting the page keeps it.
pub fn page_js_base(path: &Path) -> Option<String> {
    const START: &str = r#"<script id="ssfpack-config" type="application/json">"#;
    let html = std::fs::read_to_string(path).ok()?;
    let rest = &html[html.find(START)? + START.len()..];
    let config: serde_json::Value = serde_json::from_str(&rest[..rest.find("</script>")?]).ok()?;
    config.get("jsBase")?.as_str().map(str::to_string)
}

/// Whether `path` is a player page ssfpack wrote (it carries `<meta name="generator"
/// content="ssfpack">`): only such a page is ever replaced.
pub fn is_own_page(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        let head = &b[..b.len().min(4096)];
        String::from_utf8_lossy(head).contains(r#"<meta name="generator" content="ssfpack">"#)
    })
}

/// One row of the `GET /` page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub label: String,
    /// URL paths of its player page and client manifest.
    pub player: String,
    pub manifest: String,
    /// `0:30 · 3 video rungs (640x360 900k, …) · audio 128k`, when the client manifest reads.
    pub summary: Option<String>,
}

/// The presentations under the catalog's root: `.ism` ones (played by their `…/player` page) and
/// pre-split layouts (`--layout static`, played by the generic `/_player/?manifest=…` page).
pub fn index_entries(catalog: &Catalog) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    for p in catalog.list() {
        let url = p.url_path();
        let label = p.dirs.iter().chain(std::iter::once(&p.ism)).cloned().collect::<Vec<_>>().join("/");
        let summary = catalog
            .presentation(&p)
            .and_then(|pres| catalog.client_manifest(&pres))
            .ok()
            .and_then(|(path, _)| summarize_file(&path));
        out.push(IndexEntry { label, player: format!("/{url}/player"), manifest: format!("/{url}/Manifest"), summary });
    }
    for dirs in catalog.static_layouts() {
        let url: Vec<String> = dirs.iter().map(|d| encode_segment(d)).collect();
        let manifest = format!("/{}/Manifest", url.join("/")).replace("//", "/");
        let summary =
            catalog.resolve(&[dirs.clone(), vec!["Manifest".into()]].concat()).ok().and_then(|p| summarize_file(&p));
        let label =
            if dirs.is_empty() { "Manifest".to_string() } else { format!("{}/ (static layout)", dirs.join("/")) };
        let player = format!("/{PLAYER_PREFIX}/?manifest={}", percent_encoding::utf8_percent_encode(&manifest, QUERY));
        out.push(IndexEntry { label, player, manifest, summary });
    }
    out
}

/// What a query value must escape.
const QUERY: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// [`summarize`] of a client manifest file (at most 16 MiB, as the catalog reads).
fn summarize_file(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > 16 << 20 {
        return None;
    }
    let xml = std::fs::read_to_string(path).ok()?;
    ClientManifest::from_xml(&xml, &path.display().to_string()).ok().map(|m| summarize(&m))
}

/// `0:30 · 3 video rungs: 640x360 900k, 480x270 500k, 320x180 250k · audio 128k`.
pub fn summarize(m: &ClientManifest) -> String {
    let seconds = if m.timescale > 0 { m.duration as f64 / m.timescale as f64 } else { 0.0 };
    let total = seconds.round() as u64;
    let mut parts = vec![format!("{}:{:02}", total / 60, total % 60)];
    for s in &m.streams {
        let levels: Vec<String> = s
            .quality_levels
            .iter()
            .map(|q| match (q.max_width, q.max_height) {
                (Some(w), Some(h)) => format!("{w}x{h} {}k", q.bitrate / 1000),
                _ => format!("{}k", q.bitrate / 1000),
            })
            .collect();
        let n = levels.len();
        parts.push(match s.kind.as_str() {
            "video" => format!("{n} video rung{}: {}", if n == 1 { "" } else { "s" }, levels.join(", ")),
            kind => format!("{kind} {}", levels.join(", ")),
        });
    }
    parts.join(" · ")
}

/// The `GET /` page: every presentation with links to its player and manifest, its duration and
/// rungs, then `more` (HTML: the live points, [`live::render_points`]).
pub fn render_index(list: &[IndexEntry], more: &str) -> String {
    let mut items = String::new();
    for e in list {
        let summary = e
            .summary
            .as_deref()
            .map(|s| format!(" <span class=\"small\">{}</span>", escape_html(s)))
            .unwrap_or_default();
        items.push_str(&format!(
            "<li><a class=\"play\" href=\"{}\">{}</a> · <a href=\"{}\">Manifest</a>{}{summary}</li>\n",
            escape_html(&e.player),
            escape_html(&e.label),
            escape_html(&e.manifest),
            format_links(&e.manifest),
        ));
    }
    if items.is_empty() {
        items.push_str("<li>No presentations (<code>*.ism</code>, or a pre-split <code>Manifest</code>) found.</li>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<link rel=\"icon\" href=\"data:,\">\n<title>ssfpack</title>\n<style>\n{PLAYER_CSS}</style>\n</head>\n<body>\n<main>\n<h1>Presentations</h1>\n<ul class=\"list\">\n{items}</ul>\n{more}<p class=\"small\">ssfpack {} · Smooth Streaming origin · <a href=\"/{PLAYER_PREFIX}/\">play any manifest URL</a></p>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_and_embeds_config() {
        let m = ["a</script>.ism/Manifest".to_string()];
        let html = render_page(&Page { title: "<b>x</b>", manifests: &m, js_base: "/js/" });
        assert!(html.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"));
        assert!(html.contains("a\\u003c/script>.ism/Manifest"));
        assert!(!html.contains("{{"));
        assert!(html.contains("dash.mss.min.js"));
    }

    #[test]
    fn index_links() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a b")).unwrap();
        std::fs::write(root.path().join("a b/m.ism"), "not parsed here").unwrap();
        std::fs::create_dir_all(root.path().join("s")).unwrap();
        std::fs::write(root.path().join("s/Manifest"), "<SmoothStreamingMedia/>").unwrap();
        let catalog = Catalog::new(root.path()).unwrap();
        let html = render_index(&index_entries(&catalog), "");
        assert!(html.contains("href=\"/a%20b/m.ism/player\""), "{html}");
        assert!(html.contains(">a b/m.ism</a>"));
        assert!(html.contains("href=\"/a%20b/m.ism/Manifest(format=m3u8-cmaf)\">HLS</a>"), "{html}");
        assert!(html.contains("href=\"/_player/?manifest=/s/Manifest\">s/ (static layout)</a>"), "{html}");
        // No favicon.ico request from the pages ssfpack serves.
        assert!(html.contains(r#"<link rel="icon" href="data:,">"#), "{html}");
    }

    #[test]
    fn page_plays_what_the_folder_holds() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Nothing there yet: the origin's manifest, then the pre-split one (the page of old).
        assert_eq!(page_manifests(d, "a b"), ["a%20b.ism/Manifest", "Manifest"]);
        std::fs::write(d.join("a b-ts.m3u8"), "#EXTM3U\n").unwrap();
        assert_eq!(page_manifests(d, "a b"), ["a%20b-ts.m3u8"]);
        std::fs::remove_file(d.join("a b-ts.m3u8")).unwrap();
        std::fs::write(d.join("a b.m3u8"), "#EXTM3U\n").unwrap();
        assert_eq!(page_manifests(d, "a b"), ["a%20b.m3u8"]);
        std::fs::write(d.join("a b.mpd"), "<MPD/>").unwrap();
        assert_eq!(page_manifests(d, "a b"), ["a%20b.mpd", "a%20b.m3u8"]);
        std::fs::write(d.join("Manifest"), "<SmoothStreamingMedia/>").unwrap();
        assert_eq!(page_manifests(d, "a b"), ["Manifest", "a%20b.mpd", "a%20b.m3u8"]);
        std::fs::write(d.join("a b.ism"), "<smil/>").unwrap();
        std::fs::remove_file(d.join("Manifest")).unwrap();
        assert_eq!(page_manifests(d, "a b"), ["a%20b.ism/Manifest", "Manifest", "a%20b.mpd", "a%20b.m3u8"]);
        let page = write_page(d, "a b", "/js/x/").unwrap();
        assert_eq!(page_js_base(&page).as_deref(), Some("/js/x/"));
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains(r#""manifests":["a%20b.ism/Manifest","Manifest","a%20b.mpd","a%20b.m3u8"]"#), "{html}");
        assert!(html.contains(r#"<link rel="icon" href="data:,">"#), "{html}");
        assert_eq!(page_js_base(&d.join("Manifest")), None);
    }

    #[test]
    fn cdn_fallback() {
        let a = PlayerAssets::new(&PlayerConfig { js_base: None, js_dir: Some("/nonexistent".into()) });
        assert_eq!(a.js_base(), DEFAULT_JS_BASE);
        assert!(a.dashjs_file(&["dashjs".into(), "x.js".into()]).is_err());
    }
}
