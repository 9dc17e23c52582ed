//! Reading a TTML or DFXP document (a sidecar `--subtitles FILE.ttml`) into cues: `p` elements
//! with their times (clock times, frames, ticks or offsets; `begin` of `body`, `div` and `p`
//! nested as TTML's `par` containers add up), `span`/`br`, styles by reference (`style="id"`, one
//! level plus chains), inline `tts:` styling, and `region` placement (`tts:displayAlign` or the
//! region's vertical origin, `tts:textAlign`). Attributes are matched by local name, so TTML 1,
//! TTML 2, IMSC and the old DFXP namespaces read alike. Animation (`set`) and ruby are ignored.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{Cue, Horizontal, Placement, Span, Style, Vertical};
use crate::format::error::{FormatError, Result};
use crate::format::TIMESCALE;

/// A parsed document: its cues (absolute times, in document order) and its `xml:lang`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub lang: Option<String>,
    pub cues: Vec<Cue>,
}

/// The style and placement attributes an element sets (each `None` when it leaves it alone).
#[derive(Debug, Clone, Default)]
struct Props {
    italic: Option<bool>,
    bold: Option<bool>,
    underline: Option<bool>,
    color: Option<String>,
    vertical: Option<Vertical>,
    horizontal: Option<Horizontal>,
}

impl Props {
    fn over(&mut self, o: &Props) {
        self.italic = o.italic.or(self.italic);
        self.bold = o.bold.or(self.bold);
        self.underline = o.underline.or(self.underline);
        self.color = o.color.clone().or(self.color.take());
        self.vertical = o.vertical.or(self.vertical);
        self.horizontal = o.horizontal.or(self.horizontal);
    }

    fn style(&self) -> Style {
        Style {
            italic: self.italic.unwrap_or(false),
            bold: self.bold.unwrap_or(false),
            underline: self.underline.unwrap_or(false),
            color: self.color.clone(),
        }
    }
}

struct Frame {
    /// Where this element's children's times count from (ticks).
    offset: u64,
    /// Its end, when known.
    end: Option<u64>,
    props: Props,
}

struct Rates {
    frame: f64,
    tick: f64,
}

