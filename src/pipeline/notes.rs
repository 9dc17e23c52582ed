//! What an encode changes or leaves out of the source, as [`Note`]s (one each, never silent):
//! streams not packaged, downmixes, deinterlacing, frame-rate changes, tone mapping, bit depth.

use crate::media::aac::{channels_name, AacSettings};
use crate::media::filter::{DeinterlaceCause, Dynamic};
use crate::media::input::{AudioInfo, OtherStream, VideoInfo};
use crate::media::Ratio;

use super::report::{Note, NoteKind};

fn fps(r: Ratio) -> String {
    let v = r.num as f64 / r.den.max(1) as f64;
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The notes about the video: deinterlace, frame rate, HDR, bit depth.
pub fn video_notes(v: &VideoInfo) -> Vec<Note> {
    let mut notes = Vec::new();
    let stream = format!("video stream #{} ({})", v.stream_index, v.codec);
    let p = &v.plan;
    if let Some(cause) = p.deinterlace {
        let why = match cause {
            DeinterlaceCause::FieldOrder { top_first } => {
                format!("interlaced ({} field first, as the stream says)", if top_first { "top" } else { "bottom" })
            }
            DeinterlaceCause::Detected(i) => format!(
                "interlaced (FFmpeg's idet over the first frames: {} top field first, {} bottom field first, {} \
                 progressive)",
                i.tff, i.bff, i.progressive
            ),
            DeinterlaceCause::Forced => "deinterlace asked for (--deinterlace on)".to_string(),
        };
        let rate = if p.field_rate { "one picture per field" } else { "one picture per frame, frame rate kept" };
        notes.push(Note::new(
            NoteKind::Deinterlace,
            format!(
                "{stream}: {why}: deinterlaced with libavfilter's bwdif ({rate}; --deinterlace off keeps the fields)"
            ),
        ));
        if p.field_rate {
            let rate = v.frame_rate.map(|r| {
                let src = Ratio::new(r.num, r.den * 2);
                format!("{} fps → {} fps", fps(src), fps(r))
            });
            notes.push(Note::new(
                NoteKind::FrameRate,
                format!(
                    "{stream}: frame rate doubled{} (--deinterlace-rate field: one picture per field)",
                    rate.map(|r| format!(", {r}")).unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(range) = p.tone_map {
        notes.push(Note::new(
            NoteKind::Hdr,
            format!(
                "{stream}: {}, BT.2020: tone-mapped to SDR BT.709 with libavfilter's zscale and tonemap (hable): \
                 highlights are compressed and the wide colour gamut is lost; the output is SDR",
                range.name()
            ),
        ));
    }
    if let Some(range) = p.untone_mapped {
        notes.push(Note::new(
            NoteKind::Hdr,
            format!(
                "{stream}: {}: this FFmpeg has no zscale/tonemap filter, so it is converted as if SDR, without \
                 tone mapping: colours look washed out and highlights are clipped",
                range.name()
            ),
        ));
    }
    if let Some(depth) = p.reduced_depth {
        let hdr = if v.dynamic != Dynamic::Sdr { "" } else { " (SDR)" };
        notes.push(Note::new(
            NoteKind::BitDepth,
            format!(
                "{stream}: {depth}-bit{hdr} samples coded as 8-bit H.264 (what every Smooth Streaming player decodes): \
                 smooth gradients may show banding"
            ),
        ));
    }
    notes
}

/// A downmix note for an audio track encoded with `settings`, if it has fewer channels than the
/// source.
pub fn downmix_note(a: &AudioInfo, settings: &AacSettings) -> Option<Note> {
    (settings.channels < a.channels).then(|| {
        let hint = if settings.channels == 2 {
            "--audio-channels source keeps up to 5.1"
        } else {
            "AAC-LC tracks here carry at most 5.1"
        };
        Note::new(
            NoteKind::Downmix,
            format!(
                "audio stream #{} ({}, {}): {} mixed down to {} ({hint})",
                a.stream_index,
                a.codec,
                a.language,
                channels_name(a.channels),
                channels_name(settings.channels)
            ),
        )
    })
}

/// One note per stream of the source that is not packaged. `video` is the video stream packaged.
/// Subtitle streams are left to `pipeline::text`: text ones become TTML text tracks, and it notes
/// the bitmap ones (and those with no cue) itself.
pub fn dropped_notes(others: &[OtherStream], video: Option<usize>) -> Vec<Note> {
    others
        .iter()
        .filter(|o| o.kind != "subtitle")
        .map(|o| {
            let why = match o.kind {
                "video" if o.cover_art => "cover art (an attached picture) is not packaged".to_string(),
                "video" => match video {
                    Some(v) => format!("not packaged (a presentation has one video stream: #{v})"),
                    None => "not packaged".to_string(),
                },
                "audio" => "not packaged (not chosen by --audio-tracks)".to_string(),
                "data" => "not packaged (data streams, e.g. timecodes or metadata, are not carried)".to_string(),
                "attachment" => "not packaged (attachments, e.g. fonts, are not carried)".to_string(),
                _ => "not packaged (unknown stream type)".to_string(),
            };
            let lang = if o.language != "und" { format!(", {}", o.language) } else { String::new() };
            Note::new(
                NoteKind::DroppedStream,
                format!("{} stream #{} ({}{lang}): {why}", o.kind, o.stream_index, o.codec),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dropped_stream_is_one_note() {
        let s = |stream_index, kind, codec: &str, cover_art| OtherStream {
            stream_index,
            kind,
            codec: codec.into(),
            language: "und".into(),
            cover_art,
        };
        let notes = dropped_notes(
            &[
                s(2, "data", "bin_data", false),
                s(3, "video", "mjpeg", true),
                s(4, "attachment", "ttf", false),
                s(5, "subtitle", "hdmv_pgs_subtitle", false),
            ],
            Some(0),
        );
        assert_eq!(notes.len(), 3);
        assert!(notes.iter().all(|n| n.kind == NoteKind::DroppedStream));
        assert!(notes[0].message.starts_with("data stream #2 (bin_data): not packaged"), "{notes:?}");
        assert!(notes[1].message.contains("cover art"));
    }
}
