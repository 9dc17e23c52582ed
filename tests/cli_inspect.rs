//! `ssfpack dump` (a readable box tree, `--json`, `--depth`, and what a non-MP4 file is) and the
//! wording of `ssfpack check`.

mod package_support;

use std::path::{Path, PathBuf};

use package_support::{ssfpack, testdata};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/synthetic").join(name)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = ssfpack(args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn dump_shows_fourccs_names_flags_sizes_and_offsets_as_text() {
    let (code, out, err) = run(&["dump", golden("syn_audio.isma").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "[ftyp] size=8+20 offset=0",
        "  major_brand = isml",
        "  compatible_brands = isml, piff, iso2",
        "        handler_type = soun",
        "        name = SoundHandler",
        "      flags = 0x000007 (enabled, in-movie, in-preview)",
    ] {
        assert!(out.lines().any(|l| l == line), "no line {line:?} in\n{out}");
    }
    assert!(
        out.contains("flags = 0x000f01 (data-offset, sample-duration")
            || out.contains("flags = 0x000301 (data-offset, sample-duration, sample-size)"),
        "{out}"
    );
    assert!(out.contains("[uuid[tfxd]] size=") && out.contains("fragment_absolute_time = 0"), "{out}");
    assert!(!out.contains("[115, 111, 117, 110]") && !out.contains("Box {"), "raw Debug output:\n{out}");
    // Offsets are those of the file: each top-level box starts where the previous one ends.
    let len = std::fs::metadata(golden("syn_audio.isma")).unwrap().len();
    let mut next = 0;
    for l in out.lines().filter(|l| l.starts_with('[')) {
        let (size, offset) = l.split_once(" size=").unwrap().1.split_once(" offset=").unwrap();
        let (h, p) = size.split_once('+').unwrap();
        assert_eq!(offset.parse::<u64>().unwrap(), next, "{l}");
        next += h.parse::<u64>().unwrap() + p.parse::<u64>().unwrap();
    }
    assert_eq!(next, len);
}

#[test]
fn dump_json_and_depth() {
    let file = golden("syn_800k.ismv");
    let (code, out, err) = run(&["dump", "--json", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let boxes = v["boxes"].as_array().unwrap();
    assert_eq!(boxes[0]["type"], "ftyp");
    assert_eq!(boxes[0]["fields"]["major_brand"], "isml");
    let moov = boxes.iter().find(|b| b["type"] == "moov").unwrap();
    assert_eq!(moov["children"][1]["type"], "trak");
    let total: u64 = boxes.iter().map(|b| b["size"].as_u64().unwrap()).sum();
    assert_eq!(total, v["size"].as_u64().unwrap());
    let moof = boxes.iter().find(|b| b["type"] == "moof").unwrap();
    let trun = &moof["children"][1]["children"][1];
    assert_eq!(trun["type"], "trun");
    assert_eq!(trun["entries"][0]["sync"], true);
    assert_eq!(trun["entries"].as_array().unwrap().len() as u64, trun["fields"]["sample_count"].as_u64().unwrap());

    let (_, text, _) = run(&["dump", "--depth", "1", file.to_str().unwrap()]);
    assert!(text.lines().all(|l| !l.starts_with("  [")), "--depth 1 shows nested boxes:\n{text}");
    assert!(text.contains("boxes inside (--depth 2 shows them)"), "{text}");
    let (_, json1, _) = run(&["dump", "--json", "--depth", "1", file.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&json1).unwrap();
    assert!(v["boxes"].as_array().unwrap().iter().all(|b| b.get("children").is_none()));
    let (code, _, err) = run(&["dump", "--depth", "0", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn dump_says_what_a_file_is_when_it_is_not_mp4() {
    for (file, what) in [
        (golden("syn.ismc"), "a Smooth Streaming client manifest"),
        (golden("syn.ism"), "a Smooth Streaming server manifest"),
        (testdata("mpeg2_mp2.ts"), "an MPEG transport stream"),
        (testdata("vp9_opus.webm"), "a Matroska or WebM file"),
    ] {
        let (code, out, err) = run(&["dump", file.to_str().unwrap()]);
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert!(err.starts_with("ssfpack: error: ") && err.contains(what), "{file:?}: {err}");
        assert!(!err.contains("malformed box") && !err.contains("(at "), "{err}");
    }
}

/// A copy of the golden presentation whose first video `trun` claims more samples than it holds.
fn corrupt_copy(dir: &Path) -> PathBuf {
    for f in ["syn.ism", "syn.ismc", "syn_800k.ismv", "syn_400k.ismv", "syn_audio.isma"] {
        std::fs::copy(golden(f), dir.join(f)).unwrap();
    }
    let path = dir.join("syn_800k.ismv");
    let mut b = std::fs::read(&path).unwrap();
    let at = b.windows(4).position(|w| w == b"trun").unwrap();
    b[at + 8..at + 12].copy_from_slice(&1000u32.to_be_bytes());
    std::fs::write(&path, b).unwrap();
    path
}

#[test]
fn messages_carry_no_source_code_locations() {
    let dir = tempfile::tempdir().unwrap();
    let ismv = corrupt_copy(dir.path());
    let (code, out, _) = run(&["dump", ismv.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("!! does not decode: [trun]"), "{out}");
    assert!(!out.contains(".rs:") && !out.contains("(at src"), "{out}");
    let (code, out, _) = run(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("syn_800k.ismv") && !out.contains(".rs:") && !out.contains("InvalidData"), "{out}");
}

#[test]
fn check_counts_in_words_and_names_the_layout() {
    let (code, out, _) = run(&["check", golden("syn.ism").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: ") && out.contains("(`.ism` layout (IIS, ssfpack serve): 2 streams,"), "{out}");
    assert!(out.contains("checked, 0 violations)"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    corrupt_copy(dir.path());
    let (_, out, _) = run(&["check", dir.path().to_str().unwrap()]);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("FAILED: ") && first.ends_with(", 1 violation)"), "{out}");
    let empty = tempfile::tempdir().unwrap();
    let (code, out, _) = run(&["check", empty.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("(no presentation: 0 streams, 0 rungs, 0 fragments checked, 1 violation)"), "{out}");
    let (_, json, _) = run(&["check", "--json", empty.path().to_str().unwrap()]);
    assert!(json.contains("\"layout\": \"none\""), "{json}");
}

#[test]
fn check_names_the_static_layout_as_the_option_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let o = ssfpack(&[
        testdata("sample.mp4").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--layout",
        "static",
        "--ladder",
        "96x54@60k",
        "--x264-preset",
        "ultrafast",
        "--quiet",
    ]);
    assert!(o.status.success());
    let (code, text, _) = run(&["check", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(static layout (pre-split `Manifest`, --layout static): 2 streams, 2 rungs"), "{text}");
    let (_, json, _) = run(&["check", "--json", out.to_str().unwrap()]);
    assert!(json.contains("\"layout\": \"static\""), "{json}");
}
