//! Checkpoints: one file per saved step holding everything resume needs, so
//! that the loss curve after `--resume` equals the uninterrupted one: model
//! weights, both AdamW states, the step (the schedule is a function of it),
//! the loader position (with the seed it fixes the data stream), the
//! stability counters and the throughput totals.
//!
//! Layout: magic "A2MCKPT1", then length-prefixed (u64 LE) sections: state
//! JSON, model, optimizer (decay), optimizer (no decay); then the SHA-256 of
//! all preceding bytes. The file is written with `io::write_atomic`, and the
//! checksum means a torn or corrupted file is reported, never half-loaded
//! (burn's byte recorder panics on bad input).

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::loader::LoaderPosition;
use super::metrics::SpikeDetector;

const MAGIC: &[u8; 8] = b"A2MCKPT1";
/// Checkpoints kept on disk (the newest ones); older ones are removed.
const KEEP: usize = 2;

/// The non-tensor state of a run at the end of step `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Optimizer steps completed.
    pub step: u64,
    pub tokens_seen: u64,
    pub real_tokens: u64,
    pub padding_tokens: u64,
    /// Absent in checkpoints written before truncation was counted.
    #[serde(default)]
    pub truncated_tokens: u64,
    pub bytes_read: u64,
    pub train_seconds: f64,
    pub data_wait_seconds: f64,
    pub loader: LoaderPosition,
    pub spikes: SpikeDetector,
    pub grad_norms_after_warmup: Vec<f64>,
    pub last_train_loss: f64,
    /// A fingerprint of the spec the run was started with; resume refuses a
    /// checkpoint from a different configuration.
    pub config_fingerprint: String,
}

pub struct Checkpoint {
    pub state: RunState,
    pub model: Vec<u8>,
    pub optim_decay: Vec<u8>,
    pub optim_no_decay: Vec<u8>,
}

pub fn path_for(dir: &Path, step: u64) -> PathBuf {
    dir.join(format!("step-{step:09}.ckpt"))
}

fn encode(ckpt: &Checkpoint) -> Result<Vec<u8>> {
    let state = serde_json::to_vec(&ckpt.state)?;
    let mut out = Vec::with_capacity(ckpt.model.len() + ckpt.optim_decay.len() * 2 + state.len() + 96);
    out.extend_from_slice(MAGIC);
    for section in [&state, &ckpt.model, &ckpt.optim_decay, &ckpt.optim_no_decay] {
        out.extend_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

fn decode(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
    let bad = |why: &str| {
        anyhow::anyhow!(
            "checkpoint {} is unusable ({why}): delete it to resume from an older one",
            path.display()
        )
    };
    if bytes.len() < MAGIC.len() + 32 || &bytes[..8] != MAGIC {
        return Err(bad("not a checkpoint file"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err(bad("checksum mismatch, the file is torn or corrupted"));
    }
    let mut rest = &body[8..];
    let mut sections = Vec::with_capacity(4);
    for _ in 0..4 {
        ensure!(rest.len() >= 8, bad("truncated section header"));
        let (len, tail) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().map_err(|_| bad("section length"))?) as usize;
        ensure!(tail.len() >= len, bad("truncated section"));
        let (section, tail) = tail.split_at(len);
        sections.push(section.to_vec());
        rest = tail;
    }
    let optim_no_decay = sections.pop().unwrap_or_default();
    let optim_decay = sections.pop().unwrap_or_default();
    let model = sections.pop().unwrap_or_default();
    let state: RunState = serde_json::from_slice(&sections.pop().unwrap_or_default())
        .map_err(|e| bad(&format!("state: {e}")))?;
    Ok(Checkpoint { state, model, optim_decay, optim_no_decay })
}

/// Writes the checkpoint of `ckpt.state.step` atomically and prunes older ones.
pub fn save(dir: &Path, ckpt: &Checkpoint) -> Result<PathBuf> {
    let path = path_for(dir, ckpt.state.step);
    crate::io::write_atomic(&path, &encode(ckpt)?)?;
    let mut steps = list(dir)?;
    steps.sort_unstable();
    let excess = steps.len().saturating_sub(KEEP);
    for old in &steps[..excess] {
        std::fs::remove_file(path_for(dir, *old))
            .with_context(|| format!("cannot remove old checkpoint in {}", dir.display()))?;
    }
    Ok(path)
}

/// Steps of the checkpoints present in `dir`.
pub fn list(dir: &Path) -> Result<Vec<u64>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut steps = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(step) =
            name.strip_prefix("step-").and_then(|s| s.strip_suffix(".ckpt")).and_then(|s| s.parse().ok())
        {
            steps.push(step);
        }
    }
    Ok(steps)
}

/// Removes every checkpoint in `dir`: a fresh (not resumed) run must not
/// leave an earlier run's later steps around for a future `--resume`.
pub fn clear(dir: &Path) -> Result<()> {
    for step in list(dir)? {
        let path = path_for(dir, step);
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove stale checkpoint {}", path.display()))?;
    }
    Ok(())
}

/// The newest checkpoint in `dir`, `None` when there is none.
pub fn load_latest(dir: &Path) -> Result<Option<Checkpoint>> {
    let Some(step) = list(dir)?.into_iter().max() else {
        return Ok(None);
    };
    let path = path_for(dir, step);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let ckpt = decode(&bytes, &path)?;
    if ckpt.state.step != step {
        bail!(
            "checkpoint {} says step {}: delete it to resume from an older one",
            path.display(),
            ckpt.state.step
        );
    }
    Ok(Some(ckpt))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ckpt(step: u64) -> Checkpoint {
        Checkpoint {
            state: RunState {
                step,
                tokens_seen: step * 100,
                real_tokens: step * 90,
                padding_tokens: step * 10,
                truncated_tokens: step * 3,
                bytes_read: 7,
                train_seconds: 1.5,
                data_wait_seconds: 0.25,
                loader: LoaderPosition { epoch: 1, cursor: 3 },
                spikes: SpikeDetector::new(1.5, 4),
                grad_norms_after_warmup: vec![0.5, 0.25],
                last_train_loss: 2.0,
                config_fingerprint: "abc".into(),
            },
            model: vec![1, 2, 3],
            optim_decay: vec![4; 10],
            optim_no_decay: vec![],
        }
    }

    #[test]
    fn roundtrip_keeps_every_section_and_prunes_old_files() {
        let dir = tempfile::tempdir().unwrap();
        for step in [10, 20, 30] {
            save(dir.path(), &ckpt(step)).unwrap();
        }
        let mut steps = list(dir.path()).unwrap();
        steps.sort();
        assert_eq!(steps, vec![20, 30]);
        let back = load_latest(dir.path()).unwrap().unwrap();
        assert_eq!(back.state, ckpt(30).state);
        assert_eq!(back.model, vec![1, 2, 3]);
        assert_eq!(back.optim_decay, vec![4; 10]);
        assert!(back.optim_no_decay.is_empty());
    }

    #[test]
    fn a_flipped_byte_is_reported_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = save(dir.path(), &ckpt(5)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 0xFF;
        std::fs::write(&path, bytes).unwrap();
        let err = load_latest(dir.path()).err().unwrap().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn clear_removes_every_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &ckpt(3)).unwrap();
        save(dir.path(), &ckpt(4)).unwrap();
        clear(dir.path()).unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn empty_directory_has_no_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_latest(&dir.path().join("none")).unwrap().is_none());
    }
}
