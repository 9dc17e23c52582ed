//! A Smooth presentation as a DASH MPD: one `AdaptationSet` per `StreamIndex` (language and role
//! from the manifest; TTML text as IMSC1 `stpp`), one `Representation` per `QualityLevel`, a `SegmentTemplate` in the Smooth
//! timescale whose `SegmentTimeline` holds the exact Smooth `t`/`d` values, and the origin's
//! `QualityLevels($Bandwidth$)/Fragments(NAME=$Time$,format=…)` segment URLs.
//!
//! Built from the same [`ClientManifest`] the Smooth manifest is, serialized by quick-xml from a
//! typed model. Static for on-demand presentations, dynamic (`availabilityStartTime`,
//! `timeShiftBufferDepth`, `minimumUpdatePeriod`) for a live publishing point.

use serde::Serialize;

use super::cmaf::{codecs, Naming, TEXT_CODECS};
use super::error::{FormatError, Result};
use super::manifest::{ClientManifest, StreamIndex};
use super::text::TextRole;

/// `format=` value of the DASH manifests (and their segments' URLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashFlavor {
    /// `mpd-time-csf`: the DASH ISO BMFF live profile.
    TimeCsf,
    /// `mpd-time-cmaf`: the same segments, announced with the CMAF profile too.
    TimeCmaf,
}

impl DashFlavor {
    pub fn format_name(self) -> &'static str {
        match self {
            DashFlavor::TimeCsf => "mpd-time-csf",
            DashFlavor::TimeCmaf => "mpd-time-cmaf",
        }
    }

    fn profiles(self) -> &'static str {
        match self {
            DashFlavor::TimeCsf => "urn:mpeg:dash:profile:isoff-live:2011",
            DashFlavor::TimeCmaf => "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019",
        }
    }
}

/// What a dynamic (live) MPD says beyond the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTiming {
    /// Wall-clock time of media time 0, ISO 8601 UTC (`2026-12-01T11:00:00Z`).
    pub availability_start: String,
    /// When this MPD was built, ISO 8601 UTC.
    pub publish_time: String,
    /// The DVR window in seconds (`timeShiftBufferDepth`), 0 for none.
    pub time_shift_buffer_secs: u64,
    /// How often players re-fetch the MPD, seconds.
    pub minimum_update_secs: u64,
}

/// The MPD of `manifest`; `live` makes it dynamic. Text streams are IMSC1 `stpp` sets.
pub fn mpd(manifest: &ClientManifest, flavor: DashFlavor, naming: &Naming, live: Option<&LiveTiming>) -> Result<Mpd> {
    let mut sets = Vec::new();
    for (i, stream) in manifest.streams.iter().enumerate() {
        if let Some(set) = adaptation_set(manifest, stream, i as u32 + 1, naming)? {
            sets.push(set);
        }
    }
    let secs = |ticks: u64| duration(ticks, manifest.timescale);
    // The longest fragment of any stream, in the root timescale (streams may have their own).
    let min_fragment = manifest
        .streams
        .iter()
        .flat_map(|s| s.chunks.iter().map(move |c| (c.d, s.effective_timescale(manifest))))
        .map(|(d, ts)| (u128::from(d) * u128::from(manifest.timescale) / u128::from(ts.max(1))) as u64)
        .max()
        .unwrap_or(0);
    Ok(Mpd {
        xmlns: "urn:mpeg:dash:schema:mpd:2011",
        profiles: flavor.profiles(),
        kind: if live.is_some() { "dynamic" } else { "static" },
        media_presentation_duration: live.is_none().then(|| secs(manifest.duration)),
        availability_start_time: live.map(|l| l.availability_start.clone()),
        publish_time: live.map(|l| l.publish_time.clone()),
        time_shift_buffer_depth: live
            .filter(|l| l.time_shift_buffer_secs > 0)
            .map(|l| secs_text(l.time_shift_buffer_secs)),
        minimum_update_period: live.map(|l| secs_text(l.minimum_update_secs.max(1))),
        min_buffer_time: secs(min_fragment.max(manifest.timescale)),
        period: Period { id: "0", start: "PT0S", adaptation_sets: sets },
    })
}

impl Mpd {
    pub fn to_xml(&self) -> Result<String> {
        let mut body = String::new();
        let mut ser =
            quick_xml::se::Serializer::with_root(&mut body, Some("MPD")).map_err(|e| FormatError::invalid("MPD", e))?;
        ser.indent(' ', 2);
        self.serialize(ser).map_err(|e| FormatError::invalid("MPD", e))?;
        Ok(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}\n"))
    }
}

