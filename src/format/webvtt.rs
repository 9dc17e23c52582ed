//! WebVTT: a typed cue model rendered as a WebVTT file (W3C WebVTT), what HLS carries for text.
//! Cues come from the TTML model ([`Cue::from_ttml`]): placement becomes the `line:`/`align:` cue
//! settings, italic/bold/underline the `<i>`/`<b>`/`<u>` spans, and a colour the `<c.NAME>` class
//! only when it is one of WebVTT's default colour classes (others are dropped: WebVTT has no inline
//! colour). Text is escaped (`&`, `<`, `>`). An HLS segment's file starts with an
//! `X-TIMESTAMP-MAP` header ([`TimestampMap`]).

use super::ttml::{self, Horizontal, Vertical};
use super::TIMESCALE;

/// The `X-TIMESTAMP-MAP=MPEGTS:<mpegts>,LOCAL:<local>` header of an HLS WebVTT segment: cue time
/// `local` ([`TIMESCALE`] units) is presentation time `mpegts` on the 90 kHz clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampMap {
    pub mpegts: u64,
    pub local: u64,
}

/// A run of text and the WebVTT spans around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub italic: bool,
    pub bold: bool,
    pub underline: bool,
    /// One of WebVTT's default colour classes (`white`, `lime`, `cyan`, `red`, `yellow`,
    /// `magenta`, `blue`, `black`).
    pub class: Option<&'static str>,
}

/// The `line:` cue setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Line {
    /// `line:0`: the first line from the top.
    Top,
    /// `line:50%`.
    Middle,
    /// No setting: WebVTT's default, the bottom.
    #[default]
    Bottom,
}

/// The `align:` cue setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Align {
    Left,
    /// No setting: WebVTT's default.
    #[default]
    Center,
    Right,
}

/// One cue: shown from `begin` to `end` ([`TIMESCALE`] units), lines of spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub begin: u64,
    pub end: u64,
    pub lines: Vec<Vec<Span>>,
    pub line: Line,
    pub align: Align,
}

impl Cue {
    /// The WebVTT form of a TTML cue (same times).
    pub fn from_ttml(c: &ttml::Cue) -> Self {
        let lines = c
            .lines
            .iter()
            .map(|l| {
                l.iter()
                    .map(|s| Span {
                        text: s.text.clone(),
                        italic: s.style.italic,
                        bold: s.style.bold,
                        underline: s.style.underline,
                        class: s.style.color.as_deref().and_then(color_class),
                    })
                    .collect()
            })
            .collect();
        let line = match c.placement.vertical {
            Vertical::Top => Line::Top,
            Vertical::Middle => Line::Middle,
            Vertical::Bottom => Line::Bottom,
        };
        let align = match c.placement.horizontal {
            Horizontal::Left => Align::Left,
            Horizontal::Center => Align::Center,
            Horizontal::Right => Align::Right,
        };
        Cue { begin: c.begin, end: c.end, lines, line, align }
    }
}

/// A WebVTT file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub timestamp_map: Option<TimestampMap>,
    pub cues: Vec<Cue>,
}

impl Document {
    /// The file's text (UTF-8, `\n` line ends).
    pub fn render(&self) -> String {
        let mut out = String::from("WEBVTT\n");
        if let Some(m) = self.timestamp_map {
            out.push_str(&format!("X-TIMESTAMP-MAP=MPEGTS:{},LOCAL:{}\n", m.mpegts, timestamp(m.local)));
        }
        for cue in &self.cues {
            out.push('\n');
            out.push_str(&format!("{} --> {}", timestamp(cue.begin), timestamp(cue.end)));
            match cue.line {
                Line::Top => out.push_str(" line:0"),
                Line::Middle => out.push_str(" line:50%"),
                Line::Bottom => {}
            }
            match cue.align {
                Align::Left => out.push_str(" align:left"),
                Align::Right => out.push_str(" align:right"),
                Align::Center => {}
            }
            out.push('\n');
            for line in &cue.lines {
                for span in line {
                    out.push_str(&span_text(span));
                }
                out.push('\n');
            }
        }
        out
    }
}

fn span_text(s: &Span) -> String {
    let mut text = escape(&s.text);
    // A cue's text cannot hold a blank line (it would end the cue).
    text = text.replace('\n', " ");
    if let Some(c) = s.class {
        text = format!("<c.{c}>{text}</c>");
    }
    for (on, tag) in [(s.underline, "u"), (s.bold, "b"), (s.italic, "i")] {
        if on {
            text = format!("<{tag}>{text}</{tag}>");
        }
    }
    text
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// WebVTT's default colour class of `#rrggbb`, if it is one.
fn color_class(color: &str) -> Option<&'static str> {
    match color.to_ascii_lowercase().as_str() {
        "#ffffff" => Some("white"),
        "#00ff00" => Some("lime"),
        "#00ffff" => Some("cyan"),
        "#ff0000" => Some("red"),
        "#ffff00" => Some("yellow"),
        "#ff00ff" => Some("magenta"),
        "#0000ff" => Some("blue"),
        "#000000" => Some("black"),
        _ => None,
    }
}

