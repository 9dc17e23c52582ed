//! `ssfpack check`: validates a Smooth Streaming presentation, ours or a third party's, in the `.ism`
//! layout or the pre-split `Manifest` + `QualityLevels(B)/Fragments(T=t)` layout, against the rules
//! players and origins depend on. Every finding names the file, stream, rung and fragment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::aac::AacConfig;
use super::avc::{self, AvcConfig};
use super::manifest::{ClientManifest, ServerManifest, StreamIndex};
use super::reader::{read_range, FragmentRecord, MediaFile};
use super::{unhex, CodecConfig};

/// Per stream: each rung's location and its fragments' (tfxd time, duration).
type Timelines = BTreeMap<String, Vec<(String, Vec<(u64, u64)>)>>;

/// One rule broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Where: file, stream, rung, fragment.
    pub location: String,
    pub message: String,
}

/// The result of checking one presentation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub presentation: PathBuf,
    pub layout: &'static str,
    pub streams: usize,
    pub rungs: usize,
    pub fragments_checked: usize,
    pub violations: Vec<Finding>,
    /// Findings players tolerate; they do not fail the check.
    pub warnings: Vec<Finding>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    fn warning(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Finding { location: location.into(), message: message.into() });
    }

    fn violation(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Finding { location: location.into(), message: message.into() });
    }
}

