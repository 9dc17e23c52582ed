//! The `--json` summary of a packaging job (its schema is in the README) and the bitrate a rung
//! declares against what it delivers.

mod package_support;

use std::path::Path;

use package_support::{ffmpeg, package, testdata};

fn ladder(extra: &[&'static str]) -> Vec<&'static str> {
    [&["--x264-preset", "ultrafast", "--quiet"][..], extra].concat()
}

#[test]
fn json_summary_has_one_size_per_file_an_absolute_output_and_describes_rungs_source_and_tools() {
    let dir = tempfile::tempdir().unwrap();
    // A relative -o, with `..` in it: the summary names the folder absolutely.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let out = dir.path().join("sub/../out");
    let s = package(&testdata("sample.mp4"), &out, &ladder(&["--ladder", "160x90@100k,96x54@60k"]));
    let abs = std::fs::canonicalize(dir.path().join("out")).unwrap();
    assert_eq!(s["output"], abs.display().to_string(), "{s:#}");
    let files = s["files"].as_array().unwrap();
    let size_of = |name: &str| files.iter().find(|f| f["file"] == name).map(|f| f["bytes"].as_u64().unwrap());
    for r in s["rungs"].as_array().unwrap().iter().chain(s["audio"].as_array().unwrap()) {
        let file = r["file"].as_str().unwrap();
        let on_disk = std::fs::metadata(abs.join(file)).unwrap().len();
        assert_eq!(r["bytes"].as_u64(), Some(on_disk), "{file}: rungs[].bytes is the file's size");
        assert_eq!(size_of(file), Some(on_disk), "{file}: files[].bytes");
        let (avg, peak) = (r["average_bitrate"].as_u64().unwrap(), r["peak_bitrate"].as_u64().unwrap());
        assert!(avg > 0 && avg <= peak, "{r}");
    }
    let total: u64 = files.iter().map(|f| f["bytes"].as_u64().unwrap()).sum();
    assert_eq!(s["total_bytes"].as_u64(), Some(total));
    for r in s["rungs"].as_array().unwrap() {
        assert!(r["codec"].as_str().unwrap().starts_with("avc1."), "{r}");
        assert!(!r["profile"].as_str().unwrap().is_empty() && r["profile"] != "unknown", "{r}");
        assert!(r["level"].as_str().unwrap().contains('.'), "{r}");
        assert_eq!(r["frame_rate"].as_f64(), Some(25.0), "{r}");
    }
    assert_eq!(s["audio"][0]["codec"], "mp4a.40.2");
    let src = &s["source"];
    assert_eq!((src["video"]["codec"].as_str(), src["video"]["width"].as_u64()), (Some("h264"), Some(640)), "{src}");
    assert_eq!((src["video"]["display_height"].as_u64(), src["video"]["frame_rate"].as_f64()), (Some(360), Some(25.0)));
    assert_eq!(src["audio"][0]["channels"].as_u64(), Some(2), "{src}");
    assert!(src["duration"].as_f64().unwrap() > 9.9);
    let tools = &s["tools"];
    assert_eq!(tools["ssfpack"], env!("CARGO_PKG_VERSION"));
    assert!(tools["libavcodec"].as_str().unwrap().split('.').count() == 3, "{tools}");
    assert!(tools["libx264"].as_str().unwrap().starts_with("core "), "{tools}");
    assert_eq!(s["warnings"], serde_json::json!([]));
}

/// A 4 s 320x180 source of heavy temporal grain: every frame is new detail, the worst case for a
/// capped bitrate.
fn grain(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("grain.mkv");
    let p = path.to_str().unwrap();
    let lavfi = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-vf", "noise=alls=40:allf=t", "-t", "4"];
    ffmpeg(&[&lavfi[..], &["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", p]].concat());
    path
}

#[test]
fn rungs_average_at_most_their_declared_bitrate_on_grain() {
    let dir = tempfile::tempdir().unwrap();
    let src = grain(dir.path());
    for threads in ["1", "2"] {
        for preset in ["ultrafast", "fast"] {
            let out = dir.path().join(format!("out{threads}{preset}"));
            let opts = ["--ladder", "320x180@300k,160x90@100k", "--x264-preset", preset, "--threads", threads];
            let s = package(&src, &out, &[&opts[..], &["--quiet"]].concat());
            for r in s["rungs"].as_array().unwrap() {
                let (declared, avg) = (r["bitrate"].as_u64().unwrap(), r["average_bitrate"].as_u64().unwrap());
                assert!(avg <= declared, "--threads {threads} {preset}: {} averages {avg} > {declared}", r["file"]);
                // The manifest declares the same bitrate.
                let ismc = std::fs::read_to_string(out.join("grain.ismc")).unwrap();
                assert!(ismc.contains(&format!("Bitrate=\"{declared}\"")), "{ismc}");
            }
            assert_eq!(s["warnings"], serde_json::json!([]), "{s:#}");
        }
    }
}

#[test]
fn a_rung_that_cannot_keep_its_bitrate_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = grain(dir.path());
    let s = package(&src, &dir.path().join("out"), &ladder(&["--ladder", "320x180@20k"]));
    let avg = s["rungs"][0]["average_bitrate"].as_u64().unwrap();
    assert!(avg > 20_000, "{s:#}");
    let warnings = s["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w.as_str().unwrap().starts_with("grain_20k.ismv: averages ")
            && w.as_str().unwrap().contains("above the 20k its manifest declares")),
        "{warnings:?}"
    );
}

/// Runs `cmd` under a pseudo-terminal (util-linux `script`): what the terminal showed, colours and
/// cursor movements removed, one line per redraw.
fn on_a_terminal(cmd: &str) -> String {
    let o = std::process::Command::new("script").args(["-qec", cmd, "/dev/null"]).output().unwrap();
    let raw = String::from_utf8_lossy(&o.stdout).replace('\r', "\n");
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte
            if chars.peek() == Some(&'[') {
                chars.next();
                for x in chars.by_ref() {
                    if x.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn progress_bars_have_units_and_no_estimate_before_there_is_progress() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_ssfpack");
    let input = testdata("sample.mp4");
    let job = |out: &str, extra: &str| {
        format!(
            "{bin} {} -o {} --ladder 160x90@100k --x264-preset ultrafast {extra}",
            input.display(),
            dir.path().join(out).display()
        )
    };
    let screen = on_a_terminal(&job("a", ""));
    let rung = screen.lines().find(|l| l.contains("sample_100k.ismv [")).unwrap_or_else(|| panic!("{screen}"));
    assert!(rung.contains("/250") && rung.split_whitespace().any(|w| w == "frames"), "{rung}");
    assert!(screen.contains("sample_audio.isma [") && screen.contains(" AAC frames"), "{screen}");
    assert!(!screen.contains("ETA 0s"), "{screen}");
    assert!(!screen.lines().any(|l| l.contains("overall") && l.contains(" 0%") && l.contains("ETA")), "{screen}");
    // --json keeps the bars on stderr (the terminal); --quiet removes them.
    let screen = on_a_terminal(&job("b", "--json"));
    assert!(screen.contains("sample_100k.ismv [") && screen.contains("\"average_bitrate\""), "{screen}");
    let screen = on_a_terminal(&job("c", "--json --quiet"));
    assert!(!screen.contains("sample_100k.ismv [") && screen.contains("\"average_bitrate\""), "{screen}");
}
