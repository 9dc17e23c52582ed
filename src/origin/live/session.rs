//! One ingest POST, parsed box by box as its bytes arrive (MS-SSTR 2.2.7, Azure fragmented-MP4
//! live ingest): `ftyp`, the live server manifest box, `moov`, then `moof`+`mdat` pairs, and an
//! empty `mfra` for the end of the stream. Blocking (it writes and syncs the archive files): the
//! HTTP side runs it off the async workers.
//!
//! Which event a stream belongs to is decided at its first fragment: the point's current event
//! goes on when the stream's header boxes are identical to the ones it sent before and its
//! timeline carries on (a reconnect resending its last two fragments, which are skipped); a new
//! stream joins the event; anything else (a re-push whose timestamps restart at 0, other header
//! boxes, or a point whose event ended) finishes the current event into its archive and starts a
//! new one. Never refused.

use std::sync::Arc;

use crate::format::boxes::{UuidBox, LIVE_SERVER_MANIFEST_UUID};
use crate::format::fragmenter::Fragment;
use crate::format::live::{ingest_fragment, LiveServerManifestBox};
use crate::format::manifest::{ServerManifest, ServerTrack};
use crate::format::reader::{parse_moov, MediaFile, TrackEntry};
use crate::format::scan::{BoxScanner, RawBox};
use crate::format::{hex, TrackInfo};
use shiguredo_mp4::BoxType;

use super::event::Event;
use super::{LiveError, Point, MAX_HEADER_BOX, MAX_INGEST_BOX, MAX_TRACKS};

/// What the stream's boxes have said so far.
enum Phase {
    /// Waiting for `ftyp`, the live server manifest box and `moov`.
    Header { smil: Option<Vec<ServerTrack>> },
    /// Fragments.
    Media { tracks: Vec<(String, TrackEntry, TrackInfo)>, moof: Option<RawBox>, attached: bool },
    /// `mfra` seen.
    Ended,
}

/// Counts of one POST, for the log and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub bytes: u64,
    pub fragments: u64,
    /// Fragments already held (resent after a reconnect), skipped.
    pub duplicates: u64,
}

pub struct Session {
    point: Arc<Point>,
    stream: String,
    scanner: BoxScanner,
    header: Vec<u8>,
    phase: Phase,
    pub counts: Counts,
}

impl Session {
    pub fn new(point: Arc<Point>, stream: &str) -> Self {
        Session {
            point,
            stream: stream.to_string(),
            scanner: BoxScanner::new(MAX_INGEST_BOX),
            header: Vec::new(),
            phase: Phase::Header { smil: None },
            counts: Counts::default(),
        }
    }

    /// The stream sent its end (`mfra`).
    pub fn ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// The body ended (without a dropped connection): it must not stop inside a box.
    pub fn finish(&self) -> Result<(), LiveError> {
        if !self.ended() && self.scanner.pending() > 0 {
            return Err(
                self.invalid(format!("the body ends inside a box ({} bytes left over)", self.scanner.pending()))
            );
        }
        Ok(())
    }

