//! `ssfpack push`: a live encoder for a publishing point (MS-SSTR 2.2.7, Azure fragmented-MP4 live
//! ingest). The main job's encode graph ([`crate::pipeline::stream`]) hands every track's fragments
//! to a [`Hub`], which builds the header boxes once (`ftyp` `isml`, the live server manifest box,
//! `moov`) and queues each fragment for every connection carrying its track; one thread per
//! connection posts them ([`target`]), reconnecting on faults, each with its own state. A
//! connection is one POST: one per `--to` target, or one per target and track with
//! `--post-per-track`.
//!
//! ```text
//!   encode graph ─▶ Hub ─┬─▶ queue A ─▶ connection thread A ─▶ POST …/A.isml/Streams(s)
//!                        └─▶ queue B ─▶ connection thread B ─▶ POST …/B.isml/Streams(s)
//! ```

pub mod http;
pub mod hub;
pub mod queue;
pub mod target;
pub mod tls;
pub mod url;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::format::{FormatError, TIMESCALE};
use crate::pipeline::report::Report;
use crate::pipeline::stream::{encode_live, StreamOptions};
use crate::pipeline::PipelineError;
pub use hub::{header_boxes, Connection, Hub, HubConfig};
pub use target::TargetTotals;
use url::TargetUrl;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("{0}")]
    Usage(String),
    /// The point answered 4xx (no such point, forbidden): not retried.
    #[error("{url}: the point refused the push: {status} {text}")]
    Refused { url: String, status: u16, text: String },
    /// An https target whose certificate is not trusted: not retried.
    #[error("{url}: {why} (give the CA with --ca-file)")]
    Untrusted { url: String, why: String },
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
    /// One POST per track (Azure's style) instead of one for all tracks.
    pub per_track: bool,
    /// Extra trusted certificates (PEM) for https targets, besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
    pub start_time: StartTime,
    pub max_outage: Option<Duration>,
    /// Bounds of each connection's buffer.
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
    /// One entry per connection (per target, or per target and track).
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
    let tls = tls::Tls::new(opts.targets.iter().any(|t| t.tls), opts.ca_file.as_deref())?;
    // A point that does not exist or refuses us fails now, before anything is encoded.
    for url in &opts.targets {
        match http::probe(url, &tls, opts.token.as_deref()) {
            Ok(a) if (400..500).contains(&a.status) && a.status != 408 && a.status != 429 => {
                return Err(PushError::Refused { url: url.text.clone(), status: a.status, text: a.text });
            }
            Err(e) => {
                if let Some(why) = tls::rejected(&e) {
                    return Err(PushError::Untrusted { url: url.text.clone(), why });
                }
            }
            Ok(_) => {}
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
    let (launch, launched) = mpsc::channel::<Arc<Connection>>();
    let hub = Arc::new(Hub::new(
        HubConfig {
            targets: opts.targets.clone(),
            per_track: opts.per_track,
            offset,
            buffer_fragments: opts.buffer_fragments,
            buffer_bytes: opts.buffer_bytes,
        },
        launch,
    ));
    let send_timeout = Duration::from_secs_f64((2.0 * opts.stream.fragment_duration).max(2.0));
    let drain = opts.max_outage.unwrap_or(Duration::from_secs(60));
    let halt = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let failed = AtomicUsize::new(0);
    let (encoded, outcomes) = std::thread::scope(|scope| {
        // Runs each connection on its own thread as the hub opens it.
        let (hub_ref, halt_ref, failed, tls) = (&hub, &halt, &failed, &tls);
        let launcher = scope.spawn(move || {
            let mut running = Vec::new();
            for c in launched {
                let cfg = target::TargetConfig {
                    url: c.url.clone(),
                    token: opts.token.clone(),
                    send_timeout,
                    max_outage: opts.max_outage,
                    drain,
                };
                let queue = Arc::clone(&c.queue);
                let handle = scope.spawn(move || {
                    let r = target::run(&cfg, &queue, tls, status);
                    if r.1.is_err() && failed.fetch_add(1, Ordering::SeqCst) + 1 == hub_ref.connections().len() {
                        // Every connection gave up: nothing to encode for.
                        halt_ref.store(1, Ordering::SeqCst);
                    }
                    r
                });
                running.push((c, handle));
            }
            running
                .into_iter()
                .map(|(c, h)| {
                    h.join().unwrap_or_else(|_| {
                        (
                            TargetTotals { url: c.url.text.clone(), ..Default::default() },
                            Err(PushError::Usage("panicked".into())),
                        )
                    })
                })
                .collect::<Vec<_>>()
        });
        // Signals end the input (cleanly); a progress line every PROGRESS.
        let position = Position { inner: report, media: Arc::default() };
        let media = Arc::clone(&position.media);
        let (halt, done) = (&halt, &done);
        let targets = opts.targets.len();
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
                    let line = progress_line(
                        started.elapsed(),
                        media.load(Ordering::Relaxed),
                        targets,
                        hub_ref.offset(),
                        &hub_ref.connections(),
                    );
                    status(&line);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let encoded = encode_live(&opts.stream, hub.clone(), halt, &position);
        hub.close();
        for c in hub.connections() {
            if encoded.is_ok() {
                c.queue.end();
            } else {
                c.queue.abort();
            }
        }
        let outcomes = launcher.join().unwrap_or_default();
        done.store(true, Ordering::SeqCst);
        let _ = watcher.join();
        (encoded, outcomes)
    });
    let mut failures = Vec::new();
    let mut targets = Vec::new();
    for (totals, r) in outcomes {
        if let Err(e) = r {
            if let PushError::Refused { .. } | PushError::Untrusted { .. } = e {
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

/// `t=MEDIA s encoded (SPEED x real time); target 1: connected, N sent (to t=S s), W waiting, R
/// reconnects; …` (`3/4 connected` when a target has one connection per track; `to t=` is where
/// the newest fragment sent on every connection of the target ends, from the stream's start).
fn progress_line(
    elapsed: Duration,
    media_ticks: i64,
    targets: usize,
    offset: u64,
    connections: &[Arc<Connection>],
) -> String {
    let media = media_ticks.max(0) as f64 / TIMESCALE as f64;
    let mut line = format!("t={media:.1} s encoded ({:.2}x real time)", media / elapsed.as_secs_f64().max(1e-3));
    for t in 0..targets {
        let mine: Vec<_> = connections.iter().filter(|c| c.target == t).map(|c| &c.queue).collect();
        let up = mine.iter().filter(|q| q.connected.load(Ordering::Relaxed)).count();
        let state = match (up, mine.len()) {
            (0, _) => "disconnected".to_string(),
            (1, 1) => "connected".to_string(),
            (u, n) => format!("{u}/{n} connected"),
        };
        let sum = |f: &dyn Fn(&queue::Queue) -> u64| mine.iter().map(|q| f(q)).sum::<u64>();
        let until = mine.iter().map(|q| q.sent_until.load(Ordering::Relaxed)).min().unwrap_or(0);
        let until = until.saturating_sub(offset) as f64 / TIMESCALE as f64;
        line.push_str(&format!(
            "; target {}: {state}, {} sent (to t={until:.1} s), {} waiting, {} reconnects",
            t + 1,
            sum(&|q| q.sent.load(Ordering::Relaxed)),
            sum(&|q| q.waiting() as u64),
            sum(&|q| q.reconnects.load(Ordering::Relaxed))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_names_each_target_its_state_and_how_far_it_sent() {
        let conn = |target, up: bool, sent, until| {
            let c = Connection {
                target,
                url: TargetUrl::parse("http://h/S.isml/Streams(1)").unwrap(),
                queue: Arc::new(queue::Queue::new(4, 1 << 20)),
            };
            c.queue.connected.store(up, Ordering::Relaxed);
            c.queue.sent.store(sent, Ordering::Relaxed);
            c.queue.sent_until.store(1_000 * TIMESCALE + until, Ordering::Relaxed);
            Arc::new(c)
        };
        let conns =
            [conn(0, true, 5, 8 * TIMESCALE), conn(0, false, 4, 6 * TIMESCALE), conn(1, true, 9, 10 * TIMESCALE)];
        let line = progress_line(Duration::from_secs(10), 10 * TIMESCALE as i64, 2, 1_000 * TIMESCALE, &conns);
        assert_eq!(
            line,
            "t=10.0 s encoded (1.00x real time); \
             target 1: 1/2 connected, 9 sent (to t=6.0 s), 0 waiting, 0 reconnects; \
             target 2: connected, 9 sent (to t=10.0 s), 0 waiting, 0 reconnects"
        );
    }
}
