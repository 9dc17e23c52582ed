//! A publishing point (`NAME.isml`): its settings, its current event, and what viewers get from
//! it: the live client manifest (only fragments that can be served with a `tfrf` naming the next
//! one, within the DVR window) and each fragment with its `tfrf` added.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::format::live::with_tfrf;
use crate::format::manifest::{Chunk, ClientManifest, PointFile};
use crate::format::presentation::stream_index;
use crate::format::reader::read_range;
use crate::format::{TrackKind, TIMESCALE};

use super::event::{Event, STATE_FILE};
use super::LiveError;
use crate::origin::url::{FragmentPart, FragmentRequest};

/// What a viewer sees of a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No event yet.
    Idle,
    /// An event is on (an encoder is pushing, or may reconnect).
    Live,
    /// The last event ended (its archive is a finished presentation).
    Stopped,
}

pub struct Point {
    pub isml: PathBuf,
    pub name: String,
    /// The `.isml` settings: read when the point opens and again when an event starts (a
    /// changed file applies to the next event, as a started IIS point's settings are fixed).
    settings: Mutex<Arc<PointFile>>,
    /// `NAME.archive` beside the `.isml`: one folder per event.
    pub archive: PathBuf,
    pub(super) state: Mutex<Option<Event>>,
    /// POSTs being received now.
    pub(super) posts: AtomicUsize,
    /// Bumped on every change of the event (a fragment, a stream, an end): caches key on it.
    pub(super) version: AtomicU64,
    /// The serialized manifest of `version`, and its max-age.
    manifest_cache: Mutex<Option<(u64, Bytes, u64)>>,
    /// Final fragment answers (their tfrf will not grow any more), by (event, track, bitrate, time, info).
    fragment_cache: Mutex<HashMap<FragmentKey, Bytes>>,
    /// The wall-clock time of media time 0 of an event (DASH `availabilityStartTime`), fixed the
    /// first time a dynamic manifest asks for it: by then the live edge is "now".
    anchor: Mutex<Option<(String, std::time::SystemTime)>>,
}

/// Fragment answers kept per point before the cache is cleared (a bound on memory).
const MAX_CACHED_FRAGMENTS: usize = 512;

/// The key of a cached fragment answer: (event, track, bitrate, time, moof only).
type FragmentKey = (String, String, u32, u64, bool);

/// How to answer a fragment request.
pub enum Plan {
    Ready(Served),
    Read(ReadPlan),
}

/// A fragment to read from an archive file.
pub struct ReadPlan {
    path: PathBuf,
    offset: u64,
    size: u64,
    next: Vec<(u64, u64)>,
    kind: TrackKind,
    info: bool,
    key: Option<FragmentKey>,
}

/// A fragment answer.
pub enum Served {
    Bytes {
        bytes: Bytes,
        kind: TrackKind,
    },
    /// Not available yet (412).
    NotYet,
}

