//! The client manifest (`SmoothStreamingMedia`, MS-SSTR 2.2.2).

use serde::{Deserialize, Serialize};

use crate::format::error::{FormatError, Result};

/// The whole client manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientManifest {
    pub major_version: u32,
    pub minor_version: u32,
    pub timescale: u64,
    /// Presentation duration in `timescale` units (0 for live).
    pub duration: u64,
    pub is_live: bool,
    /// Live: fragments announced ahead through `tfrf` (`LookaheadCount`).
    pub lookahead_count: Option<u32>,
    /// Live: the DVR window in `timescale` units.
    pub dvr_window_length: Option<u64>,
    pub streams: Vec<StreamIndex>,
}

/// One `StreamIndex`: a media type with its rungs and the fragment timeline all rungs share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamIndex {
    /// `video`, `audio` or `text`.
    pub kind: String,
    pub name: String,
    /// URL template, e.g. `QualityLevels({bitrate})/Fragments(video={start time})`.
    pub url: String,
    pub language: Option<String>,
    pub subtype: Option<String>,
    /// A per-stream `TimeScale`, if the manifest gives one.
    pub timescale: Option<u64>,
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    pub display_width: Option<u32>,
    pub display_height: Option<u32>,
    pub quality_levels: Vec<QualityLevel>,
    /// Fragments with absolute start times (runs expanded).
    pub chunks: Vec<Chunk>,
}

/// One `QualityLevel` (rung).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QualityLevel {
    pub index: u32,
    pub bitrate: u32,
    pub fourcc: String,
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    /// Hex as written in the manifest.
    pub codec_private_data: String,
    pub sampling_rate: Option<u32>,
    pub channels: Option<u16>,
    pub bits_per_sample: Option<u16>,
    pub packet_size: Option<u32>,
    pub audio_tag: Option<u32>,
}

/// One fragment on a stream's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub t: u64,
    pub d: u64,
}

impl ClientManifest {
    /// An on-demand manifest (MajorVersion 2, MinorVersion 2 for `r` runs, 100 ns timescale).
    pub fn on_demand(duration: u64, streams: Vec<StreamIndex>) -> Self {
        ClientManifest {
            major_version: 2,
            minor_version: 2,
            timescale: crate::format::TIMESCALE,
            duration,
            is_live: false,
            lookahead_count: None,
            dvr_window_length: None,
            streams,
        }
    }

    pub fn to_xml(&self) -> Result<String> {
        super::to_xml("SmoothStreamingMedia", &WireMedia::from(self))
    }

    pub fn from_xml(xml: &str, context: &str) -> Result<Self> {
        let wire: WireMedia = super::from_xml(xml, context)?;
        wire.into_model(context)
    }

    /// The stream a URL's track name refers to (`video`, `audio`, …).
    pub fn stream(&self, name: &str) -> Option<&StreamIndex> {
        self.streams.iter().find(|s| s.name == name)
    }
}

impl StreamIndex {
    /// The timescale this stream's times are in.
    pub fn effective_timescale(&self, root: &ClientManifest) -> u64 {
        self.timescale.unwrap_or(root.timescale)
    }

    /// The fragment URL for a rung and a start time, relative to the manifest.
    pub fn fragment_url(&self, bitrate: u32, time: u64) -> String {
        self.url
            .replace("{bitrate}", &bitrate.to_string())
            .replace("{Bitrate}", &bitrate.to_string())
            .replace("{start time}", &time.to_string())
            .replace("{start_time}", &time.to_string())
    }
}

// ---- wire format -------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct WireMedia {
    #[serde(rename = "@MajorVersion")]
    major: u32,
    #[serde(rename = "@MinorVersion")]
    minor: u32,
    #[serde(rename = "@TimeScale", default, skip_serializing_if = "Option::is_none")]
    timescale: Option<u64>,
    #[serde(rename = "@Duration")]
    duration: u64,
    #[serde(rename = "@IsLive", default, skip_serializing_if = "Option::is_none")]
    is_live: Option<String>,
    #[serde(rename = "@LookaheadCount", default, skip_serializing_if = "Option::is_none")]
    lookahead: Option<u32>,
    #[serde(rename = "@LookAheadFragmentCount", default, skip_serializing_if = "Option::is_none")]
    lookahead_iis: Option<u32>,
    #[serde(rename = "@DVRWindowLength", default, skip_serializing_if = "Option::is_none")]
    dvr: Option<u64>,
    #[serde(rename = "StreamIndex", default)]
    streams: Vec<WireStream>,
}

