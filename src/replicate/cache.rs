//! The content-addressed stage cache.
//!
//! A stage's output lives in `WORK/cache/<stage>/<key>/`, where the key hashes
//! the stage name, its resolved settings, the keys of its inputs and the crate
//! version. A directory only ever appears there complete: the stage writes into
//! a temporary sibling that is renamed into place when it succeeds, so an
//! interrupted run leaves nothing that looks finished.

use std::fmt;
use std::path::{Path, PathBuf};

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
        StageCache { root: work_dir.join("cache") }
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
        let dir = self.dir(key);
        if dir.is_dir() && !force {
            return Ok(CacheOutcome { dir, reused: true });
        }
        let parent = dir.parent().expect("cache dirs have a parent");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create cache directory {}", parent.display()))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".tmp-{}-", key.hash))
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a staging directory in {}", parent.display()))?;
        produce(staging.path())?;
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        let staged = staging.keep();
        std::fs::rename(&staged, &dir)
            .with_context(|| format!("cannot move {} to {}", staged.display(), dir.display()))?;
        Ok(CacheOutcome { dir, reused: false })
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
        let leftovers = std::fs::read_dir(cache.dir(&key).parent().unwrap()).unwrap().count();
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
