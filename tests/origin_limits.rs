//! `ssfpack serve` against slow and idle clients, with the real binary: half-sent request heads and
//! heads dribbled byte by byte are cut after `--header-timeout`, idle keep-alive connections after
//! `--idle-timeout`, `--max-connections` leaves new clients in the listen backlog (served once a slot
//! frees, one log line), and normal clients (keep-alive pauses, slow downloads) are not affected.
//! Every loop is bounded in count and time; only loopback addresses.

mod origin_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use origin_support::process::ServeProcess;
use origin_support::*;

const MANIFEST: &str = "/demo.ism/Manifest";
/// A request head without its final empty line.
const HALF_HEAD: &str = "GET /demo.ism/Manifest HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow";

fn served(args: &[&str]) -> (tempfile::TempDir, ServeProcess) {
    let tmp = tempfile::tempdir().unwrap();
    write_presentation(tmp.path(), "demo", 2, 0, 1);
    let srv = ServeProcess::start(tmp.path(), args);
    (tmp, srv)
}

fn connect(srv: &ServeProcess) -> TcpStream {
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Waits until the server closes `s` (EOF or reset), reading and discarding anything it sends,
/// for at most `limit` after `since`. Returns when it was closed, counted from `since`.
fn closed_by(s: &mut TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    loop {
        let left = (since + limit).checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(_) => return Some(since.elapsed()),
        }
    }
}

/// Reads one response (status and `Content-Length` body) from a keep-alive connection.
fn read_response(s: &mut TcpStream, timeout: Duration) -> (u16, Vec<u8>) {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert!(raw.len() < 64 << 10, "no end of head");
        assert_eq!(s.read(&mut byte).expect("response head"), 1, "closed in the head: {raw:?}");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .expect("content-length");
    let mut body = vec![0; len];
    s.read_exact(&mut body).expect("response body");
    (status, body)
}

fn get(s: &mut TcpStream, path: &str, close: bool) {
    let conn = if close { "close" } else { "keep-alive" };
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {conn}\r\n\r\n").as_bytes()).unwrap();
}

#[test]
fn half_sent_heads_are_closed_after_the_header_timeout() {
    let (_tmp, srv) = served(&["--header-timeout", "1", "--idle-timeout", "30"]);
    let start = Instant::now();
    let mut conns: Vec<TcpStream> = (0..200).map(|_| connect(&srv)).collect();
    for s in &mut conns {
        s.write_all(HALF_HEAD.as_bytes()).unwrap();
    }
    let mut open = 0;
    let mut first = Duration::MAX;
    for s in &mut conns {
        match closed_by(s, start, Duration::from_secs(4)) {
            Some(t) => first = first.min(t),
            None => open += 1,
        }
    }
    assert_eq!(open, 0, "connections still open 4 s after a 1 s header timeout");
    assert!(first >= Duration::from_millis(900), "closed before the timeout: {first:?}");
    // The server still answers.
    let mut s = connect(&srv);
    get(&mut s, MANIFEST, true);
    assert_eq!(read_response(&mut s, Duration::from_secs(10)).0, 200);
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    // The wait for a next request is governed by --idle-timeout, not by --header-timeout, in both
    // directions.
    for (header, idle) in [(1u64, 3u64), (10, 1)] {
        let (_tmp, srv) = served(&["--header-timeout", &header.to_string(), "--idle-timeout", &idle.to_string()]);
        let mut s = connect(&srv);
        get(&mut s, MANIFEST, false);
        assert_eq!(read_response(&mut s, Duration::from_secs(10)).0, 200);
        let since = Instant::now();
        let closed = closed_by(&mut s, since, Duration::from_secs(idle + 3));
        let closed =
            closed.unwrap_or_else(|| panic!("header {header} s, idle {idle} s: still open after {} s", idle + 3));
        let idle = Duration::from_secs(idle);
        assert!(
            closed >= idle - Duration::from_millis(300),
            "header {header} s: closed after {closed:?}, before {idle:?}"
        );
    }
}

