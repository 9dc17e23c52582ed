//! Every stream a user brings (issue 17, audio and video): 5.1 AC-3 (downmix note, or kept as
//! 5.1 AAC-LC), two languages (track choice, relabelling, names), tff interlaced MPEG-2
//! (deinterlaced, checked with FFmpeg's idet), 10-bit PQ HEVC (tone-mapped to 8-bit BT.709),
//! an anamorphic source (never upscaled), and a `note:` line for each change or dropped stream.
//! Sources are made at test time with the `ffmpeg` CLI (2–3 s, small).

mod package_support;

use std::path::Path;
use std::process::Command;

use package_support::*;

const FAST: [&str; 4] = ["--x264-preset", "ultrafast", "--ladder", "-1x180@300k"];

/// Runs `ssfpack INPUT -o OUT --json EXTRA`; returns the summary and stderr.
fn run(input: &Path, out: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec![input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = ssfpack(&args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "ssfpack {args:?} failed: {stderr}");
    (serde_json::from_slice(&o.stdout).expect("--json prints JSON"), stderr)
}

/// The `notes` of a summary as (kind, message).
fn notes(s: &serde_json::Value) -> Vec<(String, String)> {
    s["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap().to_string(), n["message"].as_str().unwrap().to_string()))
        .collect()
}

/// Every note is one `ssfpack: note:` line on stderr.
fn assert_notes_printed(s: &serde_json::Value, stderr: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ssfpack: note: ")).collect();
    let messages: Vec<String> = notes(s).into_iter().map(|(_, m)| format!("ssfpack: note: {m}")).collect();
    assert_eq!(lines, messages, "{stderr}");
}

/// ffprobe's `key=value` lines for the first stream of `file`.
fn probe(file: &Path, entries: &str) -> std::collections::BTreeMap<String, String> {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "0", "-show_entries", &format!("stream={entries}"), "-of"])
        .arg("default=noprint_wrappers=1")
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "ffprobe {}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// The attributes of every `element` of an XML file, with quick-xml's event reader (not our
/// manifest model).
fn xml_elements(file: &Path, element: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut out = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == element.as_bytes() =>
            {
                out.push(
                    e.attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                                a.unescape_value().unwrap().into_owned(),
                            )
                        })
                        .collect(),
                );
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// FFmpeg's idet over a whole file: (tff, bff, progressive) of its multi-frame detection.
fn idet(file: &Path) -> (u64, u64, u64) {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(file)
        .args(["-an", "-vf", "idet", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    let line = text.lines().find(|l| l.contains("Multi frame detection")).unwrap_or_else(|| panic!("{text}"));
    let num = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (num("TFF:"), num("BFF:"), num("Progressive:"))
}

fn surround_source(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("surround.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "aevalsrc=sin(440*2*PI*t)|sin(550*2*PI*t)|sin(660*2*PI*t)|0.1*sin(50*2*PI*t)|sin(770*2*PI*t)|sin(880*2*PI*t)\
         :channel_layout=5.1:sample_rate=48000:duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "ac3",
        "-metadata:s:a:0",
        "language=eng",
        src.to_str().unwrap(),
    ]);
    src
}

#[test]
fn surround_ac3_becomes_stereo_with_a_note_or_stays_5_1_with_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = surround_source(tmp.path());

    let out = tmp.path().join("stereo");
    let (s, stderr) = run(&src, &out, &FAST);
    assert_eq!(s["audio"][0]["channels"], 2);
    let n = notes(&s);
    assert!(
        n.iter().any(|(k, m)| k == "downmix" && m.contains("audio stream #1 (ac3, eng): 5.1 mixed down to stereo")),
        "{n:?}"
    );
    assert_notes_printed(&s, &stderr);
    assert_eq!(probe(&out.join("surround_audio.isma"), "channels")["channels"], "2");

    let out = tmp.path().join("source");
    let (s, stderr) = run(&src, &out, &[&FAST[..], &["--audio-channels", "source"]].concat());
    assert_eq!(s["audio"][0]["channels"], 6);
    assert!(!notes(&s).iter().any(|(k, _)| k == "downmix"), "{s:#}");
    assert!(!stderr.contains("mixed down"), "{stderr}");
    check(&out);
    let p = probe(&out.join("surround_audio.isma"), "codec_name,profile,channels,channel_layout");
    assert_eq!(
        (p["codec_name"].as_str(), p["profile"].as_str(), p["channels"].as_str(), p["channel_layout"].as_str()),
        ("aac", "LC", "6", "5.1"),
        "{p:?}"
    );
    assert_eq!(decode_errors(&out.join("surround_audio.isma")), "");
    // The manifest: Channels 6, and an AudioSpecificConfig of AAC-LC (2), 48 kHz (index 3),
    // channel configuration 6: 00010 0011 0110 000 = 0x11B0.
    let levels = xml_elements(&out.join("surround.ismc"), "QualityLevel");
    let audio = levels.iter().find(|q| q.get("FourCC").map(String::as_str) == Some("AACL")).expect("audio level");
    assert_eq!(audio["Channels"], "6");
    assert_eq!(audio["CodecPrivateData"].to_ascii_uppercase(), "11B0");

    // 6 (5.1 from anything wider than stereo) gives the same; --quiet prints no notes.
    let out = tmp.path().join("quiet");
    let o =
        ssfpack(&[src.to_str().unwrap(), "-o", out.to_str().unwrap(), "--quiet", FAST[0], FAST[1], FAST[2], FAST[3]]);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("note:"), "{}", String::from_utf8_lossy(&o.stderr));
}

