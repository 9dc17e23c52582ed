//! Live publishing points with real processes: FFmpeg (the independent encoder) pushes
//! `-movflags isml+frag_keyframe -f ismv` into `ssfpack serve`; the live manifest, the `tfrf` of
//! every fragment (exactly the next fragment's time), 412 for the future, the archive (`check`
//! and an FFmpeg decode), `kill -9` of the server mid-event and a restart, a re-push after a stop,
//! and a table of hostile pushes.

mod origin_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use origin_support::process::ServeProcess;
use origin_support::request;
use ssfpack::format::boxes::PiffBox;
use ssfpack::format::manifest::ClientManifest;
use ssfpack::format::reader::MediaFile;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssfpack")
}

/// An 8 s H.264 (2 s GOPs) + AAC source, made once.
fn source() -> &'static Path {
    static SRC: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = SRC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("src.mp4");
        let o = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=8"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
            .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (dir, p)
    });
    p
}

/// `ffmpeg -re -i SRC -c copy -movflags isml+frag_keyframe -f ismv URL`.
fn push(addr: SocketAddr, path: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re", "-i"])
        .arg(source())
        .args(["-c", "copy", "-movflags", "isml+frag_keyframe", "-f", "ismv"])
        .arg(format!("http://{addr}{path}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn point(root: &Path, name: &str) {
    let o = Command::new(bin()).args(["live", "create"]).arg(root.join(name)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn manifest(addr: SocketAddr, path: &str) -> Option<ClientManifest> {
    let r = request(addr, "GET", path, &[]);
    (r.status == 200).then(|| ClientManifest::from_xml(&r.text(), path).unwrap())
}

/// Waits (at most `secs`) until the manifest lists at least `n` video fragments.
fn wait_for_chunks(addr: SocketAddr, path: &str, n: usize, secs: u64) -> ClientManifest {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(m) = manifest(addr, path) {
            if m.streams.iter().all(|s| s.chunks.len() >= n) {
                return m;
            }
        }
        assert!(Instant::now() < end, "the manifest never listed {n} fragments");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `tfrf` entries of a served fragment.
fn tfrf(bytes: &[u8]) -> Vec<(u64, u64)> {
    let f = MediaFile::parse(std::io::Cursor::new(bytes), bytes.len() as u64, Path::new("fragment")).unwrap();
    assert_eq!(f.fragments.len(), 1);
    let moof: shiguredo_mp4::boxes::MoofBox =
        ssfpack::format::boxes::decode(&bytes[..f.fragments[0].moof_size as usize], "moof").unwrap().0;
    moof.traf_boxes[0]
        .unknown_boxes
        .iter()
        .find_map(|b| match PiffBox::from_unknown(b).unwrap() {
            PiffBox::Tfrf(t) => Some(t.entries),
            _ => None,
        })
        .expect("every live fragment carries a tfrf")
}

fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < end, "process did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn events(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(format!("{name}.archive")))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits (at most 10 s) until the point has `n` events, each finished (its `.ism` written).
fn wait_archived(root: &Path, name: &str, n: usize) -> Vec<PathBuf> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let ev = events(root, name);
        let done = ev.iter().filter(|d| d.join(format!("{name}.ism")).is_file()).count();
        if ev.len() == n && done == n {
            return ev;
        }
        assert!(Instant::now() < end, "expected {n} finished events, found {ev:?} ({done} finished)");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check(dir: &Path) {
    let o = Command::new(bin()).arg("check").arg(dir).output().unwrap();
    assert!(
        o.status.success(),
        "check {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn decoded_frames(file: &Path) -> u64 {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn ffmpeg_push_is_served_live_with_exact_tfrf_and_archived() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let mut ff = push(serve.addr, "/Live.isml/Streams(feed1)");
    let m = wait_for_chunks(serve.addr, "/Live.isml/Manifest", 2, 30);
    assert!(m.is_live && m.duration == 0, "live manifest: IsLive, Duration 0");
    assert_eq!(m.lookahead_count, Some(2));
    for s in &m.streams {
        let q = &s.quality_levels[0];
        for (i, c) in s.chunks.iter().enumerate() {
            let url = format!("/Live.isml/{}", s.fragment_url(q.bitrate, c.t));
            let r = request(serve.addr, "GET", &url, &[]);
            assert_eq!(r.status, 200, "{url}");
            let next = tfrf(&r.body);
            assert!(!next.is_empty(), "{url}: tfrf names the next fragment");
            if let Some(n) = s.chunks.get(i + 1) {
                assert_eq!(next[0], (n.t, n.d), "{url}: the tfrf entry is exactly the next fragment");
            }
            assert_eq!(next[0].0, c.t + c.d, "{url}: contiguous");
        }
        // Past the newest fragment: not yet (412, empty body).
        let last = s.chunks.last().unwrap();
        let future = format!("/Live.isml/{}", s.fragment_url(q.bitrate, last.t + 10 * last.d));
        let r = request(serve.addr, "GET", &future, &[]);
        assert_eq!((r.status, r.body.len()), (412, 0), "{future}");
    }
    let status = wait_exit(&mut ff, 40);
    assert!(status.success(), "ffmpeg push: {status}");
    // Ended: the manifest is now on demand, and the archive is a finished presentation.
    let end = Instant::now() + Duration::from_secs(10);
    while manifest(serve.addr, "/Live.isml/Manifest").is_some_and(|m| m.is_live) {
        assert!(Instant::now() < end, "the event never ended");
        std::thread::sleep(Duration::from_millis(100));
    }
    let ev = wait_archived(tmp.path(), "Live", 1);
    check(&ev[0]);
    let video = std::fs::read_dir(&ev[0])
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "ismv"))
        .unwrap();
    assert_eq!(decoded_frames(&video), 200, "all 8 s at 25 fps decode from the archive");
    let m = manifest(serve.addr, "/Live.isml/Manifest").unwrap();
    assert!(!m.is_live && m.streams.iter().all(|s| s.chunks.len() == 4), "{:?}", m.streams[0].chunks);
}

#[test]
fn kill_9_mid_event_loses_nothing_and_a_re_push_starts_a_new_event() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let mut ff = push(serve.addr, "/Live.isml/Streams(feed1)");
    let before = wait_for_chunks(serve.addr, "/Live.isml/Manifest", 2, 30);
    drop(serve); // SIGKILL
    let _ = wait_exit(&mut ff, 30); // FFmpeg gives up on the dropped connection
    let serve = ServeProcess::start(tmp.path(), &[]);
    let after = manifest(serve.addr, "/Live.isml/Manifest").expect("the event is served again");
    for (b, a) in before.streams.iter().zip(&after.streams) {
        assert!(
            a.chunks.len() >= b.chunks.len(),
            "{}: {} fragments before the kill, {} after",
            b.name,
            b.chunks.len(),
            a.chunks.len()
        );
        assert_eq!(&a.chunks[..b.chunks.len()], &b.chunks[..], "the same fragments");
        let url = format!("/Live.isml/{}", a.fragment_url(a.quality_levels[0].bitrate, a.chunks[0].t));
        assert_eq!(request(serve.addr, "GET", &url, &[]).status, 200, "{url}");
    }
    // FFmpeg's re-push restarts its timestamps at 0: a new event, the old one archived.
    let mut ff = push(serve.addr, "/Live.isml/Streams(feed1)");
    assert!(wait_exit(&mut ff, 40).success());
    let ev = wait_archived(tmp.path(), "Live", 2);
    check(&ev[0]);
    check(&ev[1]);
    assert!(!serve.stderr_lines().iter().any(|l| l.contains("WARN")), "{:?}", serve.stderr_lines());
}

/// Sends `body` as one POST (Content-Length) and returns the status code.
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn boxed(t: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = (8 + payload.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(t);
    b.extend_from_slice(payload);
    b
}

#[test]
fn hostile_pushes_get_4xx_and_the_point_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    std::fs::write(tmp.path().join("vod.ism"), b"<smil/>").unwrap();
    let serve = ServeProcess::start(tmp.path(), &["--ingest-timeout", "3"]);
    let a = serve.addr;
    let ftyp = boxed(b"ftyp", b"isml\0\0\0\x01piffiso2");
    let huge = [&[0xff, 0xff, 0xff, 0xff][..], b"mdat"].concat();
    let cases: &[(&str, &str, Vec<u8>, u16)] = &[
        ("empty probe", "/Live.isml/Streams(probe)", Vec::new(), 200),
        ("no such point", "/Nope.isml/Streams(s)", ftyp.clone(), 404),
        ("not a live point", "/vod.ism/Streams(s)", ftyp.clone(), 404),
        ("garbage", "/Live.isml/Streams(s)", b"this is not an mp4 stream at all".to_vec(), 400),
        ("no ftyp first", "/Live.isml/Streams(s)", boxed(b"moov", &[0; 16]), 400),
        ("box over the limit", "/Live.isml/Streams(s)", [ftyp.clone(), huge].concat(), 400),
        ("moov without a manifest box", "/Live.isml/Streams(s)", [ftyp.clone(), boxed(b"moov", &[])].concat(), 400),
        ("id escaping the point", "/Live.isml/Streams(..%2F..%2Fx)", ftyp.clone(), 400),
        ("bad id", "/Live.isml/Events(a%20b)/Streams(s)", ftyp.clone(), 400),
    ];
    for (case, path, body, want) in cases {
        assert_eq!(post(a, path, &[], body), *want, "{case}");
    }
    // A stalled push (half a box, then nothing) is ended after --ingest-timeout.
    let started = Instant::now();
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"POST /Live.isml/Streams(s) HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n\0\0\x01\0").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 408"), "stalled: {}", String::from_utf8_lossy(&raw));
    assert!(started.elapsed() < Duration::from_secs(10), "ended after the 3 s --ingest-timeout");
    assert_eq!(post(a, "/Live.isml/Streams(s)", &[], &ftyp[..10]), 400, "a body ending inside a box");
    assert_eq!(request(a, "GET", "/Live.isml/Streams(s)", &[]).status, 405, "GET on an ingest URL");
    // The server and the point still work: a real push afterwards is served.
    let mut ff = push(a, "/Live.isml/Streams(feed1)");
    wait_for_chunks(a, "/Live.isml/Manifest", 1, 30);
    assert!(wait_exit(&mut ff, 40).success());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        3,
        "nothing but the point, the vod file and the archive"
    );
}

#[test]
fn a_token_is_required_when_set() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    let serve = ServeProcess::start(tmp.path(), &["--ingest-token", "s3cret"]);
    assert_eq!(post(serve.addr, "/Live.isml/Streams(p)", &[], &[]), 403);
    assert_eq!(post(serve.addr, "/Live.isml/Streams(p)", &[("Authorization", "Bearer wrong")], &[]), 403);
    assert_eq!(post(serve.addr, "/Live.isml/Streams(p)", &[("Authorization", "Bearer s3cret")], &[]), 200);
    assert_eq!(post(serve.addr, "/Live.isml/Streams(p)?token=s3cret", &[], &[]), 200);
}

