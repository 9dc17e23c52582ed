//! What a file is, cheaply: `ssfpack batch` asks this of every file it finds, so that a folder of
//! films with their posters, subtitles and notes packages the films and skips the rest. FFmpeg
//! decides by content (its probe), never by the name alone; the name only tells a damaged film
//! (`movie.mp4` that FFmpeg cannot open: a failure to report) from a file that never was one.

use std::io::Read;
use std::path::Path;

use ff::format::stream::Disposition;
use ff::media::Type as MediaType;
use ffmpeg_next as ff;

use super::MediaError;

/// What [`probe`] found.
#[derive(Debug)]
pub enum Probe {
    /// Audio and/or moving pictures FFmpeg can demux.
    Media(MediaInfo),
    /// Not media (text, an image, subtitles, a playlist, unknown data): skipped. The reason says
    /// what it looked like.
    NotMedia(String),
    /// It claims to be media (its name or its first bytes say so) but FFmpeg cannot open it.
    Corrupt(MediaError),
}

/// What a batch needs to plan a media file's job.
#[derive(Debug, Clone, Default)]
pub struct MediaInfo {
    /// FFmpeg's demuxer name (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`…).
    pub format: String,
    /// Duration, seconds, when the container states one.
    pub duration: Option<f64>,
    /// The main video stream's size; `None` for audio-only sources.
    pub video: Option<VideoSize>,
}

/// Coded size of a video stream, and its sample aspect ratio (num, den) when not square.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSize {
    pub width: u32,
    pub height: u32,
    pub sar: Option<(i64, i64)>,
}

/// Demuxers whose "video" is a still picture, text rendered as pictures, or that only point at
/// other files: never a source to package.
fn not_media_format(name: &str) -> Option<&'static str> {
    let first = name.split(',').next().unwrap_or(name);
    if first == "image2" || first.ends_with("_pipe") || matches!(first, "gif" | "apng" | "ico" | "pam") {
        return Some("an image");
    }
    match first {
        "tty" | "ffmetadata" => Some("text"),
        "hls" | "dash" | "concat" | "mpjpeg" => Some("a playlist"),
        _ => None,
    }
}

/// File name extensions that say "media": an unreadable file with one is damaged media.
const MEDIA_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "m4a", "mov", "qt", "mkv", "mka", "webm", "avi", "ts", "m2ts", "mts", "mpg", "mpeg", "vob", "flv",
    "f4v", "wmv", "wma", "asf", "mp3", "aac", "ac3", "wav", "flac", "ogg", "oga", "ogv", "opus", "mxf", "3gp", "3g2",
    "dv", "ismv", "isma", "y4m", "h264", "264", "hevc", "265",
];

/// Whether the first bytes are those of a media container (MP4/MOV, Matroska, RIFF, Ogg, MPEG-TS
/// or PS, FLV, ASF, MP3 with ID3, FLAC).
fn media_signature(head: &[u8]) -> bool {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    at(4, b"ftyp")
        || at(4, b"moov")
        || at(4, b"mdat")
        || at(0, &[0x1a, 0x45, 0xdf, 0xa3])
        || at(0, b"RIFF")
        || at(0, b"OggS")
        || at(0, b"FLV")
        || at(0, b"ID3")
        || at(0, b"fLaC")
        || at(0, &[0x00, 0x00, 0x01, 0xba])
        || at(0, &[0x30, 0x26, 0xb2, 0x75])
        || (head.len() > 188 && head[0] == 0x47 && head[188] == 0x47)
}

/// Looks at `path` with FFmpeg. Call it on the thread that will read the error (see
/// [`super::last_ffmpeg_error`]).
pub fn probe(path: &Path) -> Probe {
    super::clear_ffmpeg_error();
    let ictx = match ff::format::input(&path) {
        Ok(ictx) => ictx,
        Err(e) => {
            let named = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| MEDIA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            let mut head = [0u8; 192];
            let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
            if named || media_signature(&head[..n]) {
                return Probe::Corrupt(super::error::open_error(path, e));
            }
            return Probe::NotMedia("not a format FFmpeg reads".into());
        }
    };
    let format = ictx.format().name().to_string();
    if let Some(what) = not_media_format(&format) {
        return Probe::NotMedia(format!("{what} ({format})"));
    }
    let mut info = MediaInfo { format, ..MediaInfo::default() };
    let mut moving = false;
    for stream in ictx.streams() {
        let still = stream.disposition().contains(Disposition::ATTACHED_PIC);
        match stream.parameters().medium() {
            MediaType::Audio => moving = true,
            MediaType::Video if !still => {
                moving = true;
                if info.video.is_none() {
                    info.video = video_size(&stream);
                }
            }
            _ => {}
        }
    }
    if !moving {
        return Probe::NotMedia(format!("no audio or video stream ({})", info.format));
    }
    info.duration = (ictx.duration() > 0).then(|| ictx.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE));
    Probe::Media(info)
}

fn video_size(stream: &ff::format::stream::Stream) -> Option<VideoSize> {
    let dec = ff::codec::Context::from_parameters(stream.parameters()).ok()?.decoder().video().ok()?;
    let sar = dec.aspect_ratio();
    let sar = (sar.numerator() > 0 && sar.denominator() > 0 && sar.numerator() != sar.denominator())
        .then(|| (i64::from(sar.numerator()), i64::from(sar.denominator())));
    Some(VideoSize { width: dec.width(), height: dec.height(), sar })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_formats() {
        let mut mp4 = vec![0, 0, 0, 0x20];
        mp4.extend_from_slice(b"ftypisom");
        assert!(media_signature(&mp4));
        assert!(media_signature(&[0x1a, 0x45, 0xdf, 0xa3, 0]));
        assert!(!media_signature(b"just some notes\n"));
        assert_eq!(not_media_format("png_pipe"), Some("an image"));
        assert_eq!(not_media_format("tty"), Some("text"));
        assert_eq!(not_media_format("mov,mp4,m4a,3gp,3g2,mj2"), None);
        assert_eq!(not_media_format("matroska,webm"), None);
    }
}
