//! The encode's live output: the header boxes, built once, and every fragment queued for each
//! connection that carries its track. A connection is one POST: by default one per target with
//! every track; with `--post-per-track`, one per target and track (Azure's style), each posting
//! to `Streams(ID_TRACK)` with header boxes that describe that track alone. Connections open as
//! their tracks do, and are handed to the caller's launcher to be run.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};

use crate::format::boxes::{encode, UuidBox};
use crate::format::fragmenter::Fragment;
use crate::format::live::LiveServerManifestBox;
use crate::format::manifest::{ServerManifest, ServerTrack};
use crate::format::presentation::stream_index;
use crate::format::writer::{fragment_bytes, ftyp, moov_tracks};
use crate::format::{FormatError, Sample, TrackInfo, TrackKind};
use crate::pipeline::sink::{LiveOutput, LiveTrack};

use super::queue::{Item, Queue};
use super::url::TargetUrl;

/// One POST's worth of a push: where it goes and what waits for it.
pub struct Connection {
    /// Which `--to` target (0-based) it belongs to.
    pub target: usize,
    pub url: TargetUrl,
    pub queue: Arc<Queue>,
}

/// How connections are laid out and bounded.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub targets: Vec<TargetUrl>,
    /// One POST per track and target instead of one per target.
    pub per_track: bool,
    /// Added to every timestamp (`--start-time now`).
    pub offset: u64,
    /// Bounds of each connection's buffer.
    pub buffer_fragments: usize,
    pub buffer_bytes: usize,
}

#[derive(Default)]
struct State {
    expected: usize,
    infos: Vec<TrackInfo>,
    /// Every connection opened so far.
    connections: Vec<Arc<Connection>>,
    /// Takes each new connection to the launcher; `None` once closed.
    launch: Option<Sender<Arc<Connection>>>,
}

pub struct Hub {
    cfg: HubConfig,
    state: Mutex<State>,
}

impl Hub {
    /// New connections are sent to `launch` as they open.
    pub fn new(cfg: HubConfig, launch: Sender<Arc<Connection>>) -> Self {
        Hub { cfg, state: Mutex::new(State { launch: Some(launch), ..State::default() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is added to every timestamp.
    pub fn offset(&self) -> u64 {
        self.cfg.offset
    }

    /// Every connection opened so far.
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        self.lock().connections.clone()
    }

    /// No more connections will open: the launcher's channel ends.
    pub fn close(&self) {
        self.lock().launch = None;
    }

    fn open(&self, g: &mut State, url: TargetUrl, target: usize) -> Arc<Connection> {
        let queue = Arc::new(Queue::new(self.cfg.buffer_fragments, self.cfg.buffer_bytes));
        let c = Arc::new(Connection { target, url, queue });
        g.connections.push(Arc::clone(&c));
        if let Some(tx) = &g.launch {
            // The launcher outlives the encode; if it is gone, so is the push.
            let _ = tx.send(Arc::clone(&c));
        }
        c
    }
}

/// The stream name a track's own POST gets (`--post-per-track`): `audio`, `audio_1`… for audio,
/// `video1`, `video2`… (the track id) for the video rungs, which all share the name `video`.
pub fn track_stream_suffix(info: &TrackInfo) -> String {
    match info.kind() {
        TrackKind::Video => format!("{}{}", info.name, info.track_id),
        _ => info.name.clone(),
    }
}

/// `ftyp`, the live server manifest box and one `moov` for `tracks`: identical bytes for the same
/// tracks, so every reconnect sends the same header boxes.
pub fn header_boxes(tracks: &[TrackInfo]) -> Result<Vec<u8>, FormatError> {
    let mut sorted = tracks.to_vec();
    sorted.sort_by_key(|t| t.track_id);
    let mut smil_tracks = Vec::new();
    for t in &sorted {
        let level = stream_index(&t.name, &[t], Vec::new())?.quality_levels.remove(0);
        let server = ServerTrack {
            kind: t.kind(),
            src: String::new(),
            system_bitrate: t.bitrate.max(1),
            track_id: t.track_id,
            track_name: t.name.clone(),
            language: Some(t.language.clone()),
        };
        smil_tracks.push((server, level));
    }
    let smil = ServerManifest::ingest_xml(&smil_tracks)?;
    let mut out = encode(&ftyp(), "ftyp")?;
    out.extend(encode(&LiveServerManifestBox { smil }.to_unknown_box(), "live server manifest")?);
    out.extend(encode(&moov_tracks(&sorted)?, "moov")?);
    Ok(out)
}

fn set_header(connections: &[Arc<Connection>], tracks: &[TrackInfo]) {
    match header_boxes(tracks) {
        Ok(h) => {
            let h = Arc::new(h);
            connections.iter().for_each(|c| c.queue.set_header(Arc::clone(&h)));
        }
        Err(e) => {
            tracing::error!("building the header boxes: {e}");
            connections.iter().for_each(|c| c.queue.abort());
        }
    }
}

impl LiveOutput for Hub {
    fn expect(&self, tracks: usize) {
        let mut g = self.lock();
        g.expected = tracks;
        if !self.cfg.per_track {
            for (i, url) in self.cfg.targets.iter().enumerate() {
                self.open(&mut g, url.clone(), i);
            }
        }
    }

    fn track(&self, info: &TrackInfo) -> Box<dyn LiveTrack> {
        let mut g = self.lock();
        g.infos.push(info.clone());
        let connections = if self.cfg.per_track {
            let suffix = track_stream_suffix(info);
            let mine: Vec<_> = (self.cfg.targets.iter().enumerate())
                .map(|(i, url)| self.open(&mut g, url.for_track(&suffix), i))
                .collect();
            set_header(&mine, std::slice::from_ref(info));
            mine
        } else {
            if g.infos.len() == g.expected {
                set_header(&g.connections, &g.infos);
            }
            g.connections.clone()
        };
        Box::new(PushTrack { connections, offset: self.cfg.offset, info: info.clone() })
    }
}

/// One track's fragments, to the queues of the connections that carry it.
struct PushTrack {
    connections: Vec<Arc<Connection>>,
    offset: u64,
    info: TrackInfo,
}

impl LiveTrack for PushTrack {
    fn fragment(&mut self, fragment: &Fragment, sequence: u32) -> Result<u64, FormatError> {
        let shifted;
        let f = if self.offset == 0 {
            fragment
        } else {
            let by = self.offset as i64;
            shifted = Fragment {
                start: fragment.start + self.offset,
                end: fragment.end + self.offset,
                samples: fragment.samples.iter().map(|s| Sample { pts: s.pts + by, ..s.clone() }).collect(),
            };
            &shifted
        };
        let bytes = Arc::new(fragment_bytes(&self.info, f, sequence)?);
        let item =
            Item { track_id: self.info.track_id, time: f.start, duration: f.end - f.start, bytes: Arc::clone(&bytes) };
        for c in &self.connections {
            let dropped = c.queue.push(item.clone());
            if dropped > 0 {
                tracing::warn!(
                    "{}: buffer full: dropped the {dropped} oldest waiting fragment(s) ({} dropped in all)",
                    c.url,
                    c.queue.dropped()
                );
            }
        }
        Ok(bytes.len() as u64)
    }
}
