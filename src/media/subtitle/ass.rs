//! FFmpeg's text subtitle decoders all hand out ASS: one `Dialogue` event per rect,
//! `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`, the text with override tags
//! (`{\i1}`, `{\an8}`, `{\pos(x,y)}`, `{\c&HBBGGRR&}`) and `\N` line breaks; mov_text, SubRip and
//! WebVTT are converted to it by their decoders. This module turns that, with the styles of the
//! stream's ASS header, into [`ttml`](crate::format::ttml) lines and a placement. What TTML's
//! basic profiles cannot carry (fonts, sizes, outlines, karaoke, drawings, animation) is dropped.

use std::collections::HashMap;

use crate::format::ttml::{Horizontal, Placement, Span, Style, Vertical};

/// One `Style:` line of the header: what a dialogue starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssStyle {
    pub style: Style,
    pub placement: Placement,
}

/// The `[V4+ Styles]` (or SSA `[V4 Styles]`) of an ASS header, and its `PlayResX`/`PlayResY`.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub styles: HashMap<String, AssStyle>,
    pub play_res: (f64, f64),
}

impl Header {
    pub fn parse(text: &str) -> Self {
        let mut h = Header { styles: HashMap::new(), play_res: (384.0, 288.0) };
        let mut legacy = false;
        let mut format: Vec<String> = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                legacy = line.eq_ignore_ascii_case("[V4 Styles]");
                format.clear();
                continue;
            }
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match key.trim() {
                "PlayResX" => h.play_res.0 = value.parse().unwrap_or(h.play_res.0),
                "PlayResY" => h.play_res.1 = value.parse().unwrap_or(h.play_res.1),
                "Format" => format = value.split(',').map(|f| f.trim().to_ascii_lowercase()).collect(),
                "Style" if !format.is_empty() => {
                    let fields: Vec<&str> = value.splitn(format.len(), ',').map(str::trim).collect();
                    let get = |name: &str| format.iter().position(|f| f == name).and_then(|i| fields.get(i).copied());
                    let flag = |name: &str| get(name).is_some_and(|v| v.parse::<i32>().is_ok_and(|n| n != 0));
                    let alignment = get("alignment").and_then(|a| a.parse::<u8>().ok());
                    let placement = alignment
                        .and_then(|a| if legacy { legacy_alignment(a) } else { Placement::from_numpad(a) })
                        .unwrap_or_default();
                    let color = get("primarycolour").and_then(ass_color).filter(|c| c != "#ffffff");
                    let style =
                        Style { italic: flag("italic"), bold: flag("bold"), underline: flag("underline"), color };
                    if let Some(name) = get("name") {
                        h.styles.insert(name.to_string(), AssStyle { style, placement });
                    }
                }
                _ => {}
            }
        }
        h
    }
}

/// SSA v4 `Alignment`: 1-3 bottom, 5-7 top, 9-11 middle (left, centre, right).
fn legacy_alignment(a: u8) -> Option<Placement> {
    let n = match a {
        1..=3 => a,
        5..=7 => a + 2,
        9..=11 => a - 5,
        _ => return None,
    };
    Placement::from_numpad(n)
}

/// `&HAABBGGRR&` / `&HBBGGRR` / decimal, as ASS writes colours, to `#rrggbb`.
fn ass_color(v: &str) -> Option<String> {
    let v = v.trim().trim_matches('&');
    let n = match v.strip_prefix('H').or_else(|| v.strip_prefix('h')) {
        Some(hex) => u32::from_str_radix(hex.trim_end_matches('&'), 16).ok()?,
        None => v.parse::<i64>().ok().map(|n| n as u32)?,
    };
    let (r, g, b) = (n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff);
    Some(format!("#{r:02x}{g:02x}{b:02x}"))
}

/// A decoded dialogue: lines of styled spans and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialogue {
    pub lines: Vec<Vec<Span>>,
    pub placement: Placement,
}

