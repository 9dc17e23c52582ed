//! The live side of the player pages: the page of a publishing point (`…/NAME.isml/player`, and
//! `…/NAME.html` when no such file exists), the "Live" section of the index page, and the clock
//! players synchronise with (`/_player/time`).
//!
//! dash.js synchronises its clock for live streams with `time.akamai.com` unless told otherwise; a
//! point's page points it at [`TIME_PATH`] on the origin instead (an `http-xsdate` source), so live
//! playback never depends on a third-party host.

use std::time::SystemTime;

use super::{escape_html, render_with, Page};
use crate::origin::live::Status;
use crate::origin::url::PresentationPath;

/// The origin's clock, as dash.js's `urn:mpeg:dash:utc:http-xsdate:2014` source reads it.
pub const TIME_PATH: &str = "/_player/time";

/// The name of a point's state, as pages and the index show it.
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Idle => "idle",
        Status::Live => "live",
        Status::Stopped => "stopped",
    }
}

/// A player page for a publishing point: the generic page, told that the point is live (it shows
/// LIVE, the state and a DVR seek bar, waits for the encoder while the point is idle) and which
/// clock to synchronise with.
pub fn render_live_page(page: &Page<'_>, status: Status) -> String {
    let config = serde_json::json!({
        "jsBase": page.js_base,
        "manifests": page.manifests,
        "live": status_name(status),
        "timeSource": TIME_PATH,
    });
    render_with(page, &config)
}

/// The index page's list of points with their state; empty when there are none.
pub fn render_points(points: &[(PresentationPath, Option<Status>)]) -> String {
    if points.is_empty() {
        return String::new();
    }
    let mut items = String::new();
    for (p, status) in points {
        let url = p.url_path();
        let label = p.dirs.iter().chain(std::iter::once(&p.ism)).cloned().collect::<Vec<_>>().join("/");
        let state = status.map_or("unusable", status_name);
        items.push_str(&format!(
            "<li class=\"point\" data-state=\"{state}\"><a class=\"play\" href=\"/{url}/player\">{}</a> · <span class=\"state state-{state}\">{state}</span> · <a href=\"/{url}/Manifest\">Manifest</a></li>\n",
            escape_html(&label)
        ));
    }
    format!("<h1>Live publishing points</h1>\n<ul class=\"list\" id=\"points\">\n{items}</ul>\n")
}

/// Now, as `2026-12-01T09:30:12.345Z`.
pub fn now_iso() -> String {
    crate::origin::live::clock::iso(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::live::clock::iso;
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    #[test]
    fn clock_format() {
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_796_117_412_345);
        assert_eq!(iso(t), "2026-12-01T09:30:12.345Z");
        assert_eq!(iso(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn live_page_and_points() {
        let m = ["Manifest".to_string()];
        let html = render_live_page(&Page { title: "ev", manifests: &m, js_base: "/js/" }, Status::Idle);
        assert!(html.contains(r#""live":"idle""#) && html.contains(r#""timeSource":"/_player/time""#), "{html}");
        let p = PresentationPath { dirs: vec!["a b".into()], ism: "x<.isml".into() };
        let list = render_points(&[(p, Some(Status::Live))]);
        assert!(list.contains("href=\"/a%20b/") && !list.contains("x<"), "{list}");
        assert!(list.contains(">a b/x&lt;.isml</a>") && list.contains("data-state=\"live\""), "{list}");
        assert!(render_points(&[]).is_empty());
    }
}
