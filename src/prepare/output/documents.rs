//! `documents.jsonl`, the prepare stage's main output: one JSON object per
//! kept paper. Prepare writes every field; readers need only `id`, `text` and
//! `split`, so tokenizing a documents file from elsewhere works too.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

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
    #[serde(default, deserialize_with = "provenance")]
    pub categories: Option<String>,
    #[serde(default, deserialize_with = "provenance")]
    pub title: String,
    pub split: Split,
    #[serde(default, deserialize_with = "provenance")]
    pub bytes_in: u64,
    #[serde(default, deserialize_with = "provenance")]
    pub chars: u64,
    #[serde(default, deserialize_with = "provenance")]
    pub words: u64,
    #[serde(default, deserialize_with = "provenance")]
    pub encoding: String,
    /// What the paper's source was (absent in documents prepare did not write).
    #[serde(default, deserialize_with = "provenance")]
    pub source: Option<SourceKind>,
    /// Macro expansion hit its cap.
    #[serde(default, deserialize_with = "provenance")]
    pub degraded: bool,
}

/// A provenance field as prepare writes it, else its default: readers need only `id`,
/// `text` and `split`, and a documents file from elsewhere may give these fields other
/// shapes (`"source": "arxiv"`) without being refused.
fn provenance<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(d: D) -> Result<T, D::Error> {
    Ok(T::deserialize(serde_json::Value::deserialize(d)?).unwrap_or_default())
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

    #[test]
    fn provenance_round_trips_and_foreign_shapes_read_as_defaults() {
        let doc = Document {
            id: "2401.00001".into(),
            text: "x".into(),
            categories: Some("math.AG".into()),
            title: "T".into(),
            split: Split::Validation,
            bytes_in: 10,
            chars: 1,
            words: 1,
            encoding: "utf-8".into(),
            source: Some(SourceKind::TarGz),
            degraded: true,
        };
        let line = serde_json::to_string(&doc).unwrap();
        assert_eq!(serde_json::from_str::<Document>(&line).unwrap(), doc);
        let foreign = r#"{"id":"a","text":"y","split":"train","source":"arxiv","chars":"many","title":null}"#;
        let read: Document = serde_json::from_str(foreign).unwrap();
        assert_eq!((read.source, read.chars, read.title.as_str()), (None, 0, ""));
        assert_eq!(read.split, Split::Train);
    }
}
