//! DASH and HLS over any [`FragmentSource`]: the MPD, the HLS master and media playlists, init
//! segments and segments (Smooth fragments with `tfdt`, [`crate::format::cmaf`]), with the same
//! validators and cache headers as the Smooth answers: segments and init segments like fragments
//! (`--cache-max-age`), manifests revalidated (on demand) or cacheable for half a fragment (live).
//!
//! `m3u8-aapl` segments are the same CMAF segments remuxed to MPEG-TS by FFmpeg (`media::ts`), one
//! track per segment (audio is its own rendition); they have no init segment. A text track is a
//! `SUBTITLES` rendition of WebVTT segments in both HLS forms ([`webvtt::segment`], `text/vtt`).

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::cache::Form;
use super::files::{bytes_response, not_modified, not_modified_response, CACHE_REVALIDATE};
use super::server::status_response;
use super::source::{BuiltSegment, FragmentSource, SourceError};
use super::url::{FragmentPart, FragmentRequest, Packaged, PackagedFormat};
use crate::format::cmaf::{self, Naming};
use crate::format::dash::{self, LiveTiming};
use crate::format::hls::{self, HlsFlavor};
use crate::format::manifest::{ClientManifest, QualityLevel, StreamIndex};
use crate::format::webvtt;
use crate::format::{TrackKind, TIMESCALE};
use crate::media::ts;

pub const MPD_TYPE: &str = "application/dash+xml";
pub const M3U8_TYPE: &str = "application/vnd.apple.mpegurl";
pub const TS_TYPE: &str = "video/mp2t";
pub const VTT_TYPE: &str = "text/vtt; charset=utf-8";

/// A built answer, before it becomes a response.
#[derive(Debug)]
pub struct Answer {
    pub bytes: bytes::Bytes,
    pub content_type: &'static str,
    pub etag: String,
    pub cache_control: String,
    pub mtime: Option<SystemTime>,
}

/// Builds the answer to a DASH/HLS request from `source` (blocking), with the origin's URLs.
/// `fragment_cache` is the `Cache-Control` of segments.
pub fn answer(
    source: &dyn FragmentSource,
    format: PackagedFormat,
    req: &Packaged,
    fragment_cache: &str,
) -> Result<Answer, SourceError> {
    answer_named(source, format, req, fragment_cache, &Naming::origin(format.name()))
}

/// [`answer`] with manifests and playlists naming their segments by `naming` (the static layout's
/// files: [`Naming::static_files`]).
pub fn answer_named(
    source: &dyn FragmentSource,
    format: PackagedFormat,
    req: &Packaged,
    fragment_cache: &str,
    naming: &Naming,
) -> Result<Answer, SourceError> {
    match req {
        Packaged::Manifest => {
            let m = source.manifest()?;
            let live = source.live();
            let (text, ctype) = match format {
                PackagedFormat::Dash(flavor) => {
                    let timing = live.map(|w| LiveTiming {
                        availability_start: iso(w.availability_start),
                        publish_time: iso(SystemTime::now()),
                        time_shift_buffer_secs: w.dvr_secs,
                        minimum_update_secs: half_fragment_secs(&m),
                    });
                    let mpd = dash::mpd(&m, flavor, naming, timing.as_ref()).map_err(broken)?;
                    (mpd.to_xml().map_err(broken)?, MPD_TYPE)
                }
                PackagedFormat::Hls(flavor) => {
                    let measured = super::hls_rates::rates(source, &m, flavor)?;
                    let frame_rate = |s: &StreamIndex, q: &QualityLevel| frame_rate(source, s, q);
                    let rates = |s: &StreamIndex, q: &QualityLevel| measured.get(&(s.name.clone(), q.bitrate)).copied();
                    let with = hls::Measured { frame_rate: &frame_rate, rates: &rates };
                    (hls::master(&m, flavor, naming, &with).map_err(broken)?.render(), M3U8_TYPE)
                }
            };
            Ok(text_answer(text, ctype, manifest_cache(&m, live.is_some())))
        }
        Packaged::Playlist { bitrate, track } => {
            let PackagedFormat::Hls(flavor) = format else { return Err(SourceError::NotFound("playlist".into())) };
            let m = source.manifest()?;
            let stream = level(&m, track, *bitrate)?;
            let first = stream.chunks.first().map_or(0, |c| c.t);
            let sequence = if m.is_live { source.sequence(track, *bitrate, first) } else { 0 };
            let text = hls::media(&m, stream, *bitrate, flavor, naming, sequence).render();
            Ok(text_answer(text, M3U8_TYPE, manifest_cache(&m, m.is_live)))
        }
        // MPEG-TS segments carry their own codec configuration, WebVTT ones need none: no init.
        Packaged::Init { .. } if format == PackagedFormat::Hls(HlsFlavor::Aapl) => {
            Err(SourceError::NotFound("m3u8-aapl has no init segment".into()))
        }
        Packaged::Init { bitrate, track } => {
            let media = source.track(track, *bitrate)?;
            if matches!(format, PackagedFormat::Hls(_)) && media.kind == TrackKind::Text {
                return Err(SourceError::NotFound("HLS WebVTT segments have no init segment".into()));
            }
            let bytes =
                cmaf::init_segment(&media.moov, media.track_id, &format!("{track} at {bitrate}")).map_err(broken)?;
            let etag = format!("\"i{:x}\"", crate::format::fnv1a64(&bytes));
            Ok(Answer {
                bytes: bytes.into(),
                content_type: media_type(media.kind),
                etag,
                cache_control: fragment_cache.to_string(),
                mtime: media.stamp.and_then(|s| s.mtime),
            })
        }
        Packaged::Segment { bitrate, track, time } => {
            let hls = match format {
                PackagedFormat::Hls(flavor) => Some(flavor),
                PackagedFormat::Dash(_) => None,
            };
            if hls.is_some() && source.track(track, *bitrate)?.kind == TrackKind::Text {
                return webvtt_segment(source, track, *bitrate, *time, fragment_cache);
            }
            if hls == Some(HlsFlavor::Aapl) {
                return ts_segment(source, track, *bitrate, *time, fragment_cache);
            }
            let seg = source.segment(track, *bitrate, *time)?;
            let etag = match seg.etag {
                Some(e) => format!("{}-c\"", e.trim_end_matches('"')),
                None => format!("\"s{:x}\"", crate::format::fnv1a64(&seg.bytes)),
            };
            Ok(Answer {
                bytes: seg.bytes,
                content_type: media_type(seg.kind),
                etag,
                cache_control: fragment_cache.to_string(),
                mtime: seg.mtime,
            })
        }
    }
}