#[test]
fn dvr_window_fragment_info_and_event_urls() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .args(["live", "create", "--dvr-window", "2"])
        .arg(tmp.path().join("Win.isml"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let serve = ServeProcess::start(tmp.path(), &[]);
    let mut ff = push(serve.addr, "/Win.isml/Events(e1)/Streams(s1)");
    // 8 s pushed in real time: by 3 fragments listed, t=0 has left the 2 s window.
    let m = wait_for_chunks(serve.addr, "/Win.isml/Manifest", 1, 30);
    assert_eq!(m.dvr_window_length, Some(20_000_000));
    let end = Instant::now() + Duration::from_secs(30);
    let m = loop {
        let m = manifest(serve.addr, "/Win.isml/Manifest").unwrap();
        if m.streams[0].chunks[0].t > 0 {
            break m;
        }
        assert!(Instant::now() < end, "the window never moved");
        std::thread::sleep(Duration::from_millis(200));
    };
    let s = &m.streams[0];
    assert!(s.chunks.len() <= 2, "only the window is listed: {:?}", s.chunks);
    let b = s.quality_levels[0].bitrate;
    // Just out of the listed window, a fragment is still served for a margin of (lookahead + 4)
    // fragments (players' windows lag the origin's); a time that never was a fragment is 404.
    assert_eq!(request(serve.addr, "GET", &format!("/Win.isml/{}", s.fragment_url(b, 0)), &[]).status, 200);
    assert_eq!(request(serve.addr, "GET", &format!("/Win.isml/{}", s.fragment_url(b, 1)), &[]).status, 404);
    let info = format!("/Win.isml/QualityLevels({b})/FragmentInfo({}={})", s.name, s.chunks[0].t);
    let r = request(serve.addr, "GET", &info, &[]);
    assert_eq!(r.status, 200, "{info}");
    assert_eq!(&r.body[4..8], b"moof");
    assert_eq!(
        u32::from_be_bytes([r.body[0], r.body[1], r.body[2], r.body[3]]) as usize,
        r.body.len(),
        "the moof alone"
    );
    assert!(!tfrf(&r.body).is_empty());
    assert!(wait_exit(&mut ff, 40).success());
}

#[test]
fn live_create_writes_iis_points_and_never_overwrites_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(bin()).arg("live").arg("create").args(args).output().unwrap();
    let p = tmp.path().join("Event.isml");
    let o = run(&[p.to_str().unwrap(), "--lookahead", "3", "--dvr-window", "600", "--title", "Spring"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&p).unwrap();
    let point = ssfpack::format::manifest::PointFile::from_xml(&text, "t").unwrap();
    assert_eq!((point.lookahead_chunks, point.dvr_window, point.title.as_str()), (3, 600, "Spring"));
    assert!(text.contains(r#"<meta name="module" content="liveSmoothStreaming"/>"#));
    // An existing point needs --force; a file that is not a point is never replaced.
    assert_eq!(run(&[p.to_str().unwrap()]).status.code(), Some(2));
    assert!(run(&[p.to_str().unwrap(), "--force"]).status.success());
    let other = tmp.path().join("notes.isml");
    std::fs::write(&other, b"my notes").unwrap();
    let o = run(&[other.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a publishing point"));
    assert_eq!(std::fs::read(&other).unwrap(), b"my notes");
    assert_eq!(run(&[tmp.path().join("x.txt").to_str().unwrap()]).status.code(), Some(2), "must end in .isml");
}

/// FFmpeg's ingest stream recorded to a file, split into (header boxes, moof+mdat pairs).
fn recorded_stream() -> (Vec<u8>, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stream.ismv");
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(source())
        .args(["-c", "copy", "-movflags", "isml+frag_keyframe", "-f", "ismv"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let data = std::fs::read(&file).unwrap();
    let (mut header, mut pairs, mut at) = (Vec::new(), Vec::<Vec<u8>>::new(), 0);
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let b = &data[at..at + size];
        match &b[4..8] {
            b"moof" => pairs.push(b.to_vec()),
            b"mdat" => pairs.last_mut().unwrap().extend_from_slice(b),
            b"mfra" => {}
            _ => header.extend_from_slice(b),
        }
        at += size;
    }
    (header, pairs)
}

#[test]
fn a_reconnect_resending_the_last_two_fragments_continues_the_event() {
    let (header, pairs) = recorded_stream();
    assert!(pairs.len() >= 8, "two tracks, four fragments each");
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let path = "/Live.isml/Streams(feed1)";
    // First connection: the header and half the fragments, then the connection drops (no mfra).
    let half = pairs.len() / 2;
    let first = [header.clone(), pairs[..half].concat()].concat();
    assert_eq!(post(serve.addr, path, &[], &first), 200);
    // The reconnect: identical header boxes, the last two fragments of each track again, the rest,
    // and the end of stream.
    let resent = [header.clone(), pairs[half - 4..].concat(), vec![0, 0, 0, 8, b'm', b'f', b'r', b'a']].concat();
    assert_eq!(post(serve.addr, path, &[], &resent), 200);
    let ev = wait_archived(tmp.path(), "Live", 1);
    check(&ev[0]);
    let m = manifest(serve.addr, "/Live.isml/Manifest").unwrap();
    for s in &m.streams {
        assert_eq!(s.chunks.len(), 4, "{}: every fragment once: {:?}", s.name, s.chunks);
        for w in s.chunks.windows(2) {
            assert!(w[1].t.abs_diff(w[0].t + w[0].d) <= 10_000, "{}: continuous timeline {:?}", s.name, s.chunks);
        }
    }
    let line = serve.wait_for_line(|l| l.contains(" ended: "), Duration::from_secs(5)).expect("the end is logged");
    assert!(line.contains(" 4 resent"), "the 4 resent fragments were skipped: {line}");
}

/// The state the index page (`GET /`) shows for the point whose player link is `href`.
fn index_state(addr: SocketAddr, href: &str) -> Option<String> {
    let html = request(addr, "GET", "/", &[]).text();
    let li = html.split("<li class=\"point\"").find(|li| li.contains(&format!("href=\"{href}\"")))?;
    Some(li.split("data-state=\"").nth(1)?.split('"').next()?.to_string())
}

#[test]
fn points_are_listed_with_their_state_and_have_player_pages() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    point(tmp.path(), "sub/Idle.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let addr = serve.addr;
    assert_eq!(index_state(addr, "/Live.isml/player").as_deref(), Some("idle"));
    assert_eq!(index_state(addr, "/sub/Idle.isml/player").as_deref(), Some("idle"));
    // The player pages: the generic one and NAME.html (no such file), both told the point's state
    // and the origin's clock; NAME.html only where a point NAME.isml exists.
    for (path, manifest) in [("/Live.isml/player", "\"Manifest\""), ("/Live.html", "\"Live.isml/Manifest\"")] {
        let r = request(addr, "GET", path, &[]);
        let html = r.text();
        assert_eq!(r.status, 200, "{path}");
        assert!(
            html.contains("\"live\":\"idle\"") && html.contains("\"timeSource\":\"/_player/time\""),
            "{path}: {html}"
        );
        assert!(html.contains(&format!("\"manifests\":[{manifest}]")), "{path}: {html}");
    }
    assert_eq!(request(addr, "GET", "/sub/Idle.html", &[]).status, 200);
    assert_eq!(request(addr, "GET", "/Nope.html", &[]).status, 404);
    assert_eq!(request(addr, "GET", "/sub/Live.html", &[]).status, 404);
    // A file NAME.html wins over the generated page.
    std::fs::write(tmp.path().join("Live.html"), "mine").unwrap();
    assert_eq!(request(addr, "GET", "/Live.html", &[]).text(), "mine");
    // The clock dash.js synchronises with: ISO 8601 UTC with milliseconds, never cached.
    let utc_hour = || Command::new("date").args(["-u", "+%Y-%m-%dT%H"]).output().unwrap().stdout[..13].to_vec();
    let before = utc_hour();
    let r = request(addr, "GET", "/_player/time", &[]);
    let after = utc_hour();
    let t = r.text();
    assert_eq!((r.status, r.header("cache-control")), (200, Some("no-store")));
    assert!(t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T' && t.as_bytes()[19] == b'.', "{t}");
    let hour = &t.as_bytes()[..13];
    assert!(hour == before.as_slice() || hour == after.as_slice(), "{t} is not now");

    let mut ff = push(addr, "/Live.isml/Streams(s1)");
    wait_for_chunks(addr, "/Live.isml/Manifest", 1, 30);
    assert_eq!(index_state(addr, "/Live.isml/player").as_deref(), Some("live"));
    assert!(request(addr, "GET", "/Live.isml/player", &[]).text().contains("\"live\":\"live\""));
    assert!(wait_exit(&mut ff, 40).success());
    let end = Instant::now() + Duration::from_secs(10);
    while index_state(addr, "/Live.isml/player").as_deref() != Some("stopped") {
        assert!(Instant::now() < end, "the index never showed the point stopped");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(index_state(addr, "/sub/Idle.isml/player").as_deref(), Some("idle"));
}

#[test]
fn a_changed_point_file_applies_to_the_next_event_not_the_running_one() {
    let (header, pairs) = recorded_stream();
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let path = "/Live.isml/Streams(feed1)";
    let half = pairs.len() / 2;
    assert_eq!(post(serve.addr, path, &[], &[header.clone(), pairs[..half].concat()].concat()), 200);
    assert_eq!(manifest(serve.addr, "/Live.isml/Manifest").unwrap().lookahead_count, Some(2));
    let o = Command::new(bin())
        .args(["live", "create", "--force", "--lookahead", "3"])
        .arg(tmp.path().join("Live.isml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        manifest(serve.addr, "/Live.isml/Manifest").unwrap().lookahead_count,
        Some(2),
        "a running event keeps its settings"
    );
    // The event goes on and ends; a re-push from 0 starts the next one, with the new settings.
    let rest = [header.clone(), pairs[half - 4..].concat(), vec![0, 0, 0, 8, b'm', b'f', b'r', b'a']].concat();
    assert_eq!(post(serve.addr, path, &[], &rest), 200);
    assert_eq!(post(serve.addr, path, &[], &[header, pairs[..half].concat()].concat()), 200);
    assert_eq!(events(tmp.path(), "Live").len(), 2);
    assert_eq!(manifest(serve.addr, "/Live.isml/Manifest").unwrap().lookahead_count, Some(3));
}

/// The root `availabilityStartTime` of the point's dynamic MPD (a generic XML parser), waiting
/// (at most 10 s) until the MPD is dynamic.
fn availability_start(addr: SocketAddr) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let r = request(addr, "GET", "/Live.isml/Manifest(format=mpd-time-csf)", &[]);
        if r.status == 200 {
            let text = r.text();
            let mut reader = quick_xml::Reader::from_str(&text);
            let root = loop {
                match reader.read_event().expect("well-formed MPD") {
                    quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => break e.into_owned(),
                    quick_xml::events::Event::Eof => panic!("an empty MPD"),
                    _ => {}
                }
            };
            let attr =
                |name: &str| root.try_get_attribute(name).unwrap().map(|a| a.unescape_value().unwrap().into_owned());
            if attr("type").as_deref() == Some("dynamic") {
                return attr("availabilityStartTime").expect("a dynamic MPD has availabilityStartTime");
            }
        }
        assert!(Instant::now() < end, "no dynamic MPD: {} {}", r.status, r.text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The point's Smooth manifest and fragments revalidate (ETag → 304) and HEAD gives their length.
/// A live DASH timeline does not jump when the server restarts: the restarted server (after
/// `kill -9`) gives the same `availabilityStartTime` for the event; a new event gets a new one.
#[test]
fn live_dash_availability_start_survives_a_restart_and_a_new_event_gets_a_new_one() {
    let (header, pairs) = recorded_stream();
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Live.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let path = "/Live.isml/Streams(feed1)";
    // Half the fragments, no end of stream: the event stays on.
    let half = pairs.len() / 2;
    let first = [header.clone(), pairs[..half].concat()].concat();
    assert_eq!(post(serve.addr, path, &[], &first), 200);
    let before = availability_start(serve.addr);
    assert_eq!(availability_start(serve.addr), before, "fixed once per event");
    // The Smooth answers of the point carry validators that revalidate (304), HEAD its length.
    let m = manifest(serve.addr, "/Live.isml/Manifest").unwrap();
    let frag = format!("/Live.isml/{}", m.streams[0].fragment_url(m.streams[0].quality_levels[0].bitrate, 0));
    for url in ["/Live.isml/Manifest", frag.as_str()] {
        let r = request(serve.addr, "GET", url, &[]);
        let etag = r.header("etag").unwrap().to_string();
        assert_eq!(request(serve.addr, "GET", url, &[("If-None-Match", &etag)]).status, 304, "{url}");
        let head = request(serve.addr, "HEAD", url, &[]);
        assert_eq!((head.status, head.header("content-length")), (200, Some(r.body.len().to_string().as_str())));
    }
    let addr = serve.addr.to_string();
    drop(serve); // SIGKILL
                 // Long enough that a start computed again (now − live edge) would show another millisecond.
    std::thread::sleep(Duration::from_millis(300));
    let serve = ServeProcess::start_on(tmp.path(), &addr, &[]);
    assert_eq!(availability_start(serve.addr), before, "the restarted server keeps the event's start");
    // The encoder reconnects and ends the event; a push after the end is a new event.
    let resent = [header.clone(), pairs[half - 4..].concat(), vec![0, 0, 0, 8, b'm', b'f', b'r', b'a']].concat();
    assert_eq!(post(serve.addr, path, &[], &resent), 200);
    wait_archived(tmp.path(), "Live", 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(post(serve.addr, path, &[], &first), 200);
    let new = availability_start(serve.addr);
    assert_eq!(events(tmp.path(), "Live").len(), 2, "a second event");
    // Same media times, asked for later: a later start (ISO 8601 UTC, milliseconds, sorts as text).
    assert!(new > before, "a new event gets a new availabilityStartTime: {new} after {before}");
    drop(serve);
    let serve = ServeProcess::start_on(tmp.path(), &addr, &[]);
    assert_eq!(availability_start(serve.addr), new, "and keeps it across a restart too");
    assert!(!serve.stderr_lines().iter().any(|l| l.contains("WARN")), "{:?}", serve.stderr_lines());
}
