//! Text tracks end to end: sources made here with ffmpeg (an MP4 with mov_text subtitles in two
//! languages; SubRip, WebVTT, ASS and TTML sidecars; an MKV with a bitmap `dvd_subtitle` stream),
//! packaged by the binary, then proven independently: `check`, ffprobe and ffmpeg read the
//! `.ismt` (stpp track, one packet per fragment), every fragment's TTML is parsed with quick-xml and
//! its cues (fragment start + relative times) match the source cues within 1 ms, the manifests
//! carry the text streams, the origin serves them, and the bitmap stream is one note.

mod origin_support;
mod package_support;

use std::path::Path;
use std::process::Command;

use package_support::{check, ffmpeg, package, ssfpack};
use quick_xml::events::Event;
use ssfpack::format::manifest::{ClientManifest, ServerManifest};

const EN_SRT: &str = "1\n00:00:00,500 --> 00:00:01,750\nHello <i>world</i>\n\n\
2\n00:00:02,200 --> 00:00:04,600\nSecond cue\non two lines\n\n";
const FR_SRT: &str = "1\n00:00:01,000 --> 00:00:02,500\nBonjour\n\n2\n00:00:03,100 --> 00:00:03,900\nEncore\n\n";
const DE_VTT: &str =
    "WEBVTT\n\n00:00:00.800 --> 00:00:02.100\nHallo <b>Welt</b>\n\n00:00:04.000 --> 00:00:05.500\nTschüss & bis bald\n";
const IT_ASS: &str = "[Script Info]\nScriptType: v4.00+\nPlayResX: 640\nPlayResY: 360\n\n[V4+ Styles]\n\
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, \
MarginV, Encoding\n\
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1\n\
Style: Slanted,Arial,20,&H0000FFFF,&H000000FF,&H00000000,&H00000000,0,-1,0,0,100,100,0,0,1,1,0,8,10,10,10,1\n\n\
[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,Plain {\\i1}italic{\\i0} text\n\
Dialogue: 0,0:00:03.00,0:00:04.00,Slanted,,0,0,0,,Styled line\n";
const ES_TTML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling" xml:lang="es">
  <body><div>
    <p begin="00:00:01.250" end="00:00:03.333">Hola <span tts:fontWeight="bold">mundo</span></p>
  </div></body>
</tt>"#;