/// Checks every presentation found at `path`: a `.ism` file, a `Manifest` file, or a folder holding
/// either. A folder with none is itself a violation.
pub fn check_path(path: &Path) -> Vec<Report> {
    let mut targets = Vec::new();
    if path.is_file() {
        targets.push(path.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(path) {
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        targets.extend(names.iter().filter(|p| p.extension().is_some_and(|e| e == "ism")).cloned());
        if path.join("Manifest").is_file() {
            targets.push(path.join("Manifest"));
        }
    }
    if targets.is_empty() {
        let mut r = Report { presentation: path.to_path_buf(), layout: "none", ..Default::default() };
        r.violation(path.display().to_string(), "no .ism server manifest and no pre-split Manifest found");
        return vec![r];
    }
    targets
        .into_iter()
        .map(|t| if t.file_name().is_some_and(|n| n == "Manifest") { check_presplit(&t) } else { check_ism(&t) })
        .collect()
}

/// The `.ism` layout: server manifest → client manifest → media files with `mfra`.
pub fn check_ism(ism_path: &Path) -> Report {
    let mut r = Report { presentation: ism_path.to_path_buf(), layout: "ism", ..Default::default() };
    let dir = ism_path.parent().unwrap_or(Path::new("."));
    let ism_name = ism_path.display().to_string();
    let server = match std::fs::read_to_string(ism_path)
        .map_err(|e| e.to_string())
        .and_then(|x| ServerManifest::from_xml(&x, &ism_name).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            r.violation(&ism_name, format!("server manifest unreadable: {e}"));
            return r;
        }
    };
    let ismc_path = dir.join(&server.client_manifest);
    let Some(client) = load_client(&ismc_path, &mut r) else {
        return r;
    };
    check_client(&client, &ismc_path.display().to_string(), &mut r);

    let mut files: BTreeMap<String, Option<MediaFile>> = BTreeMap::new();
    let mut timelines: Timelines = BTreeMap::new();
    for t in &server.tracks {
        let loc = format!("{} track {} ({}, {} bps)", t.src, t.track_id, t.track_name, t.system_bitrate);
        let Some(stream) =
            client.stream(&t.track_name).or_else(|| client.streams.iter().find(|s| s.kind == t.kind.name()))
        else {
            r.violation(&loc, format!("no StreamIndex named {} in {}", t.track_name, server.client_manifest));
            continue;
        };
        if !stream.quality_levels.iter().any(|q| q.bitrate == t.system_bitrate) {
            r.violation(
                &loc,
                format!("systemBitrate {} matches no QualityLevel Bitrate of stream {}", t.system_bitrate, stream.name),
            );
        }
        let media = files.entry(t.src.clone()).or_insert_with(|| {
            let p = dir.join(&t.src);
            match MediaFile::open(&p) {
                Ok(m) => Some(m),
                Err(e) => {
                    r.violation(&t.src, format!("media file unreadable: {e}"));
                    None
                }
            }
        });
        let Some(media) = media.as_ref() else { continue };
        let Some(track) = media.track(t.track_id) else {
            r.violation(&loc, format!("the file has no track with trackID {}", t.track_id));
            continue;
        };
        if let (Some(codec), Some(q)) =
            (&track.codec, stream.quality_levels.iter().find(|q| q.bitrate == t.system_bitrate))
        {
            if !q.codec_private_data.is_empty()
                && !codec.codec_private_data().eq_ignore_ascii_case(&q.codec_private_data)
                && !same_parameter_sets(codec, &q.codec_private_data)
            {
                r.violation(&loc, "the file's codec configuration differs from CodecPrivateData");
            }
        }
        let frags: Vec<&FragmentRecord> = media.track_fragments(t.track_id).collect();
        check_fragments(
            &loc,
            stream,
            &frags,
            |f| read_range(&media.path, f.samples[0].offset, u64::from(f.samples[0].size)).ok(),
            &mut r,
        );
        check_tfra(&loc, media, t.track_id, &frags, &mut r);
        r.rungs += 1;
        timelines
            .entry(stream.name.clone())
            .or_default()
            .push((loc, frags.iter().map(|f| f.tfxd.map(|x| (x.time, x.duration)).unwrap_or_default()).collect()));
    }
    check_alignment(&timelines, &mut r);
    r.streams = client.streams.len();
    r
}

/// The pre-split layout: `Manifest` plus one file per fragment.
pub fn check_presplit(manifest_path: &Path) -> Report {
    let mut r = Report { presentation: manifest_path.to_path_buf(), layout: "static", ..Default::default() };
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let Some(client) = load_client(manifest_path, &mut r) else {
        return r;
    };
    check_client(&client, &manifest_path.display().to_string(), &mut r);
    let mut timelines: Timelines = BTreeMap::new();
    for stream in &client.streams {
        for q in &stream.quality_levels {
            let loc = format!("stream {} rung {} bps", stream.name, q.bitrate);
            let mut frags = Vec::new();
            let mut buffers = Vec::new();
            for c in &stream.chunks {
                let rel = stream.fragment_url(q.bitrate, c.t);
                let path = dir.join(&rel);
                let parsed = std::fs::read(&path).map_err(|e| e.to_string()).and_then(|bytes| {
                    let cursor = std::io::Cursor::new(bytes.as_slice());
                    let m = MediaFile::parse(cursor, bytes.len() as u64, &path).map_err(|e| e.to_string())?;
                    Ok((m, bytes))
                });
                match parsed {
                    Ok((m, bytes)) => match m.fragments.into_iter().next() {
                        Some(f) => {
                            frags.push(f);
                            buffers.push(bytes);
                        }
                        None => r.violation(rel.clone(), "no moof in fragment file"),
                    },
                    Err(e) => {
                        let hint = first_fragment_on_disk(dir, &stream.fragment_url(q.bitrate, 0))
                            .map(|f| format!("; the rung's first fragment on disk is {f}: the manifest's timeline (t on the first c?) does not match the fragments' times"))
                            .unwrap_or_default();
                        r.violation(
                            format!("{loc}: {rel}"),
                            format!("fragment missing or unreadable ({e}): players request this URL{hint}"),
                        )
                    }
                }
            }
            let refs: Vec<&FragmentRecord> = frags.iter().collect();
            check_fragments(
                &loc,
                stream,
                &refs,
                |f| {
                    let i = frags.iter().position(|x| std::ptr::eq(x, f))?;
                    let s = f.samples.first()?;
                    buffers[i].get(s.offset as usize..s.offset as usize + s.size as usize).map(<[u8]>::to_vec)
                },
                &mut r,
            );
            r.rungs += 1;
            timelines
                .entry(stream.name.clone())
                .or_default()
                .push((loc, frags.iter().map(|f| f.tfxd.map(|x| (x.time, x.duration)).unwrap_or_default()).collect()));
        }
    }
    check_alignment(&timelines, &mut r);
    r.streams = client.streams.len();
    r
}

/// The pre-split fragment file with the smallest time in the folder a fragment URL points into.
fn first_fragment_on_disk(dir: &Path, url_at_zero: &str) -> Option<String> {
    let rel = Path::new(url_at_zero);
    let folder = dir.join(rel.parent()?);
    let prefix = rel.file_name()?.to_str()?.strip_suffix("0)")?.to_string();
    std::fs::read_dir(&folder)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let t: u64 = name.strip_prefix(&prefix)?.strip_suffix(')')?.parse().ok()?;
            Some((t, name))
        })
        .min()
        .map(|(_, name)| name)
}

fn load_client(path: &Path, r: &mut Report) -> Option<ClientManifest> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(x) => match ClientManifest::from_xml(&x, &name) {
            Ok(c) => Some(c),
            Err(e) => {
                r.violation(&name, format!("client manifest does not parse: {e}"));
                None
            }
        },
        Err(e) => {
            r.violation(&name, format!("client manifest missing or unreadable: {e}"));
            None
        }
    }
}

