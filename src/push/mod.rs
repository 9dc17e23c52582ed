//! `ssfpack push`: a live encoder for a publishing point (MS-SSTR 2.2.7, Azure fragmented-MP4 live
//! ingest). The main job's encode graph ([`crate::pipeline::stream`]) hands every track's fragments
//! to a [`Hub`], which builds the header boxes once (`ftyp` `isml`, the live server manifest box,
//! one `moov` for all tracks) and queues each fragment for every target; one thread per `--to`
//! target posts them ([`target`]), reconnecting on faults, each with its own state.
//!
//! ```text
//!   encode graph ─▶ Hub ─┬─▶ queue A ─▶ target thread A ─▶ POST …/A.isml/Streams(s)
//!                        └─▶ queue B ─▶ target thread B ─▶ POST …/B.isml/Streams(s)
//! ```

pub mod http;
pub mod queue;
pub mod target;
pub mod url;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::format::boxes::encode;
use crate::format::fragmenter::Fragment;
use crate::format::live::LiveServerManifestBox;
use crate::format::manifest::{ServerManifest, ServerTrack};
use crate::format::presentation::stream_index;
use crate::format::writer::{fragment_bytes, ftyp, moov_tracks};
use crate::format::{FormatError, Sample, TrackInfo, TIMESCALE};
use crate::pipeline::report::Report;
use crate::pipeline::sink::{LiveOutput, LiveTrack};
use crate::pipeline::stream::{encode_live, StreamOptions};
use crate::pipeline::PipelineError;
use queue::{Item, Queue};
pub use target::TargetTotals;
use url::TargetUrl;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Usage(String),
    /// The point answered 4xx (no such point, forbidden): not retried.
    #[error("{url}: the point refused the push: {status} {text}")]
    Refused { url: String, status: u16, text: String },
    #[error("{url}: gave up after {seconds:.1} s disconnected ({why})")]
    Outage { url: String, seconds: f64, why: String },
    #[error(transparent)]
    Encode(#[from] PipelineError),
    #[error("header boxes: {0}")]
    Format(#[from] FormatError),
}

/// Where the timestamps start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTime {
    /// UTC (ticks since 1970): a restarted encoder continues the point's timeline.
    Now,
    Zero,
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub stream: StreamOptions,
    pub targets: Vec<TargetUrl>,
    pub token: Option<String>,
    pub start_time: StartTime,
    pub max_outage: Option<Duration>,
    /// Bounds of each target's buffer.
    pub buffer_fragments: usize,
    pub buffer_bytes: usize,
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub struct PushSummary {
    pub media_seconds: f64,
    pub elapsed_seconds: f64,
    /// Media time encoded per second of wall time.
    pub speed: f64,
    pub frames: u64,
    pub paced: bool,
    pub fragments: u64,
    pub bytes: u64,
    pub reconnects: u64,
    pub resends: u64,
    pub outage_seconds: f64,
    pub targets: Vec<TargetTotals>,
    /// Targets that gave up, one line each.
    pub failures: Vec<String>,
}

/// Pushes `opts.stream.input` to every target until the input ends or `signal` is set (then the
/// stream ends cleanly). `status` gets one line per connection event.
pub fn run(
    opts: &PushOptions,
    signal: &AtomicUsize,
    report: &dyn Report,
    status: &(dyn Fn(&str) + Sync),
) -> Result<PushSummary, PushError> {
    if opts.targets.is_empty() {
        return Err(PushError::Usage("no target URL".into()));
    }
    // A point that does not exist or refuses us fails now, before anything is encoded.
    for url in &opts.targets {
        if let Ok(a) = http::probe(url, opts.token.as_deref()) {
            if (400..500).contains(&a.status) && a.status != 408 && a.status != 429 {
                return Err(PushError::Refused { url: url.text.clone(), status: a.status, text: a.text });
            }
        }
    }
    let offset = match opts.start_time {
        StartTime::Zero => 0,
        StartTime::Now => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            // Whole milliseconds, so the times stay round in any timescale.
            now.as_millis() as u64 * (TIMESCALE / 1000)
        }
    };
    let queues: Vec<Arc<Queue>> =
        opts.targets.iter().map(|_| Arc::new(Queue::new(opts.buffer_fragments, opts.buffer_bytes))).collect();
    let hub = Arc::new(Hub { queues: queues.clone(), offset, tracks: Mutex::default() });
    let send_timeout = Duration::from_secs_f64((2.0 * opts.stream.fragment_duration).max(2.0));
    let drain = opts.max_outage.unwrap_or(Duration::from_secs(60));
    let halt = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let failed = AtomicUsize::new(0);
    let (encoded, outcomes) = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (url, q) in opts.targets.iter().zip(&queues) {
            let cfg = target::TargetConfig {
                url: url.clone(),
                token: opts.token.clone(),
                send_timeout,
                max_outage: opts.max_outage,
                drain,
            };
            let (failed, halt, count) = (&failed, &halt, opts.targets.len());
            handles.push(scope.spawn(move || {
                let r = target::run(&cfg, q, status);
                if r.1.is_err() && failed.fetch_add(1, Ordering::SeqCst) + 1 == count {
                    // Every target gave up: nothing to encode for.
                    halt.store(1, Ordering::SeqCst);
                }
                r
            }));
        }
        // Signals end the input (cleanly); a progress line every PROGRESS.
        let position = Position { inner: report, media: Arc::default() };
        let media = Arc::clone(&position.media);
        let (queues, halt, done) = (&queues, &halt, &done);
        let watcher = scope.spawn(move || {
            let started = std::time::Instant::now();
            let mut next = PROGRESS;
            while !done.load(Ordering::SeqCst) {
                let sig = signal.load(Ordering::SeqCst);
                if sig != 0 {
                    halt.store(sig, Ordering::SeqCst);
                }
                if started.elapsed() >= next {
                    next += PROGRESS;
                    status(&progress_line(started.elapsed(), media.load(Ordering::Relaxed), queues));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let encoded = encode_live(&opts.stream, hub.clone(), halt, &position);
        for q in queues {
            if encoded.is_ok() {
                q.end();
            } else {
                q.abort();
            }
        }
        let outcomes: Vec<_> = handles
            .into_iter()
            .zip(&opts.targets)
            .map(|(h, url)| {
                h.join().unwrap_or_else(|_| {
                    (
                        TargetTotals { url: url.text.clone(), ..Default::default() },
                        Err(PushError::Usage("panicked".into())),
                    )
                })
            })
            .collect();
        done.store(true, Ordering::SeqCst);
        let _ = watcher.join();
        (encoded, outcomes)
    });
    let mut failures = Vec::new();
    let mut targets = Vec::new();
    for (totals, r) in outcomes {
        if let Err(e) = r {
            if let PushError::Refused { .. } = e {
                return Err(e);
            }
            failures.push(e.to_string());
        }
        targets.push(totals);
    }
    let stream = encoded?;
    let sum = |f: fn(&TargetTotals) -> u64| targets.iter().map(f).sum::<u64>();
    Ok(PushSummary {
        media_seconds: stream.media_seconds,
        elapsed_seconds: stream.elapsed_seconds,
        speed: stream.media_seconds / stream.elapsed_seconds.max(1e-3),
        frames: stream.frames,
        paced: stream.paced,
        fragments: sum(|t| t.fragments),
        bytes: sum(|t| t.bytes),
        reconnects: sum(|t| t.reconnects),
        resends: sum(|t| t.resends),
        outage_seconds: targets.iter().map(|t| t.outage_seconds).sum(),
        targets,
        failures,
    })
}

/// How often the progress line is printed.
const PROGRESS: Duration = Duration::from_secs(10);

/// `t=MEDIA s (SPEED x real time); target 1: connected, N sent, R reconnects; …`
fn progress_line(elapsed: Duration, media_ticks: i64, queues: &[Arc<Queue>]) -> String {
    let media = media_ticks.max(0) as f64 / TIMESCALE as f64;
    let mut line = format!("t={media:.1} s encoded ({:.2}x real time)", media / elapsed.as_secs_f64().max(1e-3));
    for (i, q) in queues.iter().enumerate() {
        let state = if q.connected.load(Ordering::Relaxed) { "connected" } else { "disconnected" };
        line.push_str(&format!(
            "; target {}: {state}, {} sent, {} waiting, {} reconnects",
            i + 1,
            q.sent.load(Ordering::Relaxed),
            q.waiting(),
            q.reconnects.load(Ordering::Relaxed)
        ));
    }
    line
}

/// A [`Report`] that also records the media time the decode reached (for the progress line).
struct Position<'a> {
    inner: &'a dyn Report,
    media: Arc<AtomicI64>,
}

struct PositionMeter {
    inner: Box<dyn crate::pipeline::report::Meter>,
    media: Arc<AtomicI64>,
}

impl Report for Position<'_> {
    fn warn(&self, message: &str) {
        self.inner.warn(message);
    }

    fn meter(&self, label: Option<&str>, total: Option<u64>) -> Box<dyn crate::pipeline::report::Meter> {
        let inner = self.inner.meter(label, total);
        match label {
            None => Box::new(PositionMeter { inner, media: Arc::clone(&self.media) }),
            Some(_) => inner,
        }
    }
}