fn two_language_source(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("langs.mkv");
    let attachment = dir.join("readme.txt");
    std::fs::write(&attachment, b"not a stream anyone plays\n").unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:sample_rate=48000:duration=2",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:0",
        "title=English stereo",
        "-metadata:s:a:1",
        "language=fre",
        "-attach",
        attachment.to_str().unwrap(),
        "-metadata:s:t",
        "mimetype=text/plain",
        src.to_str().unwrap(),
    ]);
    src
}

/// (file, name, language) of the summary's audio tracks.
fn audio_tracks(s: &serde_json::Value) -> Vec<(String, String, String)> {
    s["audio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["file"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                a["language"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn two_languages_chosen_ordered_and_relabelled() {
    let tmp = tempfile::tempdir().unwrap();
    let src = two_language_source(tmp.path());

    let out = tmp.path().join("all");
    let (s, stderr) = run(&src, &out, &FAST);
    assert_eq!(
        audio_tracks(&s),
        [
            ("langs_audio_eng_0.isma".to_string(), "audio_eng".to_string(), "eng".to_string()),
            ("langs_audio_fra_1.isma".to_string(), "audio_fra".to_string(), "fra".to_string()),
        ]
    );
    let streams = xml_elements(&out.join("langs.ismc"), "StreamIndex");
    let audio: Vec<(&str, &str)> =
        streams.iter().filter(|s| s["Type"] == "audio").map(|s| (s["Name"].as_str(), s["Language"].as_str())).collect();
    assert_eq!(audio, [("audio_eng", "eng"), ("audio_fra", "fra")]);
    assert_eq!(s["source"]["audio"][0]["title"], "English stereo", "{s:#}");
    check(&out);
    // The attachment is not packaged, and says so.
    let n = notes(&s);
    assert!(
        n.iter()
            .any(|(k, m)| k == "dropped-stream" && m.starts_with("attachment stream #3") && m.contains("not packaged")),
        "{n:?}"
    );
    assert_notes_printed(&s, &stderr);

    // One track by language; the other is a note.
    let out = tmp.path().join("fra");
    let (s, _) = run(&src, &out, &[&FAST[..], &["--audio-tracks", "fra"]].concat());
    assert_eq!(audio_tracks(&s), [("langs_audio.isma".to_string(), "audio".to_string(), "fra".to_string())]);
    assert!(
        notes(&s)
            .iter()
            .any(|(k, m)| k == "dropped-stream" && m.starts_with("audio stream #1 (aac, eng): not packaged")),
        "{s:#}"
    );
    check(&out);

    // The order given is the manifest's order (the first is the default); a relabel renames.
    let out = tmp.path().join("relabel");
    let (s, _) = run(&src, &out, &[&FAST[..], &["--audio-tracks", "2,1", "--audio-lang", "1=deu"]].concat());
    assert_eq!(
        audio_tracks(&s),
        [
            ("langs_audio_fra_0.isma".to_string(), "audio_fra".to_string(), "fra".to_string()),
            ("langs_audio_deu_1.isma".to_string(), "audio_deu".to_string(), "deu".to_string()),
        ]
    );
    let streams = xml_elements(&out.join("langs.ismc"), "StreamIndex");
    let langs: Vec<&str> = streams.iter().filter(|s| s["Type"] == "audio").map(|s| s["Language"].as_str()).collect();
    assert_eq!(langs, ["fra", "deu"]);
    // The .isma really holds the tone chosen: stream #2 is 660 Hz, first.
    assert_eq!(probe(&out.join("langs_audio_fra_0.isma"), "sample_rate")["sample_rate"], "48000");

    // A language the source does not have: one line, exit 2, nothing written.
    let out = tmp.path().join("none");
    let o = ssfpack(&[src.to_str().unwrap(), "-o", out.to_str().unwrap(), "--audio-tracks", "spa"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no audio track in `spa`") && err.contains("#1 eng, #2 fra"), "{err}");
    assert!(!out.exists());
}

#[test]
fn tff_interlaced_mpeg2_is_deinterlaced_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("interlaced.ts");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=50:duration=3",
        "-vf",
        "interlace=scan=tff",
        "-c:v",
        "mpeg2video",
        "-flags",
        "+ilme+ildct",
        "-top",
        "1",
        "-b:v",
        "3M",
        src.to_str().unwrap(),
    ]);
    let (tff, bff, _) = idet(&src);
    assert!(tff > 50 && bff < 5, "the source is tff interlaced: {tff} tff, {bff} bff");

    let out = tmp.path().join("auto");
    let ladder = ["--x264-preset", "ultrafast", "--ladder", "320x240@1500k"];
    let (s, stderr) = run(&src, &out, &ladder);
    let n = notes(&s);
    assert!(
        n.iter().any(|(k, m)| k == "deinterlace" && m.contains("video stream #0 (mpeg2video)") && m.contains("bwdif")),
        "{n:?}"
    );
    assert_notes_printed(&s, &stderr);
    check(&out);
    let rung = out.join(s["rungs"][0]["file"].as_str().unwrap());
    let (tff, bff, progressive) = idet(&rung);
    assert!(tff + bff <= 5 && progressive > 60, "deinterlaced output: {tff} tff, {bff} bff, {progressive} progressive");
    assert_eq!(count_frames(&rung, "v"), 75, "frame rate kept (25)");

    // --deinterlace off keeps the fields (and the combing): what auto must not do.
    let out = tmp.path().join("off");
    let (s, _) = run(&src, &out, &[&ladder[..], &["--deinterlace", "off"]].concat());
    assert!(!notes(&s).iter().any(|(k, _)| k == "deinterlace"));
    let (tff, bff, _) = idet(&out.join(s["rungs"][0]["file"].as_str().unwrap()));
    assert!(tff + bff > 30, "not deinterlaced: {tff} tff, {bff} bff");

    // One picture per field: twice the frames, and a frame-rate note.
    let out = tmp.path().join("field");
    let (s, _) = run(&src, &out, &[&ladder[..], &["--deinterlace-rate", "field"]].concat());
    let rung = out.join(s["rungs"][0]["file"].as_str().unwrap());
    assert_eq!(count_frames(&rung, "v"), 150);
    assert!(notes(&s).iter().any(|(k, m)| k == "frame-rate" && m.contains("25 fps → 50 fps")), "{s:#}");
    check(&out);
}

