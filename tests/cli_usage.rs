//! What a new user meets first: `--help`, completions, man pages, `--version`, a mistyped
//! subcommand, and how option values are parsed and refused (exit code 2).

mod package_support;

use std::process::{Command, Output};

use package_support::{package, ssfpack, testdata};

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

const SUBCOMMANDS: [&str; 7] = ["check", "dump", "serve", "split", "pack", "completions", "man"];

#[test]
fn help_groups_the_options_and_documents_exit_codes_and_ssfpack_log() {
    let (out, _) = text(&ssfpack(&["--help"]));
    for heading in ["Input:", "Ladder and encoding:", "Output:", "Progress and reports:", "Examples:"] {
        assert!(out.lines().any(|l| l == heading), "no heading {heading:?} in --help:\n{out}");
    }
    for needle in ["Exit codes:", "SSFPACK_LOG", "NO_COLOR", "0.1 to 60", "1 to 1024"] {
        assert!(out.contains(needle), "--help lacks {needle:?}:\n{out}");
    }
    // The ladder is under its heading, not under a generic "Options:".
    let ladder = out.find("--ladder <LADDER>").unwrap();
    let heading = out.find("\nLadder and encoding:").unwrap();
    assert!(heading < ladder && out[heading..ladder].matches(":\n").count() == 1, "{out}");
    for sub in SUBCOMMANDS {
        let (long, _) = text(&ssfpack(&[sub, "--help"]));
        assert!(long.contains("Examples:\n  ssfpack "), "`{sub} --help` has no examples:\n{long}");
        assert!(long.contains("Exit codes:") && long.contains("SSFPACK_LOG"), "`{sub} --help`:\n{long}");
        if sub == "serve" {
            for range in ["0 to 31536000", "1 to 3600", "1 to 86400", "1 to 1000000"] {
                assert!(long.contains(range), "`serve --help` lacks {range}:\n{long}");
            }
        }
        let (short, _) = text(&ssfpack(&[sub, "-h"]));
        assert!(short.contains("Examples:"), "`{sub} -h` has no examples:\n{short}");
    }
}