/// Rules on the client manifest alone.
fn check_client(m: &ClientManifest, name: &str, r: &mut Report) {
    if m.major_version != 2 {
        r.violation(name, format!("MajorVersion is {}, players expect 2", m.major_version));
    }
    let mut end = 0;
    for s in &m.streams {
        let loc = format!("{name}: stream {}", s.name);
        if s.quality_levels.is_empty() {
            r.violation(&loc, "no QualityLevel");
        }
        if s.chunks.is_empty() && !m.is_live {
            r.violation(&loc, "no chunks (c elements)");
        }
        if !s.url.contains("{start time}") && !s.url.contains("{start_time}") {
            r.violation(&loc, format!("Url {:?} has no {{start time}}", s.url));
        }
        for w in s.chunks.windows(2) {
            if w[0].t + w[0].d != w[1].t {
                r.violation(
                    &loc,
                    format!("gap or overlap: chunk at {} + {} does not reach the next at {}", w[0].t, w[0].d, w[1].t),
                );
            }
        }
        if let Some(c) = s.chunks.last() {
            end = end.max(c.t + c.d);
        }
        let mut bitrates = Vec::new();
        for q in &s.quality_levels {
            let ql = format!("{loc} QualityLevel {} ({} bps)", q.index, q.bitrate);
            if bitrates.contains(&q.bitrate) {
                r.violation(&ql, "bitrate shared with another QualityLevel: QualityLevels(B) is ambiguous");
            }
            bitrates.push(q.bitrate);
            if q.fourcc.is_empty() {
                r.violation(&ql, "no FourCC (Media3 requires it)");
            }
            if s.kind == "text" {
                if !matches!(q.fourcc.as_str(), "TTML" | "DFXP") {
                    r.violation(&ql, format!("FourCC {:?}: dash.js keeps only TTML or DFXP text levels", q.fourcc));
                }
            } else if q.codec_private_data.is_empty() {
                r.violation(&ql, "no CodecPrivateData: dash.js and Shaka build the init segment from it");
                continue;
            }
            let Some(bytes) = unhex(&q.codec_private_data) else {
                r.violation(&ql, "CodecPrivateData is not hex");
                continue;
            };
            match q.fourcc.as_str() {
                "H264" | "AVC1" => {
                    if !bytes.starts_with(&[0, 0, 0, 1]) {
                        r.violation(&ql, "CodecPrivateData does not start with a 4-byte start code 00000001");
                    }
                    match AvcConfig::from_extradata(&bytes) {
                        Ok(c) => {
                            if q.max_width.is_some_and(|w| w != c.width) || q.max_height.is_some_and(|h| h != c.height)
                            {
                                r.violation(
                                    &ql,
                                    format!(
                                        "MaxWidth/MaxHeight {:?}x{:?} differ from the SPS's {}x{}",
                                        q.max_width, q.max_height, c.width, c.height
                                    ),
                                );
                            }
                        }
                        Err(e) => r.violation(&ql, format!("CodecPrivateData: {e}")),
                    }
                }
                "AACL" | "AACH" => match AacConfig::from_asc(&bytes) {
                    Ok(c) => {
                        if q.sampling_rate.is_some_and(|s| s != c.sample_rate)
                            || q.channels.is_some_and(|n| n != c.channels)
                        {
                            r.violation(
                                &ql,
                                format!(
                                    "SamplingRate/Channels {:?}/{:?} differ from the AudioSpecificConfig's {}/{}",
                                    q.sampling_rate, q.channels, c.sample_rate, c.channels
                                ),
                            );
                        }
                    }
                    Err(e) => r.violation(&ql, format!("CodecPrivateData: {e}")),
                },
                _ => {}
            }
        }
    }
    if !m.is_live && m.duration != end && end > 0 {
        r.warning(name, format!("Duration {} differs from the end of the last chunk {}", m.duration, end));
    }
}

