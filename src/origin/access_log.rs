//! The access log: one line per request in the Combined Log Format plus the time taken, written by a
//! dedicated thread so request handlers never block on a slow terminal or disk. When the thread falls
//! behind, lines are dropped (and counted) rather than stalling the server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Where access log lines go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AccessLogTarget {
    #[default]
    Off,
    Stderr,
    File(PathBuf),
}

impl std::str::FromStr for AccessLogTarget {
    type Err = std::convert::Infallible;

    /// `off`, `-` (stderr) or a file path (appended to).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "off" | "none" => AccessLogTarget::Off,
            "-" | "stderr" => AccessLogTarget::Stderr,
            path => AccessLogTarget::File(PathBuf::from(path)),
        })
    }
}

/// A handle to the log thread; cloning shares it.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: Option<SyncSender<String>>,
    dropped: Arc<AtomicU64>,
}

impl AccessLog {
    /// Starts the writer thread for `target` (none for [`AccessLogTarget::Off`]).
    pub fn start(target: &AccessLogTarget) -> std::io::Result<Self> {
        let mut out: Box<dyn Write + Send> = match target {
            AccessLogTarget::Off => {
                return Ok(AccessLog { tx: None, dropped: Arc::default() });
            }
            AccessLogTarget::Stderr => Box::new(std::io::stderr()),
            AccessLogTarget::File(p) => Box::new(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        };
        let (tx, rx) = sync_channel::<String>(8192);
        std::thread::Builder::new().name("ssfpack-access-log".into()).spawn(move || {
            for line in rx {
                if out.write_all(line.as_bytes()).is_err() {
                    break;
                }
                let _ = out.flush();
            }
        })?;
        Ok(AccessLog { tx: Some(tx), dropped: Arc::default() })
    }

    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn send(&self, line: String) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_)) = tx.try_send(line) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Middleware: logs `REMOTE - - [DATE] "METHOD PATH VERSION" STATUS BYTES "REFERER" "AGENT" MSms`.
pub async fn middleware(State(log): State<AccessLog>, req: Request, next: Next) -> Response {
    if log.tx.is_none() {
        return next.run(req).await;
    }
    let start = Instant::now();
    let remote =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map_or_else(|| "-".to_string(), |c| c.0.ip().to_string());
    let method = req.method().clone();
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let version = format!("{:?}", req.version());
    let (referer, agent) = {
        // Scoped: a borrow of the request (whose body is not Sync) must not live across the await.
        let header = |name: axum::http::HeaderName| {
            req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").replace('"', "%22")
        };
        (header(axum::http::header::REFERER), header(axum::http::header::USER_AGENT))
    };
    let response = next.run(req).await;
    let bytes = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let target = target.replace(|c: char| c.is_control() || c == '"', "%");
    log.send(format!(
        "{remote} - - [{}] \"{method} {target} {version}\" {} {bytes} \"{referer}\" \"{agent}\" {:.1}ms\n",
        httpdate::fmt_http_date(SystemTime::now()),
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0,
    ));
    response
}
