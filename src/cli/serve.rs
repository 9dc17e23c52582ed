//! `ssfpack serve DIR`: the Smooth Streaming origin with player pages, until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::origin::{self, AccessLogTarget, Limits, PlayerConfig, ServeConfig};

/// How long requests in flight may take to finish after Ctrl-C.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Args)]
#[command(
    after_help = examples_help!(
        "ssfpack serve MyStaticFolder            # then open http://127.0.0.1:8080/",
        "ssfpack serve /srv/media --addr 0.0.0.0:80 --access-log /var/log/ssfpack.log",
    ),
    after_long_help = long_examples_help!(
        "ssfpack serve MyStaticFolder            # then open http://127.0.0.1:8080/",
        "ssfpack serve /srv/media --addr 0.0.0.0:80 --access-log /var/log/ssfpack.log",
        "ssfpack serve Out --player-js-dir node_modules/dashjs/dist   # player pages work offline",
        "# any Smooth Streaming manifest in the server's player page:",
        "#   http://127.0.0.1:8080/_player/?manifest=http://host/Movie.ism/Manifest",
    )
)]
pub struct ServeArgs {
    /// Folder whose presentations (`*.ism`, any depth) are served, with IIS URL semantics.
    pub dir: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Base URL the player pages load `dash.all.min.js` and `dash.mss.min.js` from
    /// [default: /_player/dashjs/… when a local dash.js is found, else a jsDelivr CDN URL].
    #[arg(long, value_name = "URL")]
    pub player_js_base: Option<String>,
    /// A local dash.js `dist` folder (e.g. node_modules/dashjs/dist) to serve under /_player/dashjs/.
    #[arg(long, value_name = "DIR")]
    pub player_js_dir: Option<PathBuf>,
    /// Access log: `-` (stderr), `off`, or a file to append to.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub access_log: AccessLogTarget,
    /// MiB of recently served fragments kept in memory (0: read every fragment from its file).
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub fragment_cache: u64,
    /// `Cache-Control: public, max-age=SECONDS` of fragments (how long a CDN or player may reuse one
    /// without asking), 0 to 31536000; manifests, pages and files are always `no-cache`
    /// (revalidated by ETag).
    #[arg(long, value_name = "SECONDS", default_value_t = crate::origin::files::FRAGMENT_MAX_AGE,
          value_parser = clap::value_parser!(u64).range(0..=31_536_000))]
    pub cache_max_age: u64,
    /// Seconds a client has to send a whole request head (from its first byte; for the first
    /// request, from the connection), 1 to 3600; then the connection is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a keep-alive connection with no request in flight may stay silent before it is
    /// closed (1 to 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout: u64,
    /// Open connections at most (1 to 1000000); further clients wait in the listen backlog until
    /// one closes.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Also accept live pushes (POST …/NAME.isml/Streams(ID)) from this network (repeatable;
    /// e.g. 10.0.0.0/8). Without it, and without --ingest-token, only loopback may push.
    #[arg(long, value_name = "CIDR")]
    pub ingest_allow: Vec<crate::origin::live::Cidr>,
    /// Require this token on every push (`Authorization: Bearer TOKEN` or `?token=TOKEN`), from
    /// any address, loopback included.
    #[arg(long, value_name = "TOKEN")]
    pub ingest_token: Option<String>,
    /// Seconds a push may send nothing before it is ended (the encoder may reconnect).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ingest_timeout: u64,
    /// Pushes (POSTs) at once over all publishing points; each point takes at most 16.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub ingest_max: u32,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ssfpack-serve")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ServeConfig {
        root: args.dir.clone(),
        addr: args.addr,
        player: PlayerConfig { js_base: args.player_js_base, js_dir: args.player_js_dir },
        access_log: args.access_log,
        fragment_cache: args.fragment_cache.saturating_mul(1 << 20),
        cache_max_age: args.cache_max_age,
        limits: Limits {
            header_timeout: Duration::from_secs(args.header_timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
            max_connections: args.max_connections as usize,
        },
        live: crate::origin::live::LiveConfig {
            allow: args.ingest_allow.clone(),
            token: args.ingest_token.clone(),
            timeout: Duration::from_secs(args.ingest_timeout),
            max_posts: args.ingest_max as usize,
        },
    };
    let mut handle = origin::serve(config).await?;
    eprintln!(
        "ssfpack: serving {} at http://{}/ (dash.js from {}); Ctrl-C to stop",
        args.dir.display(),
        handle.local_addr,
        handle.js_base
    );
    let signal = tokio::select! {
        r = &mut std::pin::pin!(handle.wait()) => {
            r.context("the server stopped")?;
            return Ok(ExitCode::SUCCESS);
        }
        s = shutdown_signal() => s,
    };
    eprintln!("ssfpack: stopping (requests in flight get {}s)", GRACE.as_secs());
    match tokio::time::timeout(GRACE, handle.shutdown()).await {
        Ok(r) => r.context("the server failed while stopping")?,
        Err(_) => eprintln!("ssfpack: requests still running after {}s, exiting", GRACE.as_secs()),
    }
    Ok(ExitCode::from(signal))
}

/// Waits for Ctrl-C (exit code 130) or, on Unix, SIGTERM (143).
async fn shutdown_signal() -> u8 {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return 130;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => 130,
            _ = term.recv() => 143,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        130
    }
}
