//! `ssfpack push` with real processes: the push binary encodes a generated file and posts it into
//! `ssfpack serve`'s publishing point; the event's archive must pass `check`, decode with FFmpeg,
//! and hold every fragment with contiguous times (no gap), through a TCP proxy that cuts the
//! connection mid-stream, one that stalls it, a `kill -9` of serve and a restart on the same
//! port, and a second target that is down for a while. A push to a missing point fails fast.
//! `--post-per-track` (one POST per track, through the cutting proxy) and https (through a TLS
//! proxy with a certificate made by the test; untrusted without `--ca-file`) too.

mod origin_support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use origin_support::process::ServeProcess;
use origin_support::request;
use ssfpack::format::manifest::ClientManifest;
use ssfpack::format::reader::MediaFile;

/// Seconds of source, 25 fps, and the 2 s fragments they make per video track.
const SECONDS: u32 = 12;
const VIDEO_FRAGMENTS: usize = 6;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ssfpack")
}

/// A 12 s 320x180 H.264 + AAC source, made once.
fn source() -> &'static Path {
    static SRC: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = SRC.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("src.mp4");
        let o = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i"])
            .arg(format!("testsrc=size=320x180:rate=25:duration={SECONDS}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency=440:sample_rate=48000:duration={SECONDS}"))
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (dir, p)
    });
    p
}

fn point(root: &Path, name: &str) {
    let o = Command::new(bin()).args(["live", "create"]).arg(root.join(name)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `ssfpack push SRC --to URL… --ladder 320x180@300k,160x90@100k --x264-preset ultrafast --json`.
fn push(urls: &[String]) -> Child {
    push_with(urls, &[])
}

/// [`push`] with more options.
fn push_with(urls: &[String], extra: &[&str]) -> Child {
    let mut c = Command::new(bin());
    c.arg("push").arg(source());
    for u in urls {
        c.args(["--to", u]);
    }
    c.args(["--ladder", "320x180@300k,160x90@100k", "--x264-preset", "ultrafast", "--json"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded) for the push to end; returns its status, the JSON totals and stderr.
fn finish(mut child: Child, secs: u64) -> (std::process::ExitStatus, serde_json::Value, String) {
    let end = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("push did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let json = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (status, json, err)
}

fn url(addr: SocketAddr, point: &str) -> String {
    format!("http://{addr}/{point}.isml/Streams(cam1)")
}

/// Waits (at most `secs`) until the live manifest lists at least `n` video fragments.
fn wait_for_chunks(addr: SocketAddr, point: &str, n: usize, secs: u64) {
    let end = Instant::now() + Duration::from_secs(secs);
    let path = format!("/{point}.isml/Manifest");
    loop {
        let r = request(addr, "GET", &path, &[]);
        if r.status == 200 {
            let m = ClientManifest::from_xml(&r.text(), &path).unwrap();
            if m.streams.iter().any(|s| s.kind == "video" && s.chunks.len() >= n) {
                return;
            }
        }
        assert!(Instant::now() < end, "the manifest never listed {n} fragments");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The point's finished events (waiting at most 15 s for `n`).
fn archived(root: &Path, name: &str, n: usize) -> Vec<PathBuf> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let mut ev: Vec<PathBuf> = std::fs::read_dir(root.join(format!("{name}.archive")))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        ev.sort();
        let done = ev.iter().filter(|d| d.join(format!("{name}.ism")).is_file()).count();
        if ev.len() == n && done == n {
            return ev;
        }
        assert!(Instant::now() < end, "expected {n} finished events, found {ev:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The archive passes `check`, every track's fragments are contiguous from the first, and each
/// video rung holds all the source's fragments.
fn assert_complete(event: &Path) {
    let o = Command::new(bin()).arg("check").arg(event).output().unwrap();
    assert!(o.status.success(), "check: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let mut files = 0;
    for entry in std::fs::read_dir(event).unwrap().flatten() {
        let p = entry.path();
        let video = p.extension().is_some_and(|x| x == "ismv");
        if !(video || p.extension().is_some_and(|x| x == "isma")) {
            continue;
        }
        files += 1;
        let f = MediaFile::open(&p).unwrap();
        let times: Vec<(u64, u64)> =
            f.fragments.iter().map(|r| r.tfxd.map(|t| (t.time, t.duration)).unwrap()).collect();
        for w in times.windows(2) {
            assert_eq!(w[1].0, w[0].0 + w[0].1, "{}: a gap or overlap in {times:?}", p.display());
        }
        if video {
            assert_eq!(times.len(), VIDEO_FRAGMENTS, "{}: {times:?}", p.display());
        }
    }
    assert_eq!(files, 3, "two rungs and the audio");
}

fn decoded_frames(file: &Path) -> usize {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.starts_with('#')).count()
}

#[test]
fn a_push_into_serve_is_archived_whole_and_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Show.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let (status, json, err) = finish(push(&[url(serve.addr, "Show")]), 60);
    assert!(status.success(), "{err}");
    assert_eq!(json["reconnects"], 0, "{json}");
    assert_eq!(json["targets"][0]["ended"], true, "{json}");
    let ev = archived(tmp.path(), "Show", 1);
    assert_complete(&ev[0]);
    assert_eq!(decoded_frames(&ev[0].join("Show_video_300k.ismv")), 25 * SECONDS as usize);
    assert!(!serve.stderr_lines().iter().any(|l| l.contains("WARN")), "{:?}", serve.stderr_lines());
}

/// What the proxy does to its first connection that carries more than `after` bytes.
#[derive(Clone, Copy)]
enum Fault {
    /// Closes both sides.
    Cut,
    /// Stops reading (the sender's writes block), then closes both sides after `Duration`.
    Stall(Duration),
}

/// A TCP proxy on loopback to `upstream` that applies `fault` once.
fn proxy(upstream: SocketAddr, after: usize, fault: Fault) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // A small receive window, inherited by the accepted sockets: a stalled peer then holds little,
    // as on a path that stopped delivering (what the network accepted and never delivered beyond
    // the last two fragments of each track cannot be recovered by any resend; README, push).
    rustix::net::sockopt::set_socket_recv_buffer_size(&listener, 8 * 1024).unwrap();
    let addr = listener.local_addr().unwrap();
    let fired = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { break };
            let Ok(mut up) = TcpStream::connect(upstream) else { continue };
            let (mut c2, mut u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
                let _ = c2.shutdown(Shutdown::Both);
            });
            let fired = Arc::clone(&fired);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut passed = 0;
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if up.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    passed += n;
                    if passed > after && !fired.swap(true, Ordering::SeqCst) {
                        if let Fault::Stall(d) = fault {
                            std::thread::sleep(d);
                        }
                        break;
                    }
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = up.shutdown(Shutdown::Both);
            });
        }
    });
    addr
}

