//! Text tracks: TTML cues cut into fragments on the presentation's fragment grid, one TTML
//! document per fragment (one `trun` sample), so that a player fetching `Fragments(text_eng=t)`
//! gets exactly the cues of that span, times relative to `t`. A fragment without a cue carries a
//! valid empty document, so the text stream's timeline is the video's, chunk for chunk.

use super::fragmenter::Fragment;
use super::manifest::Chunk;
use super::ttml::{Cue, Document};
use super::{Sample, TIMESCALE};
use crate::format::error::Result;

/// The manifest `Subtype` of a text stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TextRole {
    /// `SUBT`: subtitles, a translation of the dialogue (dash.js: role `alternate`).
    #[default]
    Subtitles,
    /// `CAPT`: captions for the deaf and hard of hearing (dash.js: role `main`).
    Captions,
}

impl TextRole {
    pub fn subtype(self) -> &'static str {
        match self {
            TextRole::Subtitles => "SUBT",
            TextRole::Captions => "CAPT",
        }
    }

    pub fn from_subtype(s: &str) -> Option<Self> {
        match s {
            "SUBT" => Some(TextRole::Subtitles),
            "CAPT" => Some(TextRole::Captions),
            _ => None,
        }
    }
}

/// The codec configuration of a TTML text track (`stpp` sample entry, `FourCC="TTML"`, empty
/// `CodecPrivateData`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextConfig {
    pub role: TextRole,
}

/// The `stpp` sample entry's namespace.
pub const STPP_NAMESPACE: &str = super::ttml::NS_TT;

/// The fragments of a text track: one per chunk of `grid`, each holding one TTML document with
/// the cues (absolute times, ticks) that overlap it. `lang` is the document's `xml:lang`.
pub fn fragments(lang: &str, cues: &[Cue], grid: &[Chunk]) -> Result<Vec<Fragment>> {
    grid.iter()
        .map(|c| {
            let doc = Document::window(lang, cues, c.t, c.t + c.d).to_xml()?;
            let duration = u32::try_from(c.d).unwrap_or(u32::MAX);
            Ok(Fragment {
                start: c.t,
                end: c.t + c.d,
                samples: vec![Sample { pts: c.t as i64, duration, sync: true, data: doc }],
            })
        })
        .collect()
}

/// The cues of `cues` that end after `end` (the last fragment's end): what a grid that stops
/// there cannot carry, whole or in part.
pub fn beyond(cues: &[Cue], end: u64) -> usize {
    cues.iter().filter(|c| c.end > end).count()
}

/// A nominal bitrate for the track's `QualityLevel`: the documents' average, in bits per second,
/// rounded up to a whole kbit/s (at least 1000).
pub fn bitrate(fragments: &[Fragment]) -> u32 {
    let bytes: u64 = fragments.iter().flat_map(|f| &f.samples).map(|s| s.data.len() as u64).sum();
    let span = fragments.last().map_or(0, |f| f.end) - fragments.first().map_or(0, |f| f.start);
    if span == 0 {
        return 1000;
    }
    let bps = (bytes * 8 * TIMESCALE).div_ceil(span);
    u32::try_from(bps.div_ceil(1000).max(1) * 1000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ttml::{parse, Placement, Span, Style};

    #[test]
    fn one_document_per_chunk_with_relative_times() {
        let cue = Cue {
            begin: 15_000_000,
            end: 25_000_000,
            lines: vec![vec![Span { text: "hi".into(), style: Style::default() }]],
            placement: Placement::default(),
        };
        let grid = [
            Chunk { t: 0, d: 20_000_000 },
            Chunk { t: 20_000_000, d: 20_000_000 },
            Chunk { t: 40_000_000, d: 5_000_000 },
        ];
        let f = fragments("en", &[cue], &grid).unwrap();
        assert_eq!(f.len(), 3);
        let docs: Vec<_> = f.iter().map(|f| parse(&f.samples[0].data, "t").unwrap()).collect();
        assert_eq!((docs[0].cues[0].begin, docs[0].cues[0].end), (15_000_000, 20_000_000));
        assert_eq!((docs[1].cues[0].begin, docs[1].cues[0].end), (0, 5_000_000));
        assert!(docs[2].cues.is_empty());
        assert_eq!(f[2].samples[0].pts, 40_000_000);
        assert!(bitrate(&f) >= 1000 && bitrate(&f) % 1000 == 0);
    }
}
