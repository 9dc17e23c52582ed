//! What a batch tells its caller while it runs, and what it hands back: the [`BatchReport`] the
//! caller implements (the CLI draws one overall bar with the current files beneath it), the
//! per-job [`Report`] adapter that prefixes each of a job's warnings with its file, and the
//! per-file and total results (`--json`).

use std::sync::Mutex;

use serde::Serialize;

use super::shard::ShardSource;
use crate::pipeline::report::{Meter, Note, Report, Silent};

/// The receiver of a batch's progress. Called from the batch's worker threads.
pub trait BatchReport: Sync {
    /// A warning about one file (already prefixed with it) or about the batch.
    fn warn(&self, message: &str);
    /// A note about one file (already prefixed with it; see [`Note`]); by default dropped.
    fn note(&self, message: &str) {
        let _ = message;
    }
    /// The work ahead: files to package and their media duration, milliseconds (as stated by
    /// the containers; 0 when unknown).
    fn planned(&self, files: usize, media_ms: u64);
    /// A file's job started; the meter gets its position (`media`, ticks) and `done`.
    fn started(&self, file: &str, media_ms: Option<u64>) -> Box<dyn Meter>;
    /// A file is finished, whatever its status (also called for files that never start).
    fn finished(&self, file: &FileReport);
}

/// A [`BatchReport`] that reports nothing.
impl BatchReport for Silent {
    fn warn(&self, _: &str) {}
    fn planned(&self, _: usize, _: u64) {}
    fn started(&self, _: &str, _: Option<u64>) -> Box<dyn Meter> {
        Report::meter(&Silent, None, None)
    }
    fn finished(&self, _: &FileReport) {}
}

/// The [`Report`] of one file's job inside a batch: warnings become `FILE: warning`, the job's
/// overall meter becomes the file's line under the batch's bar, per-rung meters are dropped.
pub struct JobReport<'a> {
    pub file: &'a str,
    pub batch: &'a dyn BatchReport,
    pub media_ms: Option<u64>,
    pub warnings: Mutex<Vec<String>>,
}

impl Report for JobReport<'_> {
    fn warn(&self, message: &str) {
        let line = format!("{}: {message}", self.file);
        if let Ok(mut w) = self.warnings.lock() {
            w.push(line.clone());
        }
        self.batch.warn(&line);
    }

    fn note(&self, note: &Note) {
        self.batch.note(&format!("{}: {}", self.file, note.message));
    }

    fn meter(&self, label: Option<&str>, total: Option<u64>) -> Box<dyn Meter> {
        match label {
            None => self.batch.started(self.file, total.or(self.media_ms)),
            Some(_) => Report::meter(&Silent, label, total),
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Packaged by this run.
    Packaged,
    /// Its output is up to date (the record matches): skipped without decoding.
    UpToDate,
    /// Another batch process holds its output's lock: skipped.
    Busy,
    Failed,
    /// Stopped (or never started) because of SIGINT/SIGTERM; nothing of it was published.
    Interrupted,
}

/// One line of the `--json` report.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The input, relative to the library (as listed, for a list file).
    pub input: String,
    /// The output folder, when the file is media.
    pub output: Option<String>,
    pub status: Status,
    /// Wall time spent on the file by this run.
    pub seconds: f64,
    /// Media duration packaged (packaged files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Why it was packaged (`new`, `input changed`, `options changed`, `--force`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The error, on one line (failed files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Counts over the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Files in this shard (every file, media or not).
    pub files: usize,
    pub packaged: usize,
    pub up_to_date: usize,
    pub busy: usize,
    pub failed: usize,
    pub interrupted: usize,
    /// Files that are not media (text, images, subtitles…): skipped and counted.
    pub not_media: usize,
    /// Hidden files (`.name`), not looked at.
    pub hidden: usize,
    /// Files left to the other shards.
    pub other_shards: usize,
    /// Seconds of media packaged by this run.
    pub media_seconds: f64,
}

/// The whole run, for `--json` and the summary.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    pub source: String,
    pub out_root: String,
    pub shard: Option<ShardSource>,
    /// Files packaged at once.
    pub jobs: usize,
    /// Cores each job is planned for (`--threads`).
    pub threads: usize,
    /// Memory budget, bytes.
    pub memory_budget: u64,
    pub elapsed: f64,
    pub totals: Totals,
    pub files: Vec<FileReport>,
    /// The signal that stopped the run, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted_by: Option<i32>,
}
