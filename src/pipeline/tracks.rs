//! Which audio tracks of the source are packaged, in which order, with which language and stream
//! name, and how many channels they keep: `--audio-tracks`, `--audio-lang`, `--audio-channels`.
//! The first chosen track comes first in the manifests (the one players start with).
//! [`open_source`] opens the source with these choices and reports, as notes, what it leaves out
//! or converts; [`audio_jobs`] makes the AAC jobs of the chosen tracks.

use std::path::{Path, PathBuf};

use crate::format::language::iso639_2t;
use crate::media::aac::{AacSettings, Channels};
use crate::media::input::{AudioInfo, Source, SourceOptions, VideoInfo};

use super::report::Report;
use super::{audio, notes, output, PipelineError};

/// `--audio-tracks`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AudioTracks {
    /// Every audio stream, in file order.
    #[default]
    All,
    /// These, in this order.
    List(Vec<TrackRef>),
}

/// One item of `--audio-tracks`: a stream index (as `ffprobe` numbers the streams) or an
/// ISO 639-2 language (every track in that language, in file order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackRef {
    Index(usize),
    Language(String),
}

/// The audio options of an encode (main job, batch, push).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioChoice {
    pub channels: Channels,
    pub tracks: AudioTracks,
    /// `--audio-lang INDEX=LANG`: stream index → ISO 639-2/T language.
    pub languages: Vec<(usize, String)>,
}

/// What an encode takes from the source and how: the audio tracks and channels, the video's
/// deinterlacing (`--deinterlace`, `--deinterlace-rate`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamChoice {
    pub audio: AudioChoice,
    pub deinterlace: crate::media::filter::Deinterlace,
    /// `--deinterlace-rate field`: one picture per field (the frame rate doubles).
    pub field_rate: bool,
}

/// Parses `--deinterlace`: `auto`, `on` or `off`.
pub fn parse_deinterlace(text: &str) -> Result<crate::media::filter::Deinterlace, String> {
    use crate::media::filter::Deinterlace;
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Deinterlace::Auto),
        "on" => Ok(Deinterlace::On),
        "off" => Ok(Deinterlace::Off),
        _ => Err("expected auto, on or off".into()),
    }
}

/// Parses `--audio-tracks`: `all`, or a comma-separated list of stream indexes and languages.
pub fn parse_tracks(text: &str) -> Result<AudioTracks, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(AudioTracks::All);
    }
    let mut list = Vec::new();
    for item in text.split(',').map(str::trim) {
        if let Ok(i) = item.parse::<usize>() {
            list.push(TrackRef::Index(i));
        } else if let Some(lang) = iso639_2t(item) {
            list.push(TrackRef::Language(lang));
        } else {
            return Err(format!("`{item}`: expected a stream index (0, 1, …) or an ISO 639-2 language (eng, fra, …)"));
        }
    }
    if list.is_empty() {
        return Err("expected `all` or a list such as `1,2` or `eng,fra`".into());
    }
    Ok(AudioTracks::List(list))
}

/// Parses one `--audio-lang INDEX=LANG`.
pub fn parse_language(text: &str) -> Result<(usize, String), String> {
    let (index, lang) = text.split_once('=').ok_or("expected INDEX=LANG, e.g. 1=eng")?;
    let index = index.trim().parse::<usize>().map_err(|_| format!("`{index}`: not a stream index"))?;
    let lang = iso639_2t(lang).ok_or_else(|| format!("`{lang}`: not an ISO 639-2 language (three letters)"))?;
    Ok((index, lang))
}

/// Parses `--audio-channels`: `2`, `6` or `source`.
pub fn parse_channels(text: &str) -> Result<Channels, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "2" | "stereo" => Ok(Channels::Stereo),
        "6" | "5.1" => Ok(Channels::Surround),
        "source" => Ok(Channels::Source),
        _ => Err("expected 2, 6 or source".into()),
    }
}

/// The source's audio streams as `#1 eng, #2 fra`, for error messages.
fn listing(audio: &[AudioInfo]) -> String {
    if audio.is_empty() {
        return "none".into();
    }
    audio.iter().map(|a| format!("#{} {}", a.stream_index, a.language)).collect::<Vec<_>>().join(", ")
}

