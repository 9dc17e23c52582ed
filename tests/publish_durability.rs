//! "Published" means on disk: the system calls of real runs, recorded with
//! `strace -f -y -e trace=fsync,fdatasync,rename,renameat,renameat2`, must show every file of the
//! presentation (media, manifests, player page, pre-split files, marker) and every folder of the
//! staged tree synced before the rename that publishes it, and the folder receiving it synced after.
//! strace is installed by scripts/setup; without it the test fails in CI and is skipped elsewhere.

mod package_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use package_support::testdata;

const FAST: [&str; 5] = ["--ladder", "160x90@100k", "--x264-preset", "ultrafast", "-q"];

/// One recorded event, in the order the kernel completed them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Synced(PathBuf),
    Renamed { from: PathBuf, to: PathBuf, flags: String },
}

fn have_strace() -> bool {
    let ok = Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "strace is missing: scripts/setup installs it");
        eprintln!("skipped: strace is not installed (scripts/setup installs it)");
    }
    ok
}

/// Runs ssfpack under strace; returns the successful syncs and renames in completion order.
fn traced(args: &[&str], cwd: &Path) -> Vec<Event> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let o = Command::new("strace")
        .args(["-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o"])
        .arg(log.path())
        .arg(env!("CARGO_BIN_EXE_ssfpack"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(o.status.success(), "ssfpack {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    parse(&std::fs::read_to_string(log.path()).unwrap())
}

/// Parses strace's output; a call split by `<unfinished ...>` counts when it completes.
fn parse(text: &str) -> Vec<Event> {
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut events = Vec::new();
    for line in text.lines() {
        let (pid, rest) = line.split_once(' ').unwrap_or(("", line));
        let rest = rest.trim_start();
        let call = if let Some(r) = rest.strip_prefix("<... ") {
            if !r.ends_with("= 0") {
                pending.remove(pid);
                continue;
            }
            match pending.remove(pid) {
                Some(c) => c,
                None => continue,
            }
        } else if rest.ends_with("<unfinished ...>") {
            pending.insert(pid.to_string(), rest.to_string());
            continue;
        } else if rest.ends_with("= 0") {
            rest.to_string()
        } else {
            continue;
        };
        if call.starts_with("fsync(") || call.starts_with("fdatasync(") {
            if let Some(path) = between(&call, '<', '>') {
                events.push(Event::Synced(PathBuf::from(path)));
            }
        } else if call.starts_with("rename") {
            let quoted: Vec<&str> = call.split('"').collect();
            if quoted.len() >= 4 {
                let flags = quoted.last().map(|s| s.to_string()).unwrap_or_default();
                events.push(Event::Renamed { from: quoted[1].into(), to: quoted[3].into(), flags });
            }
        }
    }
    events
}

fn between(s: &str, open: char, close: char) -> Option<&str> {
    let a = s.find(open)? + 1;
    let b = a + s[a..].find(close)?;
    Some(&s[a..b])
}

fn files_and_dirs(root: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut files, mut dirs) = (Vec::new(), vec![PathBuf::new()]);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).unwrap().flatten() {
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                dirs.push(r.clone());
                stack.push(r);
            } else {
                files.push(r);
            }
        }
    }
    (files, dirs)
}

/// The names whose data was synced: a file synced under a temporary name, or inside a folder,
/// and then renamed counts under its new name.
fn synced_names(events: &[Event]) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = Vec::new();
    for e in events {
        match e {
            Event::Synced(p) => names.push(p.clone()),
            // A renamed file, or a renamed folder with the files synced inside it.
            Event::Renamed { from, to, .. } => {
                let moved: Vec<PathBuf> =
                    names.iter().filter_map(|n| n.strip_prefix(from).ok()).map(|rest| to.join(rest)).collect();
                names.extend(moved);
            }
        }
    }
    names
}

