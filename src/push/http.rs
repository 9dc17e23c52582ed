//! The HTTP/1.1 side of a push, over `std::net::TcpStream` (TLS for https, [`super::tls`]) with
//! explicit timeouts: the empty probe POST, then one long-running chunked POST whose chunks are
//! the stream's boxes. The point answers only when the body ends (or when it gives up on it); the
//! connection is polled for that answer before every send and while idle, so that an early one
//! (a 4xx/5xx mid-stream, or the connection closed) is seen at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::tls::{Stream, Tls};
use super::url::TargetUrl;

/// Connect timeout (Azure's rule: 10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The socket's send buffer: what may be in flight, unacknowledged, when a connection dies (a
/// reconnect resends the last two fragments of each track, so in-flight data beyond that is lost).
pub const SEND_BUFFER: usize = 64 * 1024;

/// An answer from the point: status and the first line of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub text: String,
}

fn connect(url: &TargetUrl, tls: &Tls) -> io::Result<Stream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolves to no address");
    for addr in url.authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                // The TLS handshake is bounded like the connect.
                s.set_read_timeout(Some(CONNECT_TIMEOUT))?;
                s.set_write_timeout(Some(CONNECT_TIMEOUT))?;
                return tls.wrap(url, s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn head(url: &TargetUrl, token: Option<&str>, body: &str) -> String {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ssfpack/{}\r\n{auth}Content-Type: application/octet-stream\r\n{body}\r\n",
        url.path,
        url.host,
        env!("CARGO_PKG_VERSION")
    )
}

/// Parses a response head (and the start of its body) from what has arrived; `None`: not all of
/// the head yet.
fn parse_answer(buf: &[u8]) -> Option<io::Result<Answer>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        return (buf.len() > MAX_HEAD)
            .then(|| Err(io::Error::new(io::ErrorKind::InvalidData, "response head too long")));
    };
    let text = String::from_utf8_lossy(&buf[..end]);
    let status = text.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok());
    let Some(status) = status else {
        return Some(Err(io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response")));
    };
    let body = String::from_utf8_lossy(&buf[end..]);
    let first = body.lines().next().unwrap_or("").trim().chars().take(200).collect();
    Some(Ok(Answer { status, text: first }))
}

/// The longest response head read.
const MAX_HEAD: usize = 16 * 1024;

fn closed_early() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the point closed the connection without an answer")
}

/// Reads one response head (and the start of its body) from `r`.
fn read_answer(r: &mut impl Read) -> io::Result<Answer> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 2048];
    loop {
        let n = r.read(&mut piece)?;
        if n == 0 {
            return Err(closed_early());
        }
        buf.extend_from_slice(&piece[..n]);
        if let Some(a) = parse_answer(&buf) {
            return a;
        }
    }
}

/// The empty probe POST (`Content-Length: 0`) on its own connection.
pub fn probe(url: &TargetUrl, tls: &Tls, token: Option<&str>) -> io::Result<Answer> {
    let mut s = connect(url, tls)?;
    s.write_all(head(url, token, "Content-Length: 0\r\nConnection: close\r\n").as_bytes())?;
    s.flush()?;
    let a = read_answer(&mut s);
    s.close_notify();
    a
}

/// How long a poll for an early answer waits for bytes.
const POLL: Duration = Duration::from_millis(1);

/// One long-running chunked POST.
pub struct Post {
    stream: Stream,
    /// Response bytes read so far.
    got: Vec<u8>,
    /// The point's answer (or the connection's end), once it came.
    answer: Option<io::Result<Answer>>,
}

impl Post {
    /// Connects and sends the request head; `send_timeout` bounds every later write.
    pub fn open(url: &TargetUrl, tls: &Tls, token: Option<&str>, send_timeout: Duration) -> io::Result<Post> {
        let mut stream = connect(url, tls)?;
        rustix::net::sockopt::set_socket_send_buffer_size(stream.tcp(), SEND_BUFFER)?;
        stream.tcp().set_write_timeout(Some(send_timeout))?;
        stream.write_all(head(url, token, "Transfer-Encoding: chunked\r\n").as_bytes())?;
        stream.flush()?;
        Ok(Post { stream, got: Vec::new(), answer: None })
    }

    /// Reads whatever answer bytes have arrived, waiting at most `wait`.
    fn poll(&mut self, wait: Duration) {
        if self.answer.is_some() {
            return;
        }
        if let Err(e) = self.stream.tcp().set_read_timeout(Some(wait.max(POLL))) {
            self.answer = Some(Err(e));
            return;
        }
        let mut piece = [0u8; 2048];
        match self.stream.read(&mut piece) {
            Ok(0) => self.answer = Some(Err(closed_early())),
            Ok(n) => {
                self.got.extend_from_slice(&piece[..n]);
                self.answer = parse_answer(&self.got);
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.answer = Some(Err(e)),
        }
    }

    /// An answer that came before the body ended: the point ended the POST.
    pub fn early_answer(&mut self) -> Option<String> {
        self.poll(POLL);
        self.answer.as_ref().map(|a| match a {
            Ok(a) => format!("the point answered {} ({})", a.status, a.text),
            Err(e) => format!("the connection ended: {e}"),
        })
    }

    /// Sends `bytes` as one chunk.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(why) = self.early_answer() {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, why));
        }
        let mut chunk = Vec::with_capacity(bytes.len() + 12);
        chunk.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
        chunk.extend_from_slice(bytes);
        chunk.extend_from_slice(b"\r\n");
        self.stream.write_all(&chunk)?;
        self.stream.flush()
    }

    /// Ends the body (the terminating chunk) and waits at most `timeout` for the answer.
    pub fn end(mut self, timeout: Duration) -> io::Result<Answer> {
        self.stream.write_all(b"0\r\n\r\n")?;
        self.stream.flush()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self.answer.take() {
                self.stream.close_notify();
                return a;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer to the end of the stream"));
            }
            self.poll((deadline - now).min(Duration::from_millis(200)));
        }
    }
}

impl Drop for Post {
    fn drop(&mut self) {
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse() {
        let mut r: &[u8] = b"HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nno such point\n";
        assert_eq!(read_answer(&mut r).unwrap(), Answer { status: 404, text: "no such point".into() });
        let mut r: &[u8] = b"garbage\r\n\r\n";
        assert!(read_answer(&mut r).is_err());
        let mut r: &[u8] = b"HTTP/1.1 200 OK\r\n";
        assert!(read_answer(&mut r).is_err(), "cut before the end of the head");
    }
}
