//! The content-addressed stage cache.
//!
//! A stage's output lives in `WORK/cache/<stage>/<key>/`, where the key hashes
//! the stage name, its resolved settings, the keys of its inputs and the crate
//! version. A directory only ever appears there complete: the stage writes into
//! a temporary sibling that is renamed into place when it succeeds, so an
//! interrupted run leaves nothing that looks finished.
//!
//! Several processes may share one work directory (two `--all` started on
//! the same cluster node). Each key has an advisory lock file,
//! `WORK/cache/<stage>/.<key>.lock`: a process holds it shared for as long as
//! it may read the output (a lease, until the `StageCache` is dropped) and
//! exclusive while it checks for and produces the output. So a second run
//! waits for the first to finish a stage and then reuses it, and a forced
//! rerun replaces an output only once no other process holds a lease on it.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A stage output's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct StageKey {
    pub stage: String,
    pub hash: String,
}

impl StageKey {
    /// Hashes everything a stage's output depends on.
    pub fn new(stage: &str, settings: &impl Serialize, inputs: &[&StageKey]) -> Self {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(stage.as_bytes());
        field(env!("CARGO_PKG_VERSION").as_bytes());
        // The code that computed the output: a rebuilt harness recomputes.
        field(env!("REPLICATE_SOURCE_HASH").as_bytes());
        field(&serde_json::to_vec(settings).expect("stage settings serialize to JSON"));
        for input in inputs {
            field(input.stage.as_bytes());
            field(input.hash.as_bytes());
        }
        let hash = hex::encode(&hasher.finalize()[..12]);
        StageKey { stage: stage.to_string(), hash }
    }
}

impl fmt::Display for StageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stage, self.hash)
    }
}

#[derive(Debug, Clone)]
pub struct StageCache {
    root: PathBuf,
    /// Shared locks on the outputs this process produced or reused, held
    /// until the cache (the whole invocation) is dropped.
    leases: Arc<Mutex<HashMap<StageKey, File>>>,
}

/// What `StageCache::run` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOutcome {
    pub dir: PathBuf,
    /// True when an existing output was reused and the stage did not run.
    pub reused: bool,
}

impl StageCache {
    pub fn new(work_dir: &Path) -> Self {
        StageCache { root: work_dir.join("cache"), leases: Arc::default() }
    }

    pub fn dir(&self, key: &StageKey) -> PathBuf {
        self.root.join(&key.stage).join(&key.hash)
    }

    pub fn contains(&self, key: &StageKey) -> bool {
        self.dir(key).is_dir()
    }

