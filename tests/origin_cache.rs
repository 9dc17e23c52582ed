//! Cache headers of `ssfpack serve` (the real binary): fragments get a bounded `max-age` (the
//! `--cache-max-age` flag, never `immutable`), fragments, manifests and files carry `ETag` and
//! `Last-Modified` and answer `If-None-Match` / `If-Modified-Since` with 304, and a re-packaged
//! file gets new validators even with the same size and modification time.

mod origin_support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use origin_support::process::ServeProcess;
use origin_support::*;

const FRAG: &str = "/demo.ism/QualityLevels(800000)/Fragments(video=0)";
const URLS: [&str; 4] = [FRAG, "/demo.ism/Manifest", "/demo.ism", "/demo_800k.ismv"];

fn presentation() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_presentation(tmp.path(), "demo", 2, 0, 1);
    tmp
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn fragments_get_the_flags_max_age_and_every_answer_has_validators() {
    let tmp = presentation();
    let srv = ServeProcess::start(tmp.path(), &["--cache-max-age", "123"]);
    let frag = request(srv.addr, "GET", FRAG, &[]);
    assert_eq!(frag.status, 200);
    assert_eq!(frag.header("cache-control"), Some("public, max-age=123"));
    let manifest = request(srv.addr, "GET", "/demo.ism/Manifest", &[]);
    assert_eq!(manifest.header("cache-control"), Some("no-cache"));
    for (url, file) in [(FRAG, "demo_800k.ismv"), ("/demo.ism/Manifest", "demo.ismc"), ("/demo.ism", "demo.ism")] {
        let r = request(srv.addr, "GET", url, &[]);
        assert_eq!(r.status, 200, "{url}");
        assert!(r.header("etag").is_some_and(|e| e.starts_with('"')), "{url}: no strong ETag");
        let lm = r.header("last-modified").unwrap_or_else(|| panic!("{url}: no Last-Modified"));
        assert_eq!(lm, httpdate::fmt_http_date(mtime(&tmp.path().join(file))), "{url}");
        assert!(!r.header("cache-control").unwrap_or("").contains("immutable"), "{url}");
        let head = request(srv.addr, "HEAD", url, &[]);
        assert_eq!((head.header("etag"), head.header("last-modified")), (r.header("etag"), Some(lm)), "{url}");
    }
    drop(srv);
    let srv = ServeProcess::start(tmp.path(), &[]);
    let frag = request(srv.addr, "GET", FRAG, &[]);
    assert_eq!(frag.header("cache-control"), Some("public, max-age=3600"), "the default");
}

#[test]
fn if_modified_since_gives_304() {
    let tmp = presentation();
    let srv = ServeProcess::start(tmp.path(), &[]);
    for url in URLS {
        let r = request(srv.addr, "GET", url, &[]);
        let lm = r.header("last-modified").unwrap_or_else(|| panic!("{url}: no Last-Modified")).to_string();
        let etag = r.header("etag").unwrap().to_string();
        let again = request(srv.addr, "GET", url, &[("If-Modified-Since", &lm)]);
        assert_eq!(again.status, 304, "{url}");
        assert!(again.body.is_empty(), "{url}");
        assert_eq!(again.header("etag"), Some(etag.as_str()), "{url}");
        assert_eq!(again.header("cache-control"), r.header("cache-control"), "{url}");
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        assert_eq!(request(srv.addr, "HEAD", url, &[("If-Modified-Since", &later)]).status, 304, "{url}");
        let earlier = httpdate::fmt_http_date(mtime(&tmp.path().join("demo.ism")) - Duration::from_secs(3600));
        assert_eq!(request(srv.addr, "GET", url, &[("If-Modified-Since", &earlier)]).status, 200, "{url}");
        assert_eq!(request(srv.addr, "GET", url, &[("If-Modified-Since", "yesterday")]).status, 200, "{url}");
        // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        let both = request(srv.addr, "GET", url, &[("If-None-Match", "\"other\""), ("If-Modified-Since", &lm)]);
        assert_eq!(both.status, 200, "{url}");
    }
}

/// Rewrites the presentation's media files with other bytes of the same size, keeping their
/// modification times: `in_place` truncates and rewrites each file (same inode), otherwise a new
/// file is renamed over it (as a re-packaging into a new folder and a swap would do).
fn repackage_same_sizes_and_mtimes(root: &Path, in_place: bool) {
    let files = ["demo_800k.ismv", "demo_400k.ismv", "demo_audio.isma"];
    let before: Vec<(u64, SystemTime)> = files
        .iter()
        .map(|f| std::fs::metadata(root.join(f)).unwrap())
        .map(|m| (m.len(), m.modified().unwrap()))
        .collect();
    let staging = root.join("staging");
    write_presentation(&staging, "demo", 2, 0, 99);
    for (f, (len, t)) in files.iter().zip(before) {
        let new = staging.join(f);
        assert_eq!(std::fs::metadata(&new).unwrap().len(), len, "{f}: the test needs the same size");
        assert_ne!(std::fs::read(&new).unwrap(), std::fs::read(root.join(f)).unwrap());
        if in_place {
            std::fs::write(root.join(f), std::fs::read(&new).unwrap()).unwrap();
            std::fs::File::options().write(true).open(root.join(f)).unwrap().set_modified(t).unwrap();
        } else {
            std::fs::File::options().write(true).open(&new).unwrap().set_modified(t).unwrap();
            std::fs::rename(&new, root.join(f)).unwrap();
        }
        assert_eq!(mtime(&root.join(f)), t);
    }
    std::fs::remove_dir_all(&staging).unwrap();
}

#[test]
fn a_repackaged_file_of_the_same_size_and_mtime_gets_a_new_etag() {
    for in_place in [false, true] {
        let tmp = presentation();
        let root = tmp.path();
        let srv = ServeProcess::start(root, &[]);
        let old: Vec<Response> = URLS[..1].iter().chain(&URLS[3..]).map(|u| request(srv.addr, "GET", u, &[])).collect();
        repackage_same_sizes_and_mtimes(root, in_place);
        for (url, old) in URLS[..1].iter().chain(&URLS[3..]).zip(old) {
            let old_etag = old.header("etag").unwrap();
            let r = request(srv.addr, "GET", url, &[("If-None-Match", old_etag)]);
            assert_eq!(r.status, 200, "{url} (in place: {in_place}): the old ETag still matches");
            assert_ne!(r.header("etag"), Some(old_etag), "{url}");
            assert_ne!(r.body, old.body, "{url}: old bytes");
            assert_eq!(r.body.len(), old.body.len(), "{url}");
        }
        let frag = request(srv.addr, "GET", FRAG, &[]);
        let e = &write_presentation(&root.join("expected"), "demo", 2, 0, 99)[0].events[0];
        assert_eq!(frag.body, slice(&root.join("expected/demo_800k.ismv"), e.offset, e.size));
    }
}
