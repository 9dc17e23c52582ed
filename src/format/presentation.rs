//! From written tracks to manifests: the listener side of the writer. It collects each track's
//! [`FragmentEvent`]s, asserts that all rungs of a stream cut at the same times, and builds the
//! `.ism` and `.ismc` models.

use std::path::{Path, PathBuf};

use super::error::{FormatError, Result};
use super::manifest::{Chunk, ClientManifest, QualityLevel, ServerManifest, ServerTrack, StreamIndex};
use super::writer::FragmentEvent;
use super::{CodecConfig, TrackInfo, TrackKind};

/// One written media file with one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackOutput {
    /// File name inside the presentation folder.
    pub file: String,
    pub track: TrackInfo,
    pub fragments: Vec<FragmentEvent>,
}

/// Paths of the manifests written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFiles {
    pub server: PathBuf,
    pub client: PathBuf,
}

/// Builds both manifests. Streams are grouped by track name; within a stream, rungs are listed from
/// the highest bitrate down and must have identical fragment times.
pub fn build_manifests(name: &str, outputs: &[TrackOutput]) -> Result<(ServerManifest, ClientManifest)> {
    let mut names: Vec<&str> = Vec::new();
    for o in outputs {
        if !names.contains(&o.track.name.as_str()) {
            names.push(&o.track.name);
        }
    }
    // Video first, then audio, then text, as IIS writes them.
    let rank = |k: TrackKind| match k {
        TrackKind::Video => 0,
        TrackKind::Audio => 1,
        TrackKind::Text => 2,
    };
    names.sort_by_key(|n| outputs.iter().find(|o| o.track.name == *n).map(|o| rank(o.track.kind())));

    let mut streams = Vec::new();
    let mut server_tracks = Vec::new();
    let mut duration = 0u64;
    for stream_name in names {
        let mut rungs: Vec<&TrackOutput> = outputs.iter().filter(|o| o.track.name == stream_name).collect();
        rungs.sort_by_key(|o| std::cmp::Reverse(o.track.bitrate));
        let chunks = aligned_chunks(stream_name, &rungs)?;
        if let Some(last) = chunks.last() {
            duration = duration.max(last.t + last.d);
        }
        let infos: Vec<&TrackInfo> = rungs.iter().map(|o| &o.track).collect();
        streams.push(stream_index(stream_name, &infos, chunks)?);
        server_tracks.extend(rungs.iter().map(|o| ServerTrack {
            kind: o.track.kind(),
            src: o.file.clone(),
            system_bitrate: o.track.bitrate,
            track_id: o.track.track_id,
            track_name: o.track.name.clone(),
            language: (o.track.kind() == TrackKind::Text).then(|| o.track.language.clone()),
        }));
    }
    let server = ServerManifest { client_manifest: format!("{name}.ismc"), tracks: server_tracks };
    Ok((server, ClientManifest::on_demand(duration, streams)))
}

/// Writes `NAME.ism` and `NAME.ismc` into `dir`.
pub fn write_manifests(dir: &Path, name: &str, outputs: &[TrackOutput]) -> Result<ManifestFiles> {
    let (server, client) = build_manifests(name, outputs)?;
    let files = ManifestFiles { server: dir.join(format!("{name}.ism")), client: dir.join(format!("{name}.ismc")) };
    crate::durable::write_synced(&files.server, server.to_xml()?.as_bytes())
        .map_err(|e| FormatError::io(&files.server, e))?;
    crate::durable::write_synced(&files.client, client.to_xml()?.as_bytes())
        .map_err(|e| FormatError::io(&files.client, e))?;
    Ok(files)
}

/// The one fragment timeline of a stream, after checking that every rung has exactly it.
fn aligned_chunks(stream: &str, rungs: &[&TrackOutput]) -> Result<Vec<Chunk>> {
    let timeline =
        |o: &TrackOutput| -> Vec<Chunk> { o.fragments.iter().map(|f| Chunk { t: f.time, d: f.duration }).collect() };
    let Some(first) = rungs.first() else {
        return Ok(Vec::new());
    };
    let reference = timeline(first);
    for other in &rungs[1..] {
        let theirs = timeline(other);
        if let Some(i) = (0..reference.len().max(theirs.len())).find(|&i| reference.get(i) != theirs.get(i)) {
            return Err(FormatError::invalid(
                format!("stream {stream}"),
                format!(
                    "rungs are not aligned: fragment {i} is {:?} in {} but {:?} in {}",
                    reference.get(i),
                    first.file,
                    theirs.get(i),
                    other.file
                ),
            ));
        }
    }
    Ok(reference)
}

/// The `StreamIndex` of a stream whose rungs are `rungs` (highest bitrate first) and whose shared
/// timeline is `chunks`: used for on-demand and live manifests alike.
pub fn stream_index(name: &str, rungs: &[&TrackInfo], chunks: Vec<Chunk>) -> Result<StreamIndex> {
    let mut seen = Vec::new();
    let mut levels = Vec::new();
    for (i, o) in rungs.iter().enumerate() {
        if seen.contains(&o.bitrate) {
            return Err(FormatError::invalid(
                format!("stream {name}"),
                format!("two rungs share the bitrate {} (QualityLevels(B) would be ambiguous)", o.bitrate),
            ));
        }
        seen.push(o.bitrate);
        let mut q = QualityLevel {
            index: i as u32,
            bitrate: o.bitrate,
            fourcc: o.codec.fourcc().to_string(),
            codec_private_data: o.codec.codec_private_data(),
            ..Default::default()
        };
        match &o.codec {
            CodecConfig::H264(c) => {
                q.max_width = Some(c.width);
                q.max_height = Some(c.height);
            }
            CodecConfig::Aac(c) => {
                q.sampling_rate = Some(c.sample_rate);
                q.channels = Some(c.channels);
                q.bits_per_sample = Some(16);
                q.packet_size = Some(u32::from(c.channels) * 2);
                q.audio_tag = Some(255);
            }
            CodecConfig::Ttml(_) => {}
        }
        levels.push(q);
    }
    let first = rungs.first().copied();
    let kind = first.map(|t| t.kind()).unwrap_or(TrackKind::Video);
    let mut s = StreamIndex {
        kind: kind.name().to_string(),
        name: name.to_string(),
        url: format!("QualityLevels({{bitrate}})/Fragments({name}={{start time}})"),
        quality_levels: levels,
        chunks,
        ..Default::default()
    };
    match kind {
        TrackKind::Video => {
            s.max_width = s.quality_levels.iter().filter_map(|q| q.max_width).max();
            s.max_height = s.quality_levels.iter().filter_map(|q| q.max_height).max();
            if let Some(CodecConfig::H264(c)) = first.map(|t| &t.codec) {
                s.display_width = Some(c.display_width);
                s.display_height = Some(c.display_height);
            }
        }
        TrackKind::Audio => s.language = first.map(|t| t.language.clone()),
        TrackKind::Text => {
            s.language = first.map(|t| t.language.clone());
            if let Some(CodecConfig::Ttml(c)) = first.map(|t| &t.codec) {
                s.subtype = Some(c.role.subtype().to_string());
            }
        }
    }
    Ok(s)
}
