//! The text tracks of the main job: the source's text subtitle streams and the `--subtitles`
//! sidecars, read before the encode ([`prepare`], so a bad sidecar fails before any work), then,
//! once the video's fragment grid is known, written as one `NAME_text_LANG.ismt` each
//! ([`write`]): one TTML document per fragment of the grid (`format::text`), through the same
//! `IsmvWriter` as every other track, so the manifests list them like any other stream.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::format::fragmenter::Fragment;
use crate::format::manifest::Chunk;
use crate::format::presentation::TrackOutput;
use crate::format::text::{self, TextConfig, TextRole};
use crate::format::ttml::{self, Cue};
use crate::format::writer::IsmvWriter;
use crate::format::{language, CodecConfig, TrackInfo, TIMESCALE};
use crate::media::subtitle;

use super::PipelineError;

/// A sidecar subtitle file: `--subtitles FILE[:LANG]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleFile {
    pub path: PathBuf,
    /// ISO 639-2/T; `None`: the file's own (`xml:lang`, the demuxer's language), else `und`.
    pub language: Option<String>,
}

impl SubtitleFile {
    /// Parses `FILE[:LANG]`: a suffix after the last `:` that is a language code (`en`, `fre`,
    /// `pt-BR`) is the language, anything else is part of the path.
    pub fn parse(arg: &str) -> Result<Self, String> {
        if let Some((path, lang)) = arg.rsplit_once(':') {
            if !path.is_empty() && !lang.contains(['/', '\\', '.']) {
                let code = language::to_iso639_2t(lang)
                    .ok_or_else(|| format!("{lang:?} is not an ISO 639 language code (e.g. en, eng, fre)"))?;
                return Ok(SubtitleFile { path: path.into(), language: Some(code) });
            }
        }
        if arg.is_empty() {
            return Err("an empty file name".into());
        }
        Ok(SubtitleFile { path: arg.into(), language: None })
    }
}

/// The text options of the main job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextOptions {
    pub subtitles: Vec<SubtitleFile>,
    /// Every text track is captions (`Subtype="CAPT"`) rather than subtitles (`SUBT`).
    pub captions: bool,
}

/// One text track to write.
#[derive(Debug, Clone)]
pub struct TextSource {
    /// `stream #N (codec)` of the input, or the sidecar's path.
    pub label: String,
    pub language: String,
    pub role: TextRole,
    /// Absolute ticks: on the input's timeline (`embedded`), or on the presentation's (a sidecar).
    pub cues: Vec<Cue>,
    pub embedded: bool,
}

/// What [`prepare`] found: the tracks to write and the notes about what is not converted.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub tracks: Vec<TextSource>,
    pub notes: Vec<String>,
}

/// Reads the text subtitle streams of `input` and every sidecar of `opts`.
pub fn prepare(input: &Path, opts: &TextOptions) -> Result<Prepared, PipelineError> {
    let role = |hearing_impaired: bool| {
        if opts.captions || hearing_impaired {
            TextRole::Captions
        } else {
            TextRole::Subtitles
        }
    };
    let mut out = Prepared::default();
    let scan = subtitle::read(input)?;
    for d in &scan.dropped {
        out.notes
            .push(format!("subtitle stream #{} ({}, {}): not packaged: {}", d.index, d.codec, d.language, d.reason));
    }
    for s in scan.text {
        let label = format!("stream #{} ({})", s.index, s.codec);
        if s.cues.is_empty() {
            out.notes.push(format!("subtitle stream #{} ({}, {}): no cue; not packaged", s.index, s.codec, s.language));
            continue;
        }
        out.tracks.push(TextSource {
            label,
            language: s.language,
            role: role(s.hearing_impaired),
            cues: s.cues,
            embedded: true,
        });
    }
    for f in &opts.subtitles {
        out.tracks.push(read_sidecar(f, role(false))?);
    }
    Ok(out)
}

fn read_sidecar(f: &SubtitleFile, role: TextRole) -> Result<TextSource, PipelineError> {
    let name = f.path.display().to_string();
    let meta = std::fs::metadata(&f.path).map_err(|e| PipelineError::io(&f.path, e))?;
    if !meta.is_file() {
        return Err(PipelineError::Invalid(format!("--subtitles {name}: not a regular file")));
    }
    let ext = f.path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let (found_lang, cues) = if matches!(ext.as_str(), "ttml" | "dfxp" | "xml") {
        let bytes = std::fs::read(&f.path).map_err(|e| PipelineError::io(&f.path, e))?;
        let parsed = ttml::parse(&bytes, &name).map_err(|e| PipelineError::format("--subtitles", e))?;
        (parsed.lang.as_deref().and_then(language::to_iso639_2t), parsed.cues)
    } else {
        let scan = subtitle::read(&f.path)?;
        let Some(stream) = scan.text.into_iter().next() else {
            let why = match scan.dropped.first() {
                Some(d) => format!("its subtitles are {} ({})", d.codec, d.reason),
                None => "no text subtitle stream FFmpeg can read (.srt, .vtt, .ass, .ttml or .dfxp)".into(),
            };
            return Err(PipelineError::Invalid(format!("--subtitles {name}: {why}")));
        };
        (Some(stream.language).filter(|l| l != "und"), stream.cues)
    };
    if cues.is_empty() {
        return Err(PipelineError::Invalid(format!("--subtitles {name}: no cue in the file")));
    }
    Ok(TextSource {
        label: name,
        language: f.language.clone().or(found_lang).unwrap_or_else(|| "und".into()),
        role,
        cues,
        embedded: false,
    })
}

