//! The origin over real HTTP on loopback: IIS URLs, fragment bytes, status codes for hostile paths,
//! HEAD, CORS, Range, ETag/304, re-indexing of changed files, the static layout writer.

mod origin_support;

use origin_support::*;
use ssfpack::origin::PlayerConfig;

fn no_player() -> PlayerConfig {
    PlayerConfig { js_base: Some("https://example.invalid/dashjs/".into()), js_dir: None }
}

#[test]
fn manifest_and_fragments() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let written = write_presentation(root, "demo", 3, 0, 1);
    write_presentation(&root.join("movies").join("a b"), "nested", 2, 0, 9);
    let srv = TestServer::start(root, no_player());

    let m = srv.get("/demo.ism/Manifest");
    assert_eq!(m.status, 200);
    assert_eq!(m.header("content-type"), Some("text/xml"));
    assert_eq!(m.body, std::fs::read(root.join("demo.ismc")).unwrap());
    assert!(m.text().contains("SmoothStreamingMedia"));
    // Keywords are case-insensitive as in IIS; nested and encoded folders work.
    assert_eq!(srv.get("/demo.ism/manifest").status, 200);
    assert_eq!(srv.get("/movies/a%20b/nested.ism/Manifest").status, 200);

    for (w, (bitrate, track, ctype)) in written.iter().zip([
        (800_000, "video", "video/mp4"),
        (400_000, "video", "video/mp4"),
        (128_000, "audio", "audio/mp4"),
    ]) {
        for e in &w.events {
            let url = format!("/demo.ism/QualityLevels({bitrate})/Fragments({track}={})", e.time);
            let r = srv.get(&url);
            assert_eq!(r.status, 200, "{url}");
            assert_eq!(r.header("content-type"), Some(ctype));
            assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
            let expected = slice(&root.join(&w.file), e.offset, e.size);
            assert_eq!(r.body, expected, "{url}");
            assert_eq!(&r.body[4..8], b"moof");
            // FragmentInfo: the moof alone.
            let info = srv.get(&url.replace("Fragments(", "FragmentInfo("));
            assert_eq!(info.status, 200);
            let moof_len = u32::from_be_bytes(expected[..4].try_into().unwrap()) as usize;
            assert_eq!(info.body, expected[..moof_len]);
        }
    }
    // HEAD: same headers, no body.
    let url = format!("/demo.ism/QualityLevels(800000)/Fragments(video={})", 2 * SECOND);
    let get = srv.get(&url);
    let head = srv.request("HEAD", &url, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some(get.body.len().to_string().as_str()));
    assert_eq!(head.header("etag"), get.header("etag"));
    let mh = srv.request("HEAD", "/demo.ism/Manifest", &[]);
    assert_eq!((mh.status, mh.body.len()), (200, 0));
    assert_eq!(mh.header("content-length"), Some(m.body.len().to_string().as_str()));
}

#[test]
fn status_table_for_unknown_and_hostile_urls() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_presentation(&root, "demo", 2, 0, 1);
    std::fs::write(tmp.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("secret.txt")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("evil.ism")).unwrap();
    std::os::unix::fs::symlink(root.join("demo_800k.ismv"), root.join("alias.ismv")).unwrap();
    let srv = TestServer::start(&root, no_player());
    let long = format!("/{}", "a".repeat(5000));
    let table: Vec<(&str, u16)> = vec![
        ("/nope.ism/Manifest", 404),
        ("/demo.ism/QualityLevels(1)/Fragments(video=0)", 404),
        ("/demo.ism/QualityLevels(800000)/Fragments(video=1)", 404),
        ("/demo.ism/QualityLevels(800000)/Fragments(subtitles=0)", 404),
        ("/demo.ism/QualityLevels(128000)/Fragments(video=0)", 404),
        ("/demo.ism/QualityLevels(4294967296)/Fragments(video=0)", 404),
        ("/demo.ism/QualityLevels(800000)/Fragments(video=18446744073709551616)", 404),
        ("/demo.ism/QualityLevels(800000)/Fragments(video=18446744073709551615)", 404),
        ("/demo.ism/QualityLevels(800000)/KeyFrames(video=0)", 404),
        ("/demo.ism/QualityLevels(abc)/Fragments(video=0)", 400),
        ("/demo.ism/QualityLevels(800000)/Fragments(video=-1)", 400),
        ("/demo.ism/QualityLevels(800000)/Fragments(video)", 400),
        ("/demo.ism/Bogus(1)/Fragments(video=0)", 400),
        ("/../secret.txt", 400),
        ("/demo.ism/../../secret.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/%2E%2E%2Fsecret.txt", 400),
        ("/..%2fsecret.txt", 400),
        ("/..%5csecret.txt", 400),
        ("/demo%00.ism/Manifest", 400),
        ("/%ff", 400),
        ("//etc/passwd", 400),
        (long.as_str(), 400),
        ("/etc/passwd", 404),
        ("/etc/hostname", 404),
        ("/secret.txt", 404),
        ("/evil.ism/Manifest", 404),
        ("/.hidden", 404),
        ("/movies/", 404),
        ("/alias.ismv", 200),
        ("/demo.ism", 200),
        ("/demo_800k.ismv", 200),
    ];
    let mut failures = Vec::new();
    for (path, want) in &table {
        let r = srv.get(path);
        if r.status != *want {
            failures.push(format!("{path:.80}: {} (want {want})", r.status));
        }
        assert!(!r.text().contains("secret"), "{path} leaked");
        assert!(!r.text().contains("root:"), "{path} leaked");
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(srv.request("POST", "/demo.ism/Manifest", &[]).status, 405);
    assert_eq!(srv.request("DELETE", "/demo.ism", &[]).status, 405);
}