    /// Runs `produce` into a fresh directory unless `key` is cached (or `force`).
    pub fn run(
        &self,
        key: &StageKey,
        force: bool,
        produce: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<CacheOutcome> {
        self.run_in(key, force, Staging::Fresh, produce)
    }

    /// Like [`Self::run`], but the stage works in a directory named after
    /// its key, `WORK/cache/<stage>/.work-<key>/`, kept when the process
    /// dies: a rerun hands `produce` the same directory with what the killed
    /// run left there (training's checkpoints), so it can resume.
    pub fn run_resumable(
        &self,
        key: &StageKey,
        force: bool,
        produce: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<CacheOutcome> {
        self.run_in(key, force, Staging::Keyed, produce)
    }

    /// The resumable working directory of `key` (see [`Self::run_resumable`]).
    pub fn work_dir(&self, key: &StageKey) -> PathBuf {
        self.root.join(&key.stage).join(format!(".work-{}", key.hash))
    }

    fn run_in(
        &self,
        key: &StageKey,
        force: bool,
        staging: Staging,
        produce: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<CacheOutcome> {
        let dir = self.dir(key);
        let parent = dir.parent().expect("cache dirs have a parent");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create cache directory {}", parent.display()))?;
        if self.leased(key) && !force {
            return Ok(CacheOutcome { dir, reused: true });
        }
        let lock = self.lock_file(key)?;
        if !force {
            lock.lock_shared().with_context(|| format!("cannot lock {}", self.lock_path(key).display()))?;
            if dir.is_dir() {
                self.lease(key, lock);
                return Ok(CacheOutcome { dir, reused: true });
            }
            lock.unlock().ok();
        }
        // Our own lease would make us wait for ourselves.
        self.leases.lock().expect("lease table").remove(key);
        if lock.try_lock().is_err() {
            tracing::info!(stage = %key, "waiting for another process that is producing or reading this stage");
            lock.lock().with_context(|| format!("cannot lock {}", self.lock_path(key).display()))?;
        }
        if dir.is_dir() && !force {
            // Another process produced it while we waited.
            lock.lock_shared().ok();
            self.lease(key, lock);
            return Ok(CacheOutcome { dir, reused: true });
        }
        remove_stale_staging(parent, key);
        let staged = match staging {
            Staging::Fresh => {
                let staging = tempfile::Builder::new()
                    .prefix(&format!(".tmp-{}-", key.hash))
                    .permissions(crate::io::umask_permissions(0o777))
                    .tempdir_in(parent)
                    .with_context(|| format!("cannot create a staging directory in {}", parent.display()))?;
                produce(staging.path())?;
                staging.keep()
            }
            Staging::Keyed => {
                let work = self.work_dir(key);
                if force && work.exists() {
                    std::fs::remove_dir_all(&work)
                        .with_context(|| format!("cannot clear {} for --force", work.display()))?;
                }
                std::fs::create_dir_all(&work)
                    .with_context(|| format!("cannot create {}", work.display()))?;
                produce(&work)?;
                work
            }
        };
        if dir.is_dir() {
            // Forced: no other process holds a lease (we hold the lock exclusively).
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        std::fs::rename(&staged, &dir)
            .with_context(|| format!("cannot move {} to {}", staged.display(), dir.display()))?;
        lock.lock_shared().ok();
        self.lease(key, lock);
        Ok(CacheOutcome { dir, reused: false })
    }

    fn lock_path(&self, key: &StageKey) -> PathBuf {
        self.root.join(&key.stage).join(format!(".{}.lock", key.hash))
    }

    fn lock_file(&self, key: &StageKey) -> Result<File> {
        let path = self.lock_path(key);
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))
    }

    fn leased(&self, key: &StageKey) -> bool {
        self.leases.lock().expect("lease table").contains_key(key) && self.dir(key).is_dir()
    }

    fn lease(&self, key: &StageKey, lock: File) {
        self.leases.lock().expect("lease table").insert(key.clone(), lock);
    }
}

/// Where a stage writes before its output is renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Staging {
    /// A new temporary directory; a failed or killed attempt's is discarded.
    Fresh,
    /// `.work-<key>`, kept across a kill so the next attempt resumes.
    Keyed,
}

/// Staging directories of this key left by a killed process: only the
/// holder of the key's exclusive lock calls this, so none is in use.
fn remove_stale_staging(parent: &Path, key: &StageKey) {
    let prefix = format!(".tmp-{}-", key.hash);
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            if let Err(error) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), %error, "cannot remove a stale staging directory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_stage_settings_and_inputs() {
        let input = StageKey::new("prepare", &1, &[]);
        let other_input = StageKey::new("prepare", &2, &[]);
        let base = StageKey::new("tokenizer", &"a", &[&input]);
        assert_eq!(base, StageKey::new("tokenizer", &"a", &[&input]));
        assert_ne!(base, StageKey::new("tokenizer", &"b", &[&input]));
        assert_ne!(base, StageKey::new("tokenizer", &"a", &[&other_input]));
        assert_ne!(base.hash, StageKey::new("tokenize", &"a", &[&input]).hash);
    }

    #[test]
    fn failed_stage_leaves_nothing_and_success_is_reused() {
        let work = tempfile::tempdir().unwrap();
        let cache = StageCache::new(work.path());
        let key = StageKey::new("prepare", &"x", &[]);
        let failed = cache.run(&key, false, |dir| {
            std::fs::write(dir.join("half.jsonl"), b"{")?;
            anyhow::bail!("killed halfway")
        });
        assert!(failed.is_err());
        assert!(!cache.contains(&key));
        let leftovers = std::fs::read_dir(cache.dir(&key).parent().unwrap())
            .unwrap()
            .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".lock"))
            .count();
        assert_eq!(leftovers, 0, "the staging directory must be removed");

        let made = cache.run(&key, false, |dir| Ok(std::fs::write(dir.join("out"), b"1")?)).unwrap();
        assert!(!made.reused);
        let mut ran = false;
        let again = cache.run(&key, false, |_| {
            ran = true;
            Ok(())
        });
        assert!(again.unwrap().reused);
        assert!(!ran);
        let forced = cache.run(&key, true, |dir| Ok(std::fs::write(dir.join("out"), b"2")?)).unwrap();
        assert!(!forced.reused);
        assert_eq!(std::fs::read(forced.dir.join("out")).unwrap(), b"2");
    }
}
