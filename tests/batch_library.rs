//! `ssfpack batch` over a generated library, with real processes: shards that cover it exactly
//! once, outputs that pass `check`, reruns that skip, a touched input redone, output bytes
//! independent of `--jobs`, locks, usage errors, and SIGINT/SIGTERM/SIGKILL mid-run.

mod batch_support;

use std::path::Path;
use std::time::{Duration, Instant};

use batch_support::*;

#[test]
fn shards_cover_the_library_once_reruns_skip_and_changes_are_redone() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    let out = dir.path().join("out root");
    library(&lib);

    // Three shards, as three array tasks would run them.
    let mut packaged = Vec::new();
    let mut failed = Vec::new();
    let mut not_media = 0;
    for i in 0..3 {
        let shard = format!("{i}/3");
        let (o, r) = batch(&lib, &out, &["--shard", &shard]);
        assert_eq!(r["shard"]["index"], i);
        assert_eq!(r["shard"]["count"], 3);
        let f = with_status(&r, "failed");
        assert_eq!(o.status.code(), Some(if f.is_empty() { 0 } else { 1 }), "shard {shard}: {r}");
        packaged.extend(with_status(&r, "packaged"));
        failed.extend(f);
        not_media += r["totals"]["not_media"].as_u64().unwrap();
        assert_eq!(r["totals"]["files"].as_u64().unwrap() + r["totals"]["other_shards"].as_u64().unwrap(), 10);
    }
    packaged.sort();
    let mut media: Vec<String> = MEDIA.iter().map(|s| s.to_string()).collect();
    media.sort();
    assert_eq!(packaged, media, "every media file packaged by exactly one shard");
    assert_eq!(failed, [CORRUPT], "the corrupt file fails, in one shard");
    assert_eq!(not_media, 2, "notes.txt and poster.png skipped and counted");
    let mut expected: Vec<String> = MEDIA.iter().map(|m| output_of(m)).collect();
    expected.sort();
    assert_eq!(presentations(&out), expected, "documented output names, e01.mp4 and e01.mkv apart");
    for p in &expected {
        check(&out.join(p));
        assert!(out.join(p).join(".ssfpack-batch.json").is_file());
    }
    assert!(staging_folders(&out).is_empty());

    // A rerun of the whole library skips everything, without decoding.
    let t = Instant::now();
    let (o, r) = batch(&lib, &out, &[]);
    assert_eq!(o.status.code(), Some(1), "the corrupt file still fails");
    assert_eq!(with_status(&r, "up_to_date"), media);
    assert!(with_status(&r, "packaged").is_empty());
    assert!(t.elapsed() < Duration::from_secs(10), "rerun took {:?}", t.elapsed());
    let error = &r["files"].as_array().unwrap().iter().find(|f| f["input"] == CORRUPT).unwrap()["error"];
    assert!(error.as_str().unwrap().contains("broken.mp4"), "{error}");

    // A touched input is redone, the others are not; --force redoes all.
    let touched = lib.join("movies/clip.ts");
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options().write(true).open(&touched).unwrap().set_modified(later).unwrap();
    let (_, r) = batch(&lib, &out, &[]);
    assert_eq!(with_status(&r, "packaged"), ["movies/clip.ts"]);
    let f = r["files"].as_array().unwrap().iter().find(|f| f["input"] == "movies/clip.ts").unwrap().clone();
    assert_eq!(f["reason"], "input changed");
    assert_eq!(with_status(&r, "up_to_date").len(), MEDIA.len() - 1);
    check(&out.join("movies/clip"));
    let (_, r) = batch(&lib, &out, &["--shard", "0/2", "--force"]);
    assert!(with_status(&r, "up_to_date").is_empty() && !with_status(&r, "packaged").is_empty());

    // Output bytes do not depend on --jobs: a list file of every media file, one at a time.
    let list = lib.join("films.txt");
    std::fs::write(&list, MEDIA.join("\n") + "\n# a comment\n").unwrap();
    let one = dir.path().join("one at a time");
    let (o, r) = batch(&list, &one, &["--jobs", "1"]);
    assert!(o.status.success(), "{r}");
    assert_eq!(r["jobs"], 1);
    for p in &expected {
        for f in std::fs::read_dir(out.join(p)).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ismv") || name.ends_with(".isma") || name.ends_with(".ismc") {
                let other = one.join(p).join(&name);
                assert!(std::fs::read(f.path()).unwrap() == std::fs::read(&other).unwrap(), "{p}/{name} differs");
            }
        }
    }

    // Other options: redone, with the reason.
    let (o, r) = batch(&lib, &one, &["--fragment-duration", "1", "--shard", "1/2"]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1), "{r}");
    let redone: Vec<&serde_json::Value> =
        r["files"].as_array().unwrap().iter().filter(|f| f["status"] == "packaged").collect();
    assert!(!redone.is_empty() && redone.iter().all(|f| f["reason"] == "options changed"), "{r}");
}

