//! The server manifest (`.ism`): SMIL 2.0 naming the client manifest and one media file per track.

use serde::{Deserialize, Serialize};

use crate::format::error::{FormatError, Result};
use crate::format::TrackKind;

const SMIL_NS: &str = "http://www.w3.org/2001/SMIL20/Language";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerManifest {
    /// `clientManifestRelativePath`, e.g. `NAME.ismc`.
    pub client_manifest: String,
    pub tracks: Vec<ServerTrack>,
}

/// One `<video>`, `<audio>` or `<textstream>` entry of the `<switch>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTrack {
    pub kind: TrackKind,
    /// Media file, relative to the `.ism`.
    pub src: String,
    /// Must equal the client manifest's `Bitrate` (what `QualityLevels(B)` is matched against).
    pub system_bitrate: u32,
    pub track_id: u32,
    /// The `StreamIndex` name (`video`, `audio`…).
    pub track_name: String,
    /// `systemLanguage`, when given (live ingest manifests carry it).
    pub language: Option<String>,
}

impl ServerManifest {
    pub fn to_xml(&self) -> Result<String> {
        let param = |name: &str, value: String| WireParam { name: name.into(), value, valuetype: Some("data".into()) };
        let entry = |t: &ServerTrack| WireMediaRef {
            src: t.src.clone(),
            system_bitrate: t.system_bitrate,
            params: [param("trackID", t.track_id.to_string()), param("trackName", t.track_name.clone())]
                .into_iter()
                .chain(t.language.clone().map(|l| param("systemLanguage", l)))
                .collect(),
        };
        let pick = |k: TrackKind| self.tracks.iter().filter(|t| t.kind == k).map(entry).collect();
        let wire = WireSmil {
            xmlns: Some(SMIL_NS.into()),
            head: WireHead {
                meta: vec![WireMeta {
                    name: "clientManifestRelativePath".into(),
                    content: self.client_manifest.clone(),
                }],
            },
            body: WireBody {
                switch: WireSwitch {
                    video: pick(TrackKind::Video),
                    audio: pick(TrackKind::Audio),
                    textstream: pick(TrackKind::Text),
                },
            },
        };
        super::to_xml("smil", &wire)
    }

    /// The SMIL a live encoder sends in its live server manifest box (MS-SSTR 2.2.7, Azure live
    /// ingest): no client manifest meta, no `src`, and per track, besides trackID, trackName and
    /// systemLanguage, the codec parameters of its `QualityLevel` (FourCC, CodecPrivateData,
    /// MaxWidth/MaxHeight or SamplingRate/Channels/BitsPerSample/PacketSize/AudioTag).
    pub fn ingest_xml(tracks: &[(ServerTrack, super::QualityLevel)]) -> Result<String> {
        let param = |name: &str, value: String| WireParam { name: name.into(), value, valuetype: Some("data".into()) };
        let entry = |(t, q): &(ServerTrack, super::QualityLevel)| {
            let mut params = vec![param("trackID", t.track_id.to_string()), param("trackName", t.track_name.clone())];
            params.extend(t.language.clone().map(|l| param("systemLanguage", l)));
            params.push(param("FourCC", q.fourcc.clone()));
            params.push(param("CodecPrivateData", q.codec_private_data.clone()));
            let numbers = [
                ("MaxWidth", q.max_width),
                ("MaxHeight", q.max_height),
                ("SamplingRate", q.sampling_rate),
                ("Channels", q.channels.map(u32::from)),
                ("BitsPerSample", q.bits_per_sample.map(u32::from)),
                ("PacketSize", q.packet_size),
                ("AudioTag", q.audio_tag),
            ];
            params.extend(numbers.into_iter().filter_map(|(n, v)| v.map(|v| param(n, v.to_string()))));
            WireMediaRef { src: String::new(), system_bitrate: t.system_bitrate, params }
        };
        let pick = |k: TrackKind| tracks.iter().filter(|(t, _)| t.kind == k).map(entry).collect();
        let wire = WireSmil {
            xmlns: Some(SMIL_NS.into()),
            head: WireHead { meta: vec![WireMeta { name: "creator".into(), content: "ssfpack".into() }] },
            body: WireBody {
                switch: WireSwitch {
                    video: pick(TrackKind::Video),
                    audio: pick(TrackKind::Audio),
                    textstream: pick(TrackKind::Text),
                },
            },
        };
        super::to_xml("smil", &wire)
    }

    pub fn from_xml(xml: &str, context: &str) -> Result<Self> {
        let wire: WireSmil = super::from_xml(xml, context)?;
        let client_manifest = wire
            .head
            .meta
            .iter()
            .find(|m| m.name == "clientManifestRelativePath")
            .map(|m| m.content.clone())
            .ok_or_else(|| FormatError::invalid(context, "no clientManifestRelativePath meta"))?;
        Ok(ServerManifest { client_manifest, tracks: tracks(&wire, context)? })
    }

    /// The tracks of the SMIL a live encoder sends in its live server manifest box (no client
    /// manifest meta, and no `src`: the media arrive in the same stream).
    pub fn tracks_from_ingest_xml(xml: &str, context: &str) -> Result<Vec<ServerTrack>> {
        let wire: WireSmil = super::from_xml(xml, context)?;
        tracks(&wire, context)
    }
}