/// Parses a TTML document. `context` names the file in errors.
pub fn parse(xml: &[u8], context: &str) -> Result<Parsed> {
    let err = |m: String| FormatError::Xml { context: context.to_string(), message: m };
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut styles: HashMap<String, Props> = HashMap::new();
    let mut regions: HashMap<String, Props> = HashMap::new();
    let mut rates = Rates { frame: 30.0, tick: 1.0 };
    let mut lang = None;
    let mut stack: Vec<Frame> = vec![Frame { offset: 0, end: None, props: Props::default() }];
    let mut cue: Option<Cue> = None;
    let mut cues = Vec::new();
    let mut seen_tt = false;
    loop {
        let event =
            reader.read_event_into(&mut buf).map_err(|e| err(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(e.name().as_ref()).to_vec();
                let attrs = attributes(e).map_err(&err)?;
                let parent = stack.last().map_or(0, |f| f.offset);
                let mut props = stack.last().map(|f| f.props.clone()).unwrap_or_default();
                match name.as_slice() {
                    b"tt" => {
                        seen_tt = true;
                        lang = attrs.get("xml:lang").filter(|l| !l.is_empty()).cloned();
                        if let Some(r) = attrs.get("frameRate").and_then(|v| v.trim().parse().ok()) {
                            rates.frame = r;
                        }
                        if let Some(r) = attrs.get("tickRate").and_then(|v| v.trim().parse().ok()) {
                            rates.tick = r;
                        }
                    }
                    b"style" if cue.is_none() => {
                        if let Some(id) = attrs.get("xml:id") {
                            let mut p = referenced(&attrs, &styles);
                            p.over(&inline(&attrs));
                            styles.insert(id.clone(), p);
                        }
                    }
                    b"region" => {
                        if let Some(id) = attrs.get("xml:id") {
                            let mut p = referenced(&attrs, &styles);
                            p.over(&inline(&attrs));
                            if p.vertical.is_none() {
                                p.vertical = attrs.get("origin").and_then(|o| vertical_from_origin(o));
                            }
                            regions.insert(id.clone(), p);
                        }
                    }
                    b"br" => {
                        if let Some(c) = cue.as_mut() {
                            c.lines.push(Vec::new());
                        }
                    }
                    _ => {}
                }
                if let Some(r) = attrs.get("region").and_then(|r| regions.get(r)) {
                    props.over(r);
                }
                props.over(&referenced(&attrs, &styles));
                props.over(&inline(&attrs));
                let time = |k: &str| {
                    attrs
                        .get(k)
                        .map(|v| {
                            time_expr(v, &rates).ok_or_else(|| {
                                err(format!("<{}> {k}=\"{v}\" is not a TTML time", String::from_utf8_lossy(&name)))
                            })
                        })
                        .transpose()
                };
                let begin = parent + time("begin")?.unwrap_or(0);
                let end = match (time("end")?, time("dur")?) {
                    (Some(e), _) => Some(parent + e),
                    (None, Some(d)) => Some(begin + d),
                    (None, None) => stack.last().and_then(|f| f.end),
                };
                if name == b"p" && cue.is_none() {
                    let end =
                        end.ok_or_else(|| err(format!("a <p> at {} has no end or dur", super::clock_time(begin))))?;
                    cue = Some(Cue {
                        begin,
                        end,
                        lines: vec![Vec::new()],
                        placement: Placement {
                            vertical: props.vertical.unwrap_or_default(),
                            horizontal: props.horizontal.unwrap_or_default(),
                        },
                    });
                }
                if empty {
                    if name == b"p" {
                        cues.extend(cue.take().map(finish_cue));
                    }
                } else {
                    stack.push(Frame { offset: begin, end, props });
                }
            }
            Event::Text(t) => {
                if let Some(c) = cue.as_mut() {
                    let text = t.unescape().map_err(|e| err(e.to_string()))?;
                    push_text(c, &text, stack.last().map(|f| f.props.style()).unwrap_or_default());
                }
            }
            Event::CData(t) => {
                if let Some(c) = cue.as_mut() {
                    let text = String::from_utf8_lossy(&t.into_inner()).into_owned();
                    push_text(c, &text, stack.last().map(|f| f.props.style()).unwrap_or_default());
                }
            }
            Event::End(e) => {
                stack.pop();
                if local(e.name().as_ref()) == b"p" {
                    cues.extend(cue.take().map(finish_cue));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_tt {
        return Err(err("no <tt> element: not a TTML document".into()));
    }
    Ok(Parsed { lang, cues: cues.into_iter().filter(|c| !c.is_blank()).collect() })
}

fn local(name: &[u8]) -> &[u8] {
    name.rsplit(|&b| b == b':').next().unwrap_or(name)
}

/// Attributes by local name, except `xml:` ones, which keep their prefix.
fn attributes(e: &BytesStart) -> std::result::Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.as_ref();
        let name = if key.starts_with(b"xml:") { key } else { local(key) };
        let value = a.unescape_value().map_err(|e| e.to_string())?;
        out.insert(String::from_utf8_lossy(name).into_owned(), value.into_owned());
    }
    Ok(out)
}

fn referenced(attrs: &HashMap<String, String>, styles: &HashMap<String, Props>) -> Props {
    let mut p = Props::default();
    for id in attrs.get("style").map(|s| s.split_whitespace().collect::<Vec<_>>()).unwrap_or_default() {
        if let Some(s) = styles.get(id) {
            p.over(s);
        }
    }
    p
}

fn inline(attrs: &HashMap<String, String>) -> Props {
    let get = |k: &str| attrs.get(k).map(|v| v.trim());
    Props {
        italic: get("fontStyle").map(|v| v == "italic" || v == "oblique"),
        bold: get("fontWeight").map(|v| v == "bold"),
        underline: get("textDecoration").map(|v| v.split_whitespace().any(|w| w == "underline")),
        color: get("color").and_then(color),
        vertical: get("displayAlign").and_then(|v| match v {
            "before" => Some(Vertical::Top),
            "center" => Some(Vertical::Middle),
            "after" => Some(Vertical::Bottom),
            _ => None,
        }),
        horizontal: get("textAlign").and_then(|v| match v {
            "left" | "start" => Some(Horizontal::Left),
            "center" => Some(Horizontal::Center),
            "right" | "end" => Some(Horizontal::Right),
            _ => None,
        }),
    }
}

/// A TTML colour as `#rrggbb` (named basic colours, `#rgb`/`#rrggbb(aa)`, `rgb()`/`rgba()`).
fn color(v: &str) -> Option<String> {
    let named = [
        ("white", "#ffffff"),
        ("black", "#000000"),
        ("red", "#ff0000"),
        ("lime", "#00ff00"),
        ("green", "#008000"),
        ("blue", "#0000ff"),
        ("yellow", "#ffff00"),
        ("cyan", "#00ffff"),
        ("aqua", "#00ffff"),
        ("magenta", "#ff00ff"),
        ("fuchsia", "#ff00ff"),
        ("gray", "#808080"),
        ("silver", "#c0c0c0"),
    ];
    let v = v.trim().to_ascii_lowercase();
    if let Some((_, hex)) = named.iter().find(|(n, _)| *n == v) {
        return Some((*hex).to_string());
    }
    if let Some(h) = v.strip_prefix('#') {
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return match h.len() {
            3 => Some(format!("#{}", h.chars().flat_map(|c| [c, c]).collect::<String>())),
            6 | 8 => Some(format!("#{}", &h[..6])),
            _ => None,
        };
    }
    let inner = v.strip_prefix("rgba(").or_else(|| v.strip_prefix("rgb("))?.strip_suffix(')')?;
    let parts: Vec<u8> = inner.split(',').take(3).map(|p| p.trim().parse().ok()).collect::<Option<_>>()?;
    (parts.len() == 3).then(|| format!("#{:02x}{:02x}{:02x}", parts[0], parts[1], parts[2]))
}

/// The vertical third a region's `tts:origin` (`x% y%`) puts its top edge in.
fn vertical_from_origin(origin: &str) -> Option<Vertical> {
    let y: f64 = origin.split_whitespace().nth(1)?.strip_suffix('%')?.parse().ok()?;
    Some(if y < 33.0 {
        Vertical::Top
    } else if y < 50.0 {
        Vertical::Middle
    } else {
        Vertical::Bottom
    })
}

/// A TTML time expression in [`TIMESCALE`] units: `HH:MM:SS(.fff)`, `HH:MM:SS:FF`, or an offset
/// `N(.n)(h|m|s|ms|f|t)`.
fn time_expr(v: &str, rates: &Rates) -> Option<u64> {
    let v = v.trim();
    let seconds = if v.contains(':') {
        let parts: Vec<&str> = v.split(':').collect();
        let (h, m, s, f) = match parts.as_slice() {
            [h, m, s] => (*h, *m, *s, None),
            [h, m, s, f] => (*h, *m, *s, Some(*f)),
            _ => return None,
        };
        let frames = match f {
            Some(f) => f.parse::<f64>().ok()? / rates.frame,
            None => 0.0,
        };
        h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()? + frames
    } else {
        let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (n, unit) = v.split_at(split);
        let n: f64 = n.parse().ok()?;
        match unit {
            "h" => n * 3600.0,
            "m" => n * 60.0,
            "s" => n,
            "ms" => n / 1000.0,
            "f" => n / rates.frame,
            "t" => n / rates.tick,
            _ => return None,
        }
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * TIMESCALE as f64).round() as u64)
}

/// Appends text to the cue's last line, whitespace collapsed as TTML's `xml:space="default"` does.
fn push_text(cue: &mut Cue, text: &str, style: Style) {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (lead, trail) = (text.starts_with(char::is_whitespace), text.ends_with(char::is_whitespace));
    if collapsed.is_empty() && !(lead || trail) {
        return;
    }
    let mut piece = String::new();
    if lead {
        piece.push(' ');
    }
    piece.push_str(&collapsed);
    if trail && !collapsed.is_empty() {
        piece.push(' ');
    }
    let Some(line) = cue.lines.last_mut() else { return };
    match line.last_mut() {
        Some(last) if last.style == style => last.text.push_str(&piece),
        _ => line.push(Span { text: piece, style }),
    }
}

/// Trims each line's outer spaces, collapses doubled spaces between spans, drops empty spans.
fn finish_cue(mut cue: Cue) -> Cue {
    for line in &mut cue.lines {
        let mut prev_space = true;
        for span in line.iter_mut() {
            let mut out = String::with_capacity(span.text.len());
            for ch in span.text.chars() {
                if ch == ' ' && prev_space {
                    continue;
                }
                prev_space = ch == ' ';
                out.push(ch);
            }
            span.text = out;
        }
        if let Some(last) = line.last_mut() {
            let trimmed = last.text.trim_end().len();
            last.text.truncate(trimmed);
        }
        line.retain(|s| !s.text.is_empty());
    }
    cue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_expressions() {
        let r = Rates { frame: 25.0, tick: 10_000_000.0 };
        assert_eq!(time_expr("00:00:01.500", &r), Some(15_000_000));
        assert_eq!(time_expr("00:01:00:05", &r), Some(602_000_000));
        assert_eq!(time_expr("2.5s", &r), Some(25_000_000));
        assert_eq!(time_expr("1500ms", &r), Some(15_000_000));
        assert_eq!(time_expr("123t", &r), Some(123));
        assert_eq!(time_expr("soon", &r), None);
    }

    #[test]
    fn dfxp_with_styles_regions_and_nested_times() {
        let xml = br##"<?xml version="1.0"?>
<tt xmlns="http://www.w3.org/2006/10/ttaf1" xmlns:tts="http://www.w3.org/2006/10/ttaf1#styling" xml:lang="fr">
  <head>
    <styling><style xml:id="it" tts:fontStyle="italic" tts:color="yellow"/></styling>
    <layout><region xml:id="up" tts:origin="10% 5%" tts:extent="80% 20%"/></layout>
  </head>
  <body><div begin="10s">
    <p begin="1s" dur="2s">Bonjour <span style="it">le</span>
      monde<br/>deux</p>
    <p begin="00:00:05.000" end="00:00:06.250" region="up" tts:textAlign="left">haut</p>
    <p begin="7s" end="8s">  </p>
  </div></body>
</tt>"##;
        let p = parse(xml, "t").unwrap();
        assert_eq!(p.lang.as_deref(), Some("fr"));
        assert_eq!(p.cues.len(), 2);
        assert_eq!((p.cues[0].begin, p.cues[0].end), (110_000_000, 130_000_000));
        assert_eq!(p.cues[0].plain_text(), "Bonjour le monde\ndeux");
        assert!(p.cues[0].lines[0][1].style.italic);
        assert_eq!(p.cues[0].lines[0][1].style.color.as_deref(), Some("#ffff00"));
        assert_eq!(p.cues[1].placement, Placement { vertical: Vertical::Top, horizontal: Horizontal::Left });
        assert_eq!(p.cues[1].end, 162_500_000);
        assert!(parse(b"<html/>", "x").is_err());
        assert!(parse(b"<tt><body><p begin=\"x\" end=\"1s\">a</p></body></tt>", "x").is_err());
    }
}
