//! One live event of a publishing point, on disk: a folder `NAME.archive/EVENT/` beside the
//! `.isml`, one archive file per ingested track (`NAME_TRACKNAME_KBPSk.ismv|isma`, written by the
//! ordinary [`IsmvWriter`] fragment by fragment as they arrive and synced before a fragment is
//! listed), and a hidden state file (`.ssfpack-live.json`: the tracks and each stream's header
//! boxes). After a crash the files are reopened, a torn last fragment cut off, and the event goes
//! on; when it ends the files get their `mfra` and the folder its `.ism`/`.ismc`: a finished
//! on-demand presentation served and checked like any other.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::durable;
use crate::format::boxes::read_span;
use crate::format::fragmenter::Fragment;
use crate::format::presentation::{write_manifests, TrackOutput};
use crate::format::reader::MediaFile;
use crate::format::writer::{FragmentEvent, IsmvWriter};
use crate::format::{TrackInfo, TrackKind};

use super::LiveError;

/// The event's state file, inside its folder.
pub const STATE_FILE: &str = ".ssfpack-live.json";

/// How far (ticks: 1 ms) a fragment may start before its predecessor ends.
const OVERLAP_TOLERANCE: u64 = 10_000;

/// One ingested track and its archive file.
pub struct LiveTrack {
    /// `STREAM_ID/TRACK_ID`: which POST and which of its tracks.
    pub key: String,
    pub info: TrackInfo,
    pub file: String,
    pub fragments: Vec<FragmentEvent>,
    writer: Option<IsmvWriter<File>>,
}

impl LiveTrack {
    pub fn kind(&self) -> TrackKind {
        self.info.kind()
    }
}

/// A live event: its tracks, files and state.
pub struct Event {
    pub id: String,
    pub dir: PathBuf,
    /// The presentation name (the point's name).
    pub name: String,
    pub tracks: Vec<LiveTrack>,
    /// Each stream's header boxes (`ftyp` … `moov`), hex: a reconnect must send them identical.
    pub headers: BTreeMap<String, String>,
    pub ended: bool,
    /// Streams that sent their end of stream (the event ends when all have).
    pub ended_streams: std::collections::BTreeSet<String>,
    /// The wall-clock time of media time 0 (DASH `availabilityStartTime`), to the millisecond:
    /// fixed once per event and kept in the state file, so a restarted server gives the same.
    pub availability_start: Option<SystemTime>,
}

#[derive(Serialize, Deserialize)]
struct State {
    id: String,
    name: String,
    ended: bool,
    headers: BTreeMap<String, String>,
    tracks: Vec<TrackState>,
    /// [`Event::availability_start`] in milliseconds since the Unix epoch (absent until fixed, and
    /// in state files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    availability_start_ms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct TrackState {
    key: String,
    file: String,
    track_id: u32,
    track_name: String,
    bitrate: u32,
    language: String,
}