    /// Takes the next bytes of the body and handles every box they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), LiveError> {
        self.counts.bytes += bytes.len() as u64;
        if self.ended() {
            return Ok(());
        }
        self.scanner.push(bytes);
        while let Some(b) = self.scanner.next_box().map_err(|e| self.invalid(e))? {
            self.handle(b)?;
            if self.ended() {
                break;
            }
        }
        Ok(())
    }

    fn invalid(&self, e: impl std::fmt::Display) -> LiveError {
        invalid(&self.point.name, &self.stream, e)
    }

    fn handle(&mut self, b: RawBox) -> Result<(), LiveError> {
        let (name, stream) = (self.point.name.clone(), self.stream.clone());
        let bad = |e: &dyn std::fmt::Display| invalid(&name, &stream, e);
        match &mut self.phase {
            Phase::Header { smil } => {
                if b.bytes.len() > MAX_HEADER_BOX {
                    return Err(bad(&format!("header box of {} bytes (at most {MAX_HEADER_BOX})", b.bytes.len())));
                }
                if self.header.is_empty() && !b.is(b"ftyp") {
                    return Err(bad(&"the stream must start with ftyp"));
                }
                if b.box_type == BoxType::Uuid(LIVE_SERVER_MANIFEST_UUID) {
                    let m = LiveServerManifestBox::from_payload(b.payload()).map_err(|e| bad(&e))?;
                    let ctx = format!("{name} stream {stream} live server manifest");
                    *smil = Some(ServerManifest::tracks_from_ingest_xml(&m.smil, &ctx).map_err(|e| bad(&e))?);
                }
                if b.is(b"moov") {
                    let entries = parse_moov(&b.bytes, "moov").map_err(|e| bad(&e))?;
                    let smil = smil.take().ok_or_else(|| bad(&"no live server manifest box before moov"))?;
                    let tracks = tracks_of(&name, &stream, entries, &smil)?;
                    self.header.extend_from_slice(&b.bytes);
                    self.phase = Phase::Media { tracks, moof: None, attached: false };
                } else if b.is(b"ftyp") || b.box_type == BoxType::Uuid(LIVE_SERVER_MANIFEST_UUID) {
                    self.header.extend_from_slice(&b.bytes);
                }
                Ok(())
            }
            Phase::Media { moof, .. } if b.is(b"moof") => {
                if moof.is_some() {
                    return Err(bad(&"moof without its mdat"));
                }
                *moof = Some(b);
                Ok(())
            }
            Phase::Media { moof, .. } if b.is(b"mdat") => {
                let m = moof.take().ok_or_else(|| bad(&"mdat without a moof"))?;
                let mut bytes = m.bytes;
                bytes.extend_from_slice(&b.bytes);
                self.fragment(&bytes)
            }
            Phase::Media { .. } if b.is(b"mfra") => {
                self.phase = Phase::Ended;
                self.point.end_stream(&self.stream)
            }
            Phase::Media { .. } => Ok(()),
            Phase::Ended => Ok(()),
        }
    }

    fn fragment(&mut self, bytes: &[u8]) -> Result<(), LiveError> {
        let Phase::Media { tracks, attached, .. } = &mut self.phase else { return Ok(()) };
        let entries: Vec<TrackEntry> = tracks.iter().map(|(_, e, _)| e.clone()).collect();
        let records = MediaFile::parse_fragments(bytes, &entries, "ingest fragment")
            .map_err(|e| LiveError::Invalid(format!("{} stream {}: {e}", self.point.name, self.stream)))?;
        let mut converted: Vec<(String, Fragment)> = Vec::new();
        for rec in &records {
            let Some((key, entry, _)) = tracks.iter().find(|(_, e, _)| e.track_id == rec.track_id) else {
                return Err(LiveError::Invalid(format!("{}: fragment of unknown track {}", self.stream, rec.track_id)));
            };
            let ctx = format!("{} stream {} track {}", self.point.name, self.stream, rec.track_id);
            if let Some(f) =
                ingest_fragment(rec, bytes, entry.timescale, &ctx).map_err(|e| LiveError::Invalid(e.to_string()))?
            {
                converted.push((key.clone(), f));
            }
        }
        if converted.is_empty() {
            return Ok(());
        }
        if !*attached {
            let infos: Vec<(String, TrackInfo)> = tracks.iter().map(|(k, _, i)| (k.clone(), i.clone())).collect();
            let first = converted.iter().map(|(_, f)| f.start).min().unwrap_or(0);
            self.point.attach(&self.stream, hex(&self.header), infos, first)?;
            *attached = true;
        }
        for (key, f) in converted {
            if self.point.append(&key, &f)? {
                self.counts.fragments += 1;
            } else {
                self.counts.duplicates += 1;
            }
        }
        Ok(())
    }
}

