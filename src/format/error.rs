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
        FormatError::Box { context: context.into(), message: message.to_string() }
    }

    pub fn invalid(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        FormatError::Invalid { context: context.into(), message: message.to_string() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FormatError::Io { path: path.into(), source }
    }
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;