impl Event {
    /// Creates a new event folder under `archive` (named after the UTC time, made unique).
    pub fn create(archive: &Path, name: &str) -> Result<Self, LiveError> {
        std::fs::create_dir_all(archive).map_err(|e| LiveError::io(archive, e))?;
        let stamp = super::clock::stamp(SystemTime::now());
        let mut id = stamp.clone();
        let mut n = 1;
        let dir = loop {
            let dir = archive.join(&id);
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {
                    n += 1;
                    id = format!("{stamp}-{n}");
                }
                Err(e) => return Err(LiveError::io(&dir, e)),
            }
        };
        durable::sync_dir(archive).map_err(|e| LiveError::io(archive, e))?;
        let event = Event {
            id,
            dir,
            name: name.to_string(),
            tracks: Vec::new(),
            headers: BTreeMap::new(),
            ended: false,
            ended_streams: Default::default(),
            availability_start: None,
        };
        event.save()?;
        Ok(event)
    }

    /// Reopens the event in `dir` after a restart: each file cut back to its last whole fragment.
    pub fn recover(dir: &Path) -> Result<Self, LiveError> {
        let path = dir.join(STATE_FILE);
        let bytes = std::fs::read(&path).map_err(|e| LiveError::io(&path, e))?;
        let state: State =
            serde_json::from_slice(&bytes).map_err(|e| LiveError::Invalid(format!("{}: {e}", path.display())))?;
        let mut tracks = Vec::new();
        for t in state.tracks {
            let file_path = dir.join(&t.file);
            let len = cut_torn_tail(&file_path)?;
            let media = MediaFile::open(&file_path).map_err(|e| LiveError::Invalid(e.to_string()))?;
            let entry = media.tracks.first().ok_or_else(|| LiveError::Invalid(format!("{}: no track", t.file)))?;
            let codec =
                entry.codec.clone().ok_or_else(|| LiveError::Invalid(format!("{}: not H.264 or AAC", t.file)))?;
            let info = TrackInfo {
                track_id: t.track_id,
                codec,
                bitrate: t.bitrate,
                language: t.language.clone(),
                name: t.track_name.clone(),
            };
            let fragments: Vec<FragmentEvent> = media
                .fragments
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let tfxd = f.tfxd?;
                    Some(FragmentEvent {
                        track_id: t.track_id,
                        index: i as u32,
                        time: tfxd.time,
                        duration: tfxd.duration,
                        offset: f.moof_offset,
                        size: f.byte_len(),
                        samples: f.samples.len() as u32,
                    })
                })
                .collect();
            let writer = if state.ended {
                None
            } else {
                let file =
                    OpenOptions::new().append(true).open(&file_path).map_err(|e| LiveError::io(&file_path, e))?;
                Some(IsmvWriter::resume(file, info.clone(), &fragments, len))
            };
            tracks.push(LiveTrack { key: t.key, info, file: t.file, fragments, writer });
        }
        Ok(Event {
            id: state.id,
            dir: dir.to_path_buf(),
            name: state.name,
            tracks,
            headers: state.headers,
            ended: state.ended,
            ended_streams: Default::default(),
            availability_start: state.availability_start_ms.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        })
    }

    fn save(&self) -> Result<(), LiveError> {
        let state = State {
            id: self.id.clone(),
            name: self.name.clone(),
            ended: self.ended,
            headers: self.headers.clone(),
            tracks: self
                .tracks
                .iter()
                .map(|t| TrackState {
                    key: t.key.clone(),
                    file: t.file.clone(),
                    track_id: t.info.track_id,
                    track_name: t.info.name.clone(),
                    bitrate: t.info.bitrate,
                    language: t.info.language.clone(),
                })
                .collect(),
            availability_start_ms: self.availability_start.map(millis),
        };
        let json = serde_json::to_vec_pretty(&state).map_err(|e| LiveError::Invalid(e.to_string()))?;
        let path = self.dir.join(STATE_FILE);
        durable::replace_synced(&path, &json).map_err(|e| LiveError::io(&path, e))
    }

    /// Fixes [`Self::availability_start`] at `t` (cut to the millisecond) and saves it durably; the
    /// value is kept in memory even when the save fails.
    pub fn fix_availability_start(&mut self, t: SystemTime) -> Result<SystemTime, LiveError> {
        let t = UNIX_EPOCH + Duration::from_millis(millis(t));
        self.availability_start = Some(t);
        self.save().map(|()| t)
    }

    /// Adds a stream's tracks (its header boxes recorded): one archive file each, created synced.
    pub fn add_stream(
        &mut self,
        stream: &str,
        header_hex: String,
        tracks: Vec<(String, TrackInfo)>,
    ) -> Result<(), LiveError> {
        for (key, info) in tracks {
            if self.tracks.iter().any(|t| t.key == key) {
                continue;
            }
            let ext = if info.kind() == TrackKind::Video { "ismv" } else { "isma" };
            let mut file = format!("{}_{}_{}k.{ext}", self.name, info.name, info.bitrate / 1000);
            let mut n = 2;
            while self.tracks.iter().any(|t| t.file == file) {
                file = format!("{}_{}_{}k_{n}.{ext}", self.name, info.name, info.bitrate / 1000);
                n += 1;
            }
            let path = self.dir.join(&file);
            let out = File::create(&path).map_err(|e| LiveError::io(&path, e))?;
            let writer = IsmvWriter::new(out, info.clone()).map_err(|e| LiveError::Invalid(format!("{file}: {e}")))?;
            writer.get_ref().sync_all().map_err(|e| LiveError::io(&path, e))?;
            self.tracks.push(LiveTrack { key, info, file, fragments: Vec::new(), writer: Some(writer) });
        }
        self.headers.insert(stream.to_string(), header_hex);
        durable::sync_dir(&self.dir).map_err(|e| LiveError::io(&self.dir, e))?;
        self.save()
    }

    /// Appends one fragment to track `key`, synced before it counts. `Ok(false)`: a fragment the
    /// track already has (an encoder resending after a reconnect), skipped.
    pub fn append(&mut self, key: &str, fragment: &Fragment) -> Result<bool, LiveError> {
        let dir = self.dir.clone();
        let track = self
            .tracks
            .iter_mut()
            .find(|t| t.key == key)
            .ok_or_else(|| LiveError::Invalid(format!("no track {key}")))?;
        if let Some(last) = track.fragments.last() {
            if fragment.start <= last.time {
                return Ok(false);
            }
            // Encoders round their fragment times (FFmpeg: to the millisecond); a fragment may
            // start up to 1 ms before the previous one ends.
            if fragment.start + OVERLAP_TOLERANCE < last.time + last.duration {
                return Err(LiveError::Invalid(format!(
                    "track {key}: fragment at {} overlaps the previous one ({} + {})",
                    fragment.start, last.time, last.duration
                )));
            }
        }
        let writer = track.writer.as_mut().ok_or_else(|| LiveError::Invalid(format!("track {key}: event ended")))?;
        let path = dir.join(&track.file);
        let event = writer.write_fragment(fragment).map_err(|e| LiveError::Invalid(format!("{}: {e}", track.file)))?;
        writer.get_ref().sync_data().map_err(|e| LiveError::io(&path, e))?;
        track.fragments.push(event);
        Ok(true)
    }

    /// The earliest time a reconnecting encoder resends from on track `key`: it sends its last
    /// two fragments again (Azure's rule), so at the earliest the second newest this track has.
    pub fn resend_floor(&self, key: &str) -> Option<u64> {
        let t = self.tracks.iter().find(|t| t.key == key)?;
        let n = t.fragments.len();
        t.fragments.get(n.saturating_sub(2)).map(|f| f.time)
    }

    /// Ends the event: `mfra` on every file, then `.ism` and `.ismc` (the streams' common
    /// fragments): the folder is now an on-demand presentation.
    pub fn finish(&mut self) -> Result<(), LiveError> {
        if self.ended {
            return Ok(());
        }
        for t in &mut self.tracks {
            if let Some(w) = t.writer.take() {
                let path = self.dir.join(&t.file);
                let file = w.finish().map_err(|e| LiveError::Invalid(format!("{}: {e}", t.file)))?;
                file.sync_all().map_err(|e| LiveError::io(&path, e))?;
            }
        }
        let outputs: Vec<TrackOutput> = common_outputs(&self.tracks);
        if !outputs.is_empty() {
            write_manifests(&self.dir, &self.name, &outputs).map_err(|e| LiveError::Invalid(e.to_string()))?;
        }
        self.ended = true;
        self.save()?;
        durable::sync_dir(&self.dir).map_err(|e| LiveError::io(&self.dir, e))
    }
}