#[test]
fn cors_range_and_etags() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_presentation(root, "demo", 2, 0, 1);
    let srv = TestServer::start(root, no_player());

    let pre = srv.request(
        "OPTIONS",
        "/demo.ism/Manifest",
        &[
            ("Origin", "http://player.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range"),
        ],
    );
    assert!(pre.status == 200 || pre.status == 204, "{}", pre.status);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(pre.header("access-control-allow-methods").unwrap_or("").contains("GET"));
    let r = srv.request("GET", "/demo.ism/Manifest", &[("Origin", "http://player.example")]);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let plain = srv.request("OPTIONS", "/demo.ism/Manifest", &[]).status;
    assert!(plain == 200 || plain == 204, "{plain}");

    // Range on plain files.
    let file = std::fs::read(root.join("demo_800k.ismv")).unwrap();
    let r = srv.request("GET", "/demo_800k.ismv", &[("Range", "bytes=0-7")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, file[..8]);
    assert_eq!(r.header("content-range"), Some(format!("bytes 0-7/{}", file.len()).as_str()));
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    let r = srv.request("GET", "/demo_800k.ismv", &[("Range", "bytes=-16")]);
    assert_eq!((r.status, r.body.as_slice()), (206, &file[file.len() - 16..]));
    let r = srv.request("GET", "/demo_800k.ismv", &[("Range", "bytes=999999999-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(format!("bytes */{}", file.len()).as_str()));
    let r = srv.get("/demo_800k.ismv");
    assert_eq!((r.status, r.body.len()), (200, file.len()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    // ETag / If-None-Match on a manifest, a fragment and a plain file.
    for url in ["/demo.ism/Manifest", "/demo.ism/QualityLevels(400000)/Fragments(video=0)", "/demo.ism"] {
        let r = srv.get(url);
        let etag = r.header("etag").unwrap_or_else(|| panic!("{url}: no etag")).to_string();
        let again = srv.request("GET", url, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{url}");
        assert!(again.body.is_empty());
        let other = srv.request("GET", url, &[("If-None-Match", "\"other\"")]);
        assert_eq!(other.status, 200, "{url}");
    }
}

#[test]
fn changed_and_vanished_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_presentation(root, "demo", 2, 0, 1);
    let srv = TestServer::start(root, no_player());
    let url = "/demo.ism/QualityLevels(800000)/Fragments(video=0)";
    let first = srv.get(url);
    assert_eq!(first.status, 200);
    // Re-package with a different timeline and payload: the index is rebuilt.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let written = write_presentation(root, "demo", 3, SECOND, 77);
    assert_eq!(srv.get(url).status, 404);
    let moved = format!("/demo.ism/QualityLevels(800000)/Fragments(video={})", SECOND);
    let r = srv.get(&moved);
    assert_eq!(r.status, 200);
    let e = &written[0].events[0];
    assert_eq!(r.body, slice(&root.join(&written[0].file), e.offset, e.size));
    // Files vanishing → 404, not 500.
    std::fs::remove_file(root.join("demo_800k.ismv")).unwrap();
    assert_eq!(srv.get(&moved).status, 404);
    std::fs::remove_file(root.join("demo.ismc")).unwrap();
    assert_eq!(srv.get("/demo.ism/Manifest").status, 404);
    std::fs::remove_file(root.join("demo.ism")).unwrap();
    assert_eq!(srv.get(&moved.replace("800000", "400000")).status, 404);
}

#[test]
fn ism_without_track_names() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_presentation(root, "demo", 2, 0, 1);
    let ism = std::fs::read_to_string(root.join("demo.ism")).unwrap();
    let stripped: String = ism.lines().filter(|l| !l.contains("trackName")).collect::<Vec<_>>().join("\n");
    assert_ne!(ism, stripped);
    std::fs::write(root.join("demo.ism"), stripped).unwrap();
    let srv = TestServer::start(root, no_player());
    assert_eq!(srv.get("/demo.ism/QualityLevels(800000)/Fragments(video=0)").status, 200);
    assert_eq!(srv.get("/demo.ism/QualityLevels(128000)/Fragments(audio=0)").status, 200);
}

#[test]
fn index_and_player_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_presentation(root, "demo", 1, 0, 1);
    write_presentation(&root.join("sub"), "other", 1, 0, 1);
    let srv = TestServer::start(root, no_player());
    let index = srv.get("/");
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").unwrap_or("").starts_with("text/html"));
    let html = index.text();
    assert!(html.contains("href=\"/demo.ism/player\""), "{html}");
    assert!(html.contains("href=\"/sub/other.ism/player\""), "{html}");
    let page = srv.get("/sub/other.ism/player");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("https://example.invalid/dashjs/"));
    assert!(page.text().contains("\"manifests\":[\"Manifest\"]"));
    assert_eq!(srv.get("/missing.ism/player").status, 404);
    assert_eq!(srv.get("/_player/dashjs/dash.all.min.js").status, 404);
}

#[test]
fn static_layout_matches_the_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let written = write_presentation(root, "demo", 3, 0, 5);
    let report = ssfpack::origin::write_static_layout(root, "demo.ism").unwrap();
    assert_eq!(report.fragments, 9);
    // Again (over an existing layout) and into a separate folder.
    ssfpack::origin::write_static_layout(root, "demo").unwrap();
    let out = root.join("static");
    ssfpack::origin::write_static_layout_into(root, "demo", &out).unwrap();
    assert_eq!(std::fs::read(out.join("Manifest")).unwrap(), std::fs::read(root.join("demo.ismc")).unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ssfpack"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let srv = TestServer::start(root, no_player());
    for (w, (bitrate, track)) in written.iter().zip([(800_000, "video"), (400_000, "video"), (128_000, "audio")]) {
        for e in &w.events {
            let rel = format!("QualityLevels({bitrate})/Fragments({track}={})", e.time);
            let origin = srv.get(&format!("/demo.ism/{rel}"));
            assert_eq!(origin.status, 200);
            assert_eq!(std::fs::read(root.join(&rel)).unwrap(), origin.body, "{rel}");
            assert_eq!(std::fs::read(out.join(&rel)).unwrap(), origin.body, "{rel}");
            // The layout served as plain files by the origin too.
            let plain = srv.get(&format!("/static/{rel}"));
            assert_eq!((plain.status, &plain.body), (200, &origin.body));
        }
    }
    assert_eq!(srv.get("/static/Manifest").header("content-type"), Some("text/xml"));
}

#[test]
fn access_log_and_graceful_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_presentation(&root, "demo", 1, 0, 1);
    let log = tmp.path().join("access.log");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = ssfpack::origin::ServeConfig {
        root: root.clone(),
        addr: "127.0.0.1:0".parse().unwrap(),
        player: no_player(),
        access_log: ssfpack::origin::AccessLogTarget::File(log.clone()),
        fragment_cache: 0,
        cache_max_age: 3600,
        limits: Default::default(),
        live: Default::default(),
    };
    let handle = rt.block_on(ssfpack::origin::serve(config)).unwrap();
    let addr = handle.local_addr;
    assert_eq!(request(addr, "GET", "/demo.ism/Manifest", &[("User-Agent", "t\"est")]).status, 200);
    assert_eq!(request(addr, "GET", "/%2e%2e/x", &[]).status, 400);
    rt.block_on(handle.shutdown()).unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err(), "still listening after shutdown");
    let mut text = String::new();
    for _ in 0..50 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("127.0.0.1 - - ["), "{}", lines[0]);
    assert!(lines[0].contains("\"GET /demo.ism/Manifest HTTP/1.1\" 200 "), "{}", lines[0]);
    assert!(lines[0].contains("\"t%22est\""), "{}", lines[0]);
    assert!(lines[1].contains("\"GET /%2e%2e/x HTTP/1.1\" 400 "), "{}", lines[1]);
}