impl Point {
    /// Opens the point at `isml`, reading its settings and the newest event of its archive (one
    /// interrupted by a crash goes on: its files are reopened).
    pub fn open(isml: &Path) -> Result<Self, LiveError> {
        let settings = read_settings(isml)?;
        let file_name = isml.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let name = file_name.get(..file_name.len().saturating_sub(5)).unwrap_or("live").to_string();
        let archive = isml.with_file_name(format!("{name}.archive"));
        let event = match newest_event(&archive) {
            Some(dir) => match Event::recover(&dir) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::warn!("{}: cannot reopen the event: {e}", dir.display());
                    None
                }
            },
            None => None,
        };
        Ok(Point {
            isml: isml.to_path_buf(),
            name,
            settings: Mutex::new(Arc::new(settings)),
            archive,
            state: Mutex::new(event),
            posts: AtomicUsize::new(0),
            version: AtomicU64::new(0),
            manifest_cache: Mutex::new(None),
            fragment_cache: Mutex::new(HashMap::new()),
            anchor: Mutex::new(None),
        })
    }

    /// The point's settings now.
    pub fn settings(&self) -> Arc<PointFile> {
        Arc::clone(&self.settings.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reads the `.isml` again (a new event starts); a file that no longer reads keeps the old
    /// settings, with a warning.
    pub(super) fn reload_settings(&self) {
        match read_settings(&self.isml) {
            Ok(s) => *self.settings.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(s),
            Err(e) => tracing::warn!("{}: keeping the previous settings: {e}", self.isml.display()),
        }
    }

    /// Marks the event changed (cached manifests are stale).
    pub(super) fn changed(&self) {
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The manifest as served: XML and its max-age in seconds (at most half a fragment while live),
    /// built once per change of the event.
    pub fn manifest_xml(&self) -> Result<Option<(Bytes, u64)>, LiveError> {
        let version = self.version.load(Ordering::SeqCst);
        if let Some((v, xml, age)) = self.manifest_cache.lock().ok().and_then(|c| c.clone()) {
            if v == version {
                return Ok(Some((xml, age)));
            }
        }
        let Some(m) = self.manifest()? else { return Ok(None) };
        let half = m.streams.iter().filter_map(|s| s.chunks.last()).map(|c| c.d).min().unwrap_or(TIMESCALE) / 2;
        let age = if m.is_live { (half / TIMESCALE).max(1) } else { 60 };
        let xml = Bytes::from(m.to_xml().map_err(|e| LiveError::Invalid(e.to_string()))?);
        if let Ok(mut c) = self.manifest_cache.lock() {
            *c = Some((version, xml.clone(), age));
        }
        Ok(Some((xml, age)))
    }

    pub fn status(&self) -> Status {
        match self.state.lock().ok().as_deref() {
            Some(Some(e)) if !e.ended => Status::Live,
            Some(Some(_)) => Status::Stopped,
            _ => Status::Idle,
        }
    }

    /// POSTs in progress.
    pub fn posts(&self) -> usize {
        self.posts.load(Ordering::Relaxed)
    }

    /// The client manifest: live (`IsLive`, `Duration` 0, lookahead, DVR window) while the event
    /// is on, on demand once it ended. `None` before the first fragment can be listed.
    pub fn manifest(&self) -> Result<Option<ClientManifest>, LiveError> {
        let guard = self.state.lock().map_err(|_| LiveError::Invalid("point state poisoned".into()))?;
        let Some(event) = guard.as_ref() else { return Ok(None) };
        let mut names: Vec<&str> = Vec::new();
        for t in &event.tracks {
            if !names.contains(&t.info.name.as_str()) {
                names.push(&t.info.name);
            }
        }
        names.sort_by_key(|n| event.tracks.iter().find(|t| t.info.name == *n).map(|t| t.kind() != TrackKind::Video));
        let settings = self.settings();
        let window = settings.dvr_window.saturating_mul(TIMESCALE);
        let mut streams = Vec::new();
        let mut end = 0;
        for name in names {
            let mut rungs: Vec<&super::event::LiveTrack> =
                event.tracks.iter().filter(|t| t.info.name == name).collect();
            rungs.sort_by_key(|t| std::cmp::Reverse(t.info.bitrate));
            let mut chunks = listed(&rungs, event.ended);
            if let Some(last) = chunks.last() {
                end = end.max(last.t + last.d);
                if window > 0 && !event.ended {
                    let from = (last.t + last.d).saturating_sub(window);
                    chunks.retain(|c| c.t + c.d > from);
                }
            }
            if chunks.is_empty() {
                continue;
            }
            let infos: Vec<&crate::format::TrackInfo> = rungs.iter().map(|t| &t.info).collect();
            streams.push(stream_index(name, &infos, chunks).map_err(|e| LiveError::Invalid(e.to_string()))?);
        }
        if streams.is_empty() {
            return Ok(None);
        }
        let mut m = ClientManifest::on_demand(end, streams);
        if !event.ended {
            m.duration = 0;
            m.is_live = true;
            m.lookahead_count = Some(settings.lookahead_chunks);
            m.dvr_window_length = Some(window);
        }
        Ok(Some(m))
    }

    /// A fragment, with a `tfrf` naming up to `lookaheadChunks` fragments after it. Only listed
    /// fragments are served (the newest waits for its successor): later ones are [`Served::NotYet`],
    /// unknown or outside the DVR window ones an error (404).
    pub fn fragment(&self, req: &FragmentRequest) -> Result<Served, LiveError> {
        match self.plan_fragment(req)? {
            Plan::Ready(s) => Ok(s),
            Plan::Read(r) => self.read_fragment(r),
        }
    }

    /// Decides a fragment request in memory, under the state lock (no I/O): an answer from the
    /// cache, 412, or what to read.
    pub fn plan_fragment(&self, req: &FragmentRequest) -> Result<Plan, LiveError> {
        let info = req.part == FragmentPart::Info;
        let guard = self.state.lock().map_err(|_| LiveError::Invalid("point state poisoned".into()))?;
        let event = guard.as_ref().ok_or(LiveError::NotFound("no event"))?;
        let track = event
            .tracks
            .iter()
            .find(|t| t.info.name == req.track && t.info.bitrate == req.bitrate)
            .ok_or(LiveError::NotFound("no such track"))?;
        let frags = &track.fragments;
        let Ok(i) = frags.binary_search_by_key(&req.time, |f| f.time) else {
            return match frags.last() {
                Some(last) if req.time > last.time && !event.ended => Ok(Plan::Ready(Served::NotYet)),
                None if !event.ended => Ok(Plan::Ready(Served::NotYet)),
                _ => Err(LiveError::NotFound("no fragment at that time")),
            };
        };
        if i + 1 >= frags.len() && !event.ended {
            return Ok(Plan::Ready(Served::NotYet));
        }
        // Outside the DVR window: 404. A margin of (lookahead + 4) fragments past the window the
        // manifest lists, because a player's idea of the window lags the origin's (dash.js builds
        // it from the fragments it fetched; a paused player more so).
        let settings = self.settings();
        let window = settings.dvr_window.saturating_mul(TIMESCALE);
        if window > 0 && !event.ended {
            let last = &frags[frags.len() - 1];
            let margin = (u64::from(settings.lookahead_chunks) + 4) * frags[i].duration;
            if frags[i].time + frags[i].duration + window + margin <= last.time {
                return Err(LiveError::NotFound("outside the DVR window"));
            }
        }
        let want = settings.lookahead_chunks.max(1) as usize;
        let n = want.min(frags.len() - i - 1);
        let key = (event.id.clone(), req.track.clone(), req.bitrate, req.time, info);
        if let Some(b) = self.fragment_cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Plan::Ready(Served::Bytes { bytes: b, kind: track.kind() }));
        }
        // The answer is final once the tfrf is full (or the event over): only then cached.
        let final_answer = n == want || event.ended;
        Ok(Plan::Read(ReadPlan {
            path: event.dir.join(&track.file),
            offset: frags[i].offset,
            size: frags[i].size,
            next: frags[i + 1..i + 1 + n].iter().map(|f| (f.time, f.duration)).collect(),
            kind: track.kind(),
            info,
            key: final_answer.then_some(key),
        }))
    }

    /// Reads a planned fragment and adds its `tfrf` (blocking I/O).
    pub fn read_fragment(&self, plan: ReadPlan) -> Result<Served, LiveError> {
        let bytes = read_range(&plan.path, plan.offset, plan.size).map_err(|e| LiveError::Invalid(e.to_string()))?;
        let bytes = if plan.info {
            let moof_len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
            bytes[..moof_len.min(bytes.len())].to_vec()
        } else {
            bytes
        };
        // The last fragment of an ended event has no successor: an empty tfrf says so.
        let bytes = Bytes::from(with_tfrf(&bytes, &plan.next).map_err(|e| LiveError::Invalid(e.to_string()))?);
        if let (Some(key), Ok(mut cache)) = (plan.key, self.fragment_cache.lock()) {
            if cache.len() >= MAX_CACHED_FRAGMENTS {
                cache.clear();
            }
            cache.insert(key, bytes.clone());
        }
        Ok(Served::Bytes { bytes, kind: plan.kind })
    }
}

