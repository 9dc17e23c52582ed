//! Typed errors of the format layer. Each says where: file, track, box path, fragment.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Write(#[from] std::io::Error),
    #[error("{context}: malformed box: {message}")]
    Box { context: String, message: String },
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
    #[error("{context}: malformed XML: {message}")]
    Xml { context: String, message: String },
}

impl FormatError {
    pub fn boxes(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        FormatError::Box { context: context.into(), message: without_location(&message.to_string()) }
    }

    pub fn invalid(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        FormatError::Invalid { context: context.into(), message: without_location(&message.to_string()) }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FormatError::Io { path: path.into(), source }
    }
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;

/// An error text of the MP4 crate made for people: without the source-code location it appends
/// (`… (at src/boxes.rs:120:17)`), and with its error kinds in words.
pub fn without_location(text: &str) -> String {
    let mut s = text.to_string();
    while let Some(start) = s.find(" (at ") {
        let Some(len) = s[start..].find(')') else { break };
        let inside = &s[start + 5..start + len];
        if !(inside.contains(".rs:") || inside.starts_with("src/")) {
            break;
        }
        s.replace_range(start..=start + len, "");
    }
    for (kind, words) in [
        ("InsufficientBuffer: ", "truncated: "),
        ("InsufficientBuffer", "truncated (the data ends inside the box)"),
        ("InvalidData: ", ""),
        ("InvalidInput: ", ""),
        ("Unsupported: ", "unsupported: "),
    ] {
        s = s.replace(kind, words);
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn mp4_crate_errors_lose_their_source_locations() {
        assert_eq!(
            super::without_location(
                "[trun] InsufficientBuffer (at /root/.cargo/registry/src/x/shiguredo_mp4/src/boxes.rs:10:5)"
            ),
            "[trun] truncated (the data ends inside the box)"
        );
        assert_eq!(super::without_location("InvalidData: bad size (at src/basic_types.rs:1:2)"), "bad size");
        assert_eq!(super::without_location("sample (at 2.0 s) is late"), "sample (at 2.0 s) is late");
    }
}
