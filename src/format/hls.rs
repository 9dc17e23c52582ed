//! A Smooth presentation as HLS: a master playlist (one `EXT-X-STREAM-INF` per video rung, audio as
//! `EXT-X-MEDIA` renditions of one group) and one media playlist per rung whose segments are the
//! Smooth fragments, `EXTINF` the exact Smooth `d`.
//!
//! Built from the same [`ClientManifest`] the Smooth manifest is, into a typed model with one
//! renderer per playlist. [`HlsFlavor`] is the only difference between the fMP4 form (`m3u8-cmaf`,
//! version 7, `EXT-X-MAP`) and the MPEG-TS form (`m3u8-aapl`, version 4, no map). On-demand
//! playlists end with `EXT-X-ENDLIST`; a live point's are a sliding (DVR) window without it.

use std::fmt::Write as _;

use super::bandwidth::SegmentRates;
use super::cmaf::{codecs, Naming};
use super::error::{FormatError, Result};
use super::language::to_bcp47;
use super::manifest::{ClientManifest, QualityLevel, StreamIndex};
use super::text::TextRole;

/// Which HLS form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HlsFlavor {
    /// `m3u8-cmaf`: fMP4 segments with an init segment (`EXT-X-MAP`).
    Cmaf,
    /// `m3u8-aapl`: MPEG-TS segments (HLS version 4, no `EXT-X-MAP`).
    Aapl,
}

impl HlsFlavor {
    pub fn format_name(self) -> &'static str {
        match self {
            HlsFlavor::Cmaf => "m3u8-cmaf",
            HlsFlavor::Aapl => "m3u8-aapl",
        }
    }

    fn version(self) -> u32 {
        match self {
            HlsFlavor::Cmaf => 7,
            HlsFlavor::Aapl => 4,
        }
    }
}

/// The audio rendition group every video variant names.
const AUDIO_GROUP: &str = "audio";
/// The subtitle rendition group every variant names when there is text.
const SUBTITLES_GROUP: &str = "subs";
/// The `CHARACTERISTICS` of a captions (Smooth `CAPT`) rendition: for the deaf and hard of hearing.
const CAPTIONS_CHARACTERISTICS: &str =
    "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound";

/// The master playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterPlaylist {
    pub version: u32,
    pub media: Vec<Rendition>,
    pub variants: Vec<Variant>,
}

/// What an `EXT-X-MEDIA` rendition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// An audio track of its own (fMP4 or MPEG-TS, as the variants).
    Audio,
    /// A text track as WebVTT segments.
    Subtitles,
}

/// An `EXT-X-MEDIA` rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub kind: MediaType,
    pub name: String,
    /// An RFC 5646 tag (`en`, not `eng`).
    pub language: Option<String>,
    pub default: bool,
    pub channels: Option<u16>,
    /// `CHARACTERISTICS` (captions only).
    pub characteristics: Option<&'static str>,
    pub uri: String,
}

/// An `EXT-X-STREAM-INF` variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub codecs: String,
    pub resolution: Option<(u32, u32)>,
    pub frame_rate: Option<f64>,
    pub audio_group: bool,
    pub subtitles_group: bool,
    pub uri: String,
}

/// A media playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPlaylist {
    pub version: u32,
    pub target_duration: u64,
    pub media_sequence: u64,
    /// `EXT-X-MAP` URI (fMP4 audio and video only).
    pub map: Option<String>,
    /// (duration in the stream's timescale, URI).
    pub segments: Vec<(u64, String)>,
    pub timescale: u64,
    /// `EXT-X-ENDLIST` and `EXT-X-PLAYLIST-TYPE:VOD`.
    pub ended: bool,
}

/// What the master playlist knows beyond the Smooth manifest, per (stream, rung).
pub struct Measured<'a> {
    /// A video rung's frame rate (the Smooth manifest does not carry it).
    pub frame_rate: &'a dyn Fn(&StreamIndex, &QualityLevel) -> Option<f64>,
    /// A rung's measured segment bit rates in this flavor ([`super::bandwidth`]); `None` falls
    /// back to the nominal Smooth `Bitrate`.
    pub rates: &'a dyn Fn(&StreamIndex, &QualityLevel) -> Option<SegmentRates>,
}

