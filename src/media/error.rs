//! Typed errors of the FFmpeg boundary. Each names what failed: the input file, the stream, the rung.
//! FFmpeg's own failures to open a file or a decoder are put in words here.

use std::path::Path;

use ffmpeg_next as ff;

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

/// Why FFmpeg could not open a file as media, in words: FFmpeg's own log line when it wrote one
/// (`moov atom not found`, `Picture size 16384x16384 is invalid`), else its error code.
pub(crate) fn open_error(path: &Path, e: ff::Error) -> MediaError {
    let cause = match (e, super::last_ffmpeg_error()) {
        (ff::Error::Other { errno }, _) if errno == libc_enoent() => "no such file".to_string(),
        (_, Some(log)) => format!("not a media file FFmpeg can read ({log})"),
        (ff::Error::InvalidData, None) => "not a media file FFmpeg can read (unrecognised or corrupt data)".to_string(),
        (e, None) => format!("FFmpeg cannot open it ({e})"),
    };
    MediaError::invalid(path.display().to_string(), cause)
}

fn libc_enoent() -> i32 {
    std::io::Error::from(std::io::ErrorKind::NotFound).raw_os_error().unwrap_or(2)
}

/// A decoder FFmpeg does not have (or cannot open), naming the codec.
pub(super) fn decoder_error(context: &str, params: &ff::codec::Parameters, e: ff::Error) -> MediaError {
    let codec = match params.id() {
        ff::codec::Id::None => {
            // SAFETY: `params` wraps a valid AVCodecParameters owned by the open stream; reading a
            // plain integer field of it has no side effect.
            let tag = unsafe { (*params.as_ptr()).codec_tag }.to_le_bytes();
            let tag: String = tag.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect();
            format!("an unknown codec (tag `{tag}`)")
        }
        id => format!("codec `{}`", format!("{id:?}").to_lowercase()),
    };
    match e {
        ff::Error::DecoderNotFound => {
            MediaError::invalid(context, format!("no decoder for {codec} in this FFmpeg build"))
        }
        e => MediaError::invalid(context, format!("cannot open the decoder for {codec} ({e})")),
    }
}
