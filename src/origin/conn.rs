//! The origin's connections: an accept loop with a cap on open connections, and per connection
//! hyper's HTTP/1.1 with a header-read timeout and an idle keep-alive timeout.
//!
//! hyper 1.x arms its `header_read_timeout` as soon as it starts waiting for a request head, that is
//! at accept and again right after each response: an idle keep-alive connection would be closed
//! after the *header* timeout, and an idle timeout longer than it could not exist. So each
//! connection keeps its own [`Activity`] (fed by its socket reads and writes and by the requests
//! it is serving) and a watchdog closes it:
//!
//! - when a head is being waited for and the first byte of it (for the first request: the
//!   connection itself) came more than `header_timeout` ago;
//! - when no request is in flight and nothing was received or sent for `idle_timeout`.
//!
//! A request in flight (from its head until hyper has taken the last byte of its body) is never
//! cut. hyper's own header timer stays on as a backstop at the sum of both timeouts.
//!
//! At `max_connections` open connections the loop stops calling `accept`: new clients wait in the
//! kernel's listen backlog and are served, in order, as slots free. One warning is logged when the
//! cap is reached (then at most one a minute), never one per client.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower_service::Service;

/// Limits on clients: how long they may take and how many may be connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to receive a whole request head, from its first byte (for the first request of a
    /// connection: from the connection).
    pub header_timeout: Duration,
    /// Time a connection with no request in flight may stay silent.
    pub idle_timeout: Duration,
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { header_timeout: Duration::from_secs(10), idle_timeout: Duration::from_secs(60), max_connections: 1024 }
    }
}

/// Repeated warnings (cap reached, accept failing) are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Accepts connections on `listener` and serves `router` on them until `stop` fires (or its sender
/// is dropped); then stops accepting, lets the open connections finish their requests and returns
/// once they are all closed.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping_tx, stopping) = watch::channel(false);
    let mut cap_warned: Option<Instant> = None;
    let mut accept_warned: Option<Instant> = None;
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if cap_warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    cap_warned = Some(Instant::now());
                    tracing::warn!(
                        "{} connections open (--max-connections): new clients wait in the listen backlog until one closes",
                        limits.max_connections
                    );
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = &mut stop => break,
                }
            }
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut stop => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                tokio::spawn(connection(tcp, peer, router.clone(), limits, stopping.clone(), permit));
            }
            Err(e) if is_per_connection(&e) => tracing::debug!("accept: {e}"),
            Err(e) => {
                // Out of file descriptors or similar: back off instead of spinning.
                if accept_warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    accept_warned = Some(Instant::now());
                    tracing::warn!("cannot accept connections: {e}");
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = &mut stop => break,
                }
            }
        }
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock)
}

/// Serves one connection until the client or a timeout closes it (or shutdown lets it finish).
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    // No Nagle: a streamed body goes out in a second write after the headers, and Nagle plus the
    // client's delayed ACK would add ~40 ms to small responses.
    let _ = tcp.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { io: tcp, activity: activity.clone() });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let guard = InFlight::begin(requests.clone());
        let mut router = router.clone();
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        async move {
            std::future::poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut router, cx)).await?;
            let response = router.call(req).await?;
            Ok::<_, std::convert::Infallible>(response.map(|inner| Tracked { inner, _guard: guard }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout + limits.idle_timeout);
    let mut conn = std::pin::pin!(builder.serve_connection(io, service));
    let mut shutting_down = false;
    loop {
        if !shutting_down && *stopping.borrow_and_update() {
            shutting_down = true;
            conn.as_mut().graceful_shutdown();
        }
        let deadline = activity.deadline(&limits);
        let changed = activity.changed.notified();
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection from {peer}: {e}");
                }
                return;
            }
            r = stopping.changed(), if !shutting_down => {
                if r.is_err() {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = changed => {}
            () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("connection from {peer}: closed by the header or idle timeout");
                    return;
                }
            }
        }
    }
}

/// What the watchdog of one connection needs to know.
#[derive(Debug)]
struct Activity {
    state: Mutex<State>,
    /// Woken when the deadline may have moved earlier (a head started, the last request ended).
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests whose response body hyper has not finished taking.
    in_flight: u32,
    /// When the head being waited for started (its first byte; the connection for the first one).
    head_since: Option<Instant>,
    /// The last byte received or sent, or the end of the last request.
    last: Instant,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Activity { state: Mutex::new(State { in_flight: 0, head_since: Some(now), last: now }), changed: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn received(&self) {
        let now = Instant::now();
        let mut s = self.lock();
        s.last = now;
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(now);
            drop(s);
            self.changed.notify_one();
        }
    }

    fn sent(&self) {
        self.lock().last = Instant::now();
    }

    /// When the connection is to be closed, if nothing happens until then; none while a request is
    /// in flight.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let s = self.lock();
        (s.in_flight == 0).then(|| match s.head_since {
            Some(t) => t + limits.header_timeout,
            None => s.last + limits.idle_timeout,
        })
    }
}

/// Marks a request in flight from its head until hyper drops its response body.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        {
            let mut s = activity.lock();
            s.in_flight += 1;
            s.head_since = None;
        }
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let idle = {
            let mut s = self.0.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            s.last = Instant::now();
            s.in_flight == 0
        };
        if idle {
            self.0.changed.notify_one();
        }
    }
}

/// A response body that keeps its request in flight.
struct Tracked {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, reporting reads and writes to the connection's [`Activity`].
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.sent();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.sent();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
