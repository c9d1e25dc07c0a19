//! The run record: what a run did, so it can be reproduced and audited.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{Input, StageName};
use crate::spec::Spec;

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub profile: String,
    pub status: RunStatus,
    /// Unix seconds when the run started.
    pub started_at: u64,
    pub wall_s: f64,
    pub seeds: Seeds,
    /// The first run of the set with the same training configuration: this run's
    /// trainings are that run's (one configuration under several names trains once per seed).
    pub same_run_as: Option<String>,
    pub input: Input,
    pub versions: Versions,
    pub host: Host,
    pub stages: Vec<StageRecord>,
    /// The fully resolved spec the run executed.
    pub spec: Spec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Seeds {
    /// Training seeds, one training each (weight init and data order); the first is the spec's.
    pub train: Vec<u64>,
    /// Seeds the embedded corpus, when it is the input.
    pub corpus: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    pub stage: StageName,
    pub key: String,
    pub status: StageStatus,
    pub wall_s: f64,
    /// Bytes in the input stages' outputs.
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    Ran,
    /// Output taken from the stage cache.
    Reused,
    Failed,
    /// Not attempted because an earlier stage failed.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub crate_version: &'static str,
    /// Hash of src/ and Cargo.lock at build time (also part of every stage key).
    pub source_hash: &'static str,
    pub rustc: &'static str,
    /// Versions of the dependencies that decide results, from Cargo.lock.
    pub dependencies: BTreeMap<String, String>,
}

/// Dependencies whose version can change a number in a report.
const RECORDED_DEPENDENCIES: &[&str] = &[
    "burn",
    "burn-flex",
    "tokenizers",
    "whatlang",
    "plotters",
    "flate2",
    "zstd",
    "tar",
    "regex",
    "serde_norway",
    "rayon",
];

impl Versions {
    pub fn current() -> Self {
        Versions {
            crate_version: env!("CARGO_PKG_VERSION"),
            source_hash: env!("REPLICATE_SOURCE_HASH"),
            rustc: env!("REPLICATE_RUSTC_VERSION"),
            dependencies: locked_versions(include_str!("../../Cargo.lock"), RECORDED_DEPENDENCIES),
        }
    }
}

/// Reads `name = "…"` / `version = "…"` pairs out of a Cargo.lock.
fn locked_versions(lock: &str, wanted: &[&str]) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            package.lines().find_map(|l| {
                l.strip_prefix(key)?
                    .trim_start()
                    .strip_prefix('=')?
                    .trim()
                    .strip_prefix('"')?
                    .strip_suffix('"')
                    .map(str::to_string)
            })
        };
        if let (Some(name), Some(version)) = (field("name"), field("version")) {
            if wanted.contains(&name.as_str()) {
                found.insert(name, version);
            }
        }
    }
    found
}

#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub hostname: String,
    pub os: &'static str,
    pub arch: &'static str,
    pub cpus: usize,
}

impl Host {
    pub fn current() -> Self {
        let hostname = std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        Host {
            hostname,
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_locked_versions() {
        let lock = "version = 4\n\n[[package]]\nname = \"rayon\"\nversion = \"1.12.0\"\n\n[[package]]\nname = \"other\"\nversion = \"0.1.0\"\n";
        let got = locked_versions(lock, &["rayon", "burn"]);
        assert_eq!(got.len(), 1);
        assert_eq!(got["rayon"], "1.12.0");
    }

    #[test]
    fn this_build_records_its_own_lockfile() {
        let versions = Versions::current();
        assert!(versions.dependencies.contains_key("rayon"), "{:?}", versions.dependencies);
        assert!(!versions.rustc.is_empty());
    }
}