impl crate::pipeline::report::Meter for PositionMeter {
    fn item(&self, media: i64) {
        self.inner.item(media);
    }

    fn media(&self, media: i64) {
        self.media.store(media, Ordering::Relaxed);
        self.inner.media(media);
    }

    fn done(&self) {
        self.inner.done();
    }
}

/// The tracks as their encoders open, and the header boxes once all have.
#[derive(Default)]
struct Tracks {
    expected: usize,
    infos: Vec<TrackInfo>,
}

/// The encode's live output: header boxes and fragments to every target's queue.
pub struct Hub {
    queues: Vec<Arc<Queue>>,
    /// Added to every timestamp (`--start-time now`).
    offset: u64,
    tracks: Mutex<Tracks>,
}

/// `ftyp`, the live server manifest box and one `moov` for `tracks`: identical bytes for the same
/// tracks, so every reconnect sends the same header boxes.
pub fn header_boxes(tracks: &[TrackInfo]) -> Result<Vec<u8>, FormatError> {
    let mut sorted = tracks.to_vec();
    sorted.sort_by_key(|t| t.track_id);
    let mut smil_tracks = Vec::new();
    for t in &sorted {
        let level = stream_index(&t.name, &[t], Vec::new())?.quality_levels.remove(0);
        let server = ServerTrack {
            kind: t.kind(),
            src: String::new(),
            system_bitrate: t.bitrate.max(1),
            track_id: t.track_id,
            track_name: t.name.clone(),
            language: Some(t.language.clone()),
        };
        smil_tracks.push((server, level));
    }
    let smil = ServerManifest::ingest_xml(&smil_tracks)?;
    let mut out = encode(&ftyp(), "ftyp")?;
    out.extend(encode(&LiveServerManifestBox { smil }.to_unknown_box(), "live server manifest")?);
    out.extend(encode(&moov_tracks(&sorted)?, "moov")?);
    Ok(out)
}