/// Parses one FFmpeg ASS rect (`ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`;
/// a bare `Dialogue:` line with times is accepted too).
pub fn dialogue(rect: &str, header: &Header) -> Dialogue {
    let rect = rect.trim_end_matches(['\r', '\n']);
    let (style_name, text) = match rect.strip_prefix("Dialogue:") {
        // Layer,Start,End,Style,Name,MarginL,MarginR,MarginV,Effect,Text
        Some(rest) => {
            let f: Vec<&str> = rest.splitn(10, ',').collect();
            (f.get(3).copied().unwrap_or(""), f.get(9).copied().unwrap_or(""))
        }
        None => {
            let f: Vec<&str> = rect.splitn(9, ',').collect();
            (f.get(2).copied().unwrap_or(""), f.get(8).copied().unwrap_or(""))
        }
    };
    let base =
        header.styles.get(style_name.trim()).or_else(|| header.styles.get("Default")).cloned().unwrap_or_default();
    let mut style = base.style.clone();
    let mut placement = base.placement;
    let mut lines: Vec<Vec<Span>> = vec![Vec::new()];
    let mut drawing = false;
    let mut rest = text;
    let mut run = String::new();
    let flush = |run: &mut String, style: &Style, lines: &mut Vec<Vec<Span>>| {
        if run.is_empty() {
            return;
        }
        let Some(line) = lines.last_mut() else { return };
        match line.last_mut() {
            Some(last) if last.style == *style => last.text.push_str(run),
            _ => line.push(Span { text: std::mem::take(run), style: style.clone() }),
        }
        run.clear();
    };
    while let Some(ch) = rest.chars().next() {
        if ch == '{' {
            if let Some(close) = rest.find('}') {
                flush(&mut run, &style, &mut lines);
                for tag in rest[1..close].split('\\').filter(|t| !t.is_empty()) {
                    apply_tag(tag.trim(), &base, header, &mut style, &mut placement, &mut drawing);
                }
                rest = &rest[close + 1..];
                continue;
            }
        }
        if ch == '\\' {
            match rest.as_bytes().get(1) {
                Some(b'N') => {
                    flush(&mut run, &style, &mut lines);
                    lines.push(Vec::new());
                    rest = &rest[2..];
                    continue;
                }
                Some(b'n') => {
                    run.push(' ');
                    rest = &rest[2..];
                    continue;
                }
                Some(b'h') => {
                    run.push('\u{a0}');
                    rest = &rest[2..];
                    continue;
                }
                _ => {}
            }
        }
        if !drawing {
            run.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    flush(&mut run, &style, &mut lines);
    for line in &mut lines {
        if let Some(first) = line.first_mut() {
            first.text = first.text.trim_start().to_string();
        }
        if let Some(last) = line.last_mut() {
            last.text = last.text.trim_end().to_string();
        }
        line.retain(|s| !s.text.is_empty());
    }
    while lines.last().is_some_and(|l| l.is_empty()) && lines.len() > 1 {
        lines.pop();
    }
    Dialogue { lines, placement }
}

fn apply_tag(
    tag: &str,
    base: &AssStyle,
    header: &Header,
    style: &mut Style,
    placement: &mut Placement,
    drawing: &mut bool,
) {
    let on = |v: &str| v.is_empty() || v.parse::<i32>().is_ok_and(|n| n != 0);
    if let Some(v) = tag.strip_prefix("an") {
        if let Some(p) = v.trim().parse().ok().and_then(Placement::from_numpad) {
            *placement = p;
        }
    } else if let Some(v) = tag.strip_prefix("pos(") {
        let xy: Vec<f64> = v.trim_end_matches(')').split(',').filter_map(|n| n.trim().parse().ok()).collect();
        if let [x, y] = xy[..] {
            let (w, h) = header.play_res;
            placement.horizontal = third(x / w, [Horizontal::Left, Horizontal::Center, Horizontal::Right]);
            placement.vertical = third(y / h, [Vertical::Top, Vertical::Middle, Vertical::Bottom]);
        }
    } else if let Some(v) = tag.strip_prefix('a').filter(|v| v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty()) {
        if let Some(p) = v.parse().ok().and_then(legacy_alignment) {
            *placement = p;
        }
    } else if let Some(v) = tag.strip_prefix("1c").or_else(|| tag.strip_prefix('c').filter(|v| v.starts_with('&'))) {
        style.color = ass_color(v).filter(|c| c != "#ffffff");
    } else if let Some(v) = tag.strip_prefix('i').filter(|v| v.len() <= 1) {
        style.italic = on(v);
    } else if let Some(v) = tag.strip_prefix('b').filter(|v| v.chars().all(|c| c.is_ascii_digit())) {
        style.bold = v.is_empty() || v.parse::<i32>().is_ok_and(|n| n == 1 || n >= 600);
    } else if let Some(v) = tag.strip_prefix('u').filter(|v| v.len() <= 1) {
        style.underline = on(v);
    } else if let Some(v) = tag.strip_prefix('p').filter(|v| v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty()) {
        *drawing = v != "0";
    } else if tag == "r" {
        *style = base.style.clone();
    }
}

fn third<T: Copy>(share: f64, values: [T; 3]) -> T {
    values[if share < 1.0 / 3.0 {
        0
    } else if share < 2.0 / 3.0 {
        1
    } else {
        2
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "[Script Info]\nPlayResX: 640\nPlayResY: 360\n\n[V4+ Styles]\nFormat: Name, Fontname, \
        Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, \
        ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, \
        Encoding\nStyle: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,\
        2,10,10,10,1\nStyle: Sign,Arial,20,&H0000FFFF,&H000000FF,&H00000000,&H00000000,-1,-1,0,0,100,100,0,0,1,1,\
        0,8,10,10,10,1\n";

    #[test]
    fn tags_styles_and_positions() {
        let h = Header::parse(HEADER);
        let d = dialogue("0,0,Default,,0,0,0,,Hello {\\i1}world{\\i0}\\Nline two", &h);
        assert_eq!(d.lines.len(), 2);
        assert_eq!(d.lines[0][0].text, "Hello ");
        assert!(d.lines[0][1].style.italic && d.lines[0][1].text == "world");
        assert_eq!(d.lines[1][0].text, "line two");
        assert_eq!(d.placement, Placement::default());
        let s = dialogue("1,0,Sign,,0,0,0,,{\\pos(600,20)}EXIT", &h);
        assert!(s.lines[0][0].style.bold && s.lines[0][0].style.italic);
        assert_eq!(s.lines[0][0].style.color.as_deref(), Some("#ffff00"));
        assert_eq!(s.placement, Placement { vertical: Vertical::Top, horizontal: Horizontal::Right });
        let t = dialogue("2,0,Default,,0,0,0,,{\\an8}{\\c&H0000FF&}top {\\p1}m 0 0 l 1 1{\\p0}", &h);
        assert_eq!(t.placement.vertical, Vertical::Top);
        assert_eq!(t.lines[0][0].style.color.as_deref(), Some("#ff0000"));
        assert_eq!(t.lines[0][0].text, "top");
    }
}