#[test]
fn interlaced_video_of_unknown_field_order_is_detected_with_idet() {
    let tmp = tempfile::tempdir().unwrap();
    // MPEG-4 part 2 in AVI: the stream states no field order (ffprobe: `unknown`).
    let src = tmp.path().join("unknown.avi");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=50:duration=3",
        "-vf",
        "interlace=scan=tff",
        "-c:v",
        "mpeg4",
        "-q:v",
        "3",
        src.to_str().unwrap(),
    ]);
    assert_eq!(probe(&src, "field_order")["field_order"], "unknown");
    let out = tmp.path().join("out");
    let (s, _) = run(&src, &out, &["--x264-preset", "ultrafast", "--ladder", "320x240@1500k"]);
    let n = notes(&s);
    assert!(n.iter().any(|(k, m)| k == "deinterlace" && m.contains("FFmpeg's idet over the first frames")), "{n:?}");
    let (tff, bff, progressive) = idet(&out.join(s["rungs"][0]["file"].as_str().unwrap()));
    assert!(tff + bff <= 5 && progressive > 60, "deinterlaced output: {tff} tff, {bff} bff, {progressive} progressive");
    // A progressive source of unknown field order that idet does not find interlaced (mandelbrot:
    // every frame undetermined) is left alone. (testsrc2's fine moving patterns fool idet into
    // "tff" even when progressive: FFmpeg's own `-vf idet` says so too.)
    let src = tmp.path().join("progressive.avi");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "mandelbrot=size=320x240:rate=25",
        "-t",
        "2",
        "-c:v",
        "mpeg4",
        src.to_str().unwrap(),
    ]);
    let (s, _) = run(&src, &tmp.path().join("p"), &["--x264-preset", "ultrafast", "--ladder", "320x240@1500k"]);
    assert!(!notes(&s).iter().any(|(k, _)| k == "deinterlace"), "{s:#}");
}