#[test]
fn a_head_dribbled_one_byte_per_second_is_cut_at_the_header_timeout() {
    let (_tmp, srv) = served(&["--header-timeout", "2", "--idle-timeout", "30"]);
    let mut s = connect(&srv);
    let start = Instant::now();
    let head = format!("{HALF_HEAD}\r\n\r\n");
    let mut sent = 0;
    let mut cut = None;
    // One byte, then wait up to a second for the server to close; at most 8 bytes (8 s).
    for b in head.bytes().take(8) {
        if s.write_all(&[b]).is_err() {
            cut = Some(start.elapsed());
            break;
        }
        sent += 1;
        if let Some(t) = closed_by(&mut s, Instant::now(), Duration::from_secs(1)) {
            let _ = t;
            cut = Some(start.elapsed());
            break;
        }
    }
    let cut = cut.unwrap_or_else(|| panic!("{sent} bytes in {:?} and still open", start.elapsed()));
    assert!(
        cut >= Duration::from_millis(1800) && cut <= Duration::from_millis(3500),
        "cut after {cut:?} ({sent} bytes)"
    );
}

#[test]
fn max_connections_leaves_new_clients_in_the_backlog_until_a_slot_frees() {
    let (_tmp, srv) = served(&["--max-connections", "4", "--header-timeout", "2", "--idle-timeout", "30"]);
    let start = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..4).map(|_| connect(&srv)).collect();
    for s in &mut stalled {
        s.write_all(HALF_HEAD.as_bytes()).unwrap();
    }
    let is_cap_line = |l: &str| l.contains("--max-connections");
    assert!(srv.wait_for_line(is_cap_line, Duration::from_secs(10)).is_some(), "no log line: {:?}", srv.stderr_lines());
    // Three more clients: queued by the kernel, answered once the stalled ones are timed out.
    let mut waiting: Vec<TcpStream> = (0..3).map(|_| connect(&srv)).collect();
    for s in &mut waiting {
        get(s, MANIFEST, true);
    }
    for s in &mut waiting {
        let (status, body) = read_response(s, Duration::from_secs(10));
        assert_eq!(status, 200);
        assert!(!body.is_empty());
        let t = start.elapsed();
        assert!(t >= Duration::from_millis(1800), "answered after {t:?}, while 4 stalled connections were open");
    }
    for s in &mut stalled {
        assert!(closed_by(s, start, Duration::from_secs(5)).is_some(), "a stalled connection is still open");
    }
    let lines: Vec<String> = srv.stderr_lines().into_iter().filter(|l| is_cap_line(l)).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
}

#[test]
fn normal_clients_are_unaffected() {
    let tmp = tempfile::tempdir().unwrap();
    write_presentation(tmp.path(), "demo", 2, 0, 1);
    // Bigger than the loopback socket buffers, so the body is still being sent during the pause.
    let big_len: u64 = 48 << 20;
    std::fs::File::create(tmp.path().join("big.mp4")).unwrap().set_len(big_len).unwrap();
    let srv = ServeProcess::start(tmp.path(), &["--header-timeout", "1", "--idle-timeout", "2"]);

    // Keep-alive with pauses longer than the header timeout and shorter than the idle timeout.
    let mut s = connect(&srv);
    for i in 0..3 {
        if i > 0 {
            assert_eq!(closed_by(&mut s, Instant::now(), Duration::from_millis(1300)), None, "closed in a pause");
        }
        get(&mut s, MANIFEST, false);
        assert_eq!(read_response(&mut s, Duration::from_secs(10)).0, 200, "request {i}");
    }

    // A download that stalls longer than both timeouts is not cut.
    let mut s = connect(&srv);
    get(&mut s, "/big.mp4", true);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut first = [0u8; 1];
    assert_eq!(s.read(&mut first).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(3500)); // the slow client, not an assertion
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let all = [&first[..], &rest].concat();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(all.starts_with(b"HTTP/1.1 200"));
    assert_eq!((all.len() - split - 4) as u64, big_len);
}
