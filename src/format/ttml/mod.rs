//! TTML: the typed model of timed text (cues of styled lines, placed in one of nine positions),
//! serialized as one IMSC1 text-profile document per fragment ([`Document::to_xml`]), and parsed
//! from a TTML/DFXP sidecar ([`parse`]). Everything goes through quick-xml's event writer and
//! reader: text and attributes are escaped by it, never pasted.
//!
//! A fragment's document uses `ttp:timeBase="media"` with times relative to the fragment's start
//! (what dash.js and FFmpeg's ISMV `dfxp` mode expect: docs/format.md, "Text tracks").

mod parse;

pub use parse::{parse, Parsed};

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::error::{FormatError, Result};
use super::TIMESCALE;

pub const NS_TT: &str = "http://www.w3.org/ns/ttml";
pub const NS_PARAMETER: &str = "http://www.w3.org/ns/ttml#parameter";
pub const NS_STYLING: &str = "http://www.w3.org/ns/ttml#styling";
/// The IMSC1 text profile the documents conform to.
pub const PROFILE_IMSC1_TEXT: &str = "http://www.w3.org/ns/ttml/profile/imsc1/text";

/// The styling TTML's basic profiles carry, and all ssfpack keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    pub italic: bool,
    pub bold: bool,
    pub underline: bool,
    /// `#rrggbb`.
    pub color: Option<String>,
}

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: Style,
}

/// Where a cue sits: a third of the screen vertically, and its alignment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Vertical {
    Top,
    Middle,
    #[default]
    Bottom,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Horizontal {
    Left,
    #[default]
    Center,
    Right,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placement {
    pub vertical: Vertical,
    pub horizontal: Horizontal,
}

impl Placement {
    /// From an ASS/SSA `\an` numpad alignment (1-3 bottom, 4-6 middle, 7-9 top; left to right).
    pub fn from_numpad(n: u8) -> Option<Self> {
        if !(1..=9).contains(&n) {
            return None;
        }
        let vertical = [Vertical::Bottom, Vertical::Middle, Vertical::Top][usize::from((n - 1) / 3)];
        let horizontal = [Horizontal::Left, Horizontal::Center, Horizontal::Right][usize::from((n - 1) % 3)];
        Some(Placement { vertical, horizontal })
    }

    fn region(self) -> &'static str {
        match self.vertical {
            Vertical::Top => "top",
            Vertical::Middle => "middle",
            Vertical::Bottom => "bottom",
        }
    }

    fn text_align(self) -> &'static str {
        match self.horizontal {
            Horizontal::Left => "left",
            Horizontal::Center => "center",
            Horizontal::Right => "right",
        }
    }
}

/// One cue: shown from `begin` to `end` ([`TIMESCALE`] units), lines of spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub begin: u64,
    pub end: u64,
    pub lines: Vec<Vec<Span>>,
    pub placement: Placement,
}

impl Cue {
    /// The cue's text, lines joined with `\n`, styling dropped.
    pub fn plain_text(&self) -> String {
        self.lines.iter().map(|l| l.iter().map(|s| s.text.as_str()).collect::<String>()).collect::<Vec<_>>().join("\n")
    }

    /// Whether the cue shows anything.
    pub fn is_blank(&self) -> bool {
        self.end <= self.begin || self.lines.iter().flatten().all(|s| s.text.trim().is_empty())
    }
}

/// One TTML document: the cues of one fragment, times relative to the document's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// BCP 47 (`xml:lang`), e.g. `en`; `und` when unknown.
    pub lang: String,
    pub cues: Vec<Cue>,
}

/// The regions every document declares: a band at the top, middle and bottom of the picture,
/// inside the 10 % title-safe margins.
const REGIONS: [(&str, &str, &str); 3] =
    [("top", "10% 10%", "before"), ("middle", "10% 10%", "center"), ("bottom", "10% 10%", "after")];

impl Document {
    /// The cues of `cues` (absolute times) that overlap `[start, end)`, clipped to it and made
    /// relative to `start`.
    pub fn window(lang: &str, cues: &[Cue], start: u64, end: u64) -> Self {
        let cues = cues
            .iter()
            .filter(|c| c.begin < end && c.end > start)
            .map(|c| Cue { begin: c.begin.max(start) - start, end: c.end.min(end) - start, ..c.clone() })
            .filter(|c| c.end > c.begin)
            .collect();
        Document { lang: lang.to_string(), cues }
    }

    /// The document as UTF-8 XML.
    pub fn to_xml(&self) -> Result<Vec<u8>> {
        self.write().map_err(|e| FormatError::invalid("TTML document", e))
    }