#[derive(Serialize, Deserialize)]
struct WireStream {
    #[serde(rename = "@Type")]
    kind: String,
    #[serde(rename = "@Name", default)]
    name: Option<String>,
    #[serde(rename = "@Subtype", default, skip_serializing_if = "Option::is_none")]
    subtype: Option<String>,
    #[serde(rename = "@TimeScale", default, skip_serializing_if = "Option::is_none")]
    timescale: Option<u64>,
    #[serde(rename = "@Chunks", default)]
    chunks: Option<u32>,
    #[serde(rename = "@QualityLevels", default)]
    quality_levels: Option<u32>,
    #[serde(rename = "@Url")]
    url: String,
    #[serde(rename = "@MaxWidth", default, skip_serializing_if = "Option::is_none")]
    max_width: Option<u32>,
    #[serde(rename = "@MaxHeight", default, skip_serializing_if = "Option::is_none")]
    max_height: Option<u32>,
    #[serde(rename = "@DisplayWidth", default, skip_serializing_if = "Option::is_none")]
    display_width: Option<u32>,
    #[serde(rename = "@DisplayHeight", default, skip_serializing_if = "Option::is_none")]
    display_height: Option<u32>,
    #[serde(rename = "@Language", default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(rename = "QualityLevel", default)]
    levels: Vec<WireLevel>,
    #[serde(rename = "c", default)]
    c: Vec<WireChunk>,
}

