//! The origin under hostile conditions not covered by `origin_http.rs`: more traversal spellings
//! (raw backslashes, mixed encodings), HEAD/OPTIONS on every kind of URL, media files that are
//! symlinks leading outside the served folder, files rewritten or deleted while requests are in
//! flight, and many concurrent clients. Client errors are 4xx, never 5xx; no byte from outside the
//! served folder; the server keeps answering.

mod origin_support;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use origin_support::*;
use ssfpack::origin::PlayerConfig;

fn no_player() -> PlayerConfig {
    PlayerConfig { js_base: Some("https://example.invalid/dashjs/".into()), js_dir: None }
}

const FRAG: &str = "/demo.ism/QualityLevels(800000)/Fragments(video=0)";

#[test]
fn more_hostile_urls_and_methods() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_presentation(&root, "demo", 2, 0, 1);
    std::fs::write(tmp.path().join("secret.txt"), "secret").unwrap();
    let srv = TestServer::start(&root, no_player());
    let deep = format!("/{}demo.ism/Manifest", "a/".repeat(2000));
    let big_time = format!("/demo.ism/QualityLevels(800000)/Fragments(video={})", "9".repeat(400));
    let big_rate = format!("/demo.ism/QualityLevels({})/Fragments(video=0)", "9".repeat(400));
    let table: Vec<&str> = vec![
        "/..\\secret.txt",
        "/demo.ism\\..\\..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/%252e%252e/secret.txt",
        "/demo.ism/QualityLevels(800000)/Fragments(video=0)%00",
        "/demo.ism%2fManifest",
        "/demo.ism/QualityLevels(800000)/Fragments(video=0x10)",
        "/demo.ism/QualityLevels(800000)/Fragments(video=1e9)",
        "/demo.ism/QualityLevels(+800000)/Fragments(video=0)",
        "/demo.ism/QualityLevels(800000)/Fragments(video=0",
        "/demo.ism/QualityLevels(800000)/Fragments(=0)",
        "/demo.ism/QualityLevels(800000)/Fragments(video=0)/extra",
        "/demo.ism/QualityLevels()/Fragments(video=0)",
        "/demo.ism/QualityLevels(0)/Fragments(video=0)",
        "/demo.ism/QualityLevels(800000)/Fragments(video=9223372036854775808)",
        "/demo.ism/QualityLevels(800000)/Fragments(unknowntrack=0)",
        &deep,
        &big_time,
        &big_rate,
        "/%",
        "/%zz",
        "/\u{7f}",
    ];
    let mut failures = Vec::new();
    for path in &table {
        for method in ["GET", "HEAD"] {
            let r = srv.request(method, path, &[]);
            if !(400..500).contains(&r.status) {
                failures.push(format!("{method} {path:.100}: {}", r.status));
            }
            assert!(!r.text().contains("secret"), "{path} leaked");
        }
    }
    assert!(failures.is_empty(), "4xx expected: {failures:#?}");
    // HEAD and OPTIONS on valid URLs of every kind.
    for url in ["/", "/demo.ism/Manifest", FRAG, "/demo.ism/QualityLevels(800000)/FragmentInfo(video=0)", "/demo.ism"] {
        let get = srv.get(url);
        assert_eq!(get.status, 200, "GET {url}");
        let head = srv.request("HEAD", url, &[]);
        assert_eq!((head.status, head.body.len()), (200, 0), "HEAD {url}");
        let options = srv.request("OPTIONS", url, &[]);
        assert!(options.status < 300, "OPTIONS {url}: {}", options.status);
    }
    for method in ["PUT", "PATCH", "TRACE", "CONNECT"] {
        let r = srv.request(method, FRAG, &[]);
        assert!((400..500).contains(&r.status), "{method}: {}", r.status);
    }
    assert_eq!(srv.get(FRAG).status, 200, "still serving");
}

#[test]
fn media_files_that_are_symlinks_outside_the_root_are_not_served() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    write_presentation(&root, "demo", 2, 0, 1);
    // A complete presentation outside, and the served one's 800k rung and client manifest
    // replaced by symlinks to it.
    write_presentation(&outside, "demo", 2, 0, 99);
    for f in ["demo_800k.ismv", "demo.ismc"] {
        std::fs::remove_file(root.join(f)).unwrap();
        std::os::unix::fs::symlink(outside.join(f), root.join(f)).unwrap();
    }
    std::os::unix::fs::symlink(&outside, root.join("linked")).unwrap();
    let srv = TestServer::start(&root, no_player());
    let outside_800k = std::fs::read(outside.join("demo_800k.ismv")).unwrap();
    for url in [
        FRAG,
        "/demo.ism/QualityLevels(800000)/FragmentInfo(video=0)",
        "/demo.ism/Manifest",
        "/demo_800k.ismv",
        "/demo.ismc",
        "/linked/demo.ism/Manifest",
        "/linked/demo_800k.ismv",
    ] {
        let r = srv.get(url);
        assert_eq!(r.status, 404, "{url}");
        assert!(r.body.len() < 64 || !contains(&outside_800k, &r.body[..64]), "{url} served outside bytes");
    }
    assert_eq!(srv.get("/demo.ism/QualityLevels(400000)/Fragments(video=0)").status, 200);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The expected bytes of the 800k fragment at 0 for the presentations written with each seed.