impl LiveOutput for Hub {
    fn expect(&self, tracks: usize) {
        self.tracks.lock().unwrap_or_else(PoisonError::into_inner).expected = tracks;
    }

    fn track(&self, info: &TrackInfo) -> Box<dyn LiveTrack> {
        let mut g = self.tracks.lock().unwrap_or_else(PoisonError::into_inner);
        g.infos.push(info.clone());
        if g.infos.len() == g.expected {
            match header_boxes(&g.infos) {
                Ok(h) => {
                    let h = Arc::new(h);
                    self.queues.iter().for_each(|q| q.set_header(Arc::clone(&h)));
                }
                Err(e) => {
                    tracing::error!("building the header boxes: {e}");
                    self.queues.iter().for_each(|q| q.abort());
                }
            }
        }
        Box::new(PushTrack { queues: self.queues.clone(), offset: self.offset, info: info.clone() })
    }
}

struct PushTrack {
    queues: Vec<Arc<Queue>>,
    offset: u64,
    info: TrackInfo,
}

impl LiveTrack for PushTrack {
    fn fragment(&mut self, fragment: &Fragment, sequence: u32) -> Result<u64, FormatError> {
        let shifted;
        let f = if self.offset == 0 {
            fragment
        } else {
            let by = self.offset as i64;
            shifted = Fragment {
                start: fragment.start + self.offset,
                end: fragment.end + self.offset,
                samples: fragment.samples.iter().map(|s| Sample { pts: s.pts + by, ..s.clone() }).collect(),
            };
            &shifted
        };
        let bytes = Arc::new(fragment_bytes(&self.info, f, sequence)?);
        let item = Item { track_id: self.info.track_id, time: f.start, bytes: Arc::clone(&bytes) };
        for (i, q) in self.queues.iter().enumerate() {
            let dropped = q.push(item.clone());
            if dropped > 0 {
                tracing::warn!(
                    "target {}: buffer full: dropped the {dropped} oldest waiting fragment(s) ({} dropped in all)",
                    i + 1,
                    q.dropped()
                );
            }
        }
        Ok(bytes.len() as u64)
    }
}