fn through_a_faulty_proxy(fault: Fault) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Show.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let via = proxy(serve.addr, 120_000, fault);
    let (status, json, err) = finish(push(&[url(via, "Show")]), 90);
    assert!(status.success(), "{err}");
    assert!(json["reconnects"].as_u64().unwrap() >= 1, "{json} {err}");
    assert!(json["resends"].as_u64().unwrap() >= 1, "{json}");
    let ev = archived(tmp.path(), "Show", 1);
    assert_complete(&ev[0]);
    json
}

#[test]
fn a_connection_cut_mid_stream_is_survived_without_a_gap() {
    through_a_faulty_proxy(Fault::Cut);
}

#[test]
fn a_stalled_connection_is_abandoned_and_the_timeline_stays_continuous() {
    let json = through_a_faulty_proxy(Fault::Stall(Duration::from_secs(20)));
    assert!(json["outage_seconds"].as_f64().unwrap() > 0.0, "{json}");
}

#[test]
fn kill_9_of_serve_and_a_restart_on_the_same_port_continue_the_event() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Show.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let addr = serve.addr;
    let child = push(&[url(addr, "Show")]);
    wait_for_chunks(addr, "Show", 2, 30);
    drop(serve); // SIGKILL
    let serve = ServeProcess::start_on(tmp.path(), &addr.to_string(), &[]);
    let (status, json, err) = finish(child, 90);
    assert!(status.success(), "{err}");
    assert!(json["reconnects"].as_u64().unwrap() >= 1, "{json}");
    let ev = archived(tmp.path(), "Show", 1);
    assert_complete(&ev[0]);
    drop(serve);
}

