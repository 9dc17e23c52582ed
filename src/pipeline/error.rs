//! Typed errors of the packaging job; each names the input, output file or rung concerned.

use std::path::PathBuf;

use crate::format::FormatError;
use crate::media::MediaError;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{context}: {source}")]
    Format {
        context: String,
        #[source]
        source: FormatError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists (use --force to replace it)", path.display())]
    Exists { path: PathBuf },
    #[error("{0}")]
    Invalid(String),
    /// An output path that would overwrite, contain or enclose what the user keeps (an input, the
    /// current folder, a folder ssfpack did not publish): a usage error, exit code 2.
    #[error("{0}")]
    Refused(String),
    /// SIGINT or SIGTERM arrived; the partial output was removed.
    #[error("interrupted by signal {0}; nothing was written")]
    Interrupted(i32),
    /// Another worker failed first; its error is the one reported.
    #[error("cancelled")]
    Cancelled,
    /// The caller's finishing step (player page, pre-split layout) failed.
    #[error("{context}: {source}")]
    Finish {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{0}: worker thread panicked")]
    Panicked(String),
}

impl From<super::stop::Stopped> for PipelineError {
    fn from(s: super::stop::Stopped) -> Self {
        match s {
            super::stop::Stopped::Signal(sig) => PipelineError::Interrupted(sig),
            super::stop::Stopped::Cancelled => PipelineError::Cancelled,
        }
    }
}

impl PipelineError {
    pub fn format(context: impl Into<String>, source: FormatError) -> Self {
        PipelineError::Format { context: context.into(), source }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io { path: path.into(), source }
    }
}