fn fragment_bytes(dir: &Path, seeds: &[u8]) -> Vec<Vec<u8>> {
    seeds
        .iter()
        .map(|&seed| {
            let scratch = dir.join(format!("v{seed}"));
            let w = write_presentation(&scratch, "demo", 3, 0, seed);
            let e = &w[0].events[0];
            slice(&scratch.join(&w[0].file), e.offset, e.size)
        })
        .collect()
}

#[test]
fn files_rewritten_or_deleted_while_served_give_fresh_bytes_or_404() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write_presentation(&root, "demo", 3, 0, 1);
    let versions = fragment_bytes(tmp.path(), &[1, 2]);
    assert_ne!(versions[0], versions[1]);
    let srv = TestServer::start(&root, no_player());
    assert_eq!(srv.get(FRAG).body, versions[0]);

    // A writer rewrites the presentation in place (seed 1, seed 2, ...) and sometimes deletes the
    // rung, while clients keep asking for the same fragment.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (root, stop) = (root.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                match i % 3 {
                    0 => drop(write_presentation(&root, "demo", 3, 0, 2)),
                    1 => drop(write_presentation(&root, "demo", 3, 0, 1)),
                    _ => {
                        let _ = std::fs::remove_file(root.join("demo_800k.ismv"));
                    }
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut bad = Vec::new();
    while started.elapsed() < Duration::from_millis(1500) {
        for url in [FRAG, "/demo.ism/Manifest", "/demo.ism/QualityLevels(400000)/Fragments(video=0)"] {
            let r = srv.get(url);
            seen.insert(r.status);
            if r.status >= 500 {
                bad.push(format!("{url}: {}", r.status));
            }
            if url == FRAG && r.status == 200 && !versions.contains(&r.body) {
                bad.push(format!("{url}: 200 with bytes of neither version ({} bytes)", r.body.len()));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(bad.is_empty(), "{} bad answers, first: {:#?}", bad.len(), &bad[..bad.len().min(10)]);
    // Once things settle, the current bytes are served.
    write_presentation(&root, "demo", 3, 0, 2);
    assert_eq!(srv.get(FRAG).body, versions[1], "fresh bytes after the rewrite");
    std::fs::remove_file(root.join("demo_800k.ismv")).unwrap();
    assert_eq!(srv.get(FRAG).status, 404);
    eprintln!("statuses seen while rewriting: {seen:?}");
}

#[test]
fn many_concurrent_clients_are_all_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let written = write_presentation(&root, "demo", 4, 0, 5);
    let srv = TestServer::start(&root, no_player());
    let addr = srv.addr;
    // 200 requests over 50 client threads (loopback only), valid and hostile mixed.
    let mut expected: Vec<(String, u16, Option<Vec<u8>>)> = Vec::new();
    for (w, (rate, track)) in written.iter().zip([(800_000, "video"), (400_000, "video"), (128_000, "audio")]) {
        for e in &w.events {
            let url = format!("/demo.ism/QualityLevels({rate})/Fragments({track}={})", e.time);
            expected.push((url, 200, Some(slice(&root.join(&w.file), e.offset, e.size))));
        }
    }
    expected.push(("/demo.ism/Manifest".into(), 200, Some(std::fs::read(root.join("demo.ismc")).unwrap())));
    expected.push(("/%2e%2e/etc/passwd".into(), 400, None));
    expected.push(("/demo.ism/QualityLevels(1)/Fragments(video=0)".into(), 404, None));
    let expected = Arc::new(expected);
    let started = Instant::now();
    let threads: Vec<_> = (0..50)
        .map(|t| {
            let expected = expected.clone();
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                for k in 0..4 {
                    let (url, status, body) = &expected[(t * 4 + k) % expected.len()];
                    let r = request(addr, "GET", url, &[]);
                    if r.status != *status || body.as_ref().is_some_and(|b| *b != r.body) {
                        failures.push(format!("{url}: {} ({} bytes)", r.status, r.body.len()));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(started.elapsed() < Duration::from_secs(30), "200 requests took {:?}", started.elapsed());
    assert_eq!(srv.get("/demo.ism/Manifest").status, 200, "still serving");
}