/// One cue as a test sees it: absolute milliseconds, text with lines joined by `\n`.
#[derive(Debug, Clone, PartialEq)]
struct SeenCue {
    begin: f64,
    end: f64,
    text: String,
    italic: bool,
    region: String,
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

/// The cues of a SubRip/WebVTT text: (begin ms, end ms, text without markup).
fn expected_cues(text: &str) -> Vec<(f64, f64, String)> {
    let ms = |t: &str| {
        let t = t.trim().replace(',', ".");
        let p: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        (p[0] * 3600.0 + p[1] * 60.0 + p[2]) * 1000.0
    };
    let strip = |s: &str| {
        let mut out = String::new();
        let mut tag = false;
        for c in s.chars() {
            match c {
                '<' => tag = true,
                '>' => tag = false,
                c if !tag => out.push(c),
                _ => {}
            }
        }
        out
    };
    text.split("\n\n")
        .filter_map(|block| {
            let lines: Vec<&str> = block.lines().collect();
            let at = lines.iter().position(|l| l.contains("-->"))?;
            let (a, b) = lines[at].split_once("-->")?;
            Some((ms(a), ms(b), lines[at + 1..].iter().map(|l| strip(l)).collect::<Vec<_>>().join("\n")))
        })
        .collect()
}

/// Parses one TTML document with quick-xml: its `p` cues, times relative to the document.
fn parse_ttml(doc: &[u8]) -> Vec<SeenCue> {
    let mut r = quick_xml::Reader::from_reader(doc);
    let mut buf = Vec::new();
    let mut cues = Vec::new();
    let mut current: Option<SeenCue> = None;
    let mut span_italic = false;
    let clock = |v: &str| {
        let p: Vec<f64> = v.split(':').map(|x| x.parse().unwrap()).collect();
        (p[0] * 3600.0 + p[1] * 60.0 + p[2]) * 1000.0
    };
    let mut root_checked = false;
    loop {
        match r.read_event_into(&mut buf).expect("well-formed TTML") {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k.as_bytes())
                        .map(|a| a.unescape_value().unwrap().into_owned())
                };
                match e.name().as_ref() {
                    b"tt" => {
                        assert_eq!(attr("xmlns").as_deref(), Some("http://www.w3.org/ns/ttml"));
                        assert_eq!(attr("ttp:timeBase").as_deref(), Some("media"));
                        root_checked = true;
                    }
                    b"p" => {
                        current = Some(SeenCue {
                            begin: clock(&attr("begin").unwrap()),
                            end: clock(&attr("end").unwrap()),
                            text: String::new(),
                            italic: false,
                            region: attr("region").unwrap_or_default(),
                        })
                    }
                    b"span" => span_italic = attr("tts:fontStyle").as_deref() == Some("italic"),
                    b"br" => current.as_mut().unwrap().text.push('\n'),
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.text.push_str(&t.unescape().unwrap());
                    c.italic |= span_italic;
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"p" => cues.push(current.take().unwrap()),
                b"span" => span_italic = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    assert!(root_checked, "no <tt> root");
    cues
}

/// The documents of a `.ismt`, read by FFmpeg (not by ssfpack's reader): each packet's start
/// (ffprobe) and bytes (ffmpeg's data muxer writes the packets back to back).
fn documents(ismt: &Path) -> Vec<(f64, Vec<u8>)> {
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=pts_time,size", "-of", "csv=p=0"])
        .arg(ismt)
        .output()
        .unwrap();
    assert!(probe.status.success(), "ffprobe {}: {}", ismt.display(), String::from_utf8_lossy(&probe.stderr));
    let packets: Vec<(f64, usize)> = String::from_utf8(probe.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (t, s) = l.split_once(',').unwrap();
            (t.parse().unwrap(), s.parse().unwrap())
        })
        .collect();
    let data = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(ismt)
        .args(["-map", "0:0", "-c", "copy", "-f", "data", "-"])
        .output()
        .unwrap();
    assert!(data.status.success(), "ffmpeg {}: {}", ismt.display(), String::from_utf8_lossy(&data.stderr));
    let mut at = 0;
    let docs = packets
        .iter()
        .map(|&(t, size)| {
            let d = data.stdout[at..at + size].to_vec();
            at += size;
            (t * 1000.0, d)
        })
        .collect();
    assert_eq!(at, data.stdout.len(), "the packets are the whole data");
    docs
}

/// Every cue of a text track on the presentation's timeline, the pieces a fragment boundary cut
/// joined back.
fn track_cues(ismt: &Path) -> Vec<SeenCue> {
    let mut out: Vec<SeenCue> = Vec::new();
    for (start, doc) in documents(ismt) {
        for mut c in parse_ttml(&doc) {
            c.begin += start;
            c.end += start;
            match out.last_mut() {
                Some(last) if last.text == c.text && (last.end - c.begin).abs() < 1.0 => last.end = c.end,
                _ => out.push(c),
            }
        }
    }
    out
}

fn assert_cues(ismt: &Path, want: &[(f64, f64, String)], end: f64) {
    let got = track_cues(ismt);
    assert_eq!(got.len(), want.len(), "{}: {got:?} vs {want:?}", ismt.display());
    for (g, (b, e, text)) in got.iter().zip(want) {
        assert!((g.begin - b).abs() <= 1.0, "{}: begin {} vs {b}", ismt.display(), g.begin);
        assert!((g.end - e.min(end)).abs() <= 1.0, "{}: end {} vs {e}", ismt.display(), g.end);
        assert_eq!(&g.text, text, "{}", ismt.display());
    }
}

#[test]
fn subtitle_streams_and_sidecars_become_ttml_text_tracks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (en, fr) = (write(dir, "en.srt", EN_SRT), write(dir, "fr.srt", FR_SRT));
    let de = write(dir, "de.vtt", DE_VTT);
    let it = write(dir, "it.ass", IT_ASS);
    let es = write(dir, "es.ttml", ES_TTML);
    let src = dir.join("src.mp4");
    #[rustfmt::skip]
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=5", "-f", "lavfi", "-i", "sine=d=5",
        "-i", &en, "-i", &fr, "-map", "0", "-map", "1", "-map", "2", "-map", "3",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "mov_text",
        "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fre", src.to_str().unwrap(),
    ]);
    let out = dir.join("out");
    let sub = |f: &str| format!("--subtitles={f}");
    let summary = package(
        &src,
        &out,
        &[
            "--ladder",
            "160x90@200k",
            &sub(&format!("{de}:ger")),
            &sub(&format!("{it}:it")),
            &sub(&es),
            "--layout",
            "both",
        ],
    );
    check(&out);
    // The static layout too: `check` reads the `Manifest` and one file per fragment.
    let st = ssfpack(&["check", out.join("Manifest").to_str().unwrap()]);
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stdout));

    let text = summary["text"].as_array().unwrap();
    let names: Vec<&str> = text.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["text_eng", "text_fra", "text_deu", "text_ita", "text_spa"]);
    assert!(text.iter().all(|t| t["subtype"] == "SUBT" && t["fragments"] == 3));
    let notes = summary["notes"].as_array().unwrap();
    let cut = |n: &serde_json::Value| {
        let m = n["message"].as_str().unwrap_or("");
        n["kind"] == "text" && m.contains("de.vtt") && m.contains("1 of 2 cues") && m.contains("cut")
    };
    assert!(notes.iter().any(cut), "{notes:?}");

    // Cue times, from FFmpeg's reading of each .ismt and an XML parser.
    assert_cues(&out.join("src_text_eng.ismt"), &expected_cues(EN_SRT), 5000.0);
    assert_cues(&out.join("src_text_fra.ismt"), &expected_cues(FR_SRT), 5000.0);
    let mut de_want = expected_cues(DE_VTT);
    de_want[1].1 = 5000.0;
    assert_cues(&out.join("src_text_deu.ismt"), &de_want, 5000.0);
    let es_cues = track_cues(&out.join("src_text_spa.ismt"));
    assert_eq!(es_cues.len(), 1);
    assert!((es_cues[0].begin - 1250.0).abs() <= 1.0 && (es_cues[0].end - 3333.0).abs() <= 1.0);
    assert_eq!(es_cues[0].text, "Hola mundo");
    // ASS: inline italics, a style's italics and its top alignment.
    let it_cues = track_cues(&out.join("src_text_ita.ismt"));
    assert_eq!(it_cues.len(), 2, "{it_cues:?}");
    assert_eq!(it_cues[0].text, "Plain italic text");
    assert!(it_cues[0].italic && it_cues[0].region == "bottom");
    assert!(it_cues[1].italic && it_cues[1].region == "top", "{it_cues:?}");
    assert!((it_cues[1].begin - 3000.0).abs() <= 1.0 && (it_cues[1].end - 4000.0).abs() <= 1.0);

    // ffprobe: a subtitle handler with an stpp sample entry, the language, one packet per fragment.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_tag_string:stream_tags=language,handler_name"])
        .args(["-of", "default=nw=1"])
        .arg(out.join("src_text_fra.ismt"))
        .output()
        .unwrap();
    let p = String::from_utf8(probe.stdout).unwrap();
    assert!(p.contains("codec_tag_string=stpp") && p.contains("language=fra"), "{p}");
    assert_eq!(
        documents(&out.join("src_text_fra.ismt")).iter().map(|d| d.0).collect::<Vec<_>>(),
        [0.0, 2000.0, 4000.0]
    );
    // A fragment without a cue is a valid, empty document.
    let fr_docs = documents(&out.join("src_text_fra.ismt"));
    assert!(parse_ttml(&fr_docs[2].1).is_empty());

    // The manifests: textstream entries and Type="text" streams as dash.js reads them.
    let ism = ServerManifest::from_xml(&std::fs::read_to_string(out.join("src.ism")).unwrap(), "ism").unwrap();
    let texts: Vec<_> = ism.tracks.iter().filter(|t| t.kind.name() == "text").collect();
    assert_eq!(texts.len(), 5);
    assert!(std::fs::read_to_string(out.join("src.ism")).unwrap().contains("<textstream src=\"src_text_eng.ismt\""));
    let ismc = ClientManifest::from_xml(&std::fs::read_to_string(out.join("src.ismc")).unwrap(), "ismc").unwrap();
    let eng = ismc.stream("text_eng").unwrap();
    assert_eq!(
        (eng.kind.as_str(), eng.subtype.as_deref(), eng.language.as_deref()),
        ("text", Some("SUBT"), Some("eng"))
    );
    assert_eq!(eng.quality_levels[0].fourcc, "TTML");
    assert_eq!(eng.chunks, ismc.stream("video").unwrap().chunks, "text fragments follow the video's");

    // The origin serves text fragments (application/mp4) and their FragmentInfo.
    let srv = origin_support::TestServer::start(
        &out,
        ssfpack::origin::PlayerConfig { js_base: Some("https://example.invalid/".into()), js_dir: None },
    );
    let bitrate = eng.quality_levels[0].bitrate;
    let r = srv.get(&format!("/src.ism/QualityLevels({bitrate})/Fragments(text_eng=20000000)"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/mp4"));
    let mdat = r.body.windows(4).position(|w| w == b"mdat").unwrap();
    let cues = parse_ttml(&r.body[mdat + 4..]);
    assert_eq!(cues[0].text, "Second cue\non two lines");
    assert!((cues[0].begin - 200.0).abs() <= 1.0, "relative to the fragment start: {cues:?}");
}

#[test]
fn bitmap_subtitles_are_a_note_and_captions_are_capt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spu = dir.join("spu.mpg");
    std::fs::write(&spu, dvd_subtitle_program_stream()).unwrap();
    let src = dir.join("bitmap.mkv");
    #[rustfmt::skip]
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2", "-i", spu.to_str().unwrap(),
        "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "copy",
        "-metadata:s:s:0", "language=ger", src.to_str().unwrap(),
    ]);
    let en = write(dir, "en.srt", EN_SRT);
    let args = |out: &Path, json: bool| {
        let mut a = vec![src.to_str().unwrap().to_string(), "-o".into(), out.to_str().unwrap().to_string()];
        a.extend(["--ladder".into(), "160x90@200k".into(), "--captions".into(), format!("--subtitles={en}:en")]);
        if json {
            a.push("--json".into());
        }
        a
    };
    let out = dir.join("out");
    let o = ssfpack(&args(&out, true).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let note = "subtitle stream #1 (dvd_subtitle, deu): not packaged: bitmap subtitles";
    let notes = summary["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n["kind"] == "dropped-stream" && n["message"].as_str().unwrap().starts_with(note)),
        "{notes:?}"
    );
    check(&out);
    let ismc = ClientManifest::from_xml(&std::fs::read_to_string(out.join("bitmap.ismc")).unwrap(), "ismc").unwrap();
    assert_eq!(ismc.streams.iter().filter(|s| s.kind == "text").count(), 1, "the bitmap stream is not a track");
    assert_eq!(ismc.stream("text_eng").unwrap().subtype.as_deref(), Some("CAPT"));
    // Without --json too, the note is one `ssfpack: note:` line on stderr.
    let human = ssfpack(&args(&dir.join("out2"), false).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(human.status.success());
    let stderr = String::from_utf8_lossy(&human.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ssfpack: note: ") && l.contains(note)).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
}

/// A minimal MPEG program stream with two DVD subpicture units (private stream 1, sub-stream
/// 0x20): FFmpeg demuxes it as `dvd_subtitle`, a bitmap subtitle codec it has no text for (FFmpeg
/// cannot encode bitmap subtitles from text, so the test writes the bytes itself).
fn dvd_subtitle_program_stream() -> Vec<u8> {
    let pts_bytes = |pts: u64| {
        [
            0x21 | (((pts >> 30) & 7) << 1) as u8,
            (pts >> 22) as u8,
            ((((pts >> 15) & 0x7f) << 1) | 1) as u8,
            (pts >> 7) as u8,
            (((pts & 0x7f) << 1) | 1) as u8,
        ]
    };
    let pack = [0, 0, 1, 0xBA, 0x44, 0, 4, 0, 4, 1, 0x01, 0x89, 0xC3, 0xF8];
    let pixels = [0u8; 4];
    let ctrl_off = 4 + pixels.len() as u16;
    let mut ctrl = Vec::new();
    ctrl.extend(0u16.to_be_bytes());
    ctrl.extend(ctrl_off.to_be_bytes());
    ctrl.extend([0x01, 0x03, 0x32, 0x10, 0x04, 0xff, 0xf0, 0x05, 0, 0, 1, 0, 0, 1, 0x06, 0, 4, 0, 6, 0xff]);
    let mut spu = Vec::new();
    spu.extend((ctrl_off + ctrl.len() as u16).to_be_bytes());
    spu.extend(ctrl_off.to_be_bytes());
    spu.extend(pixels);
    spu.extend(ctrl);
    let mut out = Vec::new();
    for pts in [45_000u64, 135_000] {
        let mut payload = vec![0x20];
        payload.extend(&spu);
        let mut header = vec![0x81, 0x80, 0x05];
        header.extend(pts_bytes(pts));
        out.extend(pack);
        out.extend([0, 0, 1, 0xBD]);
        out.extend(((header.len() + payload.len()) as u16).to_be_bytes());
        out.extend(header);
        out.extend(payload);
    }
    out.extend([0, 0, 1, 0xB9]);
    out
}

#[test]
fn pack_copy_notes_the_text_tracks_it_does_not_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let en = write(dir, "en.srt", EN_SRT);
    let src = dir.join("copy.mp4");
    #[rustfmt::skip]
    ffmpeg(&[
        "-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2", "-i", &en, "-map", "0", "-map", "1",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:s", "mov_text",
        "-metadata:s:s:0", "language=eng", src.to_str().unwrap(),
    ]);
    let out = dir.join("out");
    let o = ssfpack(&["pack", "--copy", src.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let notes = summary["notes"].to_string();
    assert!(notes.contains("text track 2 (eng): not packaged: --copy carries video and audio only"), "{notes}");
    assert!(notes.contains("dropped-stream"), "{notes}");
    check(&out);
}