fn tracks(wire: &WireSmil, context: &str) -> Result<Vec<ServerTrack>> {
    let mut tracks = Vec::new();
    let switch = &wire.body.switch;
    for (kind, list) in
        [(TrackKind::Video, &switch.video), (TrackKind::Audio, &switch.audio), (TrackKind::Text, &switch.textstream)]
    {
        for (i, m) in list.iter().enumerate() {
            let param = |n: &str| m.params.iter().find(|p| p.name.eq_ignore_ascii_case(n)).map(|p| p.value.clone());
            let track_id = param("trackID")
                .ok_or_else(|| FormatError::invalid(context, format!("<{}> #{i} has no trackID", kind.name())))?
                .trim()
                .parse()
                .map_err(|_| {
                    FormatError::invalid(context, format!("<{}> #{i}: trackID is not a number", kind.name()))
                })?;
            tracks.push(ServerTrack {
                kind,
                src: m.src.clone(),
                system_bitrate: m.system_bitrate,
                track_id,
                track_name: param("trackName").unwrap_or_else(|| kind.name().to_string()),
                language: param("systemLanguage"),
            });
        }
    }
    Ok(tracks)
}

#[derive(Serialize, Deserialize)]
struct WireSmil {
    #[serde(rename = "@xmlns", default, skip_serializing_if = "Option::is_none")]
    xmlns: Option<String>,
    #[serde(default)]
    head: WireHead,
    #[serde(default)]
    body: WireBody,
}

/// `<head>` of a SMIL document (shared with the `.isml` point file).
#[derive(Serialize, Deserialize, Default)]
pub(super) struct WireHead {
    #[serde(default)]
    pub(super) meta: Vec<WireMeta>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct WireMeta {
    #[serde(rename = "@name")]
    pub(super) name: String,
    #[serde(rename = "@content", default)]
    pub(super) content: String,
}

#[derive(Serialize, Deserialize, Default)]
struct WireBody {
    #[serde(default)]
    switch: WireSwitch,
}

#[derive(Serialize, Deserialize, Default)]
struct WireSwitch {
    #[serde(default)]
    video: Vec<WireMediaRef>,
    #[serde(default)]
    audio: Vec<WireMediaRef>,
    #[serde(default)]
    textstream: Vec<WireMediaRef>,
}

#[derive(Serialize, Deserialize)]
struct WireMediaRef {
    #[serde(rename = "@src", default, skip_serializing_if = "String::is_empty")]
    src: String,
    #[serde(rename = "@systemBitrate")]
    system_bitrate: u32,
    #[serde(rename = "param", default)]
    params: Vec<WireParam>,
}

#[derive(Serialize, Deserialize)]
struct WireParam {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@value")]
    value: String,
    #[serde(rename = "@valuetype", default, skip_serializing_if = "Option::is_none")]
    valuetype: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = ServerManifest {
            client_manifest: "x.ismc".into(),
            tracks: vec![
                ServerTrack {
                    kind: TrackKind::Video,
                    src: "x_800k.ismv".into(),
                    system_bitrate: 800_000,
                    track_id: 1,
                    track_name: "video".into(),
                    language: None,
                },
                ServerTrack {
                    kind: TrackKind::Audio,
                    src: "x_audio.isma".into(),
                    system_bitrate: 128_000,
                    track_id: 1,
                    track_name: "audio".into(),
                    language: Some("eng".into()),
                },
            ],
        };
        let xml = m.to_xml().unwrap();
        assert!(xml.contains(r#"<meta name="clientManifestRelativePath" content="x.ismc"/>"#), "{xml}");
        assert!(xml.contains(r#"<param name="trackID" value="1" valuetype="data"/>"#), "{xml}");
        assert_eq!(ServerManifest::from_xml(&xml, "t").unwrap(), m);
    }

    #[test]
    fn ingest_smil_carries_the_live_params_and_parses_back() {
        let track = |kind, id, name: &str| ServerTrack {
            kind,
            src: String::new(),
            system_bitrate: 300_000,
            track_id: id,
            track_name: name.into(),
            language: Some("und".into()),
        };
        let v = crate::format::manifest::QualityLevel {
            fourcc: "H264".into(),
            codec_private_data: "00000001".into(),
            max_width: Some(320),
            max_height: Some(180),
            ..Default::default()
        };
        let a = crate::format::manifest::QualityLevel {
            fourcc: "AACL".into(),
            sampling_rate: Some(48_000),
            channels: Some(2),
            audio_tag: Some(255),
            ..Default::default()
        };
        let tracks = vec![(track(TrackKind::Video, 1, "video"), v), (track(TrackKind::Audio, 2, "audio"), a)];
        let xml = ServerManifest::ingest_xml(&tracks).unwrap();
        for p in
            [r#"name="MaxWidth" value="320""#, r#"name="SamplingRate" value="48000""#, r#"name="FourCC" value="AACL""#]
        {
            assert!(xml.contains(p), "{p}: {xml}");
        }
        assert!(!xml.contains("src="), "{xml}");
        let back = ServerManifest::tracks_from_ingest_xml(&xml, "t").unwrap();
        assert_eq!(back, tracks.into_iter().map(|(t, _)| t).collect::<Vec<_>>());
    }

    #[test]
    fn interleaved_audio_and_video_parse() {
        let xml = r#"<?xml version="1.0"?><smil xmlns="http://www.w3.org/2001/SMIL20/Language"><head>
          <meta name="clientManifestRelativePath" content="a.ismc"/></head><body><switch>
          <audio src="a.isma" systemBitrate="1"><param name="trackID" value="2" valuetype="data"/></audio>
          <video src="a.ismv" systemBitrate="2"><param name="trackID" value="1" valuetype="data"/></video>
          </switch></body></smil>"#;
        let m = ServerManifest::from_xml(xml, "t").unwrap();
        assert_eq!(m.tracks.len(), 2);
        assert!(ServerManifest::from_xml("<smil><head/><body><switch/></body></smil>", "t").is_err());
    }
}