/// The master playlist of `m`. `BANDWIDTH`/`AVERAGE-BANDWIDTH` of a video variant are its rung's
/// measured peak/average plus the largest of the audio renditions' (RFC 8216 4.3.4.2: the largest
/// sum over any playable combination of renditions; the WebVTT renditions are not counted). Audio
/// streams are `AUDIO` renditions (their highest rung), text streams `SUBTITLES` renditions (WebVTT
/// segments), named by every variant.
pub fn master(
    m: &ClientManifest,
    flavor: HlsFlavor,
    naming: &Naming,
    measured: &Measured<'_>,
) -> Result<MasterPlaylist> {
    let rates = |s: &StreamIndex, q: &QualityLevel| {
        (measured.rates)(s, q).unwrap_or(SegmentRates { peak: u64::from(q.bitrate), average: u64::from(q.bitrate) })
    };
    let uri = |s: &StreamIndex, q: &QualityLevel| Naming::fill(&naming.playlist, &s.name, &q.bitrate.to_string(), "");
    let codec = |s: &StreamIndex, q: &QualityLevel| {
        codecs(&q.fourcc, &q.codec_private_data).ok_or_else(|| {
            FormatError::invalid(
                format!("stream {}", s.name),
                format!("no HLS codecs string for FourCC {:?}", q.fourcc),
            )
        })
    };
    // A stream's language as the manifest names it (`eng`), when it names one; `LANGUAGE` is its
    // BCP 47 form (`en`).
    let named = |s: &StreamIndex| s.language.clone().filter(|l| !l.is_empty() && l != "und");
    let language = |s: &StreamIndex| named(s).map(|l| to_bcp47(&l));
    let audio: Vec<&StreamIndex> = m.streams.iter().filter(|s| s.kind == "audio").collect();
    let mut media = Vec::new();
    let mut audio_codec = None;
    let mut audio_rate = SegmentRates { peak: 0, average: 0 };
    for (i, s) in audio.iter().enumerate() {
        // One rendition per audio stream: its highest rung.
        let Some(q) = s.quality_levels.iter().max_by_key(|q| q.bitrate) else { continue };
        audio_codec.get_or_insert(codec(s, q)?);
        let r = rates(s, q);
        audio_rate = SegmentRates { peak: audio_rate.peak.max(r.peak), average: audio_rate.average.max(r.average) };
        media.push(Rendition {
            kind: MediaType::Audio,
            name: named(s).unwrap_or_else(|| s.name.clone()),
            language: language(s),
            default: i == 0,
            channels: q.channels,
            characteristics: None,
            uri: uri(s, q),
        });
    }
    let mut subtitles = Vec::new();
    for s in m.streams.iter().filter(|s| s.kind == "text") {
        let Some(q) = s.quality_levels.first() else { continue };
        let captions = s.subtype.as_deref().and_then(TextRole::from_subtype) == Some(TextRole::Captions);
        subtitles.push(Rendition {
            kind: MediaType::Subtitles,
            name: match (named(s), captions) {
                (Some(l), true) => format!("{l} (CC)"),
                (Some(l), false) => l,
                (None, _) => s.name.clone(),
            },
            language: language(s),
            // Subtitles are off until chosen.
            default: false,
            channels: None,
            characteristics: captions.then_some(CAPTIONS_CHARACTERISTICS),
            uri: uri(s, q),
        });
    }
    let with_subtitles = !subtitles.is_empty();
    let mut variants = Vec::new();
    for s in m.streams.iter().filter(|s| s.kind == "video") {
        for q in &s.quality_levels {
            let mut c = codec(s, q)?;
            if let Some(a) = &audio_codec {
                c = format!("{c},{a}");
            }
            let r = rates(s, q).plus(audio_rate);
            let (w, h) = (q.max_width.or(s.max_width), q.max_height.or(s.max_height));
            variants.push(Variant {
                bandwidth: r.peak,
                average_bandwidth: r.average,
                codecs: c,
                resolution: w.zip(h),
                frame_rate: (measured.frame_rate)(s, q),
                audio_group: !media.is_empty(),
                subtitles_group: with_subtitles,
                uri: uri(s, q),
            });
        }
    }
    if variants.is_empty() {
        // Audio only: each audio rung is a variant of its own.
        for s in &audio {
            for q in &s.quality_levels {
                let r = rates(s, q);
                variants.push(Variant {
                    bandwidth: r.peak,
                    average_bandwidth: r.average,
                    codecs: codec(s, q)?,
                    resolution: None,
                    frame_rate: None,
                    audio_group: false,
                    subtitles_group: with_subtitles,
                    uri: uri(s, q),
                });
            }
        }
        media.clear();
    }
    media.extend(subtitles);
    Ok(MasterPlaylist { version: flavor.version(), media, variants })
}

