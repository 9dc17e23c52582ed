//! How many files to package at once. Two resources are planned:
//!
//! - **Cores.** Each job is planned for `--threads T` cores (default 1 in a batch: one libx264 lane
//!   per rung, see [`crate::pipeline::encoder_lanes`]), and `--jobs` defaults to `cores / T`
//!   (cores: what the process may use, `sched_getaffinity` and cgroup quotas included). T, not the
//!   job count, sets the lanes, so the output bytes are the same for every `--jobs`; with the
//!   default T = 1 they are also the same on every machine, whatever its core count.
//! - **Memory.** Each file's job is estimated from its ladder (see [`estimate`]) and a job starts
//!   only when the estimates of the running jobs plus its own fit in the budget (`--max-memory`,
//!   default: the memory available now, the cgroup's limit included, less a 10 % margin); a job
//!   always starts when none is running, so one big file is never refused.

use crate::media::probe::VideoSize;
use crate::pipeline::ladder::{self, LadderSpec};
use crate::pipeline::{encoder_lanes, lane_queue};

const MIB: u64 = 1024 * 1024;

/// Fixed cost of one job: the process share, the source's decoder and its frame threads, the
/// queues between stages, the audio encoder and the writers' buffers.
const BASE: u64 = 96 * MIB;

/// Bytes per pixel of the coded size that one libx264 instance holds, by preset (lookahead,
/// reference and lowres pictures), calibrated on bench/memory.sh's 4-rung 1080p ladder
/// (docs/benchmarks.md, table 4: ultrafast 209 MiB, veryfast 437 MiB, fast 658 MiB with one lane
/// per rung, 1033 MiB with the 1080p rung in 2 lanes).
fn per_pixel(preset: &str) -> u64 {
    match preset {
        "ultrafast" => 34,
        "superfast" => 60,
        "veryfast" => 104,
        "faster" => 140,
        "fast" => 170,
        "medium" => 200,
        "slow" => 250,
        _ => 320,
    }
}

/// What a job needs to know to estimate its memory.
#[derive(Debug, Clone)]
pub struct JobShape<'a> {
    pub ladder: &'a LadderSpec,
    pub preset: &'a str,
    pub threads: usize,
    pub fragment_duration: f64,
    /// Coded video size and sample aspect ratio; `None` for audio-only sources.
    pub video: Option<VideoSize>,
}

/// Peak memory of one job, bytes: [`BASE`] plus, per rung of the ladder the source resolves to,
/// its lanes × its pixels × the preset's bytes per pixel, plus the pictures its lanes' queue may
/// hold (1.5 bytes per pixel each, at 30 fps). A 1080p source with the `azure-1080p`-like auto
/// ladder at `fast` on 2 threads: about 1.1 GiB; the same at `ultrafast`, 1 thread: about 210 MiB.
pub fn estimate(shape: &JobShape<'_>) -> u64 {
    let Some(v) = shape.video else { return BASE };
    let rungs = ladder::resolve(shape.ladder, ladder::display_size(v.width, v.height, v.sar, 0));
    let lanes = encoder_lanes(&rungs, shape.threads.max(1));
    let per_fragment = (shape.fragment_duration.clamp(0.1, 60.0) * 30.0).ceil() as usize;
    let coder = per_pixel(shape.preset);
    rungs
        .iter()
        .zip(lanes)
        .map(|(r, l)| {
            let pixels = u64::from(r.width) * u64::from(r.height);
            l as u64 * pixels * coder + lane_queue(l, per_fragment) as u64 * pixels * 3 / 2
        })
        .sum::<u64>()
        + BASE
}

/// Cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The memory budget when `--max-memory` is not given: 90 % of what is available now (the
/// kernel's `MemAvailable`, or less if a cgroup v2 limit leaves less).
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let mut avail = kib("MemAvailable:")? * 1024;
    let cgroup = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok();
    if let (Some(max), Some(cur)) = (cgroup("memory.max"), cgroup("memory.current")) {
        if let (Ok(max), Ok(cur)) = (max.trim().parse::<u64>(), cur.trim().parse::<u64>()) {
            avail = avail.min(max.saturating_sub(cur));
        }
    }
    Some(avail / 10 * 9)
}

/// Parses `--max-memory`: bytes with an optional `K`/`M`/`G`/`T` (binary) suffix, e.g. `8G`, `512M`.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("`{text}`: unknown unit (use K, M, G or T, e.g. 8G)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let value: f64 = digits.trim().parse().map_err(|_| format!("`{text}`: not a size (e.g. 8G, 512M)"))?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("`{text}`: must be more than 0"));
    }
    Ok((value * mult as f64) as u64)
}

/// The default `--jobs`: `cores / threads`, at least 1, no more than the files to package, and
/// no more than the budget holds jobs of the largest estimate.
pub fn default_jobs(cores: usize, threads: usize, files: usize, budget: u64, largest: u64) -> usize {
    let by_cores = (cores / threads.max(1)).max(1);
    let by_memory = usize::try_from(budget / largest.max(1)).unwrap_or(usize::MAX).max(1);
    by_cores.min(by_memory).min(files.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape<'a>(ladder: &'a LadderSpec, preset: &'a str, threads: usize) -> JobShape<'a> {
        JobShape {
            ladder,
            preset,
            threads,
            fragment_duration: 2.0,
            video: Some(VideoSize { width: 1920, height: 1080, sar: None }),
        }
    }

    #[test]
    fn estimates_match_the_measured_1080p_ladders() {
        let auto = LadderSpec::Auto;
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        let fast2 = gib(estimate(&shape(&auto, "fast", 2)));
        assert!((0.9..1.4).contains(&fast2), "fast, 2 threads: {fast2:.2} GiB");
        let fast1 = gib(estimate(&shape(&auto, "fast", 1)));
        assert!((0.6..1.0).contains(&fast1), "fast, 1 thread: {fast1:.2} GiB");
        let ultra1 = estimate(&shape(&auto, "ultrafast", 1)) / MIB;
        assert!((150..400).contains(&ultra1), "ultrafast, 1 thread: {ultra1} MiB");
        let audio = JobShape { video: None, ..shape(&auto, "fast", 2) };
        assert_eq!(estimate(&audio), BASE);
    }

    #[test]
    fn jobs_follow_cores_threads_and_memory() {
        assert_eq!(default_jobs(16, 1, 100, u64::MAX, 1), 16);
        assert_eq!(default_jobs(16, 4, 100, u64::MAX, 1), 4);
        assert_eq!(default_jobs(16, 1, 3, u64::MAX, 1), 3);
        assert_eq!(default_jobs(16, 1, 100, 4 << 30, 1 << 30), 4);
        assert_eq!(default_jobs(2, 8, 100, 1, 1 << 30), 1);
        assert_eq!(parse_memory("8G"), Ok(8 << 30));
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("1000"), Ok(1000));
        assert!(parse_memory("8X").is_err() && parse_memory("0").is_err() && parse_memory("G").is_err());
    }
}