impl Point {
    /// The codec and identity of the track `name` at `bitrate` of the current event.
    pub fn track_info(&self, name: &str, bitrate: u32) -> Option<crate::format::TrackInfo> {
        let guard = self.state.lock().ok()?;
        let event = guard.as_ref()?;
        event.tracks.iter().find(|t| t.info.name == name && t.info.bitrate == bitrate).map(|t| t.info.clone())
    }

    /// While the event is on: its DVR window and the wall-clock time of its media time 0.
    pub fn live_window(&self) -> Option<crate::origin::source::LiveWindow> {
        let guard = self.state.lock().ok()?;
        let event = guard.as_ref().filter(|e| !e.ended)?;
        let edge = event.tracks.iter().filter_map(|t| t.fragments.last()).map(|f| f.time + f.duration).max()?;
        let mut anchor = self.anchor.lock().ok()?;
        let start = match anchor.as_ref() {
            Some((id, t)) if *id == event.id => *t,
            _ => {
                let t = std::time::SystemTime::now() - std::time::Duration::from_nanos(edge.saturating_mul(100));
                *anchor = Some((event.id.clone(), t));
                t
            }
        };
        Some(crate::origin::source::LiveWindow { dvr_secs: self.settings().dvr_window, availability_start: start })
    }

    /// The archived size (`moof` + `mdat`, before its `tfrf`) of each fragment of the track, by
    /// start time.
    pub fn fragment_sizes(&self, name: &str, bitrate: u32) -> Option<std::collections::BTreeMap<u64, u64>> {
        let guard = self.state.lock().ok()?;
        let event = guard.as_ref()?;
        let track = event.tracks.iter().find(|t| t.info.name == name && t.info.bitrate == bitrate)?;
        Some(track.fragments.iter().map(|f| (f.time, f.size)).collect())
    }