/// The media playlist of rung `bitrate` of `stream`; `first_sequence` numbers its first segment
/// (0 on demand; a live window's position in the event).
pub fn media(
    m: &ClientManifest,
    stream: &StreamIndex,
    bitrate: u32,
    flavor: HlsFlavor,
    naming: &Naming,
    first_sequence: u64,
) -> MediaPlaylist {
    let b = bitrate.to_string();
    let text = stream.kind == "text";
    let timescale = stream.effective_timescale(m);
    MediaPlaylist {
        version: flavor.version(),
        target_duration: target_duration(m, stream),
        media_sequence: first_sequence,
        // WebVTT segments stand alone; MPEG-TS ones carry their own codec configuration.
        map: (flavor == HlsFlavor::Cmaf && !text).then(|| Naming::fill(&naming.hls_init, &stream.name, &b, "")),
        segments: stream
            .chunks
            .iter()
            .map(|c| {
                let template = if text { &naming.hls_text_segment } else { &naming.hls_segment };
                (c.d, Naming::fill(template, &stream.name, &b, &c.t.to_string()))
            })
            .collect(),
        timescale,
        ended: !m.is_live,
    }
}

/// `EXT-X-TARGETDURATION` of a stream's media playlists, seconds (RFC 8216 4.3.3.1: every
/// `EXTINF` rounded to the nearest second is at most this).
pub fn target_duration(m: &ClientManifest, stream: &StreamIndex) -> u64 {
    let timescale = stream.effective_timescale(m).max(1);
    let longest = stream.chunks.iter().map(|c| c.d).max().unwrap_or(0);
    ((longest + timescale / 2) / timescale).max(1)
}

fn quoted(s: &str) -> String {
    // Quoted-string attribute values may not hold `"` or line breaks (RFC 8216 4.2).
    format!("\"{}\"", s.replace(['"', '\r', '\n'], ""))
}

impl MasterPlaylist {
    pub fn render(&self) -> String {
        let mut out = format!("#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n", self.version);
        for r in &self.media {
            let (kind, group) = match r.kind {
                MediaType::Audio => ("AUDIO", AUDIO_GROUP),
                MediaType::Subtitles => ("SUBTITLES", SUBTITLES_GROUP),
            };
            let _ = write!(out, "#EXT-X-MEDIA:TYPE={kind},GROUP-ID={},NAME={}", quoted(group), quoted(&r.name));
            if let Some(l) = &r.language {
                let _ = write!(out, ",LANGUAGE={}", quoted(l));
            }
            let yes_no = if r.default { "YES" } else { "NO" };
            let _ = write!(out, ",DEFAULT={yes_no},AUTOSELECT=YES");
            if r.kind == MediaType::Subtitles {
                out.push_str(",FORCED=NO");
            }
            if let Some(c) = r.characteristics {
                let _ = write!(out, ",CHARACTERISTICS={}", quoted(c));
            }
            if let Some(c) = r.channels {
                let _ = write!(out, ",CHANNELS={}", quoted(&c.to_string()));
            }
            let _ = writeln!(out, ",URI={}", quoted(&r.uri));
        }
        for v in &self.variants {
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS={}",
                v.bandwidth,
                v.average_bandwidth,
                quoted(&v.codecs)
            );
            if let Some((w, h)) = v.resolution {
                let _ = write!(out, ",RESOLUTION={w}x{h}");
            }
            if let Some(f) = v.frame_rate {
                let _ = write!(out, ",FRAME-RATE={f:.3}");
            }
            if v.audio_group {
                let _ = write!(out, ",AUDIO={}", quoted(AUDIO_GROUP));
            }
            if v.subtitles_group {
                let _ = write!(out, ",SUBTITLES={}", quoted(SUBTITLES_GROUP));
            }
            let _ = writeln!(out, "\n{}", v.uri);
        }
        out
    }
}