    fn write(&self) -> std::result::Result<Vec<u8>, quick_xml::Error> {
        let mut w = Writer::new(Vec::new());
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let tt = BytesStart::new("tt").with_attributes([
            ("xmlns", NS_TT),
            ("xmlns:ttp", NS_PARAMETER),
            ("xmlns:tts", NS_STYLING),
            ("ttp:timeBase", "media"),
            ("ttp:profile", PROFILE_IMSC1_TEXT),
            ("xml:lang", self.lang.as_str()),
        ]);
        w.write_event(Event::Start(tt))?;
        w.write_event(Event::Start(BytesStart::new("head")))?;
        w.write_event(Event::Start(BytesStart::new("layout")))?;
        for (id, origin, align) in REGIONS {
            let region = BytesStart::new("region").with_attributes([
                ("xml:id", id),
                ("tts:origin", origin),
                ("tts:extent", "80% 80%"),
                ("tts:displayAlign", align),
            ]);
            w.write_event(Event::Empty(region))?;
        }
        w.write_event(Event::End(BytesEnd::new("layout")))?;
        w.write_event(Event::End(BytesEnd::new("head")))?;
        w.write_event(Event::Start(BytesStart::new("body")))?;
        if self.cues.is_empty() {
            w.write_event(Event::Empty(BytesStart::new("div")))?;
        } else {
            w.write_event(Event::Start(BytesStart::new("div")))?;
            for cue in &self.cues {
                write_cue(&mut w, cue)?;
            }
            w.write_event(Event::End(BytesEnd::new("div")))?;
        }
        w.write_event(Event::End(BytesEnd::new("body")))?;
        w.write_event(Event::End(BytesEnd::new("tt")))?;
        Ok(w.into_inner())
    }
}

fn write_cue(w: &mut Writer<Vec<u8>>, cue: &Cue) -> std::result::Result<(), quick_xml::Error> {
    let (begin, end) = (clock_time(cue.begin), clock_time(cue.end));
    let p = BytesStart::new("p").with_attributes([
        ("begin", begin.as_str()),
        ("end", end.as_str()),
        ("region", cue.placement.region()),
        ("tts:textAlign", cue.placement.text_align()),
    ]);
    w.write_event(Event::Start(p))?;
    for (i, line) in cue.lines.iter().enumerate() {
        if i > 0 {
            w.write_event(Event::Empty(BytesStart::new("br")))?;
        }
        for span in line {
            let s = &span.style;
            let mut start = BytesStart::new("span");
            if s.italic {
                start.push_attribute(("tts:fontStyle", "italic"));
            }
            if s.bold {
                start.push_attribute(("tts:fontWeight", "bold"));
            }
            if s.underline {
                start.push_attribute(("tts:textDecoration", "underline"));
            }
            if let Some(c) = &s.color {
                start.push_attribute(("tts:color", c.as_str()));
            }
            w.write_event(Event::Start(start))?;
            w.write_event(Event::Text(BytesText::new(&span.text)))?;
            w.write_event(Event::End(BytesEnd::new("span")))?;
        }
    }
    w.write_event(Event::End(BytesEnd::new("p")))?;
    Ok(())
}

/// `HH:MM:SS.mmm` for a time in [`TIMESCALE`] units (rounded to the millisecond).
pub fn clock_time(ticks: u64) -> String {
    let ms = (ticks + TIMESCALE / 2000) / (TIMESCALE / 1000);
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(begin: u64, end: u64, text: &str) -> Cue {
        Cue {
            begin,
            end,
            lines: vec![vec![Span { text: text.into(), style: Style::default() }]],
            placement: Placement::default(),
        }
    }

    #[test]
    fn clock_times() {
        assert_eq!(clock_time(0), "00:00:00.000");
        assert_eq!(clock_time(12_345_678), "00:00:01.235");
        assert_eq!(clock_time(TIMESCALE * 3723), "01:02:03.000");
    }

    #[test]
    fn windows_clip_and_rebase() {
        let cues = [cue(10_000_000, 30_000_000, "a"), cue(40_000_000, 50_000_000, "b")];
        let d = Document::window("en", &cues, 20_000_000, 40_000_000);
        assert_eq!(d.cues.len(), 1);
        assert_eq!((d.cues[0].begin, d.cues[0].end), (0, 10_000_000));
        assert!(Document::window("en", &cues, 30_000_000, 40_000_000).cues.is_empty());
    }

    #[test]
    fn documents_escape_and_parse_back() {
        let mut c = cue(5_000_000, 15_000_000, "Tom & <Jerry>");
        c.lines[0][0].style.italic = true;
        c.lines.push(vec![Span { text: "second".into(), style: Style::default() }]);
        c.placement = Placement::from_numpad(8).unwrap();
        let xml = Document { lang: "en".into(), cues: vec![c.clone()] }.to_xml().unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(text.contains("Tom &amp; &lt;Jerry&gt;"), "{text}");
        let back = parse(&xml, "test").unwrap();
        assert_eq!(back.cues, vec![c]);
        assert_eq!(back.lang.as_deref(), Some("en"));
        let empty = Document { lang: "und".into(), cues: Vec::new() }.to_xml().unwrap();
        assert!(parse(&empty, "empty").unwrap().cues.is_empty());
    }
}
