//! One connection (a `--to` target, or one track of it) on its own thread, with its own reconnect state: probe, one chunked POST
//! carrying the header boxes and then the fragments as they come; on a dropped connection, a
//! timeout or an error answer, reconnect with backoff, send the **identical** header boxes, resend
//! the last two fragments of every track, and go on from the queue. Ends with an empty `mfra` and
//! the chunked terminator.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::http::{probe, Post};
use super::queue::{Item, Next, Queue};
use super::tls::Tls;
use super::url::TargetUrl;
use super::PushError;

/// The end of a live stream (IIS): an `mfra` box with nothing in it.
pub const EMPTY_MFRA: [u8; 8] = [0, 0, 0, 8, b'm', b'f', b'r', b'a'];

/// Totals of one target, for `--json` and the summary line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetTotals {
    pub url: String,
    /// Fragments sent (resends not counted).
    pub fragments: u64,
    /// Bytes sent, resends included.
    pub bytes: u64,
    pub reconnects: u64,
    /// Fragments sent again after a reconnect.
    pub resends: u64,
    /// Time spent disconnected after the first connection, seconds.
    pub outage_seconds: f64,
    /// Fragments dropped because the buffer overflowed.
    pub dropped: u64,
    /// Whether the end of stream was delivered.
    pub ended: bool,
}

/// How a target behaves.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub url: TargetUrl,
    pub token: Option<String>,
    /// Per fragment send (2 × the fragment duration).
    pub send_timeout: Duration,
    /// Give up after this long disconnected.
    pub max_outage: Option<Duration>,
    /// After the input ended, how long to keep trying to deliver what is left.
    pub drain: Duration,
}

const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long to wait for the point's answer to the end of the stream.
const END_ANSWER: Duration = Duration::from_secs(15);

/// Runs the target until the stream ended there (or it gave up, or the encode aborted).
pub fn run(
    cfg: &TargetConfig,
    queue: &Queue,
    tls: &Tls,
    status: &dyn Fn(&str),
) -> (TargetTotals, Result<(), PushError>) {
    let mut t = Target {
        cfg,
        queue,
        tls,
        totals: TargetTotals { url: cfg.url.text.clone(), ..Default::default() },
        recent: BTreeMap::new(),
    };
    let r = t.run(status);
    t.totals.dropped = queue.dropped();
    (t.totals, r)
}

struct Target<'a> {
    cfg: &'a TargetConfig,
    queue: &'a Queue,
    tls: &'a Tls,
    totals: TargetTotals,
    /// The last two fragments sent of each track, oldest first.
    recent: BTreeMap<u32, Vec<Item>>,
}