impl MediaPlaylist {
    pub fn render(&self) -> String {
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n",
            self.version, self.target_duration, self.media_sequence
        );
        if self.ended {
            out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n");
        }
        if let Some(map) = &self.map {
            let _ = writeln!(out, "#EXT-X-MAP:URI={}", quoted(map));
        }
        for (d, uri) in &self.segments {
            let micros = u128::from(*d) * 1_000_000 / u128::from(self.timescale.max(1));
            let _ = writeln!(out, "#EXTINF:{}.{:06},\n{uri}", micros / 1_000_000, micros % 1_000_000);
        }
        if self.ended {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::Chunk;

    fn manifest() -> ClientManifest {
        let level = |bitrate, fourcc: &str, cpd: &str| QualityLevel {
            bitrate,
            fourcc: fourcc.into(),
            codec_private_data: cpd.into(),
            channels: (fourcc == "AACL").then_some(2),
            ..Default::default()
        };
        let chunks = vec![Chunk { t: 0, d: 20_000_000 }, Chunk { t: 20_000_000, d: 15_000_000 }];
        let audio = StreamIndex {
            kind: "audio".into(),
            name: "audio_eng".into(),
            language: Some("eng".into()),
            quality_levels: vec![level(128_000, "AACL", "1190")],
            chunks: chunks.clone(),
            ..Default::default()
        };
        ClientManifest::on_demand(35_000_000, vec![audio])
    }

    #[test]
    fn audio_only_and_media_lines() {
        let m = manifest();
        let naming = Naming::origin("m3u8-cmaf");
        let nominal = Measured { frame_rate: &|_, _| None, rates: &|_, _| None };
        let master = master(&m, HlsFlavor::Cmaf, &naming, &nominal).unwrap().render();
        assert_eq!(
            master.lines().collect::<Vec<_>>(),
            [
                "#EXTM3U",
                "#EXT-X-VERSION:7",
                "#EXT-X-INDEPENDENT-SEGMENTS",
                "#EXT-X-STREAM-INF:BANDWIDTH=128000,AVERAGE-BANDWIDTH=128000,CODECS=\"mp4a.40.2\"",
                "QualityLevels(128000)/Manifest(audio_eng,format=m3u8-cmaf)",
            ]
        );
        let p = media(&m, &m.streams[0], 128_000, HlsFlavor::Aapl, &Naming::origin("m3u8-aapl"), 0).render();
        assert!(p.contains("#EXT-X-TARGETDURATION:2\n"));
        assert!(p.contains("#EXTINF:1.500000,\nFragments(audio_eng=20000000,format=m3u8-aapl)\n"));
        assert!(!p.contains("EXT-X-MAP"), "MPEG-TS segments have no init segment");
        assert!(p.ends_with("#EXT-X-ENDLIST\n"));
        assert_eq!(quoted("a\"b\nc"), "\"abc\"");
    }

    #[test]
    fn measured_rates_add_the_largest_audio_rendition() {
        let mut m = manifest();
        let mut second = m.streams[0].clone();
        second.name = "audio_fra".into();
        second.language = Some("fra".into());
        let video = StreamIndex {
            kind: "video".into(),
            name: "video".into(),
            quality_levels: vec![QualityLevel { bitrate: 800_000, fourcc: "AACL".into(), ..Default::default() }],
            chunks: m.streams[0].chunks.clone(),
            ..Default::default()
        };
        m.streams = vec![video, m.streams[0].clone(), second];
        let rates = |s: &StreamIndex, _: &QualityLevel| match s.name.as_str() {
            "video" => Some(SegmentRates { peak: 900_000, average: 700_000 }),
            "audio_eng" => Some(SegmentRates { peak: 140_000, average: 130_000 }),
            _ => None, // nominal 128000
        };
        let with = Measured { frame_rate: &|_, _| None, rates: &rates };
        let p = master(&m, HlsFlavor::Cmaf, &Naming::origin("m3u8-cmaf"), &with).unwrap();
        assert_eq!((p.variants[0].bandwidth, p.variants[0].average_bandwidth), (1_040_000, 830_000));
        assert_eq!(p.media.len(), 2);
    }
}