#[test]
fn list_files_locks_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for n in ["a", "b"] {
        let p = lib.join(format!("{n}.mp4"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x90:rate=25:duration=1",
            "-c:v",
            "libx264",
            p.to_str().unwrap(),
        ]);
    }
    std::fs::write(lib.join("readme.txt"), "hello\n").unwrap();
    let list = lib.join("list.txt");
    std::fs::write(&list, "a.mp4\nmissing.mp4\nreadme.txt\n").unwrap();
    let out = dir.path().join("out");
    let (o, r) = batch(&list, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(with_status(&r, "packaged"), ["a.mp4"]);
    assert_eq!(with_status(&r, "failed"), ["missing.mp4", "readme.txt"], "listed files that cannot be packaged fail");

    // Another process holds b's lock: this run skips it as busy and packages the rest.
    let lock = ssfpack::pipeline::batch::lock::try_lock(&out, "b").unwrap().expect("lock");
    let (o, r) = batch(&lib, &out, &[]);
    assert!(o.status.success(), "{r}");
    assert_eq!(with_status(&r, "busy"), ["b.mp4"]);
    assert_eq!(with_status(&r, "up_to_date"), ["a.mp4"]);
    drop(lock);
    // Staging folders left by killed runs: one on another machine sharing OUT_ROOT (for b, removed
    // once b's lock is held), one of a dead process here (for a, removed though a is skipped).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    for (dir, owner) in [
        (".b.ssfpack-remote", "node-elsewhere 4242\nb\n".to_string()),
        (".a.ssfpack-dead", format!("{host} 2147483647\na\n")),
    ] {
        std::fs::create_dir(out.join(dir)).unwrap();
        std::fs::write(out.join(dir).join(".ssfpack-staging"), owner).unwrap();
        std::fs::write(out.join(dir).join("b_100k.ismv"), b"half").unwrap();
    }
    let (_, r) = batch(&lib, &out, &[]);
    assert_eq!(with_status(&r, "packaged"), ["b.mp4"]);
    assert!(staging_folders(&out).is_empty(), "{:?}", staging_folders(&out));

    // A memory budget smaller than any job: one job at a time, and every file still packaged.
    let (o, r) = batch(&lib, &dir.path().join("tight"), &["--max-memory", "1M"]);
    assert!(o.status.success(), "{r}");
    assert_eq!((r["jobs"].as_u64(), r["memory_budget"].as_u64()), (Some(1), Some(1 << 20)));
    assert_eq!(with_status(&r, "packaged"), ["a.mp4", "b.mp4"]);

    // Usage errors: exit 2 and one line.
    let usage = |env: &[(&str, &str)], extra: &[&str], want: &str| {
        let mut c = batch_cmd(&lib, &out, extra);
        c.envs(env.iter().copied());
        let o = c.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{err}");
    };
    let sparse = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_MAX", "7"),
        ("SLURM_ARRAY_TASK_STEP", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
    ];
    usage(&sparse, &[], "sparse");
    usage(&[("JOB_COMPLETION_INDEX", "1")], &[], "--shard-count");
    let o = batch_cmd(&lib, &lib, &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "OUT_ROOT = the library: {}", String::from_utf8_lossy(&o.stderr));
    // Kubernetes with the count: accepted.
    let mut c = batch_cmd(&lib, &out, &["--shard-count", "2"]);
    let o = c.env("JOB_COMPLETION_INDEX", "1").output().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["shard"]["from"], "JOB_COMPLETION_INDEX=1");
}

/// A library of clips long enough to interrupt mid-run.
fn clips(lib: &Path, n: usize) {
    std::fs::create_dir_all(lib.join("season")).unwrap();
    for i in 0..n {
        let p = lib.join(format!("season/e{i:02}.mp4"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            p.to_str().unwrap(),
        ]);
    }
}

#[test]
fn interrupted_runs_leave_nothing_half_written_and_the_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    clips(&lib, 6);
    for (sig, code) in [("INT", Some(130)), ("TERM", Some(143)), ("KILL", None)] {
        let out = dir.path().join(format!("out-{sig}"));
        let mut child = batch_cmd(&lib, &out, &["--jobs", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until a job is in flight (its staging folder exists) and one output is published.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "SIG{sig}: no job in flight within 60 s");
            let done = presentations(&out).len();
            if !staging_folders(&out).is_empty() && done >= 1 {
                break;
            }
            assert!(child.try_wait().unwrap().is_none(), "SIG{sig}: the batch ended before it could be interrupted");
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = child.id().to_string();
        assert!(std::process::Command::new("kill").args([&format!("-{sig}"), &pid]).status().unwrap().success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), code, "SIG{sig}: {}", String::from_utf8_lossy(&o.stderr));
        if code.is_some() {
            assert!(staging_folders(&out).is_empty(), "SIG{sig} left {:?}", staging_folders(&out));
            let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert!(r["interrupted_by"].is_number() && r["totals"]["interrupted"].as_u64().unwrap() >= 1);
        }
        // Whatever was published is whole; the rest is not there at all.
        let published = presentations(&out);
        assert!(published.len() < 6, "SIG{sig} came too late to interrupt anything");
        for p in &published {
            check(&out.join(p));
            assert!(out.join(p).join(".ssfpack-batch.json").is_file());
        }
        let (o, r) = batch(&lib, &out, &[]);
        assert!(o.status.success(), "rerun after SIG{sig}: {r}");
        assert_eq!(with_status(&r, "up_to_date").len(), published.len());
        assert_eq!(with_status(&r, "packaged").len(), 6 - published.len());
        assert_eq!(presentations(&out).len(), 6);
        assert!(staging_folders(&out).is_empty(), "after the rerun: {:?}", staging_folders(&out));
        for p in presentations(&out) {
            check(&out.join(p));
        }
    }
}

#[test]
fn two_batches_on_one_out_root_never_package_an_output_twice() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    clips(&lib, 6);
    let out = dir.path().join("out");
    let spawn = || {
        batch_cmd(&lib, &out, &["--jobs", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut packaged = Vec::new();
    for child in [a, b] {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(with_status(&r, "failed").is_empty(), "{r}");
        packaged.extend(with_status(&r, "packaged"));
    }
    packaged.sort();
    let all: Vec<String> = (0..6).map(|i| format!("season/e{i:02}.mp4")).collect();
    assert_eq!(packaged, all, "each output packaged by exactly one of the two processes");
    for p in presentations(&out) {
        check(&out.join(p));
    }
}
