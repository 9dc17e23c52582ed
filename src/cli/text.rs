//! The text-track options of the main job (`--subtitles`, `--captions`).

use crate::pipeline::text::{SubtitleFile, TextOptions};

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Text tracks")]
pub struct TextArgs {
    /// A sidecar subtitle file to add as a TTML text track, with its ISO 639 language
    /// (`film.fr.srt:fre`; default: the file's own, else `und`). .srt and .vtt (and .ass) are read
    /// with FFmpeg, .ttml/.dfxp parsed as TTML. Repeatable; the input's own text subtitle streams
    /// are always converted too.
    #[arg(long = "subtitles", value_name = "FILE[:LANG]", value_parser = SubtitleFile::parse)]
    pub subtitles: Vec<SubtitleFile>,
    /// Mark every text track as captions (`Subtype="CAPT"`, for the deaf and hard of hearing: they
    /// transcribe sounds too) rather than subtitles (`SUBT`). Streams the source flags as
    /// hearing-impaired are captions anyway.
    #[arg(long)]
    pub captions: bool,
}

impl TextArgs {
    pub fn options(&self) -> TextOptions {
        TextOptions { subtitles: self.subtitles.clone(), captions: self.captions }
    }
}