    /// How many fragments of the track come before `time` in the event.
    pub fn sequence_of(&self, name: &str, bitrate: u32, time: u64) -> u64 {
        let Ok(guard) = self.state.lock() else { return 0 };
        let Some(event) = guard.as_ref() else { return 0 };
        let track = event.tracks.iter().find(|t| t.info.name == name && t.info.bitrate == bitrate);
        track.map_or(0, |t| t.fragments.partition_point(|f| f.time < time) as u64)
    }
}

/// The fragment times every rung of a stream has, except the newest while the event is on (it
/// waits for its successor, which its `tfrf` must name).
fn listed(rungs: &[&super::event::LiveTrack], ended: bool) -> Vec<Chunk> {
    let Some(first) = rungs.first() else { return Vec::new() };
    let mut chunks: Vec<Chunk> = first
        .fragments
        .iter()
        .filter(|f| rungs.iter().all(|r| r.fragments.iter().any(|g| g.time == f.time)))
        .map(|f| Chunk { t: f.time, d: f.duration })
        .collect();
    if !ended {
        // Every rung must also have a fragment after the chunk.
        chunks.retain(|c| rungs.iter().all(|r| r.fragments.last().is_some_and(|l| l.time > c.t)));
    }
    chunks
}

/// The newest event folder of an archive (by name: UTC stamps sort by time).
fn newest_event(archive: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(archive).ok()?.flatten().map(|e| e.path()).filter(|p| p.join(STATE_FILE).is_file()).collect();
    dirs.sort();
    dirs.pop()
}

fn read_settings(isml: &Path) -> Result<PointFile, LiveError> {
    let text = std::fs::read_to_string(isml).map_err(|e| LiveError::io(isml, e))?;
    PointFile::from_xml(&text, &isml.display().to_string()).map_err(|e| LiveError::Invalid(e.to_string()))
}
