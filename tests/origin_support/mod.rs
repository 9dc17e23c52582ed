//! Shared helpers of the origin tests: a synthetic presentation written with the library's own
//! writer (no FFmpeg), an in-process server on a loopback port, and a raw HTTP/1.1 client that sends
//! paths byte for byte (no normalisation of `..`, unlike real clients).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use ssfpack::format::aac::AacConfig;
use ssfpack::format::avc::AvcConfig;
use ssfpack::format::fragmenter::Fragment;
use ssfpack::format::presentation::{write_manifests, TrackOutput};
use ssfpack::format::writer::{FragmentEvent, IsmvWriter};
use ssfpack::format::{CodecConfig, Sample, TrackInfo};
use ssfpack::origin::{self, AccessLogTarget, PlayerConfig, ServeConfig, ServerHandle};

pub mod process;

/// A real x264 SPS/PPS (320x240 High).
pub const SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03,
    0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60,
];
pub const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
pub const SECOND: u64 = 10_000_000;

/// One written file: name and the fragment events (offset, size, time).
pub struct Written {
    pub file: String,
    pub events: Vec<FragmentEvent>,
}

fn video_sample(pts: i64, sync: bool, fill: u8) -> Sample {
    let mut data = vec![0, 0, 0, 5, if sync { 0x65 } else { 0x41 }];
    data.extend_from_slice(&[fill; 4]);
    Sample { pts, duration: 400_000, sync, data }
}

/// Writes `dir/NAME.ism`, `.ismc`, `NAME_800k.ismv`, `NAME_400k.ismv`, `NAME_audio.isma`, with
/// `fragments` fragments of 2 s each starting at `offset` (100 ns units). `seed` varies the payload.
pub fn write_presentation(dir: &Path, name: &str, fragments: u64, offset: u64, seed: u8) -> Vec<Written> {
    std::fs::create_dir_all(dir).unwrap();
    let avc = CodecConfig::H264(AvcConfig::new(SPS.to_vec(), PPS.to_vec()).unwrap());
    let aac = CodecConfig::Aac(AacConfig::from_asc(&[0x11, 0x90]).unwrap());
    let tracks = [
        (format!("{name}_800k.ismv"), avc.clone(), 800_000u32, "video"),
        (format!("{name}_400k.ismv"), avc, 400_000, "video"),
        (format!("{name}_audio.isma"), aac, 128_000, "audio"),
    ];
    let mut outputs = Vec::new();
    let mut written = Vec::new();
    for (n, (file, codec, bitrate, stream)) in tracks.into_iter().enumerate() {
        let info =
            TrackInfo { track_id: 1, codec: codec.clone(), bitrate, language: "und".into(), name: stream.into() };
        let out = std::fs::File::create(dir.join(&file)).unwrap();
        let mut w = IsmvWriter::new(std::io::BufWriter::new(out), info.clone()).unwrap();
        let mut events = Vec::new();
        for f in 0..fragments {
            let start = offset + f * 2 * SECOND;
            let samples: Vec<Sample> = (0..5)
                .map(|i| {
                    let pts = (start + i * 400_000) as i64;
                    let fill = seed.wrapping_add((f as u8) * 8 + i as u8 + n as u8 * 64);
                    match codec {
                        CodecConfig::H264(_) => video_sample(pts, i == 0, fill),
                        CodecConfig::Aac(_) | CodecConfig::Ttml(_) => {
                            Sample { pts, duration: 400_000, sync: true, data: vec![fill; 7] }
                        }
                    }
                })
                .collect();
            events.push(w.write_fragment(&Fragment { start, end: start + 2 * SECOND, samples }).unwrap());
        }
        w.finish().unwrap();
        outputs.push(TrackOutput { file: file.clone(), track: info, fragments: events.clone() });
        written.push(Written { file, events });
    }
    write_manifests(dir, name, &outputs).unwrap();
    written
}

/// Bytes of a file range.
pub fn slice(path: &Path, offset: u64, len: u64) -> Vec<u8> {
    let b = std::fs::read(path).unwrap();
    b[offset as usize..(offset + len) as usize].to_vec()
}

/// An origin on 127.0.0.1:0 with its own runtime (kept alive as long as the value lives).
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: Option<ServerHandle>,
    pub rt: tokio::runtime::Runtime,
}

impl TestServer {
    pub fn start(root: &Path, player: PlayerConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let config = ServeConfig {
            root: root.to_path_buf(),
            addr: "127.0.0.1:0".parse().unwrap(),
            player,
            access_log: AccessLogTarget::Off,
            fragment_cache: 64 << 20,
            cache_max_age: 3600,
            limits: Default::default(),
            live: Default::default(),
        };
        let handle = rt.block_on(origin::serve(config)).unwrap();
        TestServer { addr: handle.local_addr, handle: Some(handle), rt }
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[])
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, method, path, headers)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.rt.block_on(h.shutdown());
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}
