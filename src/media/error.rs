//! Typed errors of the FFmpeg boundary. Each names what failed: the input file, the stream, the rung.

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{context}: {source}")]
    Ffmpeg {
        context: String,
        #[source]
        source: ffmpeg_next::Error,
    },
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
}

impl MediaError {
    pub fn ffmpeg(context: impl Into<String>, source: ffmpeg_next::Error) -> Self {
        MediaError::Ffmpeg { context: context.into(), source }
    }

    pub fn invalid(context: impl Into<String>, message: impl std::fmt::Display) -> Self {
        MediaError::Invalid { context: context.into(), message: message.to_string() }
    }
}
