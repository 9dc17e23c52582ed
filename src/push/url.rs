//! A push target: `http://HOST[:PORT]/PATH/NAME.isml/Streams(ID)` (or `…/Events(EID)/Streams(ID)`).

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
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TargetUrl {
    pub fn parse(text: &str) -> Result<Self, PushError> {
        let bad = |why: &str| PushError::Usage(format!("{text}: {why}"));
        if text.starts_with("https://") {
            return Err(bad(
                "https is not supported (no TLS client in ssfpack); push over http, e.g. through a local TLS tunnel",
            ));
        }
        let rest = text.strip_prefix("http://").ok_or_else(|| bad("the URL must start with http://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(bad("no path: expected http://HOST[:PORT]/PATH/NAME.isml/Streams(ID)")),
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
                "expected http://HOST[:PORT]/PATH/NAME.isml/Streams(ID) or …/NAME.isml/Events(EID)/Streams(ID)",
            ));
        }
        let with_port = if authority.starts_with('[') {
            if authority.contains("]:") {
                authority.to_string()
            } else {
                format!("{authority}:80")
            }
        } else if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(TargetUrl { authority: with_port, host: authority.to_string(), path: path.to_string(), text: text.into() })
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
            "https://h/S.isml/Streams(1)",
            "ftp://h/S.isml/Streams(1)",
            "http://h/S.ism/Streams(1)",
            "http://h/S.isml",
            "http://h/S.isml/a/b/Streams(1)",
            "http://u@h/S.isml/Streams(1)",
            "http:///S.isml/Streams(1)",
        ] {
            assert!(TargetUrl::parse(bad).is_err(), "{bad}");
        }
        let e = TargetUrl::parse("https://h/S.isml/Streams(1)").unwrap_err().to_string();
        assert!(e.contains("https is not supported"), "{e}");
    }
}