#[derive(Serialize, Deserialize)]
struct WireLevel {
    #[serde(rename = "@Index", default)]
    index: Option<u32>,
    #[serde(rename = "@Bitrate")]
    bitrate: u32,
    #[serde(rename = "@FourCC", default)]
    fourcc: Option<String>,
    #[serde(rename = "@MaxWidth", default, skip_serializing_if = "Option::is_none")]
    max_width: Option<u32>,
    #[serde(rename = "@MaxHeight", default, skip_serializing_if = "Option::is_none")]
    max_height: Option<u32>,
    #[serde(rename = "@SamplingRate", default, skip_serializing_if = "Option::is_none")]
    sampling_rate: Option<u32>,
    #[serde(rename = "@Channels", default, skip_serializing_if = "Option::is_none")]
    channels: Option<u16>,
    #[serde(rename = "@BitsPerSample", default, skip_serializing_if = "Option::is_none")]
    bits_per_sample: Option<u16>,
    #[serde(rename = "@PacketSize", default, skip_serializing_if = "Option::is_none")]
    packet_size: Option<u32>,
    #[serde(rename = "@AudioTag", default, skip_serializing_if = "Option::is_none")]
    audio_tag: Option<u32>,
    #[serde(rename = "@CodecPrivateData", default)]
    codec_private_data: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct WireChunk {
    #[serde(rename = "@t", default, skip_serializing_if = "Option::is_none")]
    t: Option<u64>,
    #[serde(rename = "@d", default, skip_serializing_if = "Option::is_none")]
    d: Option<u64>,
    #[serde(rename = "@r", default, skip_serializing_if = "Option::is_none")]
    r: Option<u64>,
}

impl From<&ClientManifest> for WireMedia {
    fn from(m: &ClientManifest) -> Self {
        WireMedia {
            major: m.major_version,
            minor: m.minor_version,
            timescale: Some(m.timescale),
            duration: m.duration,
            is_live: m.is_live.then(|| "TRUE".to_string()),
            lookahead: m.lookahead_count,
            lookahead_iis: m.lookahead_count,
            dvr: m.dvr_window_length,
            streams: m.streams.iter().map(|s| WireStream::from_model(s, m.minor_version >= 2)).collect(),
        }
    }
}

impl WireStream {
    fn from_model(s: &StreamIndex, runs: bool) -> Self {
        WireStream {
            kind: s.kind.clone(),
            name: Some(s.name.clone()),
            subtype: s.subtype.clone(),
            timescale: s.timescale,
            chunks: Some(s.chunks.len() as u32),
            quality_levels: Some(s.quality_levels.len() as u32),
            url: s.url.clone(),
            max_width: s.max_width,
            max_height: s.max_height,
            display_width: s.display_width,
            display_height: s.display_height,
            language: s.language.clone(),
            levels: s.quality_levels.iter().map(WireLevel::from).collect(),
            c: compress(&s.chunks, runs),
        }
    }
}

impl From<&QualityLevel> for WireLevel {
    fn from(q: &QualityLevel) -> Self {
        WireLevel {
            index: Some(q.index),
            bitrate: q.bitrate,
            fourcc: Some(q.fourcc.clone()),
            max_width: q.max_width,
            max_height: q.max_height,
            sampling_rate: q.sampling_rate,
            channels: q.channels,
            bits_per_sample: q.bits_per_sample,
            packet_size: q.packet_size,
            audio_tag: q.audio_tag,
            codec_private_data: Some(q.codec_private_data.clone()),
        }
    }
}

/// `t` on the first chunk and after any gap; equal consecutive durations folded into `r` runs
/// (`r` counts the fragments of the run, as dash.js, Shaka and Media3 read it).
fn compress(chunks: &[Chunk], runs: bool) -> Vec<WireChunk> {
    let mut out: Vec<WireChunk> = Vec::new();
    let mut expected: Option<u64> = None;
    for c in chunks {
        let contiguous = expected == Some(c.t);
        if let Some(last) = out.last_mut() {
            if runs && contiguous && last.d == Some(c.d) {
                last.r = Some(last.r.unwrap_or(1) + 1);
                expected = Some(c.t + c.d);
                continue;
            }
        }
        out.push(WireChunk { t: (!contiguous).then_some(c.t), d: Some(c.d), r: None });
        expected = Some(c.t + c.d);
    }
    out
}

/// Most fragments one manifest may expand to, over all its streams (16 bytes each in memory: 32 MB at
/// the limit). The limit is on the total, not per `c`: a few hundred bytes of `<c r="10000000"/>` must
/// not reach gigabytes, and runs the writer merges (`r` of one `c` = the sum of several) must still
/// parse back. 2 M covers 24 h at 0.5 s fragments with 11 streams; real presentations are far below
/// (24 h at 2 s is 43,200 fragments per stream).
const MAX_CHUNKS: u64 = 2_000_000;

/// Expands `c` elements into absolute chunks. The first `t` defaults to 0; a missing `d` is the gap to
/// the next `t` (or to the end of the presentation for the last chunk). `budget` is what remains of
/// [`MAX_CHUNKS`] for the manifest.
fn expand(wire: &[WireChunk], end: u64, budget: &mut u64, context: &str) -> Result<Vec<Chunk>> {
    // Count first, so that a manifest over the limit is refused before anything is allocated.
    let total = wire.iter().fold(0u64, |n, c| n.saturating_add(c.r.unwrap_or(1).max(1)));
    if total > *budget {
        return Err(FormatError::invalid(
            context,
            format!("{total} fragments: over {MAX_CHUNKS} fragments in the manifest"),
        ));
    }
    *budget -= total;
    let mut out = Vec::with_capacity(wire.len());
    let mut next_t = 0u64;
    for (i, c) in wire.iter().enumerate() {
        let t = c.t.unwrap_or(next_t);
        let d = match c.d {
            Some(d) => d,
            None => match wire.get(i + 1).and_then(|n| n.t) {
                Some(nt) if nt > t => nt - t,
                _ if end > t && i + 1 == wire.len() => end - t,
                _ => return Err(FormatError::invalid(context, format!("c #{i} has no duration"))),
            },
        };
        let repeat = c.r.unwrap_or(1).max(1);
        let mut t = t;
        for _ in 0..repeat {
            out.push(Chunk { t, d });
            t = t.checked_add(d).ok_or_else(|| FormatError::invalid(context, format!("c #{i}: time overflows")))?;
        }
        next_t = t;
    }
    Ok(out)
}

impl WireMedia {
    fn into_model(self, context: &str) -> Result<ClientManifest> {
        let timescale = self.timescale.unwrap_or(crate::format::TIMESCALE);
        let duration = self.duration;
        let mut budget = MAX_CHUNKS;
        let streams = self
            .streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let ctx = format!("{context}: StreamIndex #{i}");
                let chunks = expand(&s.c, duration, &mut budget, &ctx)?;
                Ok(StreamIndex {
                    name: s.name.unwrap_or_else(|| s.kind.clone()),
                    kind: s.kind,
                    url: s.url,
                    language: s.language,
                    subtype: s.subtype,
                    timescale: s.timescale,
                    max_width: s.max_width,
                    max_height: s.max_height,
                    display_width: s.display_width,
                    display_height: s.display_height,
                    quality_levels: s
                        .levels
                        .into_iter()
                        .enumerate()
                        .map(|(j, q)| QualityLevel {
                            index: q.index.unwrap_or(j as u32),
                            bitrate: q.bitrate,
                            fourcc: q.fourcc.unwrap_or_default(),
                            max_width: q.max_width,
                            max_height: q.max_height,
                            codec_private_data: q.codec_private_data.unwrap_or_default(),
                            sampling_rate: q.sampling_rate,
                            channels: q.channels,
                            bits_per_sample: q.bits_per_sample,
                            packet_size: q.packet_size,
                            audio_tag: q.audio_tag,
                        })
                        .collect(),
                    chunks,
                })
            })
            .collect::<Result<_>>()?;
        Ok(ClientManifest {
            major_version: self.major,
            minor_version: self.minor,
            timescale,
            duration,
            is_live: self.is_live.is_some_and(|v| v.eq_ignore_ascii_case("true")),
            lookahead_count: self.lookahead.or(self.lookahead_iis),
            dvr_window_length: self.dvr,
            streams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ClientManifest {
        let chunks = vec![
            Chunk { t: 0, d: 20_000_000 },
            Chunk { t: 20_000_000, d: 20_000_000 },
            Chunk { t: 40_000_000, d: 5_000_000 },
        ];
        ClientManifest::on_demand(
            45_000_000,
            vec![StreamIndex {
                kind: "video".into(),
                name: "video".into(),
                url: "QualityLevels({bitrate})/Fragments(video={start time})".into(),
                max_width: Some(640),
                max_height: Some(360),
                display_width: Some(640),
                display_height: Some(360),
                quality_levels: vec![QualityLevel {
                    index: 0,
                    bitrate: 800_000,
                    fourcc: "H264".into(),
                    max_width: Some(640),
                    max_height: Some(360),
                    codec_private_data: "000000016764".into(),
                    ..Default::default()
                }],
                chunks,
                ..Default::default()
            }],
        )
    }

    #[test]
    fn round_trip_with_runs() {
        let m = sample();
        let xml = m.to_xml().unwrap();
        assert!(xml.contains(r#"<c t="0" d="20000000" r="2"/>"#), "{xml}");
        assert!(xml.contains(r#"<c d="5000000"/>"#), "{xml}");
        assert!(xml.contains(r#"TimeScale="10000000""#));
        assert_eq!(ClientManifest::from_xml(&xml, "t").unwrap(), m);
    }

    #[test]
    fn first_chunk_defaults_to_zero_and_missing_d_is_derived() {
        let xml = r#"<SmoothStreamingMedia MajorVersion="2" MinorVersion="0" Duration="100">
          <StreamIndex Type="audio" Url="x"><QualityLevel Bitrate="1"/>
          <c d="30"/><c t="40"/><c t="70" d="30"/></StreamIndex></SmoothStreamingMedia>"#;
        let m = ClientManifest::from_xml(xml, "t").unwrap();
        let c: Vec<_> = m.streams[0].chunks.iter().map(|c| (c.t, c.d)).collect();
        assert_eq!(c, vec![(0, 30), (40, 30), (70, 30)]);
        assert_eq!(m.streams[0].name, "audio");
    }

    #[test]
    fn repeat_counts_are_limited_in_total_and_merged_runs_parse_back() {
        // Crafted for fuzz/fuzz_targets/client_manifest.rs. 60 × r=10,000,000 in 1.5 KB of XML asked for
        // 9.6 GB; and two c of r=6,000,000 parsed, were written back as one c of r=12,000,000 that the
        // per-c limit then refused. The total is now counted before anything is expanded.
        let doc = |cs: &str| {
            format!(
                r#"<SmoothStreamingMedia MajorVersion="2" MinorVersion="2" Duration="0">
                <StreamIndex Type="video" Url="x"><QualityLevel Bitrate="1"/>{cs}</StreamIndex></SmoothStreamingMedia>"#
            )
        };
        let bomb = doc(&r#"<c d="1" r="10000000"/>"#.repeat(60));
        let err = ClientManifest::from_xml(&bomb, "t").unwrap_err();
        assert!(err.to_string().contains("fragments in the manifest"), "{err}");
        let m = ClientManifest::from_xml(&doc(r#"<c t="0" d="1" r="600"/><c d="1" r="600"/>"#), "t").unwrap();
        assert_eq!(m.streams[0].chunks.len(), 1200);
        let xml = m.to_xml().unwrap();
        assert!(xml.contains(r#"r="1200""#), "{xml}");
        assert_eq!(ClientManifest::from_xml(&xml, "t").unwrap(), m);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ClientManifest::from_xml("<nope", "t").is_err());
        assert!(ClientManifest::from_xml("<SmoothStreamingMedia/>", "t").is_err());
    }
}
