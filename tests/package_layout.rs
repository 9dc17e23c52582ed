//! `--layout ism|static|both` and the player page, for the encode job and `pack --copy`: every
//! layout passes `ssfpack check`, and `static` holds nothing but the pre-split files and the page.

use std::path::Path;
use std::process::Command;

fn ssfpack(args: &[&str], out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_ssfpack")).args(args).arg("-o").arg(out).arg("-q").output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn check_ok(dir: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_ssfpack")).arg("check").arg(dir).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}");
    text
}

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.mp4");
const FAST: [&str; 4] = ["--ladder", "320x180@300k,160x90@100k", "--x264-preset", "ultrafast"];

#[test]
fn encode_job_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    for layout in ["ism", "static", "both"] {
        let out = tmp.path().join(layout);
        let mut args = vec![SAMPLE, "--layout", layout];
        args.extend(FAST);
        ssfpack(&args, &out);
        let files = names(&out);
        assert!(files.contains(&"sample.html".to_string()), "{layout}: {files:?}");
        let page = std::fs::read_to_string(out.join("sample.html")).unwrap();
        // The page tries the manifests the folder has: the `.ism` (then a split's `Manifest`), or the
        // pre-split `Manifest` alone.
        let manifests = if layout == "static" {
            r#""manifests":["Manifest"]"#
        } else {
            r#""manifests":["sample.ism/Manifest","Manifest"]"#
        };
        assert!(page.contains(manifests) && page.contains("dash.mss.min.js"), "{layout}: {page}");
        let report = check_ok(&out);
        assert_eq!(files.contains(&"sample.ism".to_string()), layout != "static", "{layout}: {files:?}");
        assert_eq!(files.contains(&"Manifest".to_string()), layout != "ism", "{layout}: {files:?}");
        if layout == "static" {
            assert!(files.iter().all(|f| !f.ends_with(".ismv") && !f.ends_with(".isma") && !f.ends_with(".ismc")));
            assert!(report.contains("static layout (pre-split `Manifest`"), "{report}");
        }
    }
}

#[test]
fn copy_job_writes_the_static_layout_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    ssfpack(&["pack", "--copy", SAMPLE, "--layout", "both"], &out);
    let report = check_ok(&out);
    assert!(report.contains("`.ism` layout") && report.contains("static layout (pre-split"), "{report}");
}
