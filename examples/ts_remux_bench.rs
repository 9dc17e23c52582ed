//! `bench/ts.sh` runs this: remux the first `moof`+`mdat` of a fragmented MP4 into MPEG-TS
//! (`media::ts::remux`) ITERATIONS times on THREADS threads and print segments per second.
//!
//!     cargo run --example ts_remux_bench -- FILE.mp4 [ITERATIONS] [THREADS]

use std::time::Instant;

use bytes::Bytes;
use ssfpack::format::scan::BoxScanner;
use ssfpack::media::ts::{remux, SegmentId, TrackSegment};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let file = args.get(1).ok_or("usage: ts_remux_bench FILE.mp4 [ITERATIONS] [THREADS]")?;
    let iterations: usize = args.get(2).map_or(Ok(200), |a| a.parse())?;
    let threads: usize = args.get(3).map_or(Ok(1), |a| a.parse())?;
    let mut scanner = BoxScanner::new(1 << 30);
    scanner.push(&std::fs::read(file)?);
    let (mut init, mut segment) = (Vec::new(), Vec::new());
    while let Some(b) = scanner.next_box()? {
        match () {
            _ if b.is(b"moof") && !segment.is_empty() => break,
            _ if b.is(b"moof") || b.is(b"mdat") => segment.extend_from_slice(&b.bytes),
            _ => init.extend_from_slice(&b.bytes),
        }
    }
    ssfpack::media::init()?;
    let track = TrackSegment {
        id: SegmentId { track: "video".into(), time: 0 },
        init: Bytes::from(init),
        segment: Bytes::from(segment),
    };
    let out = remux(std::slice::from_ref(&track))?;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..iterations {
                    remux(std::slice::from_ref(&track)).expect("remux");
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let n = (iterations * threads) as f64;
    println!(
        "{} bytes in, {} bytes of TS out; {threads} thread(s): {:.0} segments/s ({:.2} ms per segment per thread)",
        track.segment.len(),
        out.len(),
        n / secs,
        secs * 1e3 * threads as f64 / n
    );
    Ok(())
}
