//! Which part of a library this process packages: `--shard I/N`, or the index a scheduler gives
//! an array task (Slurm, Kubernetes Indexed Jobs, AWS Batch). A file belongs to shard
//! `fnv1a64(relative path) mod N`: stable across runs, machines and versions, and for every N the
//! shards are disjoint and cover the library, with no coordinator.

use crate::format::fnv1a64;
use std::fmt;

/// One shard of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Where the shard came from (`--shard`, `SLURM_ARRAY_TASK_ID`…), for the summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShardSource {
    #[serde(flatten)]
    pub shard: Shard,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0}: expected I/N with 0 <= I < N (e.g. --shard 0/4)")]
    Syntax(String),
    #[error("{name}={value}: not a number")]
    NotANumber { name: String, value: String },
    #[error(
        "this Slurm array is sparse ({0}): ssfpack batch needs evenly spaced task ids (--array=0-9 or \
         --array=1-7:2), so that each task knows its shard; use --shard I/N instead"
    )]
    SparseSlurmArray(String),
    #[error(
        "JOB_COMPLETION_INDEX={0} but the shard count is unknown (Kubernetes does not tell pods the \
         completions): pass --shard-count N or set SSFPACK_SHARD_COUNT to the Job's completions"
    )]
    MissingCount(u32),
    #[error("shard index {index} is not below the shard count {count} ({from})")]
    OutOfRange { index: u32, count: u32, from: String },
    #[error("--shard-count {flag} disagrees with {from}, which says {count}")]
    Conflict { flag: u32, count: u32, from: String },
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Syntax(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u32>().map_err(|_| bad())?, n.trim().parse::<u32>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether the file at `relative` (`/`-separated, relative to the library) is in this shard.
    pub fn contains(&self, relative: &str) -> bool {
        fnv1a64(relative.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }
}

/// The shard to package: `--shard` if given, else the scheduler's array index from `env`
/// (Slurm, then Kubernetes, then AWS Batch), else `None` (the whole library).
/// `shard_count` is `--shard-count` (or `SSFPACK_SHARD_COUNT`, read here from `env`).
pub fn resolve(
    flag: Option<Shard>,
    shard_count: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ShardSource>, ShardError> {
    if let Some(shard) = flag {
        return Ok(Some(ShardSource { shard, from: "--shard".into() }));
    }
    let number = |name: &str| -> Result<Option<u32>, ShardError> {
        match env(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| ShardError::NotANumber { name: name.to_string(), value: v }),
        }
    };
    let checked = |index: u32, count: u32, from: &str, exposed: bool| -> Result<Option<ShardSource>, ShardError> {
        if exposed {
            if let Some(flag) = shard_count.filter(|&c| c != count) {
                return Err(ShardError::Conflict { flag, count, from: from.to_string() });
            }
        }
        if count == 0 || index >= count {
            return Err(ShardError::OutOfRange { index, count, from: from.to_string() });
        }
        Ok(Some(ShardSource { shard: Shard { index, count }, from: from.to_string() }))
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let max = number("SLURM_ARRAY_TASK_MAX")?;
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let count = number("SLURM_ARRAY_TASK_COUNT")?.unwrap_or(1);
        let describe = || {
            format!(
                "SLURM_ARRAY_TASK_MIN={min} MAX={} STEP={step} COUNT={count} ID={id}",
                max.map_or("?".into(), |m| m.to_string())
            )
        };
        // Evenly spaced ids: MIN, MIN+STEP, … MAX, COUNT of them. Slurm gives a list like 1,3,7 a
        // step that does not describe it, so the ids are checked against MAX too.
        let regular = id >= min
            && (id - min) % step == 0
            && count > 0
            && max.is_none_or(|m| u64::from(min) + u64::from(count - 1) * u64::from(step) == u64::from(m));
        if !regular {
            return Err(ShardError::SparseSlurmArray(describe()));
        }
        let from = format!("SLURM_ARRAY_TASK_ID={id}");
        return checked((id - min) / step, count, &from, true);
    }
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = match shard_count {
            Some(c) => Some(c),
            None => number("SSFPACK_SHARD_COUNT")?,
        };
        let count = count.ok_or(ShardError::MissingCount(index))?;
        return checked(index, count, &format!("JOB_COMPLETION_INDEX={index}"), false);
    }
    if let Some(index) = number("AWS_BATCH_JOB_ARRAY_INDEX")? {
        let count = match number("AWS_BATCH_JOB_ARRAY_SIZE")? {
            Some(c) => c,
            None => shard_count.or(number("SSFPACK_SHARD_COUNT")?).ok_or(ShardError::MissingCount(index))?,
        };
        return checked(index, count, &format!("AWS_BATCH_JOB_ARRAY_INDEX={index}"), true);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn shard(vars: &[(&str, &str)], count: Option<u32>) -> Result<Option<Shard>, ShardError> {
        resolve(None, count, &env(vars)).map(|s| s.map(|s| s.shard))
    }

    #[test]
    fn shards_are_disjoint_and_cover_for_every_count() {
        let files: Vec<String> = (0..500).map(|i| format!("show {}/e{i:02}.mp4", i % 7)).collect();
        for count in 1..=9 {
            for f in &files {
                let owners = (0..count).filter(|&index| Shard { index, count }.contains(f)).count();
                assert_eq!(owners, 1, "{f} in {owners} of {count} shards");
            }
        }
        // Stable: the hash is a fixed function (these values must never change).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn parses_the_flag() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert!(Shard::parse("3/3").is_err() && Shard::parse("1").is_err() && Shard::parse("0/0").is_err());
        let flag = resolve(Some(Shard { index: 1, count: 2 }), None, &env(&[("SLURM_ARRAY_TASK_ID", "0")]));
        assert_eq!(flag.unwrap().unwrap().from, "--shard");
    }

    #[test]
    fn slurm_arrays_with_steps_and_sparse_ones_refused() {
        let a = |id: &str, min: &str, max: &str, step: &str, count: &str| {
            shard(
                &[
                    ("SLURM_ARRAY_TASK_ID", id),
                    ("SLURM_ARRAY_TASK_MIN", min),
                    ("SLURM_ARRAY_TASK_MAX", max),
                    ("SLURM_ARRAY_TASK_STEP", step),
                    ("SLURM_ARRAY_TASK_COUNT", count),
                ],
                None,
            )
        };
        // --array=1-4
        assert_eq!(a("1", "1", "4", "1", "4"), Ok(Some(Shard { index: 0, count: 4 })));
        assert_eq!(a("4", "1", "4", "1", "4"), Ok(Some(Shard { index: 3, count: 4 })));
        // --array=0-6:2 → 0,2,4,6
        assert_eq!(a("4", "0", "6", "2", "4"), Ok(Some(Shard { index: 2, count: 4 })));
        // --array=1,3,7
        assert!(matches!(a("3", "1", "7", "1", "3"), Err(ShardError::SparseSlurmArray(_))));
        assert!(matches!(a("3", "1", "7", "2", "3"), Err(ShardError::SparseSlurmArray(_))));
        assert!(a("3", "1", "7", "2", "3").unwrap_err().to_string().contains("--shard I/N"));
        assert!(matches!(a("x", "1", "7", "2", "3"), Err(ShardError::NotANumber { .. })));
    }

    #[test]
    fn kubernetes_and_aws_batch() {
        let k8s = [("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(shard(&k8s, None), Err(ShardError::MissingCount(2)));
        assert_eq!(shard(&k8s, Some(3)), Ok(Some(Shard { index: 2, count: 3 })));
        let with_env = [("JOB_COMPLETION_INDEX", "2"), ("SSFPACK_SHARD_COUNT", "5")];
        assert_eq!(shard(&with_env, None), Ok(Some(Shard { index: 2, count: 5 })));
        assert!(matches!(shard(&k8s, Some(2)), Err(ShardError::OutOfRange { .. })));
        let aws = [("AWS_BATCH_JOB_ARRAY_INDEX", "7"), ("AWS_BATCH_JOB_ARRAY_SIZE", "10")];
        assert_eq!(shard(&aws, None), Ok(Some(Shard { index: 7, count: 10 })));
        assert!(matches!(shard(&aws, Some(4)), Err(ShardError::Conflict { .. })));
        assert_eq!(shard(&[], None), Ok(None));
    }
}
