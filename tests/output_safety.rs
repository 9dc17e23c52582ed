//! Nothing a user owns is ever lost: a table of output paths that every packaging command (the
//! encode job, `pack --copy`, `split`) must refuse with exit 2 and one line naming the paths, each
//! checked to leave the inputs and every unrelated file byte-for-byte as they were; what `--force`
//! may replace (only a folder ssfpack published); and a killed run's leftovers being finished by a
//! rerun. Each case runs the real binary in its own temporary folder.

mod package_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use package_support::{check, testdata};

const FAST: [&str; 5] = ["--ladder", "160x90@100k", "--x264-preset", "ultrafast", "-q"];

/// Every file under `dir` with its bytes (symbolic links as their target path).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if t.is_symlink() {
                out.insert(p.clone(), std::fs::read_link(&p).unwrap().to_string_lossy().as_bytes().to_vec());
            } else if t.is_dir() {
                out.insert(p.clone(), b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A case's world: `root/vdir/in.mp4` (the sample), `root/vdir/notes.txt`, `root/music.m4a`, and
/// a fake home folder holding a file of its own.
struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("vdir/sub")).unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        std::fs::copy(testdata("sample.mp4"), root.join("vdir/in.mp4")).unwrap();
        std::fs::copy(testdata("audio_only.m4a"), root.join("music.m4a")).unwrap();
        std::fs::write(root.join("vdir/notes.txt"), b"my notes, not a video\n").unwrap();
        std::fs::write(root.join("home/.profile"), b"# mine\n").unwrap();
        World { _tmp: tmp, root }
    }

    fn p(&self, rel: &str) -> String {
        self.root.join(rel).to_str().unwrap().to_string()
    }

    /// Runs ssfpack in `cwd` (relative to the root) with HOME set to the fake home.
    fn run(&self, cwd: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ssfpack"))
            .args(args)
            .current_dir(self.root.join(cwd))
            .env("HOME", self.root.join("home"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn refused_outputs_exit_2_and_touch_nothing() {
    // (case, working folder, arguments with {root} for the world's root, words the line must hold)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "output is the input",
            "",
            &["{root}/vdir/in.mp4", "-o", "{root}/vdir/in.mp4", "--force"],
            &["in.mp4", "is the input"],
        ),
        (
            "output holds the input",
            "",
            &["{root}/vdir/in.mp4", "-o", "{root}/vdir", "--force"],
            &["vdir", "contains the input", "in.mp4"],
        ),
        ("output above the input", "", &["{root}/vdir/in.mp4", "-o", "{root}", "--force"], &["contains the input"]),
        ("input via ..", "vdir", &["in.mp4", "-o", "sub/../in.mp4", "--force"], &["is the input"]),
        ("-o .", "vdir", &["{root}/music.m4a", "-o", ".", "--force"], &["-o .", "current folder"]),
        ("-o ..", "vdir/sub", &["{root}/music.m4a", "-o", "..", "--force"], &["-o ..", "above the current"]),
        ("-o /", "", &["{root}/music.m4a", "-o", "/", "--force"], &["root folder"]),
        ("-o ~", "", &["{root}/music.m4a", "-o", "{root}/home", "--force"], &["home folder"]),
        (
            "--force over a foreign folder",
            "",
            &["{root}/music.m4a", "-o", "{root}/vdir", "--force"],
            &["did not write", "in.mp4, notes.txt"],
        ),
        (
            "--force over a file",
            "",
            &["{root}/music.m4a", "-o", "{root}/vdir/notes.txt", "--force"],
            &["notes.txt", "is a file"],
        ),
        (
            "--force over user files",
            "",
            &["{root}/music.m4a", "-o", "{root}/vdir-copy", "--force"],
            &["did not write", "a.txt"],
        ),
        (
            "pack: an input inside",
            "",
            &["pack", "--copy", "{root}/music.m4a", "{root}/vdir/in.mp4", "-o", "{root}/vdir", "--force"],
            &["contains the input", "in.mp4"],
        ),
        (
            "pack: --audio inside",
            "",
            &["pack", "--copy", "{root}/vdir/in.mp4", "--audio", "{root}/music.m4a", "-o", "{root}", "--force"],
            &["contains the input"],
        ),
        (
            "pack: output is --audio",
            "",
            &[
                "pack",
                "--copy",
                "{root}/vdir/in.mp4",
                "--audio",
                "{root}/music.m4a",
                "-o",
                "{root}/music.m4a",
                "--force",
            ],
            &["is the input", "music.m4a"],
        ),
        ("split --out /", "", &["split", "{root}/vdir", "--out", "/"], &["root folder"]),
    ];
    for (case, cwd, args, words) in cases {
        let world = World::new();
        std::fs::create_dir(world.root.join("vdir-copy")).unwrap();
        std::fs::write(world.root.join("vdir-copy/a.txt"), b"keep").unwrap();
        let before = snapshot(&world.root);
        let root = world.root.to_str().unwrap().to_string();
        let args: Vec<String> = args.iter().map(|a| a.replace("{root}", &root)).collect();
        let args: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .chain(FAST.iter().copied().filter(|_| args[0] != "split" && args[0] != "pack"))
            .collect();
        let o = world.run(cwd, &args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{case}: exit code; stderr: {err}");
        assert_eq!(err.lines().count(), 1, "{case}: one line: {err}");
        assert!(err.starts_with("ssfpack: error: "), "{case}: {err}");
        for w in *words {
            assert!(err.contains(w), "{case}: {err:?} should mention {w:?}");
        }
        assert_eq!(snapshot(&world.root), before, "{case}: every file intact, nothing added");
        assert_eq!(std::fs::read_dir("/").unwrap().flatten().filter(|e| e.file_name() == "Manifest").count(), 0);
    }
}

#[test]
fn force_replaces_only_a_folder_ssfpack_published() {
    let world = World::new();
    let out = world.p("out");
    let input = world.p("vdir/in.mp4");
    let o = world.run("", &[&input, "-o", &out, "--layout", "both"].into_iter().chain(FAST).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    check(Path::new(&out));
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.root.join("out/.ssfpack-published.json")).unwrap()).unwrap();
    let listed: Vec<&str> = marker["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(listed.contains(&"in.ism") && listed.contains(&"Manifest") && listed.contains(&"in.html"), "{listed:?}");
    assert!(listed.iter().any(|f| f.starts_with("QualityLevels(")), "{listed:?}");

    // Re-packaging over it: replaced, nothing left beside it.
    let o = world.run("", &[&input, "-o", &out, "--force"].into_iter().chain(FAST).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    check(Path::new(&out));
    assert!(!world.root.join("out/Manifest").exists(), "the old pre-split files went with the old folder");
    let beside: Vec<String> = std::fs::read_dir(&world.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(beside.is_empty(), "no staging folder left: {beside:?}");

    // A file of the user's inside the published folder: refused, and the folder is untouched.
    std::fs::write(world.root.join("out/my-edit.txt"), b"mine").unwrap();
    let before = snapshot(&world.root);
    let o = world.run("", &[&input, "-o", &out, "--force"].into_iter().chain(FAST).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("my-edit.txt"), "{}", stderr(&o));
    assert_eq!(snapshot(&world.root), before);

    // pack --copy obeys the same rule.
    let o = world.run("", &["pack", "--copy", &input, "-o", &out, "--force", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(snapshot(&world.root), before);
    std::fs::remove_file(world.root.join("out/my-edit.txt")).unwrap();
    let o = world.run("", &["pack", "--copy", &input, "-o", &out, "--force", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    check(Path::new(&out));
}

#[test]
fn a_folder_published_before_the_marker_is_recognised() {
    let world = World::new();
    let out = world.root.join("old");
    let o = world
        .run("", &[&world.p("vdir/in.mp4"), "-o", out.to_str().unwrap()].into_iter().chain(FAST).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_file(out.join(".ssfpack-published.json")).unwrap();
    let o = world.run("", &[&world.p("music.m4a"), "-o", out.to_str().unwrap(), "--force", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("music.ism").exists() && !out.join("in.ism").exists());
}

#[test]
fn split_never_replaces_files_it_did_not_write() {
    let world = World::new();
    let out = world.root.join("pres");
    let o = world
        .run("", &[&world.p("vdir/in.mp4"), "-o", out.to_str().unwrap()].into_iter().chain(FAST).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let elsewhere = world.root.join("site");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("Manifest"), b"my own file called Manifest").unwrap();
    std::fs::write(elsewhere.join("in.html"), b"<html>my page</html>").unwrap();
    let before = snapshot(&elsewhere);
    let o = world.run("", &["split", out.to_str().unwrap(), "--out", elsewhere.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a Smooth Streaming client manifest"), "{}", stderr(&o));
    assert_eq!(snapshot(&elsewhere), before);
    std::fs::remove_file(elsewhere.join("Manifest")).unwrap();
    let o = world.run("", &["split", out.to_str().unwrap(), "--out", elsewhere.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(elsewhere.join("in.html")).unwrap(), b"<html>my page</html>", "the user's page is kept");
    check(&elsewhere);
    // Splitting again replaces its own files.
    let o = world.run("", &["split", out.to_str().unwrap(), "--out", elsewhere.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_killed_run_is_finished_by_the_next() {
    let world = World::new();
    let out = world.root.join("out");
    // A 20 s source so the job is surely still running when it is killed.
    let long = world.root.join("long.mp4");
    package_support::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x360:rate=25:duration=20",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        long.to_str().unwrap(),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssfpack"))
        .args([long.to_str().unwrap(), "-o", out.to_str().unwrap(), "--x264-preset", "medium", "-q"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staged = |root: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".long.ssfpack-"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while staged(&world.root).iter().all(|d| std::fs::read_dir(d).map_or(0, |r| r.count()) < 3) {
        assert!(Instant::now() < deadline, "the job never started writing");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup can run.
    child.wait().unwrap();
    assert_eq!(staged(&world.root).len(), 1, "SIGKILL leaves the staging folder");
    assert!(!out.exists(), "nothing was published");
    let o = world
        .run("", &[long.to_str().unwrap(), "-o", out.to_str().unwrap()].into_iter().chain(FAST).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    check(&out);
    assert!(staged(&world.root).is_empty(), "the rerun removed the dead run's staging folder");
}

#[test]
fn pack_copy_over_a_file_size_limit_fails_cleanly() {
    let world = World::new();
    let out = world.root.join("out");
    let script = "ulimit -f 20; exec \"$0\" pack --copy \"$1\" -o \"$2\" -q";
    let o = Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_ssfpack"), &world.p("vdir/in.mp4"), out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "exit 1, not killed by SIGXFSZ (153): {err}");
    assert!(err.contains("File too large"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(&world.root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no staging folder left: {left:?}");
}