/// The HLS WebVTT segment of a Smooth text fragment (as stored at `moof_offset` of its file; its
/// track's `timescale`, `decode_time` its start in it): every cue of its TTML documents, timed from
/// the fragment's start, under an `X-TIMESTAMP-MAP` that puts `LOCAL:0` at `mpegts` (the fragment's
/// start on the 90 kHz clock: [`mpegts`]).
pub fn segment(
    fragment: &[u8],
    moof_offset: u64,
    track_id: u32,
    timescale: u32,
    decode_time: u64,
    mpegts: u64,
    context: &str,
) -> super::error::Result<Document> {
    let samples = super::cmaf::text_samples(fragment, moof_offset, track_id, timescale, decode_time, context)?;
    let origin = samples.first().map_or(0, |s| s.start_ticks);
    let cues = samples
        .iter()
        .flat_map(|s| {
            let shift = s.start_ticks - origin;
            s.doc.cues.iter().map(move |c| Cue { begin: c.begin + shift, end: c.end + shift, ..Cue::from_ttml(c) })
        })
        .collect();
    Ok(Document { timestamp_map: Some(TimestampMap { mpegts, local: 0 }), cues })
}

/// The `X-TIMESTAMP-MAP` `MPEGTS` value of Smooth time `ticks` ([`TIMESCALE`] units): the Smooth
/// time at 90 kHz, wrapped to 33 bits as an MPEG-TS PTS is. It is the PTS of our MPEG-TS segments
/// at that instant (`media::ts` keeps the Smooth time); for fMP4 segments hls.js and Shaka map it to
/// the `tfdt` timeline modulo 2^33 (hls.js moves a cue by multiples of 2^33 to the segment it is
/// in; Shaka adds the roll-overs the segment's media time has had), so one value serves both forms.
pub fn mpegts(ticks: u64) -> u64 {
    let clock = (u128::from(ticks) * 90_000 + u128::from(TIMESCALE) / 2) / u128::from(TIMESCALE);
    (clock as u64) & ((1 << 33) - 1)
}

/// `HH:MM:SS.mmm` of `ticks` ([`TIMESCALE`] units), rounded to the millisecond.
pub fn timestamp(ticks: u64) -> String {
    ttml::clock_time(ticks.min(u64::MAX - TIMESCALE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ttml::{Placement, Style};

    #[test]
    fn renders_settings_spans_and_escapes() {
        let style = |italic, color: Option<&str>| Style { italic, color: color.map(String::from), ..Style::default() };
        let c = ttml::Cue {
            begin: 5_000_000,
            end: 37_654_321,
            lines: vec![
                vec![
                    ttml::Span { text: "Tom & <Jerry>".into(), style: style(true, None) },
                    ttml::Span { text: " red".into(), style: style(false, Some("#FF0000")) },
                ],
                vec![ttml::Span { text: "teal".into(), style: style(false, Some("#008080")) }],
            ],
            placement: Placement::from_numpad(7).unwrap(),
        };
        let doc = Document {
            timestamp_map: Some(TimestampMap { mpegts: 900_000, local: 0 }),
            cues: vec![Cue::from_ttml(&c)],
        };
        assert_eq!(
            doc.render(),
            "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n\
             00:00:00.500 --> 00:00:03.765 line:0 align:left\n\
             <i>Tom &amp; &lt;Jerry&gt;</i><c.red> red</c>\nteal\n"
        );
        let bottom = ttml::Cue { placement: Placement::default(), ..c };
        let text = Document { timestamp_map: None, cues: vec![Cue::from_ttml(&bottom)] }.render();
        assert!(text.starts_with("WEBVTT\n\n00:00:00.500 --> 00:00:03.765\n"), "{text}");
        assert_eq!(Document::default().render(), "WEBVTT\n");
    }

    #[test]
    fn mpegts_is_the_33_bit_clock() {
        assert_eq!(mpegts(0), 0);
        assert_eq!(mpegts(20_000_000), 180_000);
        assert_eq!(mpegts(1), 0, "rounded to the 90 kHz tick");
        assert_eq!(mpegts(112), 1);
        // 2^33 ticks of 90 kHz later (about 26.5 h) the value comes round again.
        let wrap = (1u64 << 33) * TIMESCALE / 90_000;
        assert_eq!(mpegts(wrap + 20_000_000), 180_000);
    }

    #[test]
    fn a_fragment_becomes_a_segment_timed_from_its_start() {
        use crate::format::manifest::Chunk;
        use crate::format::text::{fragments, TextConfig};
        use crate::format::{CodecConfig, TrackInfo};
        let cue = |begin, end, text: &str| ttml::Cue {
            begin,
            end,
            lines: vec![vec![ttml::Span { text: text.into(), style: ttml::Style::default() }]],
            placement: ttml::Placement::default(),
        };
        let cues = [cue(25_000_000, 27_500_000, "a"), cue(39_000_000, 41_000_000, "b")];
        let grid = [Chunk { t: 20_000_000, d: 20_000_000 }, Chunk { t: 40_000_000, d: 20_000_000 }];
        let track = TrackInfo {
            track_id: 2,
            codec: CodecConfig::Ttml(TextConfig::default()),
            bitrate: 1000,
            language: "en".into(),
            name: "text_en".into(),
        };
        let frags = fragments("en", &cues, &grid).unwrap();
        let bytes = crate::format::writer::fragment_bytes(&track, &frags[0], 2).unwrap();
        let doc = segment(&bytes, 0, 2, TIMESCALE as u32, 20_000_000, mpegts(20_000_000), "t").unwrap();
        assert_eq!(doc.timestamp_map, Some(TimestampMap { mpegts: 180_000, local: 0 }));
        let times: Vec<(u64, u64)> = doc.cues.iter().map(|c| (c.begin, c.end)).collect();
        // "b" is cut at the fragment's end: the next fragment has the rest.
        assert_eq!(times, [(5_000_000, 7_500_000), (19_000_000, 20_000_000)]);
        assert!(segment(&bytes[..bytes.len() - 4], 0, 2, TIMESCALE as u32, 20_000_000, 0, "t").is_err());
    }
}