/// The stream indexes to package, in order, from the source's audio streams (file order).
pub fn resolve(choice: &AudioChoice, audio: &[AudioInfo]) -> Result<Vec<usize>, String> {
    for (index, _) in &choice.languages {
        if !audio.iter().any(|a| a.stream_index == *index) {
            return Err(format!(
                "--audio-lang {index}=…: stream #{index} is not an audio stream of the source (audio: {})",
                listing(audio)
            ));
        }
    }
    let refs = match &choice.tracks {
        AudioTracks::All => return Ok(audio.iter().map(|a| a.stream_index).collect()),
        AudioTracks::List(refs) => refs,
    };
    let mut chosen: Vec<usize> = Vec::new();
    for r in refs {
        let matches: Vec<usize> = match r {
            TrackRef::Index(i) => audio.iter().filter(|a| a.stream_index == *i).map(|a| a.stream_index).collect(),
            TrackRef::Language(l) => {
                audio.iter().filter(|a| &language_of(choice, a) == l).map(|a| a.stream_index).collect()
            }
        };
        if matches.is_empty() {
            let what = match r {
                TrackRef::Index(i) => format!("stream #{i} is not an audio stream of the source"),
                TrackRef::Language(l) => format!("the source has no audio track in `{l}`"),
            };
            return Err(format!("--audio-tracks: {what} (audio: {})", listing(audio)));
        }
        for m in matches {
            if !chosen.contains(&m) {
                chosen.push(m);
            }
        }
    }
    Ok(chosen)
}

/// A track's language: `--audio-lang`'s if given, else the stream's.
pub fn language_of(choice: &AudioChoice, a: &AudioInfo) -> String {
    choice.languages.iter().find(|(i, _)| *i == a.stream_index).map_or_else(|| a.language.clone(), |(_, l)| l.clone())
}