/// Rules on one rung's fragments against the stream's chunk list.
fn check_fragments<'a>(
    loc: &str,
    stream: &StreamIndex,
    frags: &[&'a FragmentRecord],
    first_sample: impl Fn(&'a FragmentRecord) -> Option<Vec<u8>>,
    r: &mut Report,
) {
    if frags.len() != stream.chunks.len() {
        r.violation(
            loc,
            format!("{} fragments in the media but {} chunks in the manifest", frags.len(), stream.chunks.len()),
        );
    }
    for (i, (f, c)) in frags.iter().zip(&stream.chunks).enumerate() {
        r.fragments_checked += 1;
        let here = format!("{loc} fragment {i}");
        match f.tfxd {
            None => r.violation(&here, "no tfxd box"),
            Some(x) if x.time != c.t => r.violation(
                &here,
                format!(
                    "tfxd time is {} but the manifest's chunk says {}: players request Fragments({}={}) and get 404",
                    x.time, c.t, stream.name, c.t
                ),
            ),
            Some(x) if x.duration != c.d => {
                r.violation(&here, format!("tfxd duration {} differs from the manifest's d={}", x.duration, c.d))
            }
            Some(_) => {}
        }
        if f.decode_duration() != c.d {
            r.violation(
                &here,
                format!("sample durations add up to {} but the fragment lasts {}", f.decode_duration(), c.d),
            );
        }
        if f.mdat.is_none() {
            r.violation(&here, "no mdat follows the moof");
        }
        let Some(first) = f.samples.first() else {
            r.violation(&here, "no samples");
            continue;
        };
        if stream.kind == "text" {
            check_text_sample(&here, f, c.d, first_sample(f), r);
        }
        if stream.kind == "video" {
            if !first.is_sync() {
                r.violation(&here, "first sample is not flagged as a sync sample");
            }
            match first_sample(f) {
                Some(bytes) if !avc::sample_is_idr(&bytes) => {
                    r.violation(&here, "first sample is not an IDR picture (or is not 4-byte length-prefixed)")
                }
                None => r.violation(&here, "first sample lies outside the file"),
                _ => {}
            }
        }
    }
}

/// A text fragment carries one TTML document (dash.js takes each `trun` sample as one), whose
/// cues, relative to the fragment's start, lie within it.
fn check_text_sample(here: &str, f: &FragmentRecord, duration: u64, sample: Option<Vec<u8>>, r: &mut Report) {
    if f.samples.len() != 1 {
        r.violation(here, format!("{} samples: a text fragment carries one TTML document", f.samples.len()));
    }
    let Some(bytes) = sample else {
        r.violation(here, "the TTML document lies outside the file");
        return;
    };
    match super::ttml::parse(&bytes, here) {
        Err(e) => r.violation(here, format!("the sample is not a TTML document: {e}")),
        Ok(doc) => {
            if let Some(c) = doc.cues.iter().find(|c| c.end > duration) {
                r.violation(
                    here,
                    format!(
                        "a cue ends at {} (relative to the fragment start), after the fragment's end",
                        super::ttml::clock_time(c.end)
                    ),
                );
            }
        }
    }
}

fn check_tfra(loc: &str, media: &MediaFile, track_id: u32, frags: &[&FragmentRecord], r: &mut Report) {
    let Some(mfra) = &media.mfra else {
        r.violation(loc, "no mfra: an origin cannot find fragments by time");
        return;
    };
    let Some(tfra) = mfra.tfra_boxes.iter().find(|t| t.track_id == track_id) else {
        r.violation(loc, "mfra has no tfra for this track");
        return;
    };
    if tfra.entries.len() != frags.len() {
        r.violation(loc, format!("tfra has {} entries for {} fragments", tfra.entries.len(), frags.len()));
    }
    for (i, e) in tfra.entries.iter().enumerate() {
        match frags.iter().find(|f| f.moof_offset == e.moof_offset) {
            None => r.violation(
                format!("{loc} tfra entry {i}"),
                format!("points at byte {} where no moof of this track starts", e.moof_offset),
            ),
            Some(f) if f.tfxd.is_some_and(|x| x.time != e.time) => r.violation(
                format!("{loc} tfra entry {i}"),
                format!("time {} differs from the fragment's tfxd time {:?}", e.time, f.tfxd.map(|x| x.time)),
            ),
            Some(_) => {}
        }
    }
}

fn check_alignment(timelines: &Timelines, r: &mut Report) {
    for (stream, rungs) in timelines {
        let Some((first_loc, first)) = rungs.first() else { continue };
        for (loc, t) in &rungs[1..] {
            if let Some(i) = (0..first.len().max(t.len())).find(|&i| first.get(i) != t.get(i)) {
                r.violation(
                    format!("stream {stream}"),
                    format!(
                        "rungs not aligned at fragment {i}: {:?} in {first_loc} vs {:?} in {loc}",
                        first.get(i),
                        t.get(i)
                    ),
                );
            }
        }
    }
}

fn same_parameter_sets(codec: &CodecConfig, private: &str) -> bool {
    match (codec, unhex(private)) {
        (CodecConfig::H264(c), Some(b)) => {
            AvcConfig::from_extradata(&b).is_ok_and(|m| m.sps == c.sps && m.pps == c.pps)
        }
        (CodecConfig::Aac(c), Some(b)) => AacConfig::from_asc(&b).is_ok_and(|m| m.asc == c.asc),
        _ => false,
    }
}