/// Milliseconds since the Unix epoch (0 before it).
fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Each track with only the fragment times every track of its stream has (rungs must align).
fn common_outputs(tracks: &[LiveTrack]) -> Vec<TrackOutput> {
    tracks
        .iter()
        .filter(|t| !t.fragments.is_empty())
        .map(|t| {
            let same: Vec<&LiveTrack> = tracks.iter().filter(|o| o.info.name == t.info.name).collect();
            let fragments = t
                .fragments
                .iter()
                .filter(|f| same.iter().all(|o| o.fragments.iter().any(|g| g.time == f.time)))
                .copied()
                .collect();
            TrackOutput { file: t.file.clone(), track: t.info.clone(), fragments }
        })
        .filter(|o| !o.fragments.is_empty())
        .collect()
}

/// Cuts a file back to its last whole top-level box (a fragment torn by a crash); returns its length.
fn cut_torn_tail(path: &Path) -> Result<u64, LiveError> {
    let mut file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| LiveError::io(path, e))?;
    let len = file.metadata().map_err(|e| LiveError::io(path, e))?.len();
    let mut offset = 0;
    // A moof whose mdat did not arrive is torn too: cut back to the end of the last mdat (or moov).
    let mut whole = 0;
    while let Ok(Some(span)) = read_span(&mut file, offset, len, &path.display().to_string()) {
        offset = span.offset + span.size;
        if !matches!(span.box_type, shiguredo_mp4::BoxType::Normal(t) if &t == b"moof") {
            whole = offset;
        }
    }
    if whole < len {
        tracing::warn!("{}: cutting a torn last fragment ({} bytes) after a restart", path.display(), len - whole);
        file.set_len(whole).map_err(|e| LiveError::io(path, e))?;
        file.sync_all().map_err(|e| LiveError::io(path, e))?;
    }
    Ok(whole)
}
