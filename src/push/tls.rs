//! https targets: a rustls client over the same blocking `TcpStream` (time-outs included), the
//! server verified against the system's trusted certificates (Debian's `ca-certificates`, read
//! by `rustls-native-certs`) plus any `--ca-file` PEM, its name taken from the URL's host.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::url::TargetUrl;
use super::PushError;

/// The TLS settings of a push: `None` when no target is https.
#[derive(Clone, Default)]
pub struct Tls {
    config: Option<Arc<ClientConfig>>,
}

impl Tls {
    /// Loads the trusted certificates when `needed` (some target is https).
    pub fn new(needed: bool, ca_file: Option<&Path>) -> Result<Self, PushError> {
        if !needed {
            return Ok(Tls::default());
        }
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca_file {
            let bad = |e: &dyn std::fmt::Display| PushError::Usage(format!("--ca-file {}: {e}", path.display()));
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&e))?;
            if certs.is_empty() {
                return Err(bad(&"no PEM certificate in the file"));
            }
            for c in certs {
                roots.add(c).map_err(|e| bad(&e))?;
            }
        } else if added == 0 {
            return Err(PushError::Usage(
                "https: no trusted certificates found on this system (install ca-certificates, or give --ca-file)"
                    .into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PushError::Usage(format!("https: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls { config: Some(Arc::new(config)) })
    }

    /// Wraps a connected socket for `url`: TLS (handshake done, the certificate checked) for https.
    pub fn wrap(&self, url: &TargetUrl, tcp: TcpStream) -> io::Result<Stream> {
        if !url.tls {
            return Ok(Stream::Plain(tcp));
        }
        let config = self
            .config
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "https target without a TLS setup"))?;
        let name = ServerName::try_from(url.server_name().to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("TLS server name: {e}")))?;
        let conn = ClientConnection::new(config, name).map_err(|e| io::Error::other(format!("TLS: {e}")))?;
        let mut s = StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock).map_err(handshake_error)?;
        }
        Ok(Stream::Tls(Box::new(s)))
    }
}

/// A handshake the server's certificate failed: retrying cannot help.
#[derive(Debug)]
pub struct Rejected(String);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejected {}

fn handshake_error(e: io::Error) -> io::Error {
    let certificate = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented));
    if certificate {
        io::Error::new(
            io::ErrorKind::InvalidData,
            Rejected(format!("TLS: the server's certificate is not trusted: {e}")),
        )
    } else {
        io::Error::new(e.kind(), format!("TLS handshake: {e}"))
    }
}

/// The reason, when `e` is a certificate the client refused (not worth a retry).
pub fn rejected(e: &io::Error) -> Option<String> {
    e.get_ref().and_then(|i| i.downcast_ref::<Rejected>()).map(|r| r.0.clone())
}

/// A connection to the point, plain or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The socket underneath (for time-outs and shutdown).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Sends TLS's close_notify (best effort); nothing for plain TCP.
    pub fn close_notify(&mut self) {
        if let Stream::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
