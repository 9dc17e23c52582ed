//! The output side of a packaging job: where it may write ([`guard`]), what `--force` may replace
//! ([`published`]), the atomic, durable publishing of the folder ([`staging`]), and the names of
//! the files inside it.

pub mod guard;
pub mod published;
pub mod staging;

use std::path::Path;

use super::error::PipelineError;
pub use staging::Staging;

/// The file name of a video rung: `NAME_{kbps}k.ismv`.
pub fn video_file(name: &str, bitrate: u32) -> String {
    format!("{name}_{}k.ismv", bitrate / 1000)
}

/// The file name of audio track `index` of `count`: `NAME_audio.isma`, or
/// `NAME_audio_{lang}_{index}.isma` when the source has several.
pub fn audio_file(name: &str, language: &str, index: usize, count: usize) -> String {
    if count <= 1 {
        format!("{name}_audio.isma")
    } else {
        format!("{name}_audio_{language}_{index}.isma")
    }
}

/// Ends a track's file: writes its `mfra`, flushes the buffer and syncs the file to disk.
pub fn close_track(
    writer: crate::format::writer::IsmvWriter<std::io::BufWriter<std::fs::File>>,
    path: &Path,
    ctx: &str,
) -> Result<(), PipelineError> {
    let out = writer.finish().map_err(|e| PipelineError::format(ctx, e))?;
    out.into_inner()
        .map_err(|e| PipelineError::io(path, e.into_error()))?
        .sync_all()
        .map_err(|e| PipelineError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(video_file("sample", 1_500_000), "sample_1500k.ismv");
        assert_eq!(audio_file("s", "eng", 0, 1), "s_audio.isma");
        assert_eq!(audio_file("s", "fra", 1, 2), "s_audio_fra_1.isma");
    }
}
