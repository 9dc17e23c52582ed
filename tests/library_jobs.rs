//! The library as a batch runner uses it: two packaging jobs at once in one process, each with its
//! own [`Report`]. Warnings and progress go to the report passed to each job (nothing is printed
//! by the library), so the jobs' messages never mix.

mod package_support;

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

use ssfpack::pipeline::ladder::parse_ladder;
use ssfpack::pipeline::report::{Meter, Report};
use ssfpack::pipeline::{no_finish, package, PackageOptions};

/// Records every warning and counts progress items.
#[derive(Default)]
struct Recorder {
    warnings: Mutex<Vec<String>>,
    meters: Mutex<Vec<String>>,
}

struct Count;

impl Meter for Count {
    fn item(&self, _: i64) {}
    fn media(&self, _: i64) {}
    fn done(&self) {}
}

impl Report for Recorder {
    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
    fn meter(&self, label: Option<&str>, _: Option<u64>) -> Box<dyn Meter> {
        self.meters.lock().unwrap().push(label.unwrap_or("overall").to_string());
        Box::new(Count)
    }
}

fn options(input: &Path, output: &Path) -> PackageOptions {
    PackageOptions {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        name: None,
        ladder: parse_ladder("160x90@100k").unwrap(),
        fragment_duration: 2.0,
        x264_preset: "ultrafast".into(),
        audio_bitrate: 96_000,
        force: false,
        allow_truncated: true,
        threads: Some(1),
        text: Default::default(),
        streams: Default::default(),
    }
}

#[test]
fn two_jobs_in_one_process_keep_their_own_messages() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.mkv");
    package_support::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=25:duration=6",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        whole.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.mkv");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (a, b) = (Recorder::default(), Recorder::default());
    let signal = AtomicUsize::new(0);
    let (ra, rb) = std::thread::scope(|s| {
        let ja = s.spawn(|| package(&options(&cut, &dir.path().join("a")), &signal, &no_finish, &a));
        let jb = s.spawn(|| package(&options(&whole, &dir.path().join("b")), &signal, &no_finish, &b));
        (ja.join().unwrap(), jb.join().unwrap())
    });
    let (sa, sb) = (ra.expect("job a"), rb.expect("job b"));
    let wa = a.warnings.lock().unwrap().clone();
    assert_eq!(wa.len(), 1, "{wa:?}");
    assert!(wa[0].contains("cut.mkv") && wa[0].contains("truncated"), "{wa:?}");
    assert_eq!(sa.warnings, wa, "the summary lists the job's warnings");
    assert!(b.warnings.lock().unwrap().is_empty() && sb.warnings.is_empty(), "job b had none");
    for (r, name) in [(&a, "cut"), (&b, "whole")] {
        let meters = r.meters.lock().unwrap();
        assert!(meters.contains(&"overall".to_string()), "{meters:?}");
        assert!(meters.iter().filter(|m| *m != "overall").all(|m| m.starts_with(name)), "{meters:?}");
    }
}
