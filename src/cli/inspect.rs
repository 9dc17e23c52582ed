//! `ssfpack check` and `ssfpack dump`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
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
    println!(
        "{status}: {} ({} layout: {} streams, {} rungs, {} fragments checked, {} violations)",
        r.presentation.display(),
        r.layout,
        r.streams,
        r.rungs,
        r.fragments_checked,
        r.violations.len()
    );
    for v in &r.violations {
        println!("  - {}: {}", v.location, v.message);
    }
    for w in &r.warnings {
        println!("  warning: {}: {}", w.location, w.message);
    }
}

pub fn dump(args: DumpArgs) -> anyhow::Result<ExitCode> {
    let text =
        crate::format::dump::dump_file(&args.file).with_context(|| format!("cannot dump {}", args.file.display()))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