/// The stream's tracks: codec from `moov`, name, bitrate and language from the SMIL.
fn tracks_of(
    name: &str,
    stream: &str,
    entries: Vec<TrackEntry>,
    smil: &[ServerTrack],
) -> Result<Vec<(String, TrackEntry, TrackInfo)>, LiveError> {
    let bad = |e: String| invalid(name, stream, e);
    if entries.is_empty() || entries.len() > MAX_TRACKS {
        return Err(bad(format!("{} tracks (1 to {MAX_TRACKS})", entries.len())));
    }
    let mut out = Vec::new();
    for e in entries {
        let codec = e.codec.clone().ok_or_else(|| {
            bad(format!("track {} is {}: only H.264 and AAC-LC are supported", e.track_id, e.sample_entry))
        })?;
        let s = smil
            .iter()
            .find(|s| s.track_id == e.track_id)
            .ok_or_else(|| bad(format!("track {} is not in the live server manifest", e.track_id)))?;
        let name_ok = !s.track_name.is_empty()
            && s.track_name.len() <= 64
            && s.track_name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !name_ok {
            return Err(bad(format!("trackName {:?}: letters, digits, _ and - only", s.track_name)));
        }
        if s.system_bitrate == 0 {
            return Err(bad(format!("track {} has no systemBitrate", e.track_id)));
        }
        let language = s.language.clone().filter(|l| (2..=8).contains(&l.len())).unwrap_or_else(|| "und".into());
        let info =
            TrackInfo { track_id: e.track_id, codec, bitrate: s.system_bitrate, language, name: s.track_name.clone() };
        out.push((format!("{}/{}", stream, e.track_id), e, info));
    }
    Ok(out)
}

fn invalid(name: &str, stream: &str, e: impl std::fmt::Display) -> LiveError {
    LiveError::Invalid(format!("{name} stream {stream}: {e}"))
}

impl Point {
    /// Puts a stream into the current event, or starts a new event (see the module doc).
    pub fn attach(
        &self,
        stream: &str,
        header: String,
        tracks: Vec<(String, TrackInfo)>,
        first: u64,
    ) -> Result<(), LiveError> {
        let mut guard = self.state.lock().map_err(|_| LiveError::Invalid("point state poisoned".into()))?;
        let goes_on = match guard.as_ref() {
            Some(e) if !e.ended => match e.headers.get(stream) {
                Some(h) if *h == header => {
                    let floor = tracks.iter().filter_map(|(k, _)| e.resend_floor(k)).min();
                    floor.is_none_or(|f| first >= f)
                }
                Some(_) => false,
                None => e.tracks.len() + tracks.len() <= MAX_TRACKS,
            },
            _ => false,
        };
        if !goes_on {
            if let Some(old) = guard.as_mut() {
                old.finish()?;
                tracing::info!("{}: event {} archived in {}", self.name, old.id, old.dir.display());
            }
            self.reload_settings();
            *guard = Some(Event::create(&self.archive, &self.name)?);
        }
        let event = guard.as_mut().ok_or(LiveError::NotFound("no event"))?;
        event.ended_streams.remove(stream);
        let r = event.add_stream(stream, header, tracks);
        self.changed();
        r
    }

    /// Appends a fragment to the current event (`false`: already held).
    pub fn append(&self, key: &str, fragment: &Fragment) -> Result<bool, LiveError> {
        let mut guard = self.state.lock().map_err(|_| LiveError::Invalid("point state poisoned".into()))?;
        let added = guard.as_mut().ok_or(LiveError::NotFound("no event"))?.append(key, fragment)?;
        if added {
            self.changed();
        }
        Ok(added)
    }

    /// A stream sent its end of stream; when every stream of the event has, the event ends.
    pub fn end_stream(&self, stream: &str) -> Result<(), LiveError> {
        let mut guard = self.state.lock().map_err(|_| LiveError::Invalid("point state poisoned".into()))?;
        let Some(event) = guard.as_mut() else { return Ok(()) };
        event.ended_streams.insert(stream.to_string());
        if event.headers.keys().all(|s| event.ended_streams.contains(s)) {
            let r = event.finish();
            self.changed();
            r?;
            tracing::info!("{}: event {} ended; archived in {}", self.name, event.id, event.dir.display());
        }
        Ok(())
    }
}
