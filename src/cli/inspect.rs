//! `ssfpack check` and `ssfpack dump`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::format::check::{check_path, Report};

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!("ssfpack check MyStaticFolder", "ssfpack check Out/Manifest --json | jq '.[0].violations'"),
    after_long_help = long_examples_help!(
        "ssfpack check MyStaticFolder",
        "ssfpack check MyStaticFolder/input.ism",
        "ssfpack check Out/Manifest --json | jq '.[0].violations'",
    )
)]
pub struct CheckArgs {
    /// A presentation folder, a `.ism` file, or a pre-split `Manifest` file.
    pub path: PathBuf,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = examples_help!("ssfpack dump Out/input_1500k.ismv --depth 2", "ssfpack dump Out/input_audio.isma --json"),
    after_long_help = long_examples_help!(
        "ssfpack dump Out/input_1500k.ismv",
        "ssfpack dump Out/input_1500k.ismv --depth 2",
        "ssfpack dump 'Out/QualityLevels(1500000)/Fragments(video=0)'",
        "ssfpack dump Out/input_audio.isma --json | jq '.boxes[].type'",
    )
)]
pub struct DumpArgs {
    /// A fragmented MP4 file (`.ismv`, `.isma`, a pre-split fragment).
    pub file: PathBuf,
    /// Print the box tree as JSON on stdout (type, offset, size, header_size, fields, entries,
    /// children of every box).
    #[arg(long)]
    pub json: bool,
    /// Show this many levels of boxes (1: the top-level boxes only).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub depth: Option<u32>,
}

/// Exit 0 when every presentation passes, 1 on any violation.
pub fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.path.exists(), "{}: no such file or folder", args.path.display());
    let reports = check_path(&args.path);
    let ok = reports.iter().all(Report::ok);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            print_report(r);
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_report(r: &Report) {
    let status = if r.ok() { "OK" } else { "FAILED" };
    let layout = match r.layout {
        "ism" => "`.ism` layout (IIS, ssfpack serve)",
        "static" => "static layout (pre-split `Manifest`, --layout static)",
        "none" => "no presentation",
        other => other,
    };
    println!(
        "{status}: {} ({layout}: {}, {}, {} checked, {})",
        r.presentation.display(),
        count(r.streams, "stream"),
        count(r.rungs, "rung"),
        count(r.fragments_checked, "fragment"),
        count(r.violations.len(), "violation"),
    );
    for v in &r.violations {
        println!("  - {}: {}", v.location, v.message);
    }
    for w in &r.warnings {
        println!("  warning: {}: {}", w.location, w.message);
    }
}

/// `1 violation`, `2 violations`, `0 violations`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn dump(args: DumpArgs) -> anyhow::Result<ExitCode> {
    use crate::format::dump;
    anyhow::ensure!(args.file.exists(), "{}: no such file", args.file.display());
    anyhow::ensure!(
        !args.file.is_dir(),
        "{}: a folder; `ssfpack dump` reads one file (`ssfpack check` validates a presentation folder)",
        args.file.display()
    );
    let mut tree = dump::read_tree(&args.file)?;
    let depth = args.depth.map(|d| d as usize);
    if args.json {
        if let Some(d) = depth {
            dump::prune(&mut tree.boxes, d);
        }
        println!("{}", serde_json::to_string_pretty(&tree)?);
    } else {
        print!("{}", dump::render(&tree.boxes, depth));
    }
    Ok(ExitCode::SUCCESS)
}
