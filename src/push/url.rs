//! A push target: `http[s]://HOST[:PORT]/PATH/NAME.isml/Streams(ID)` (or `…/Events(EID)/Streams(ID)`).

use std::fmt;

use super::PushError;

/// Where one `--to` pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// `HOST:PORT`, as connected to.
    pub authority: String,
    /// `Host` header value.
    pub host: String,
    /// Path and query, as requested.
    pub path: String,
    /// The URL as given, for messages.
    pub text: String,
    /// `https://`: the connection is TLS, the server's name in `host` is verified.
    pub tls: bool,
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TargetUrl {
    pub fn parse(text: &str) -> Result<Self, PushError> {
        let bad = |why: &str| PushError::Usage(format!("{text}: {why}"));
        let (tls, rest) = match (text.strip_prefix("https://"), text.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(bad("the URL must start with http:// or https://")),
        };
        let default_port = if tls { 443 } else { 80 };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(bad("no path: expected http[s]://HOST[:PORT]/PATH/NAME.isml/Streams(ID)")),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("no host (credentials in the URL are not supported; use --token)"));
        }
        let plain = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = plain.split('/').collect();
        let stream_ok = segments.last().is_some_and(|s| s.starts_with("Streams(") && s.ends_with(')') && s.len() > 9);
        let point_at = segments.iter().position(|s| s.to_ascii_lowercase().ends_with(".isml"));
        let layout_ok = match point_at {
            Some(i) => {
                let after = &segments[i + 1..];
                after.len() == 1 || (after.len() == 2 && after[0].starts_with("Events(") && after[0].ends_with(')'))
            }
            None => false,
        };
        if !stream_ok || !layout_ok || path.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err(bad(
                "expected http[s]://HOST[:PORT]/PATH/NAME.isml/Streams(ID) or …/NAME.isml/Events(EID)/Streams(ID)",
            ));
        }
        let with_port = if authority.starts_with('[') {
            if authority.contains("]:") {
                authority.to_string()
            } else {
                format!("{authority}:{default_port}")
            }
        } else if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        };
        Ok(TargetUrl {
            authority: with_port,
            host: authority.to_string(),
            path: path.to_string(),
            text: text.into(),
            tls,
        })
    }

    /// The host name alone (no port, no IPv6 brackets): what TLS verifies.
    pub fn server_name(&self) -> &str {
        let h = &self.host;
        if let Some(rest) = h.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        h.rsplit_once(':').map_or(h.as_str(), |(name, _)| name)
    }

    /// The same point with the stream `Streams(ID)` renamed `Streams(ID_SUFFIX)`: one track's own
    /// POST (`--post-per-track`).
    pub fn for_track(&self, suffix: &str) -> TargetUrl {
        let rename = |s: &str| match s.rfind("Streams(") {
            Some(i) => {
                let close = s[i..].find(')').map_or(s.len(), |j| i + j);
                format!("{}_{suffix}{}", &s[..close], &s[close..])
            }
            None => s.to_string(),
        };
        TargetUrl { path: rename(&self.path), text: rename(&self.text), ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = TargetUrl::parse("http://127.0.0.1:8080/live/Show.isml/Streams(cam1)").unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("127.0.0.1:8080", "/live/Show.isml/Streams(cam1)"));
        let t = TargetUrl::parse("http://example.com/Show.isml/Events(e1)/Streams(1)?token=x").unwrap();
        assert_eq!(t.authority, "example.com:80");
        for bad in [
            "ftp://h/S.isml/Streams(1)",
            "http://h/S.ism/Streams(1)",
            "http://h/S.isml",
            "http://h/S.isml/a/b/Streams(1)",
            "http://u@h/S.isml/Streams(1)",
            "http:///S.isml/Streams(1)",
        ] {
            assert!(TargetUrl::parse(bad).is_err(), "{bad}");
        }
        let t = TargetUrl::parse("https://origin.example/S.isml/Streams(1)").unwrap();
        assert_eq!((t.tls, t.authority.as_str(), t.server_name()), (true, "origin.example:443", "origin.example"));
        let t = TargetUrl::parse("https://[::1]:8443/S.isml/Streams(1)").unwrap();
        assert_eq!((t.authority.as_str(), t.server_name()), ("[::1]:8443", "::1"));
        let t = TargetUrl::parse("http://h:81/S.isml/Events(e)/Streams(cam1)?x=1").unwrap().for_track("video1");
        assert_eq!(t.path, "/S.isml/Events(e)/Streams(cam1_video1)?x=1");
        assert_eq!(t.text, "http://h:81/S.isml/Events(e)/Streams(cam1_video1)?x=1");
        assert_eq!(t.server_name(), "h");
    }
}