fn adaptation_set(m: &ClientManifest, s: &StreamIndex, id: u32, naming: &Naming) -> Result<Option<AdaptationSet>> {
    let video = match s.kind.as_str() {
        "video" => true,
        "audio" => false,
        "text" => return Ok(text_set(m, s, id, naming)),
        _ => return Ok(None),
    };
    let first_of_kind = m.streams.iter().find(|o| o.kind == s.kind).is_some_and(|o| std::ptr::eq(o, s));
    let ctx = format!("stream {}", s.name);
    let mut reps = Vec::new();
    for q in &s.quality_levels {
        let codecs = codecs(&q.fourcc, &q.codec_private_data)
            .ok_or_else(|| FormatError::invalid(&ctx, format!("no DASH codecs string for FourCC {:?}", q.fourcc)))?;
        reps.push(Representation {
            id: format!("{}_{}", s.name, q.bitrate),
            bandwidth: q.bitrate,
            codecs,
            width: if video { q.max_width.or(s.max_width) } else { None },
            height: if video { q.max_height.or(s.max_height) } else { None },
            audio_sampling_rate: if video { None } else { q.sampling_rate },
            channels: if video {
                None
            } else {
                q.channels.map(|c| Descriptor {
                    scheme: "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
                    value: c.to_string(),
                })
            },
        });
    }
    if reps.is_empty() {
        return Ok(None);
    }
    Ok(Some(AdaptationSet {
        id,
        content_type: if video { "video" } else { "audio" },
        mime_type: if video { "video/mp4" } else { "audio/mp4" },
        lang: s.language.clone().filter(|l| !l.is_empty() && l != "und"),
        segment_alignment: true,
        start_with_sap: 1,
        role: Descriptor {
            scheme: "urn:mpeg:dash:role:2011",
            value: if first_of_kind { "main" } else { "alternate" }.to_string(),
        },
        template: template(m, s, naming),
        representations: reps,
    }))
}

/// The `AdaptationSet` of a TTML text stream: IMSC1 in `stpp`, role `subtitle` (Smooth `SUBT`) or
/// `caption` (`CAPT`). `None` when the stream has no rung.
fn text_set(m: &ClientManifest, s: &StreamIndex, id: u32, naming: &Naming) -> Option<AdaptationSet> {
    let role = match s.subtype.as_deref().and_then(TextRole::from_subtype) {
        Some(TextRole::Captions) => "caption",
        _ => "subtitle",
    };
    let reps: Vec<Representation> = s
        .quality_levels
        .iter()
        .map(|q| Representation {
            id: format!("{}_{}", s.name, q.bitrate),
            bandwidth: q.bitrate,
            codecs: TEXT_CODECS.to_string(),
            width: None,
            height: None,
            audio_sampling_rate: None,
            channels: None,
        })
        .collect();
    (!reps.is_empty()).then(|| AdaptationSet {
        id,
        content_type: "text",
        mime_type: "application/mp4",
        lang: s.language.clone().filter(|l| !l.is_empty() && l != "und"),
        segment_alignment: true,
        start_with_sap: 1,
        role: Descriptor { scheme: "urn:mpeg:dash:role:2011", value: role.to_string() },
        template: template(m, s, naming),
        representations: reps,
    })
}

fn template(m: &ClientManifest, s: &StreamIndex, naming: &Naming) -> SegmentTemplate {
    SegmentTemplate {
        timescale: s.effective_timescale(m),
        media: Naming::fill(&naming.dash_segment, &s.name, "$Bandwidth$", "$Time$"),
        initialization: Naming::fill(&naming.dash_init, &s.name, "$Bandwidth$", "$Time$"),
        timeline: SegmentTimeline { s: timeline(s) },
    }
}

/// The `S` elements: one per run of equal durations with no gap (`r` repeats), `t` on each.
fn timeline(s: &StreamIndex) -> Vec<S> {
    let mut out: Vec<S> = Vec::new();
    let mut end = None;
    for c in &s.chunks {
        match out.last_mut() {
            Some(last) if last.d == c.d && end == Some(c.t) => last.r = Some(last.r.unwrap_or(0) + 1),
            _ => out.push(S { t: c.t, d: c.d, r: None }),
        }
        end = Some(c.t + c.d);
    }
    out
}

/// An xs:duration of `ticks` at `timescale`, to the millisecond.
fn duration(ticks: u64, timescale: u64) -> String {
    let ms = u128::from(ticks) * 1000 / u128::from(timescale.max(1));
    format!("PT{}.{:03}S", ms / 1000, ms % 1000)
}

fn secs_text(secs: u64) -> String {
    format!("PT{secs}S")
}

// ---- the typed MPD ------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct Mpd {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "@profiles")]
    profiles: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    #[serde(rename = "@mediaPresentationDuration", skip_serializing_if = "Option::is_none")]
    media_presentation_duration: Option<String>,
    #[serde(rename = "@availabilityStartTime", skip_serializing_if = "Option::is_none")]
    availability_start_time: Option<String>,
    #[serde(rename = "@publishTime", skip_serializing_if = "Option::is_none")]
    publish_time: Option<String>,
    #[serde(rename = "@timeShiftBufferDepth", skip_serializing_if = "Option::is_none")]
    time_shift_buffer_depth: Option<String>,
    #[serde(rename = "@minimumUpdatePeriod", skip_serializing_if = "Option::is_none")]
    minimum_update_period: Option<String>,
    #[serde(rename = "@minBufferTime")]
    min_buffer_time: String,
    #[serde(rename = "Period")]
    period: Period,
}

