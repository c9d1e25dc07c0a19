//! Reading `documents.jsonl`, the prepare stage's output: one JSON object per
//! line with at least `id`, `text` and `split` (other fields are ignored, the
//! producer may add more).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Which shard a document goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub id: String,
    pub text: String,
    pub split: Split,
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

/// SHA-256 of a file's bytes, hex, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {} to hash it", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
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
