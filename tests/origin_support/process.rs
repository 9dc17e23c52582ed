//! The real `ssfpack serve` binary as a child process on a loopback port, with its stderr collected
//! line by line (so tests can await a log line instead of sleeping).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The stderr lines so far, whether the stream ended, and a condition variable for new lines.
type Lines = Arc<(Mutex<(Vec<String>, bool)>, Condvar)>;

/// A running `ssfpack serve`; killed when dropped.
pub struct ServeProcess {
    child: Child,
    pub addr: SocketAddr,
    stderr: Lines,
}

impl ServeProcess {
    /// Starts `ssfpack serve ROOT --addr 127.0.0.1:0 --access-log off ARGS…` and waits (at most 30 s)
    /// for its "serving … at http://ADDR/" line.
    pub fn start(root: &Path, args: &[&str]) -> Self {
        Self::start_on(root, "127.0.0.1:0", args)
    }

    /// [`Self::start`] on a given address (a restart on the same port).
    pub fn start_on(root: &Path, addr: &str, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ssfpack"))
            .arg("serve")
            .arg(root)
            .args(["--addr", addr, "--access-log", "off", "--player-js-base", "https://example.invalid/js/"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssfpack serve starts");
        let pipe = child.stderr.take().unwrap();
        let stderr: Lines = Arc::default();
        let shared = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let (m, cv) = &*shared;
                m.lock().unwrap().0.push(line);
                cv.notify_all();
            }
            let (m, cv) = &*shared;
            m.lock().unwrap().1 = true;
            cv.notify_all();
        });
        let mut p = ServeProcess { child, addr: "127.0.0.1:0".parse().unwrap(), stderr };
        let line = p
            .wait_for_line(|l| l.contains(" at http://"), Duration::from_secs(30))
            .unwrap_or_else(|| panic!("ssfpack serve did not start: {:?}", p.stderr_lines()));
        let addr = line.split(" at http://").nth(1).and_then(|r| r.split('/').next()).unwrap();
        p.addr = addr.parse().unwrap();
        p
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.0.lock().unwrap().0.clone()
    }

    /// The first stderr line matching `pred`, waiting at most `timeout` for it.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let end = Instant::now() + timeout;
        let (m, cv) = &*self.stderr;
        let mut g = m.lock().unwrap();
        loop {
            if let Some(l) = g.0.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if g.1 || now >= end {
                return None;
            }
            g = cv.wait_timeout(g, end - now).unwrap().0;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