#[derive(Debug, Serialize)]
struct Period {
    #[serde(rename = "@id")]
    id: &'static str,
    #[serde(rename = "@start")]
    start: &'static str,
    #[serde(rename = "AdaptationSet")]
    adaptation_sets: Vec<AdaptationSet>,
}

#[derive(Debug, Serialize)]
struct AdaptationSet {
    #[serde(rename = "@id")]
    id: u32,
    #[serde(rename = "@contentType")]
    content_type: &'static str,
    #[serde(rename = "@mimeType")]
    mime_type: &'static str,
    #[serde(rename = "@lang", skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
    #[serde(rename = "@segmentAlignment")]
    segment_alignment: bool,
    #[serde(rename = "@startWithSAP")]
    start_with_sap: u32,
    #[serde(rename = "Role")]
    role: Descriptor,
    #[serde(rename = "SegmentTemplate")]
    template: SegmentTemplate,
    #[serde(rename = "Representation")]
    representations: Vec<Representation>,
}

#[derive(Debug, Serialize)]
struct Descriptor {
    #[serde(rename = "@schemeIdUri")]
    scheme: &'static str,
    #[serde(rename = "@value")]
    value: String,
}

#[derive(Debug, Serialize)]
struct SegmentTemplate {
    #[serde(rename = "@timescale")]
    timescale: u64,
    #[serde(rename = "@media")]
    media: String,
    #[serde(rename = "@initialization")]
    initialization: String,
    #[serde(rename = "SegmentTimeline")]
    timeline: SegmentTimeline,
}

#[derive(Debug, Serialize)]
struct SegmentTimeline {
    #[serde(rename = "S")]
    s: Vec<S>,
}

#[derive(Debug, Serialize)]
struct S {
    #[serde(rename = "@t")]
    t: u64,
    #[serde(rename = "@d")]
    d: u64,
    #[serde(rename = "@r", skip_serializing_if = "Option::is_none")]
    r: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Representation {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@bandwidth")]
    bandwidth: u32,
    #[serde(rename = "@codecs")]
    codecs: String,
    #[serde(rename = "@width", skip_serializing_if = "Option::is_none")]
    width: Option<u32>,
    #[serde(rename = "@height", skip_serializing_if = "Option::is_none")]
    height: Option<u32>,
    #[serde(rename = "@audioSamplingRate", skip_serializing_if = "Option::is_none")]
    audio_sampling_rate: Option<u32>,
    #[serde(rename = "AudioChannelConfiguration", skip_serializing_if = "Option::is_none")]
    channels: Option<Descriptor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::{Chunk, QualityLevel};

    #[test]
    fn runs_and_durations() {
        let s = StreamIndex {
            chunks: [(0, 20), (20, 20), (40, 20), (60, 10), (75, 10)].iter().map(|&(t, d)| Chunk { t, d }).collect(),
            ..Default::default()
        };
        let tl = timeline(&s);
        let got: Vec<(u64, u64, Option<u64>)> = tl.iter().map(|s| (s.t, s.d, s.r)).collect();
        assert_eq!(got, [(0, 20, Some(2)), (60, 10, None), (75, 10, None)], "a gap starts a new S");
        assert_eq!(duration(61_234_567, 10_000_000), "PT6.123S");
    }

    #[test]
    fn unknown_codec_is_an_error_text_is_stpp() {
        let level = QualityLevel { bitrate: 1, fourcc: "WVC1".into(), ..Default::default() };
        let video = StreamIndex {
            kind: "video".into(),
            name: "video".into(),
            quality_levels: vec![level],
            ..Default::default()
        };
        let text = StreamIndex {
            kind: "text".into(),
            name: "text_eng".into(),
            language: Some("en".into()),
            subtype: Some("CAPT".into()),
            quality_levels: vec![QualityLevel { bitrate: 1000, fourcc: "TTML".into(), ..Default::default() }],
            ..Default::default()
        };
        let m = ClientManifest::on_demand(10, vec![text.clone()]);
        let sets = mpd(&m, DashFlavor::TimeCsf, &Naming::origin("mpd-time-csf"), None).unwrap().period.adaptation_sets;
        assert_eq!(sets.len(), 1);
        assert_eq!((sets[0].content_type, sets[0].mime_type), ("text", "application/mp4"));
        assert_eq!((sets[0].lang.as_deref(), sets[0].role.value.as_str()), (Some("en"), "caption"));
        assert_eq!(sets[0].representations[0].codecs, "stpp.ttml.im1t");
        assert_eq!(sets[0].template.media, "QualityLevels($Bandwidth$)/Fragments(text_eng=$Time$,format=mpd-time-csf)");
        let m = ClientManifest::on_demand(10, vec![video, text]);
        assert!(mpd(&m, DashFlavor::TimeCsf, &Naming::origin("mpd-time-csf"), None).is_err());
    }
}