/// Stream names (`Name` in the manifests, the `audio=` of fragment URLs) of tracks in these
/// languages, in order: `audio` for a single track (as before), else `audio_eng`, `audio_fra`, a
/// second `audio_eng_2`…
pub fn stream_names(languages: &[String]) -> Vec<String> {
    if languages.len() <= 1 {
        return languages.iter().map(|_| "audio".to_string()).collect();
    }
    let mut names: Vec<String> = Vec::new();
    for lang in languages {
        let base = format!("audio_{lang}");
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// Opens the source with the chosen streams and conversions; reports what is left out or changed
/// of it (notes). Returns the source, its video and its chosen audio tracks (relabelled, in the
/// chosen order). `shown` is the input as the user named it.
pub(super) fn open_source(
    path: &Path,
    shown: &Path,
    choice: &StreamChoice,
    report: &dyn Report,
) -> Result<(Source, Option<VideoInfo>, Vec<AudioInfo>), PipelineError> {
    let options = SourceOptions { deinterlace: choice.deinterlace, field_rate: choice.field_rate, audio: None };
    let mut source = Source::open_with(path, &options)?;
    let all: Vec<AudioInfo> = source.audio().into_iter().cloned().collect();
    let order =
        resolve(&choice.audio, &all).map_err(|e| PipelineError::Refused(format!("{}: {e}", shown.display())))?;
    source.select_audio(&order);
    let video_info = source.video().cloned();
    let audio_infos: Vec<AudioInfo> = source
        .audio()
        .into_iter()
        .map(|a| AudioInfo { language: language_of(&choice.audio, a), ..a.clone() })
        .collect();
    for n in notes::dropped_notes(source.others(), video_info.as_ref().map(|v| v.stream_index)) {
        report.note(&n);
    }
    if let Some(v) = &video_info {
        for n in notes::video_notes(v) {
            report.note(&n);
        }
    }
    Ok((source, video_info, audio_infos))
}

/// One AAC job per chosen audio track (AAC bitrate and channel choice in `aac`), track ids from
/// `first_id`, stream names from the languages; a downmix is a note.
pub(super) fn audio_jobs(
    name: &str,
    dir: &Path,
    audio: &[AudioInfo],
    (bitrate, channels): (u32, Channels),
    fragment: u64,
    first_id: u32,
    report: &dyn Report,
) -> Vec<audio::AudioJob> {
    let languages: Vec<String> = audio.iter().map(|a| a.language.clone()).collect();
    let names = stream_names(&languages);
    audio
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (a, stream_name))| {
            let file = output::audio_file(name, &a.language, i, audio.len());
            let settings = AacSettings::for_source_with(a.sample_rate, a.channels, u64::from(bitrate), channels);
            if let Some(n) = notes::downmix_note(a, &settings) {
                report.note(&n);
            }
            audio::AudioJob {
                path: if dir.as_os_str().is_empty() { PathBuf::new() } else { dir.join(&file) },
                file,
                track_id: first_id + i as u32,
                name: stream_name,
                language: a.language.clone(),
                settings,
                fragment,
                live: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::aac::AacSettings;
    use crate::media::Ratio;

    fn track(stream_index: usize, language: &str) -> AudioInfo {
        AudioInfo {
            stream_index,
            codec: "aac".into(),
            sample_rate: 48_000,
            channels: 2,
            language: language.into(),
            title: None,
            time_base: Ratio::new(1, 48_000),
        }
    }

    #[test]
    fn tracks_by_index_or_language_in_the_order_given() {
        let audio = [track(1, "eng"), track(2, "fra"), track(3, "eng")];
        let choice = |t: &str| AudioChoice { tracks: parse_tracks(t).unwrap(), ..Default::default() };
        assert_eq!(resolve(&choice("all"), &audio).unwrap(), vec![1, 2, 3]);
        assert_eq!(resolve(&choice("fra,eng"), &audio).unwrap(), vec![2, 1, 3]);
        assert_eq!(resolve(&choice("3,fre"), &audio).unwrap(), vec![3, 2]);
        let e = resolve(&choice("deu"), &audio).unwrap_err();
        assert!(e.contains("no audio track in `deu`") && e.contains("#1 eng, #2 fra, #3 eng"), "{e}");
        assert!(resolve(&choice("0"), &audio).unwrap_err().contains("stream #0 is not an audio stream"));
        assert!(parse_tracks("1,english").unwrap_err().contains("`english`"));
    }

    #[test]
    fn relabelled_languages_are_chosen_and_named() {
        let audio = [track(1, "und"), track(2, "fra")];
        let choice = AudioChoice {
            tracks: parse_tracks("deu").unwrap(),
            languages: vec![parse_language("1=ger").unwrap()],
            ..Default::default()
        };
        assert_eq!(resolve(&choice, &audio).unwrap(), vec![1]);
        assert_eq!(language_of(&choice, &audio[0]), "deu");
        let bad = AudioChoice { languages: vec![(5, "eng".into())], ..Default::default() };
        assert!(resolve(&bad, &audio).unwrap_err().contains("stream #5"));
        assert!(parse_language("1=english").is_err() && parse_language("x=eng").is_err());
    }

    #[test]
    fn names_are_readable_and_unique() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(stream_names(&l(&["eng"])), ["audio"]);
        assert_eq!(
            stream_names(&l(&["eng", "fra", "eng", "eng"])),
            ["audio_eng", "audio_fra", "audio_eng_2", "audio_eng_3"]
        );
    }

    #[test]
    fn channels_follow_the_choice_up_to_5_1_and_never_upmix_stereo() {
        let c = |n, ch| AacSettings::for_source_with(48_000, n, 128_000, ch).channels;
        assert_eq!([c(1, Channels::Stereo), c(2, Channels::Stereo), c(6, Channels::Stereo)], [1, 2, 2]);
        assert_eq!([c(2, Channels::Surround), c(4, Channels::Surround), c(8, Channels::Surround)], [2, 6, 6]);
        assert_eq!(
            [c(1, Channels::Source), c(4, Channels::Source), c(6, Channels::Source), c(8, Channels::Source)],
            [1, 4, 6, 6]
        );
        assert_eq!(parse_channels("source"), Ok(Channels::Source));
        assert!(parse_channels("8").is_err());
    }
}