#[test]
fn ten_bit_pq_hevc_is_tone_mapped_to_8_bit_bt709_with_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("hdr.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=2",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p10le",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "smpte2084",
        "-colorspace",
        "bt2020nc",
        src.to_str().unwrap(),
    ]);
    let p = probe(&src, "pix_fmt,color_transfer");
    assert_eq!((p["pix_fmt"].as_str(), p["color_transfer"].as_str()), ("yuv420p10le", "smpte2084"));

    let out = tmp.path().join("out");
    let (s, stderr) = run(&src, &out, &FAST);
    let kinds: Vec<String> = notes(&s).into_iter().map(|(k, _)| k).collect();
    assert!(kinds.contains(&"hdr".to_string()) && kinds.contains(&"bit-depth".to_string()), "{s:#}");
    let hdr = notes(&s).into_iter().find(|(k, _)| k == "hdr").unwrap().1;
    assert!(hdr.contains("PQ") && hdr.contains("tone-mapped to SDR BT.709"), "{hdr}");
    assert_notes_printed(&s, &stderr);
    check(&out);
    let rung = out.join(s["rungs"][0]["file"].as_str().unwrap());
    let p = probe(&rung, "pix_fmt,color_transfer,color_primaries,color_space");
    assert_eq!(
        (p["pix_fmt"].as_str(), p["color_transfer"].as_str(), p["color_primaries"].as_str(), p["color_space"].as_str()),
        ("yuv420p", "bt709", "bt709", "bt709"),
        "{p:?}"
    );
    assert_eq!(decode_errors(&rung), "");

    // 10-bit SDR: no tone map, a bit-depth note; the VUI stays unspecified as before.
    let src = tmp.path().join("tenbit.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25:duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p10le",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("tenbit");
    let (s, _) = run(&src, &out, &FAST);
    let n = notes(&s);
    assert!(n.iter().any(|(k, m)| k == "bit-depth" && m.contains("10-bit (SDR) samples coded as 8-bit")), "{n:?}");
    assert!(!n.iter().any(|(k, _)| k == "hdr"), "{n:?}");
    let rung = out.join(s["rungs"][0]["file"].as_str().unwrap());
    assert_eq!(probe(&rung, "pix_fmt")["pix_fmt"], "yuv420p");
    assert_eq!(decode_errors(&rung), "");
}

#[test]
fn an_anamorphic_source_is_never_upscaled() {
    let tmp = tempfile::tempdir().unwrap();
    // 480x270 coded, pixels 4:3 wide: displayed as 640x270.
    let src = tmp.path().join("anamorphic.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=480x270:rate=25:duration=2",
        "-vf",
        "setsar=4/3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let (s, _) = run(&src, &out, &["--x264-preset", "ultrafast"]);
    let sizes: Vec<(u64, u64)> = s["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert!(!sizes.is_empty());
    for (w, h) in &sizes {
        assert!(*w <= 480 && *h <= 270, "{sizes:?}: a rung larger than the coded 480x270");
        // The display aspect (640:270) is kept, to rounding.
        let aspect = *w as f64 / *h as f64;
        assert!((aspect - 640.0 / 270.0).abs() < 0.05, "{sizes:?}");
    }
    // The largest rung is the coded width with the height shrunk to the display aspect (480x202,
    // even sizes from the short side: 478x202), not 640x270.
    assert_eq!(sizes[0], (478, 202), "{sizes:?}");
    check(&out);
}
