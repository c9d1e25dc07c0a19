//! The embedded real corpus: licensed arXiv papers in bulk format, committed
//! under `tests/data/arxiv-real/` (see its README for sources and licences).
//!
//! The path is fixed at compile time from `CARGO_MANIFEST_DIR`, so a binary
//! run from any directory finds it as long as the checkout it was built from
//! is still there; a binary moved elsewhere gets an error that says so.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Where the real corpus lives in the source tree this binary was built from.
pub const REAL_CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/arxiv-real");

/// The OAI-format metadata of the real corpus's papers.
pub const REAL_METADATA_FILE: &str = "metadata.jsonl";

/// The embedded real corpus: its bulk tars (sorted) and its metadata file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealCorpus {
    pub dir: PathBuf,
    pub tars: Vec<PathBuf>,
    pub metadata: PathBuf,
}

impl RealCorpus {
    /// The corpus at [`REAL_CORPUS_DIR`], or an error naming the missing path.
    pub fn locate() -> Result<Self> {
        Self::at(Path::new(REAL_CORPUS_DIR))
    }

    /// The corpus in `dir`: every `arXiv_src_*.tar` and `metadata.jsonl`.
    pub fn at(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).with_context(|| {
            format!(
                "the embedded real arXiv corpus {} is absent: it is part of the source \
                 tree this binary was built from; run the binary from that checkout, or pass \
                 real sources with --src/--metadata",
                dir.display()
            )
        })?;
        let mut tars = Vec::new();
        for entry in entries {
            let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with("arXiv_src_") && name.ends_with(".tar") {
                tars.push(path);
            }
        }
        tars.sort();
        if tars.is_empty() {
            bail!("the real arXiv corpus {} holds no arXiv_src_*.tar", dir.display());
        }
        let metadata = dir.join(REAL_METADATA_FILE);
        if !metadata.is_file() {
            bail!("the real arXiv corpus {} has no {REAL_METADATA_FILE}", dir.display());
        }
        Ok(RealCorpus { dir: dir.to_path_buf(), tars, metadata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_corpus_is_found_with_its_tars_and_metadata() {
        let corpus = RealCorpus::locate().unwrap();
        assert!(corpus.tars.iter().any(|t| t.ends_with("arXiv_src_2612_001.tar")), "{:?}", corpus.tars);
        assert!(corpus.metadata.is_file());
    }

    #[test]
    fn a_missing_corpus_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("nowhere");
        let error = format!("{:#}", RealCorpus::at(&gone).unwrap_err());
        assert!(error.contains("nowhere") && error.contains("--src"), "{error}");
        let error = format!("{:#}", RealCorpus::at(dir.path()).unwrap_err());
        assert!(error.contains("no arXiv_src_"), "{error}");
    }
}
