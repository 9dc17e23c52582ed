//! `ssfpack INPUT -o DIR` on every file in testdata/: the presentation passes `check`, FFmpeg decodes
//! every rung with zero errors and the source's frame count, rungs are aligned, timelines start at 0
//! and end with the source. Plus: the JSON summary, --force, and byte-identical reruns.

mod package_support;

use package_support::*;

fn run(name: &str, frames: Option<u64>, video_end: Option<f64>, audio_end: Option<f64>) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let summary = package(&testdata(name), &out, &["--x264-preset", "ultrafast"]);
    assert_presentation(&out, frames, video_end, audio_end);
    summary
}

#[test]
fn sample_mp4_b_frames_and_start_offset() {
    // 250 frames at 25 fps starting at 1.4 s; AAC starting 22 ms earlier (priming).
    let s = run("sample.mp4", Some(250), Some(10.0), Some(10.0));
    let rungs: Vec<(u64, u64)> = s["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(rungs, vec![(640, 360), (320, 180)], "default ladder for 640x360");
    assert_eq!(s["rungs"][0]["fragments"], 5);
    assert_eq!(s["audio"][0]["sample_rate"], 48000);
    let names: Vec<&str> = s["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["sample.html", "sample.ism", "sample.ismc", "sample_1000k.ismv", "sample_400k.ismv", "sample_audio.isma"]
    );
}

#[test]
fn vp9_opus_webm_negative_start() {
    run("vp9_opus.webm", Some(120), Some(4.0), Some(4.0));
}

#[test]
fn mpeg2_ts_29_97() {
    run("mpeg2_mp2.ts", Some(120), Some(4.004), Some(4.004));
}

#[test]
fn audio_only_m4a() {
    let s = run("audio_only.m4a", None, None, Some(5.0));
    assert_eq!(s["rungs"].as_array().unwrap().len(), 0);
    assert_eq!(s["audio"][0]["channels"], 1, "mono stays mono");
    assert_eq!(s["audio"][0]["sample_rate"], 44100, "44.1 kHz is kept");
}

#[test]
fn video_only_mkv_odd_width() {
    let s = run("video_only.mkv", Some(96), Some(4.0), None);
    assert_eq!(s["audio"].as_array().unwrap().len(), 0);
    for r in s["rungs"].as_array().unwrap() {
        assert_eq!(r["width"].as_u64().unwrap() % 2, 0);
        assert_eq!(r["height"].as_u64().unwrap() % 2, 0);
    }
}

#[test]
fn existing_output_needs_force_and_is_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious.txt"), b"keep me").unwrap();
    let input = testdata("video_only.mkv");
    let args = [input.to_str().unwrap(), "-o", out.to_str().unwrap(), "--ladder", "160x90@100k", "-q"];
    let o = ssfpack(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("precious.txt")).unwrap(), b"keep me");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing else created");

    // --force replaces only a folder ssfpack published: the user's file is named and kept.
    let mut forced = args.to_vec();
    forced.push("--force");
    let o = ssfpack(&forced);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("precious.txt"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("precious.txt")).unwrap(), b"keep me");
    std::fs::remove_file(out.join("precious.txt")).unwrap();
    let o = ssfpack(&forced);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = std::fs::read(out.join("video_only.ism")).unwrap();
    let o = ssfpack(&forced);
    assert!(o.status.success(), "a published folder is replaced: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("video_only.ism")).unwrap(), first);
    assert!(out.join("video_only.ism").exists() && out.join("video_only_100k.ismv").exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "no temporary folder left");
}

#[test]
fn failure_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("not_media.mp4");
    std::fs::write(&bogus, b"this is not a video").unwrap();
    let out = tmp.path().join("out");
    let o = ssfpack(&[bogus.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not_media.mp4"), "the error names the input: {err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "only the input remains");
}

#[test]
fn bad_ladder_is_a_usage_error() {
    let o = ssfpack(&["in.mp4", "-o", "x", "--ladder", "1280x721@1M"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("even"));
}

#[test]
fn same_input_and_options_give_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = testdata("sample.mp4");
    let opts = ["--x264-preset", "veryfast", "--name", "same"];
    package(&input, &tmp.path().join("a"), &opts);
    package(&input, &tmp.path().join("b"), &opts);
    let names: Vec<_> = files(&tmp.path().join("a"), "ismv")
        .into_iter()
        .chain(files(&tmp.path().join("a"), "isma"))
        .map(|p| p.file_name().unwrap().to_owned())
        .chain(["same.ism".into(), "same.ismc".into()])
        .collect();
    assert_eq!(names.len(), 5);
    for n in names {
        let a = std::fs::read(tmp.path().join("a").join(&n)).unwrap();
        let b = std::fs::read(tmp.path().join("b").join(&n)).unwrap();
        assert!(a == b, "{n:?} differs between two runs ({} vs {} bytes)", a.len(), b.len());
    }
}

#[test]
fn lanes_code_alternate_fragments_reproducibly() {
    // --threads 3: the 640x360 rung (80 % of the pixels) is coded by 3 libx264 lanes taking the
    // fragments in turn, the 320x180 rung by one. The result is a valid presentation, byte-identical
    // between runs, and differs from the single-lane coding (so the lanes really ran).
    let tmp = tempfile::tempdir().unwrap();
    let input = testdata("sample.mp4");
    let opts = |threads: &'static str| ["--x264-preset", "veryfast", "--name", "lanes", "--threads", threads];
    let s = package(&input, &tmp.path().join("a"), &opts("3"));
    assert_eq!((s["rungs"][0]["lanes"].as_u64(), s["rungs"][1]["lanes"].as_u64()), (Some(3), Some(1)));
    package(&input, &tmp.path().join("b"), &opts("3"));
    package(&input, &tmp.path().join("one"), &opts("1"));
    assert_presentation(&tmp.path().join("a"), Some(250), Some(10.0), Some(10.0));
    assert_presentation(&tmp.path().join("one"), Some(250), Some(10.0), Some(10.0));
    let read = |dir: &str, file: &str| std::fs::read(tmp.path().join(dir).join(file)).unwrap();
    for file in ["lanes_1000k.ismv", "lanes_400k.ismv", "lanes.ismc"] {
        assert!(read("a", file) == read("b", file), "{file} differs between two runs with 3 lanes");
    }
    assert!(read("a", "lanes_1000k.ismv") != read("one", "lanes_1000k.ismv"), "--threads had no effect");
    assert!(read("a", "lanes_400k.ismv") == read("one", "lanes_400k.ismv"), "the 180p rung has one lane either way");
}
