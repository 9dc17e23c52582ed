//! The origin's IIS Smooth Streaming URL grammar (`ssfpack::origin::url::parse`) on arbitrary
//! request paths: this is the code that faces the network.
//!
//! Properties:
//! - no panic, whatever the path (UTF-8 only: hyper hands the origin a `&str` path);
//! - no decoded segment can escape or confuse the file system: never empty, `.`/`..`, never starts
//!   with `.`, never holds `/`, `\`, NUL or another control character;
//! - a parsed route re-encoded with the module's own `encode_segment` parses back to the same route
//!   (what the player pages and the index link to is what the origin serves).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssfpack::origin::url::{encode_segment, parse, FragmentPart, PresentationPath, Route, MAX_PATH_LEN};

fn check_segment(s: &str) {
    assert!(!s.is_empty(), "empty segment");
    assert!(s != "." && s != "..", "dot segment {s:?}");
    assert!(!s.starts_with('.'), "hidden segment {s:?}");
    assert!(!s.chars().any(|c| c == '/' || c == '\\' || c.is_control()), "forbidden character in {s:?}");
}

fn check_pres(p: &PresentationPath) {
    p.dirs.iter().for_each(|d| check_segment(d));
    check_segment(&p.ism);
    let _ = p.name();
}

fn join(segments: &[String]) -> String {
    segments.iter().map(|s| format!("/{}", encode_segment(s))).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let Ok(route) = parse(path) else { return };
    let rebuilt = match &route {
        Route::Index => "/".to_string(),
        Route::PlayerAsset(asset) => {
            asset.iter().for_each(|s| check_segment(s));
            format!("/_player{}", join(asset))
        }
        Route::File(segments) => {
            segments.iter().for_each(|s| check_segment(s));
            join(segments)
        }
        Route::Manifest(p) => {
            check_pres(p);
            format!("/{}/Manifest", p.url_path())
        }
        Route::Player(p) => {
            check_pres(p);
            format!("/{}/player", p.url_path())
        }
        Route::KeyFrames(p) => {
            check_pres(p);
            format!("/{}/QualityLevels(1)/KeyFrames(video=0)", p.url_path())
        }
        Route::Fragment(p, f) => {
            check_pres(p);
            assert!(!f.track.is_empty());
            let call = match f.part {
                FragmentPart::Whole => "Fragments",
                FragmentPart::Info => "FragmentInfo",
            };
            format!("/{}/QualityLevels({})/{call}({}={})", p.url_path(), f.bitrate, f.track, f.time)
        }
    };
    // Re-encoding can lengthen a path (a raw `é` becomes `%C3%A9`) past the length limit; only
    // paths that stay within it must round-trip.
    if rebuilt.len() <= MAX_PATH_LEN {
        let again = parse(&rebuilt).unwrap_or_else(|e| panic!("{rebuilt:?} (from {path:?}) does not parse: {e}"));
        assert_eq!(again, route, "route changed through {rebuilt:?} (from {path:?})");
    }
});