/// The MPEG-TS bytes (`m3u8-aapl`) of the fragment of audio or video `track` at `bitrate` and
/// `time`, and the CMAF segment they were remuxed from (also what `hls_rates` measures).
pub fn ts_bytes(
    source: &dyn FragmentSource,
    track: &str,
    bitrate: u32,
    time: u64,
) -> Result<(Vec<u8>, BuiltSegment), SourceError> {
    let seg = source.segment(track, bitrate, time)?;
    let bytes = ts_remux(source, track, bitrate, time, &seg.bytes)?;
    Ok((bytes, seg))
}

/// `segment` (the CMAF segment of `track` at `bitrate` and `time`) remuxed to MPEG-TS.
fn ts_remux(
    source: &dyn FragmentSource,
    track: &str,
    bitrate: u32,
    time: u64,
    segment: &bytes::Bytes,
) -> Result<Vec<u8>, SourceError> {
    let media = source.track(track, bitrate)?;
    let init = cmaf::init_segment(&media.moov, media.track_id, &format!("{track} at {bitrate}")).map_err(broken)?;
    let input = ts::TrackSegment {
        id: ts::SegmentId { track: track.to_string(), time },
        init: init.into(),
        segment: segment.clone(),
    };
    ts::remux(&[input]).map_err(|e| SourceError::Broken(e.to_string()))
}

/// An `m3u8-aapl` segment: the CMAF segment remuxed to MPEG-TS by FFmpeg (`media::ts`), kept by
/// the source ([`FragmentSource::derived`]: on demand, in the fragment cache) so FFmpeg runs once
/// per segment, not once per request. The fragment is located once; the CMAF segment is built (or
/// taken from the cache) only when the TS bytes are not kept.
fn ts_segment(
    source: &dyn FragmentSource,
    track: &str,
    bitrate: u32,
    time: u64,
    fragment_cache: &str,
) -> Result<Answer, SourceError> {
    let req = FragmentRequest { bitrate, track: track.to_string(), time, part: FragmentPart::Whole };
    let at = source.locate(&req)?;
    let bytes = source.derived(&at, Form::Ts, &mut || {
        let seg = source.segment(track, bitrate, time)?;
        ts_remux(source, track, bitrate, time, &seg.bytes)
    })?;
    let etag = match &at.known {
        Some(k) => format!("{}-t\"", k.etag.trim_end_matches('"')),
        None => format!("\"t{:x}\"", crate::format::fnv1a64(&bytes)),
    };
    let mtime = at.known.and_then(|k| k.mtime);
    Ok(Answer { bytes, content_type: TS_TYPE, etag, cache_control: fragment_cache.to_string(), mtime })
}