/// Checks the order for a publish of `out` by the rename found in `events`.
fn assert_published_in_order(events: &[Event], out: &Path, what: &str) {
    let at = events
        .iter()
        .position(|e| matches!(e, Event::Renamed { to, .. } if to == out))
        .unwrap_or_else(|| panic!("{what}: no rename to {} in {events:#?}", out.display()));
    let Event::Renamed { from: staged, .. } = &events[at] else { unreachable!() };
    let synced_before = synced_names(&events[..at]);
    let (files, dirs) = files_and_dirs(out);
    assert!(files.len() > 5, "{what}: a whole presentation: {files:?}");
    for rel in files.iter().chain(&dirs) {
        let path = staged.join(rel);
        let path = if rel.as_os_str().is_empty() { staged.clone() } else { path };
        assert!(synced_before.contains(&path), "{what}: {} was not synced before the rename", path.display());
    }
    let parent = out.parent().unwrap().to_path_buf();
    let after = events[at + 1..].iter().any(|e| *e == Event::Synced(parent.clone()));
    assert!(after, "{what}: the parent folder {} was not synced after the rename", parent.display());
}

#[test]
fn every_file_is_synced_before_the_rename_and_the_parent_after() {
    if !have_strace() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let out = root.join("out");
    let sample = testdata("sample.mp4");
    let args = |force: bool| {
        let mut a: Vec<String> =
            [sample.to_str().unwrap(), "-o", out.to_str().unwrap(), "--layout", "both"].map(String::from).to_vec();
        a.extend(FAST.map(String::from));
        if force {
            a.push("--force".into());
        }
        a
    };
    let first: Vec<String> = args(false);
    let events = traced(&first.iter().map(String::as_str).collect::<Vec<_>>(), &root);
    assert_published_in_order(&events, &out, "encode job");
    assert!(
        events.iter().any(|e| matches!(e, Event::Renamed { flags, .. } if flags.contains("RENAME_NOREPLACE"))),
        "published with RENAME_NOREPLACE"
    );

    let again: Vec<String> = args(true);
    let events = traced(&again.iter().map(String::as_str).collect::<Vec<_>>(), &root);
    assert_published_in_order(&events, &out, "--force");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Renamed { to, flags, .. } if *to == out && flags.contains("RENAME_EXCHANGE"))),
        "--force swaps atomically"
    );

    let copy = root.join("copy");
    let events = traced(&["pack", "--copy", sample.to_str().unwrap(), "-o", copy.to_str().unwrap(), "-q"], &root);
    assert_published_in_order(&events, &copy, "pack --copy");
}

#[test]
fn split_syncs_its_files_before_publishing_the_manifest() {
    if !have_strace() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let out = root.join("pres");
    let o = package_support::ssfpack(
        &[testdata("sample.mp4").to_str().unwrap(), "-o", out.to_str().unwrap()]
            .into_iter()
            .chain(FAST)
            .collect::<Vec<_>>(),
    );
    assert!(o.status.success());
    let events = traced(&["split", out.to_str().unwrap()], &root);
    let manifest = out.join("Manifest");
    let at = events
        .iter()
        .position(|e| matches!(e, Event::Renamed { to, .. } if *to == manifest))
        .expect("Manifest is renamed into place");
    let synced: Vec<&PathBuf> =
        events[..at].iter().filter_map(|e| if let Event::Synced(p) = e { Some(p) } else { None }).collect();
    let fragments = synced.iter().filter(|p| p.to_string_lossy().contains("/Fragments(")).count();
    let on_disk: usize = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("QualityLevels("))
        .map(|e| std::fs::read_dir(e.path()).unwrap().count())
        .sum();
    assert!(
        on_disk > 0 && fragments == on_disk,
        "{fragments} fragment files synced before Manifest, {on_disk} on disk"
    );
    assert!(events[at + 1..].contains(&Event::Synced(out.clone())), "the folder is synced after the Manifest rename");
}