impl Target<'_> {
    fn run(&mut self, status: &dyn Fn(&str)) -> Result<(), PushError> {
        let url = &self.cfg.url;
        // The header boxes exist once every track's encoder has opened.
        let header = loop {
            if self.queue.is_aborted() {
                return Ok(());
            }
            if let Some(h) = self.queue.header(Duration::from_millis(200)) {
                break h;
            }
        };
        let mut backoff = BACKOFF_FIRST;
        let mut down_since = Instant::now();
        let mut ended_at: Option<Instant> = None;
        let mut connected_once = false;
        loop {
            if self.queue.is_aborted() {
                return Ok(());
            }
            if self.queue.is_ended() {
                let at = *ended_at.get_or_insert_with(Instant::now);
                if at.elapsed() > self.cfg.drain {
                    return Err(PushError::Outage {
                        url: url.text.clone(),
                        seconds: down_since.elapsed().as_secs_f64(),
                        why: "the input ended and the rest could not be delivered".into(),
                    });
                }
            }
            if let Some(max) = self.cfg.max_outage {
                if down_since.elapsed() > max {
                    return Err(PushError::Outage {
                        url: url.text.clone(),
                        seconds: down_since.elapsed().as_secs_f64(),
                        why: format!("--max-outage {}", max.as_secs_f64()),
                    });
                }
            }
            match self.connect(&header, connected_once) {
                Err(Fatal(e)) => return Err(e),
                Ok(Err(why)) => {
                    status(&format!("{url}: {why}; retrying in {:.1} s", backoff.as_secs_f64()));
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
                Ok(Ok(post)) => {
                    self.queue.connected.store(true, Ordering::Relaxed);
                    if connected_once {
                        self.totals.reconnects += 1;
                        self.queue.reconnects.fetch_add(1, Ordering::Relaxed);
                        self.totals.outage_seconds += down_since.elapsed().as_secs_f64();
                        status(&format!("{url}: reconnected (outage {:.1} s)", down_since.elapsed().as_secs_f64()));
                    }
                    connected_once = true;
                    backoff = BACKOFF_FIRST;
                    match self.stream(post) {
                        Ok(()) => return Ok(()),
                        Err(why) => {
                            self.queue.connected.store(false, Ordering::Relaxed);
                            status(&format!("{url}: {why}; reconnecting"));
                            down_since = Instant::now();
                        }
                    }
                }
            }
        }
    }

    /// Sleeps, waking early if the encode aborts.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end && !self.queue.is_aborted() {
            std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
        }
    }

    /// Probe, POST, header boxes and (after a reconnect) the last two fragments of each track.
    fn connect(&mut self, header: &[u8], again: bool) -> Result<Result<Post, String>, Fatal> {
        let url = &self.cfg.url;
        let token = self.cfg.token.as_deref();
        match probe(url, self.tls, token) {
            Err(e) => {
                if let Some(why) = super::tls::rejected(&e) {
                    return Err(Fatal(PushError::Untrusted { url: url.text.clone(), why }));
                }
                return Ok(Err(format!("cannot reach the point: {e}")));
            }
            Ok(a) if a.status == 200 => {}
            Ok(a) if (400..500).contains(&a.status) && a.status != 408 && a.status != 429 => {
                return Err(Fatal(PushError::Refused { url: url.text.clone(), status: a.status, text: a.text }));
            }
            Ok(a) => return Ok(Err(format!("the point answered {} ({})", a.status, a.text))),
        }
        let mut post = match Post::open(url, self.tls, token, self.cfg.send_timeout) {
            Ok(p) => p,
            Err(e) => return Ok(Err(format!("cannot open the POST: {e}"))),
        };
        if let Err(e) = post.send(header) {
            return Ok(Err(format!("sending the header boxes: {e}")));
        }
        self.totals.bytes += header.len() as u64;
        if again {
            let mut resend: Vec<&Item> = self.recent.values().flatten().collect();
            resend.sort_by_key(|i| i.time);
            for item in resend {
                if let Err(e) = post.send(&item.bytes) {
                    return Ok(Err(format!("resending: {e}")));
                }
                self.totals.resends += 1;
                self.totals.bytes += item.bytes.len() as u64;
            }
        }
        Ok(Ok(post))
    }

    /// Sends the queue's fragments until the end of the stream (`Ok`) or a failure (its reason).
    fn stream(&mut self, mut post: Post) -> Result<(), String> {
        loop {
            match self.queue.next(Duration::from_millis(200)) {
                Next::Abort => return Ok(()),
                Next::Idle => {
                    if let Some(why) = post.early_answer() {
                        return Err(why);
                    }
                }
                Next::Item(item) => {
                    if let Err(e) = post.send(&item.bytes) {
                        self.queue.unget(item);
                        return Err(format!("sending a fragment: {e}"));
                    }
                    self.totals.fragments += 1;
                    self.queue.sent.fetch_add(1, Ordering::Relaxed);
                    self.queue.sent_until.fetch_max(item.time + item.duration, Ordering::Relaxed);
                    self.totals.bytes += item.bytes.len() as u64;
                    let recent = self.recent.entry(item.track_id).or_default();
                    recent.push(item);
                    if recent.len() > 2 {
                        recent.remove(0);
                    }
                }
                Next::End => {
                    post.send(&EMPTY_MFRA).map_err(|e| format!("sending the end of stream: {e}"))?;
                    let a = post.end(END_ANSWER).map_err(|e| format!("ending the stream: {e}"))?;
                    if a.status != 200 {
                        return Err(format!("the point answered {} ({}) to the end of the stream", a.status, a.text));
                    }
                    self.totals.bytes += EMPTY_MFRA.len() as u64;
                    self.totals.ended = true;
                    return Ok(());
                }
            }
        }
    }
}

/// An error that ends the target (no retry).
struct Fatal(PushError);
