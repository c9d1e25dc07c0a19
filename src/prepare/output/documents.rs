//! `documents.jsonl`, the prepare stage's main output: one JSON object per
//! kept paper. Prepare writes every field; readers need only `id`, `text` and
//! `split`, so tokenizing a documents file from elsewhere works too.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::prepare::validate::SourceKind;

/// Which shard a document goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    Train,
    Validation,
}

/// One kept document, one line of `documents.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub categories: Option<String>,
    #[serde(default)]
    pub title: String,
    pub split: Split,
    #[serde(default)]
    pub bytes_in: u64,
    #[serde(default)]
    pub chars: u64,
    #[serde(default)]
    pub words: u64,
    #[serde(default)]
    pub encoding: String,
    /// What the paper's source was (absent in documents prepare did not write).
    #[serde(default)]
    pub source: Option<SourceKind>,
    /// Macro expansion hit its cap.
    #[serde(default)]
    pub degraded: bool,
}

/// Streams the documents of `path` in file order. A line that is not a
/// document is an error naming the file and line, never a silent skip: the
/// shards must hold exactly what prepare kept.
pub fn for_each_document(path: &Path, mut visit: impl FnMut(Document) -> Result<()>) -> Result<()> {
    let file = File::open(path).with_context(|| {
        format!("cannot open documents file {} (run the prepare stage first)", path.display())
    })?;
    let reader = BufReader::with_capacity(1 << 20, file);
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {} at line {}", path.display(), index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        visit(parse_document(&line, path, index + 1)?)?;
    }
    Ok(())
}

fn parse_document(line: &str, path: &Path, line_no: usize) -> Result<Document> {
    match serde_json::from_str::<Document>(line) {
        Ok(doc) => Ok(doc),
        Err(e) => bail!(
            "{}:{line_no}: not a document ({e}); each line must be a JSON object with \
             string fields `id` and `text` and `split` = \"train\" or \"validation\"",
            path.display()
        ),
    }
}

/// Reads all documents (tests, stats and the bench work on corpora that fit).
pub fn read_documents(path: &Path) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for_each_document(path, |d| {
        docs.push(d);
        Ok(())
    })?;
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("documents.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"text\":\"x\",\"split\":\"train\",\"extra\":1}\n{\"id\":\"b\",\"text\":\"y\",\"split\":\"test\"}\n",
        )
        .unwrap();
        let err = read_documents(&path).unwrap_err().to_string();
        assert!(err.contains("documents.jsonl:2"), "{err}");
    }
}