#[test]
fn a_push_to_a_missing_point_fails_fast_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(tmp.path(), &[]);
    let started = Instant::now();
    let (status, _, err) = finish(push(&[url(serve.addr, "Nope")]), 20);
    assert_eq!(status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("ssfpack: error:") && lines[0].contains("404"), "{err}");
    // Before any encoding: the source lasts 12 s at real time.
    assert!(started.elapsed() < Duration::from_secs(SECONDS as u64), "{:?}", started.elapsed());
}

#[test]
fn a_backup_target_down_for_a_while_catches_up_and_the_primary_is_unaffected() {
    let (a_root, b_root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    point(a_root.path(), "Show.isml");
    point(b_root.path(), "Show.isml");
    let a = ServeProcess::start(a_root.path(), &[]);
    let b_addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed again: down
    let child = push(&[url(a.addr, "Show"), url(b_addr, "Show")]);
    wait_for_chunks(a.addr, "Show", 2, 30);
    let b = ServeProcess::start_on(b_root.path(), &b_addr.to_string(), &[]);
    let (status, json, err) = finish(child, 90);
    assert!(status.success(), "{err}");
    let (ta, tb) = (&json["targets"][0], &json["targets"][1]);
    assert_eq!((ta["reconnects"].as_u64(), ta["resends"].as_u64()), (Some(0), Some(0)), "{json}");
    assert_eq!(ta["fragments"], tb["fragments"], "{json}");
    assert_eq!(tb["dropped"], 0, "{json}");
    assert_complete(&archived(a_root.path(), "Show", 1)[0]);
    assert_complete(&archived(b_root.path(), "Show", 1)[0]);
    drop((a, b));
}

#[test]
fn sigint_ends_the_stream_cleanly_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Show.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let child = push(&[url(serve.addr, "Show")]);
    // The event is live (its first fragments arrived): stop well before the source's end.
    wait_for_chunks(serve.addr, "Show", 0, 30);
    let k = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(k.success());
    let (status, json, err) = finish(child, 30);
    assert_eq!(status.code(), Some(130), "{err}");
    assert_eq!(json["targets"][0]["ended"], true, "the end of stream (empty mfra) was delivered: {json}");
    // The event ended with the stream: archived, with no gap in what was pushed.
    let ev = archived(tmp.path(), "Show", 1);
    let o = Command::new(bin()).arg("check").arg(&ev[0]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let f = MediaFile::open(&ev[0].join("Show_video_300k.ismv")).unwrap();
    assert!((1..VIDEO_FRAGMENTS).contains(&f.fragments.len()), "stopped early: {}", f.fragments.len());
}

#[test]
fn loop_repeats_a_file_with_a_continuous_timeline() {
    let tmp = tempfile::tempdir().unwrap();
    // A 3 s source, repeated: by 4 listed video fragments (8 s) it has looped twice.
    let short = tmp.path().join("short.mp4");
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=3"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&short)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    point(&root, "Show.isml");
    let serve = ServeProcess::start(&root, &[]);
    let child = Command::new(bin())
        .arg("push")
        .arg(&short)
        .arg(url(serve.addr, "Show"))
        .args(["--loop", "--ladder", "160x90@100k", "--x264-preset", "ultrafast", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_chunks(serve.addr, "Show", 4, 40);
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let (status, _, err) = finish(child, 30);
    assert_eq!(status.code(), Some(130), "{err}");
    let ev = archived(&root, "Show", 1);
    let o = Command::new(bin()).arg("check").arg(&ev[0]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let f = MediaFile::open(&ev[0].join("Show_video_100k.ismv")).unwrap();
    let times: Vec<(u64, u64)> = f.fragments.iter().filter_map(|g| g.tfxd).map(|t| (t.time, t.duration)).collect();
    // Times are UTC (`--start-time now`): the span is what counts.
    let span = times.last().map_or(0, |(t, d)| t + d) - times[0].0;
    assert!(span > 60_000_000, "more than two passes of the 3 s source: {times:?}");
    for w in times.windows(2) {
        assert!(w[1].0.abs_diff(w[0].0 + w[0].1) <= 10_000, "continuous across the seams: {times:?}");
    }
    assert_eq!(
        decoded_frames(&ev[0].join("Show_video_100k.ismv")) as u64,
        span * 25 / 10_000_000,
        "every frame decodes"
    );
    // A live input cannot be repeated.
    let o = Command::new(bin())
        .args(["push", "-", &url(serve.addr, "Show"), "--loop"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--loop"), "{err}");
}

#[test]
fn post_per_track_sends_each_track_on_its_own_post_and_survives_a_cut() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Show.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    // The first connection past 60 kB is cut: the 300k rung's.
    let via = proxy(serve.addr, 60_000, Fault::Cut);
    let (status, json, err) = finish(push_with(&[url(via, "Show")], &["--post-per-track"]), 90);
    assert!(status.success(), "{err}");
    let mut urls: Vec<&str> = json["targets"].as_array().unwrap().iter().map(|t| t["url"].as_str().unwrap()).collect();
    urls.sort();
    let want: Vec<String> = ["cam1_audio", "cam1_video1", "cam1_video2"]
        .iter()
        .map(|s| format!("http://{via}/Show.isml/Streams({s})"))
        .collect();
    assert_eq!(urls, want, "{json}");
    for t in json["targets"].as_array().unwrap() {
        assert_eq!(t["ended"], true, "every POST delivered its end of stream: {json}");
    }
    assert!(json["reconnects"].as_u64().unwrap() >= 1 && json["resends"].as_u64().unwrap() >= 1, "{json}");
    // One event with all three tracks, whole, from three streams.
    let ev = archived(tmp.path(), "Show", 1);
    assert_complete(&ev[0]);
    assert_eq!(decoded_frames(&ev[0].join("Show_video_300k.ismv")), 25 * SECONDS as usize);
}

/// A self-signed certificate for `localhost` (PEM) and its TLS server setup.
fn tls_server() -> (String, Arc<rustls::ServerConfig>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    (cert.cert.pem(), Arc::new(cfg))
}

/// A TLS-terminating proxy on loopback in front of `upstream` (plain HTTP).
fn tls_proxy(upstream: SocketAddr, cfg: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let (Ok(client), Ok(up)) = (client, TcpStream::connect(upstream)) else { continue };
            let cfg = Arc::clone(&cfg);
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(cfg).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, client);
                tls.sock.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
                let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
                let mut up_r = up.try_clone().unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = up_r.read(&mut buf) {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                });
                let mut up_w = up;
                let mut buf = [0u8; 8192];
                let mut upstream_open = true;
                loop {
                    match tls.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if up_w.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        }
                        Err(_) => break,
                    }
                    loop {
                        match rx.try_recv() {
                            Ok(bytes) => {
                                if tls.write_all(&bytes).and_then(|_| tls.flush()).is_err() {
                                    return;
                                }
                            }
                            Err(std::sync::mpsc::TryRecvError::Empty) => break,
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                                upstream_open = false;
                                break;
                            }
                        }
                    }
                    if !upstream_open {
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                        break;
                    }
                }
                let _ = up_w.shutdown(Shutdown::Both);
            });
        }
    });
    addr
}

#[test]
fn https_pushes_through_tls_and_an_untrusted_certificate_fails_fast_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    point(tmp.path(), "Show.isml");
    let serve = ServeProcess::start(tmp.path(), &[]);
    let (pem, cfg) = tls_server();
    let via = tls_proxy(serve.addr, cfg);
    let https = format!("https://localhost:{}/Show.isml/Streams(cam1)", via.port());
    // Not trusted: one line, exit 1, before anything is encoded.
    let started = Instant::now();
    let (status, _, err) = finish(push_with(std::slice::from_ref(&https), &[]), 20);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("certificate") && err.contains("--ca-file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(SECONDS as u64), "{:?}", started.elapsed());
    // Trusted with --ca-file: the push goes through TLS, whole.
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let (status, json, err) = finish(push_with(&[https], &["--ca-file", ca.to_str().unwrap()]), 60);
    assert!(status.success(), "{err}");
    assert_eq!(json["targets"][0]["ended"], true, "{json}");
    let ev = archived(tmp.path(), "Show", 1);
    assert_complete(&ev[0]);
}