/// A text track written, for the summary.
#[derive(Debug, Clone)]
pub struct Written {
    pub output: TrackOutput,
    pub label: String,
    pub cues: usize,
}

/// Writes every prepared track into `dir` on the fragment grid `grid` (the video's, chunk for
/// chunk). `origin` is the input time (ticks) of the presentation's 0, subtracted from embedded
/// cues. Track ids start at `first_track_id`. Returns the tracks and the notes about cues cut.
pub fn write(
    prepared: &Prepared,
    name: &str,
    dir: &Path,
    grid: &[Chunk],
    origin: i64,
    first_track_id: u32,
) -> Result<(Vec<Written>, Vec<String>), PipelineError> {
    let mut written = Vec::new();
    let mut notes = Vec::new();
    let end = grid.last().map_or(0, |c| c.t + c.d);
    let mut names: Vec<String> = Vec::new();
    for (i, src) in prepared.tracks.iter().enumerate() {
        let cues = rebase(&src.cues, if src.embedded { origin } else { 0 });
        let before = src.cues.len() - cues.len();
        let after = text::beyond(&cues, end);
        if before + after > 0 {
            notes.push(format!(
                "{}: {} of {} cues lie (partly) outside the presentation (0 to {:.3} s): cut to it",
                src.label,
                before + after,
                src.cues.len(),
                end as f64 / TIMESCALE as f64
            ));
        }
        let mut stream = format!("text_{}", src.language);
        let mut n = 1;
        while names.contains(&stream) {
            n += 1;
            stream = format!("text_{}_{n}", src.language);
        }
        names.push(stream.clone());
        let file = format!("{name}_{stream}.ismt");
        let fragments = text::fragments(&language::to_bcp47(&src.language), &cues, grid)
            .map_err(|e| PipelineError::format(&file, e))?;
        let info = TrackInfo {
            track_id: first_track_id + i as u32,
            codec: CodecConfig::Ttml(TextConfig { role: src.role }),
            bitrate: text::bitrate(&fragments),
            language: src.language.clone(),
            name: stream,
        };
        let output = write_file(&dir.join(&file), &file, info, &fragments)?;
        written.push(Written { output, label: src.label.clone(), cues: cues.len() });
    }
    Ok((written, notes))
}

fn write_file(path: &Path, file: &str, info: TrackInfo, fragments: &[Fragment]) -> Result<TrackOutput, PipelineError> {
    let out = std::fs::File::create(path).map_err(|e| PipelineError::io(path, e))?;
    let mut w = IsmvWriter::new(BufWriter::new(out), info.clone()).map_err(|e| PipelineError::format(file, e))?;
    let mut events = Vec::with_capacity(fragments.len());
    for f in fragments {
        events.push(w.write_fragment(f).map_err(|e| PipelineError::format(file, e))?);
    }
    super::output::close_track(w, path, file)?;
    Ok(TrackOutput { file: file.to_string(), track: info, fragments: events })
}

/// Cues moved by `-origin` ticks; those that end before 0 are dropped, those that start before
/// it start at 0.
fn rebase(cues: &[Cue], origin: i64) -> Vec<Cue> {
    cues.iter()
        .filter_map(|c| {
            let shift = |t: u64| (i128::from(t) - i128::from(origin)).clamp(0, i128::from(u64::MAX)) as u64;
            let (begin, end) = (shift(c.begin), shift(c.end));
            (end > begin).then(|| Cue { begin, end, ..c.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_arguments() {
        let f = SubtitleFile::parse("subs/film.en.srt:fre").unwrap();
        assert_eq!((f.path, f.language.as_deref()), (PathBuf::from("subs/film.en.srt"), Some("fra")));
        assert_eq!(SubtitleFile::parse("a.vtt").unwrap().language, None);
        assert_eq!(SubtitleFile::parse("C:/x/a.vtt").unwrap().path, PathBuf::from("C:/x/a.vtt"));
        assert!(SubtitleFile::parse("a.srt:klingon").is_err());
        assert!(SubtitleFile::parse("").is_err());
    }
}