/// The HLS WebVTT segment of a text fragment ([`webvtt::segment`]); the same for both HLS forms
/// (its `X-TIMESTAMP-MAP` is on the 33-bit clock both map by).
fn webvtt_segment(
    source: &dyn FragmentSource,
    track: &str,
    bitrate: u32,
    time: u64,
    fragment_cache: &str,
) -> Result<Answer, SourceError> {
    let media = source.track(track, bitrate)?;
    let f = source.fragment(track, bitrate, time)?;
    // The fragment's start on the presentation clock the players map audio and video by.
    let ticks = super::source::rescale(f.decode_time, u64::from(media.timescale), TIMESCALE);
    let ctx = format!("{track} at {bitrate}, fragment {time}");
    let doc = webvtt::segment(
        &f.bytes,
        f.moof_offset,
        media.track_id,
        media.timescale,
        f.decode_time,
        webvtt::mpegts(ticks),
        &ctx,
    )
    .map_err(broken)?;
    let text = doc.render();
    let etag = match f.etag {
        Some(e) => format!("{}-v\"", e.trim_end_matches('"')),
        None => format!("\"v{:x}\"", crate::format::fnv1a64(text.as_bytes())),
    };
    Ok(Answer {
        bytes: text.into(),
        content_type: VTT_TYPE,
        etag,
        cache_control: fragment_cache.to_string(),
        mtime: f.mtime,
    })
}

/// The response for a built answer (or why not): 304 on a matching validator, 404/500 on errors.
pub fn respond(method: &Method, headers: &HeaderMap, found: Result<Answer, SourceError>) -> Response {
    match found {
        Ok(a) if not_modified(headers, &a.etag, a.mtime) => not_modified_response(&a.etag, &a.cache_control, a.mtime),
        Ok(a) => bytes_response(method, a.bytes, a.content_type, &a.etag, &a.cache_control, a.mtime),
        Err(SourceError::NotFound(what)) => {
            tracing::debug!("404: {what}");
            status_response(StatusCode::NOT_FOUND)
        }
        Err(SourceError::NotYet) => status_response(StatusCode::NOT_FOUND),
        Err(SourceError::Broken(what)) => {
            tracing::warn!("500: {what}");
            status_response(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn text_answer(text: String, content_type: &'static str, cache_control: String) -> Answer {
    let etag = format!("\"m{:x}\"", crate::format::fnv1a64(text.as_bytes()));
    Answer { bytes: text.into(), content_type, etag, cache_control, mtime: None }
}

/// Revalidated on demand; cacheable for half a fragment while live (as the Smooth live manifest).
fn manifest_cache(m: &ClientManifest, live: bool) -> String {
    if live {
        format!("public, max-age={}", half_fragment_secs(m))
    } else {
        CACHE_REVALIDATE.to_string()
    }
}

/// Half the shortest stream's last fragment, whole seconds (each stream in its own timescale).
fn half_fragment_secs(m: &ClientManifest) -> u64 {
    let secs = |s: &StreamIndex| s.chunks.last().map(|c| c.d / 2 / s.effective_timescale(m).max(1));
    m.streams.iter().filter_map(secs).min().unwrap_or(0).max(1)
}

/// The stream `track` if it has a rung at `bitrate`.
fn level<'m>(m: &'m ClientManifest, track: &str, bitrate: u32) -> Result<&'m StreamIndex, SourceError> {
    m.stream(track)
        .filter(|s| s.quality_levels.iter().any(|q| q.bitrate == bitrate))
        .ok_or_else(|| SourceError::NotFound(format!("no track {track} at bitrate {bitrate}")))
}

/// A video rung's frame rate, from its first fragment: samples per second of decode time.
fn frame_rate(source: &dyn FragmentSource, s: &StreamIndex, q: &QualityLevel) -> Option<f64> {
    let first = s.chunks.first()?;
    let f = source.fragment(&s.name, q.bitrate, first.t).ok()?;
    let media = source.track(&s.name, q.bitrate).ok()?;
    let (moof, _): (shiguredo_mp4::boxes::MoofBox, usize) = crate::format::boxes::decode(&f.bytes, "moof").ok()?;
    let traf = moof.traf_boxes.first()?;
    let default = traf.tfhd_box.default_sample_duration.unwrap_or(0);
    let (mut n, mut ticks) = (0u64, 0u64);
    for s in traf.trun_boxes.iter().flat_map(|t| t.samples.iter()) {
        n += 1;
        ticks += u64::from(s.duration.unwrap_or(default));
    }
    (ticks > 0).then(|| n as f64 * f64::from(media.timescale) / ticks as f64)
}

fn media_type(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Video => "video/mp4",
        TrackKind::Audio => "audio/mp4",
        TrackKind::Text => "application/mp4",
    }
}

fn broken(e: crate::format::FormatError) -> SourceError {
    SourceError::Broken(e.to_string())
}

/// ISO 8601 UTC to the millisecond.
fn iso(t: SystemTime) -> String {
    super::live::clock::iso(t)
}