#[test]
fn completions_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ssfpack"),
        ("fish", "complete -c ssfpack"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        let o = ssfpack(&["completions", shell]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "completions {shell}: {err}");
        assert!(out.contains(marker) && out.contains("fragment-duration") && out.contains("check"), "{shell}");
    }
    let o = ssfpack(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_pages_on_stdout_and_into_a_folder() {
    let o = ssfpack(&["man"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains(".TH ssfpack 1") && out.contains("fragment\\-duration") && out.contains("Exit codes"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let o = ssfpack(&["man", "--out", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    for page in ["ssfpack.1", "ssfpack-check.1", "ssfpack-dump.1", "ssfpack-serve.1", "ssfpack-completions.1"] {
        let roff = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(roff.starts_with(".ie") || roff.contains(".TH"), "{page}");
    }
    let check = std::fs::read_to_string(dir.path().join("ssfpack-check.1")).unwrap();
    let title = concat!(".TH ssfpack-check 1  \"ssfpack-check ", env!("CARGO_PKG_VERSION"), "\"");
    assert!(check.contains(title), "{check}");
}

#[test]
fn a_mistyped_subcommand_is_named_with_a_suggestion() {
    let o = ssfpack(&["chek", "out"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim(), "ssfpack: error: no such file `chek`; did you mean `check`?");
    let (_, err) = text(&ssfpack(&["sevre", "dir"]));
    assert!(err.contains("did you mean `serve`?"), "{err}");
    // An input file that exists is an input, whatever its name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dumb"), b"not media").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ssfpack")).current_dir(dir.path()).args(["dumb", "-o", "x"]).output();
    let (_, err) = text(&o.unwrap());
    assert!(err.contains("dumb: not a media file"), "{err}");
}

#[test]
fn version_names_the_ffmpeg_libraries_and_the_x264_build() {
    for flag in ["--version", "-vV"] {
        let o = ssfpack(&[flag]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{flag}: {err}");
        assert!(out.starts_with(&format!("ssfpack {}\n", env!("CARGO_PKG_VERSION"))), "{out}");
        for lib in ["libavutil ", "libavcodec ", "libavformat ", "libswscale ", "libswresample "] {
            let line = out.lines().find(|l| l.starts_with(lib)).unwrap_or_else(|| panic!("{flag}: no {lib}:\n{out}"));
            assert!(line[lib.len()..].split('.').count() == 3, "{line}");
        }
        assert!(out.lines().any(|l| l.starts_with("libx264 core ")), "{flag}: {out}");
    }
}

fn usage_error(args: &[&str], needles: &[&str]) {
    let input = testdata("sample.mp4");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all = vec![input.to_str().unwrap(), "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = ssfpack(&all);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err}");
    }
    assert!(!out.exists());
}

#[test]
fn bitrates_need_a_unit_everywhere() {
    usage_error(&["--ladder", "160x90@2500"], &["`2500` has no unit", "2500k"]);
    usage_error(&["--audio-bitrate", "128"], &["`128` has no unit", "128k"]);
}

#[test]
fn usage_errors_exit_2_and_say_what_is_valid() {
    usage_error(&["--fragment-duration", "0"], &["--fragment-duration", "between 0.1 and 60"]);
    usage_error(&["--fragment-duration", "abc"], &["--fragment-duration"]);
    usage_error(&["--name", "../evil"], &["not a valid presentation name", "not start with `.`", "`/`"]);
    usage_error(&["--threads", "0"], &["--threads"]);
}

fn rung_sizes(summary: &serde_json::Value) -> Vec<(u64, u64)> {
    summary["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect()
}

#[test]
fn keep_aspect_ladders_parse_as_written_and_other_aspects_fit_inside() {
    // sample.mp4 is 640x360 (16:9).
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--x264-preset", "ultrafast", "--quiet"];
    let s = package(&testdata("sample.mp4"), &dir.path().join("a"), &[&["--ladder", "-1x90@100k"][..], &fast].concat());
    assert_eq!(rung_sizes(&s), [(160, 90)]);
    let s = package(
        &testdata("sample.mp4"),
        &dir.path().join("b"),
        &[&["--ladder=-1x90@100k,96x-1@60k"][..], &fast].concat(),
    );
    assert_eq!(rung_sizes(&s), [(160, 90), (96, 54)]);
    // A square box: the picture keeps 16:9 inside it, never stretched.
    let s =
        package(&testdata("sample.mp4"), &dir.path().join("c"), &[&["--ladder", "160x160@100k"][..], &fast].concat());
    assert_eq!(rung_sizes(&s), [(160, 90)]);
    assert_eq!(s["notes"][0]["kind"], "ladder", "{s:#}");
    let note = s["notes"][0]["message"].as_str().unwrap_or_default();
    assert!(note.starts_with("--ladder 160x160@100k: encoded as 160x90"), "{s:#}");
    assert_eq!(s["warnings"], serde_json::json!([]));
}

/// Runs `cmd` under a pseudo-terminal (util-linux `script`), returning what it printed.
fn on_a_terminal(cmd: &str, envs: &[(&str, &str)]) -> String {
    let o = Command::new("script").args(["-qec", cmd, "/dev/null"]).envs(envs.iter().copied()).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn ssfpack_log_is_coloured_only_on_a_terminal_without_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.mp4");
    std::fs::write(&bad, b"hello, not media").unwrap();
    let out = dir.path().join("out");
    let args = [bad.to_str().unwrap(), "-o", out.to_str().unwrap()];
    let o = Command::new(env!("CARGO_BIN_EXE_ssfpack")).args(args).env("SSFPACK_LOG", "debug").output().unwrap();
    let (_, err) = text(&o);
    assert!(err.contains("DEBUG") && err.contains("moov atom not found"), "{err}");
    assert!(!err.contains('\x1b'), "colours in a pipe: {err:?}");
    let cmd = format!("{} {} -o {}", env!("CARGO_BIN_EXE_ssfpack"), args[0], args[2]);
    let tty = on_a_terminal(&cmd, &[("SSFPACK_LOG", "debug")]);
    assert!(tty.contains("\x1b["), "a terminal gets colours: {tty:?}");
    let tty = on_a_terminal(&cmd, &[("SSFPACK_LOG", "debug"), ("NO_COLOR", "1")]);
    assert!(tty.contains("DEBUG") && !tty.contains('\x1b'), "NO_COLOR: {tty:?}");
}

#[test]
fn the_encode_options_parse_alike_in_every_encoding_command() {
    let sample = testdata("sample.mp4");
    let s = sample.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let url = "http://127.0.0.1:9/Live.isml/Streams(a)";
    let refused = |args: &[&str], needles: &[&str]| {
        let r = ssfpack(args);
        let (_, err) = text(&r);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {err}");
        }
    };
    for cmd in [vec![s, "-o", o], vec!["batch", s, "-o", o], vec!["push", s, url]] {
        let mut bad = cmd.clone();
        bad.extend(["--fragment-duration", "0"]);
        refused(&bad, &["--fragment-duration", "between 0.1 and 60"]);
        // The documented keep-aspect form is a value, not a flag, for every command: the error
        // is about the next option.
        let mut hyphen = cmd.clone();
        hyphen.extend(["--ladder", "-1x90@100k", "--audio-bitrate", "128"]);
        refused(&hyphen, &["--audio-bitrate", "no unit"]);
    }
    assert!(!out.exists());
}
