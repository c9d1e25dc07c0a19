//! Token shards: what every training run reads.
//!
//! A shard is a 128-byte little-endian header then the tokens, each document's
//! tokens followed by the end-of-document token:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `A2MSHARD` |
//! | 8..12 | format version (1) |
//! | 12..16 | bytes per token: 2 (`u16`) or 4 (`u32`) |
//! | 16..20 | vocabulary size of the tokenizer |
//! | 20..24 | legacy wrap point (`legacy-u16` only; 0 = ids stored as they are) |
//! | 24..28 | end-of-document token id |
//! | 32..40 | token count |
//! | 40..48 | document count |
//! | 48..56 | UTF-8 bytes of the source text (for bits per byte) |
//! | 56..88 | SHA-256 of the `tokenizer.json` that wrote the shard |
//!
//! Every loader reads these through [`ShardReader`] (memory-mapped);
//! `packed-prefetch` compresses its own chunk file from them per run
//! (`train::loader::write_chunks`).

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

use super::recipes::eos_id;
use crate::io::write_json_atomic;
use crate::prepare::output::AtomicFile;
use crate::prepare::output::{for_each_document, Document, Split};
use crate::spec::tokenizer::ShardDtype;

pub const MAGIC: [u8; 8] = *b"A2MSHARD";
pub const FORMAT_VERSION: u32 = 1;
pub const HEADER_BYTES: usize = 128;
/// Ids a `u16` holds: vocabularies up to this size are stored in `u16`.
pub const U16_VOCAB_LIMIT: u32 = 65_536;
pub const TRAIN_SHARD: &str = "train.bin";
pub const VALIDATION_SHARD: &str = "validation.bin";
pub const SUMMARY_FILE: &str = "shards.json";
/// Text encoded per batch: large enough to keep every core busy, small enough
/// that memory stays flat whatever the corpus size.
const BATCH_TEXT_BYTES: usize = 8 << 20;

/// The on-disk header of a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    pub version: u32,
    pub token_bytes: u32,
    pub vocab_size: u32,
    /// `Some(limit)`: ids were stored as `id % limit` (the released uint16 bug, T06).
    pub legacy_wrap: Option<u32>,
    pub eos_id: u32,
    pub token_count: u64,
    pub document_count: u64,
    pub source_bytes: u64,
    pub tokenizer_sha256: String,
}

/// One shard file as `shards.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub split: String,
    pub file: String,
    pub tokens: u64,
    pub documents: u64,
    pub source_bytes: u64,
    /// Tokens whose id was changed by the legacy wrap.
    pub wrapped_tokens: u64,
}

/// Per-document token counts `write_shards` writes beside the shards (for the report's per-paper view).
pub const DOCUMENT_TOKENS_FILE: &str = "document_tokens.csv";

/// One row of [`DOCUMENT_TOKENS_FILE`]: a document's tokens in the shards, its end-of-document token included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentTokens {
    pub id: String,
    pub tokens: u64,
}

/// What `write_shards` wrote (also saved as `out/shards.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    pub tokenizer_sha256: String,
    pub vocab_size: u32,
    pub token_bytes: u32,
    pub legacy_wrap: Option<u32>,
    pub eos_id: u32,
    pub shards: Vec<ShardInfo>,
}

impl ShardSummary {
    pub fn tokens(&self) -> u64 {
        self.shards.iter().map(|s| s.tokens).sum()
    }

    /// Share of the train shard's tokens whose id the legacy wrap changed (T06).
    pub fn wrapped_share(&self) -> f64 {
        let train = self.shards.iter().filter(|s| s.split == "train");
        let (wrapped, tokens) = train.fold((0, 0), |(w, t), s| (w + s.wrapped_tokens, t + s.tokens));
        wrapped as f64 / tokens.max(1) as f64
    }
}

/// How ids become stored integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packing {
    pub token_bytes: u32,
    pub legacy_wrap: Option<u32>,
}

/// The storage a vocabulary gets: `u16` when it fits, else `u32`; `legacy-u16`
/// keeps `u16` whatever the vocabulary and wraps ids at `u16_limit`.
pub fn packing_for(vocab_size: u32, dtype: ShardDtype, u16_limit: u32) -> Result<Packing> {
    match dtype {
        ShardDtype::Auto => {
            Ok(Packing { token_bytes: if vocab_size <= U16_VOCAB_LIMIT { 2 } else { 4 }, legacy_wrap: None })
        }
        ShardDtype::LegacyU16 => {
            if u16_limit == 0 || u16_limit > U16_VOCAB_LIMIT {
                bail!("vocab.u16_limit must be in 1..=65536, got {u16_limit}; fix the profile");
            }
            Ok(Packing { token_bytes: 2, legacy_wrap: Some(u16_limit) })
        }
    }
}

impl Packing {
    /// Appends `ids` as stored; returns how many the legacy wrap changed.
    pub fn pack(self, ids: &[u32], buf: &mut Vec<u8>) -> u64 {
        ids.iter().map(|&id| u64::from(self.push(id, buf))).sum()
    }

    /// Appends `id` as stored; returns whether the legacy wrap changed it.
    fn push(self, id: u32, buf: &mut Vec<u8>) -> bool {
        match (self.token_bytes, self.legacy_wrap) {
            (2, Some(limit)) => {
                let stored = id % limit;
                buf.extend_from_slice(&(stored as u16).to_le_bytes());
                stored != id
            }
            (2, None) => {
                buf.extend_from_slice(&(id as u16).to_le_bytes());
                false
            }
            _ => {
                buf.extend_from_slice(&id.to_le_bytes());
                false
            }
        }
    }
}

/// Loads a saved tokenizer with its hash, or says which file is wrong.
pub fn load_tokenizer(path: &Path) -> Result<(Tokenizer, String)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!("cannot read tokenizer {} (run `replicate tokenizer train` first)", path.display())
    })?;
    let tokenizer = Tokenizer::from_bytes(&bytes)
        .map_err(|e| anyhow!("{} is not a tokenizers JSON file: {e}", path.display()))?;
    Ok((tokenizer, hex::encode(Sha256::digest(&bytes))))
}

/// Encodes texts in parallel without offsets: the one encode path of the
/// shards and of the tokenize benchmark.
pub fn encode_texts(tokenizer: &Tokenizer, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
    let encodings =
        tokenizer.encode_batch_fast(texts.to_vec(), false).map_err(|e| anyhow!("encoding failed: {e}"))?;
    Ok(encodings.into_iter().map(|e| e.get_ids().to_vec()).collect())
}

/// Tokenizes `docs` with `tokenizer` into `out/train.bin`, `out/validation.bin`
/// (by each document's `split`) and `out/shards.json`.
pub fn write_shards(
    tokenizer: &Path,
    docs: &Path,
    dtype: ShardDtype,
    u16_limit: u32,
    out: &Path,
) -> Result<ShardSummary> {
    let (tok, tokenizer_sha256) = load_tokenizer(tokenizer)?;
    let vocab_size = tok.get_vocab_size(true) as u32;
    let eos = eos_id(&tok).ok_or_else(|| {
        anyhow!(
            "{} has no end-of-document token (<|eos|> or [EOS]); retrain it with a recipe of this project",
            tokenizer.display()
        )
    })?;
    let packing = packing_for(vocab_size, dtype, u16_limit)?;
    if let Some(limit) = packing.legacy_wrap {
        if vocab_size > limit {
            tracing::warn!(
                "LEGACY-U16: {} of {} ids will be stored modulo {limit} and collide with other ids \
                 (the released uint16 bug, reproduced on purpose for T06); never use these shards otherwise",
                vocab_size - limit,
                vocab_size
            );
        }
    }
    // T06 asks what training on wrapped ids costs, so only the train shard carries the legacy
    // wrap; validation keeps the ids the tokenizer produced and measures the mismatch.
    let val_packing = packing_for(vocab_size, ShardDtype::Auto, u16_limit)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let header = |packing: Packing, tokens, docs, bytes| ShardHeader {
        version: FORMAT_VERSION,
        token_bytes: packing.token_bytes,
        vocab_size,
        legacy_wrap: packing.legacy_wrap,
        eos_id: eos,
        token_count: tokens,
        document_count: docs,
        source_bytes: bytes,
        tokenizer_sha256: tokenizer_sha256.clone(),
    };
    let mut train = ShardWriter::create(out, TRAIN_SHARD)?;
    let mut validation = ShardWriter::create(out, VALIDATION_SHARD)?;
    let mut per_document = csv::Writer::from_writer(AtomicFile::create(&out.join(DOCUMENT_TOKENS_FILE))?);
    let mut batch: Vec<Document> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut flush =
        |batch: &mut Vec<Document>, train: &mut ShardWriter, validation: &mut ShardWriter| -> Result<()> {
            let texts: Vec<&str> = batch.iter().map(|d| d.text.as_str()).collect();
            let ids = encode_texts(&tok, &texts)?;
            for (doc, ids) in batch.iter().zip(ids) {
                let (writer, packing) = match doc.split {
                    Split::Train => (&mut *train, packing),
                    Split::Validation => (&mut *validation, val_packing),
                };
                writer.push_document(&ids, eos, doc.text.len() as u64, packing)?;
                per_document
                    .serialize(DocumentTokens { id: doc.id.clone(), tokens: ids.len() as u64 + 1 })?;
            }
            batch.clear();
            Ok(())
        };
    for_each_document(docs, |doc| {
        batch_bytes += doc.text.len();
        batch.push(doc);
        if batch_bytes >= BATCH_TEXT_BYTES {
            batch_bytes = 0;
            flush(&mut batch, &mut train, &mut validation)?;
        }
        Ok(())
    })?;
    flush(&mut batch, &mut train, &mut validation)?;
    per_document
        .into_inner()
        .map_err(|e| anyhow!("cannot finish {DOCUMENT_TOKENS_FILE}: {}", e.error()))?
        .commit()?;
    let train_info = train.finish(&|t, d, b| header(packing, t, d, b), "train")?;
    let validation_info = validation.finish(&|t, d, b| header(val_packing, t, d, b), "validation")?;
    if train_info.wrapped_tokens + validation_info.wrapped_tokens > 0 {
        tracing::warn!(
            "LEGACY-U16: {} tokens were wrapped",
            train_info.wrapped_tokens + validation_info.wrapped_tokens
        );
    }
    let summary = ShardSummary {
        tokenizer_sha256,
        vocab_size,
        token_bytes: packing.token_bytes,
        legacy_wrap: packing.legacy_wrap,
        eos_id: eos,
        shards: vec![train_info, validation_info],
    };
    write_json_atomic(&out.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// One shard being written: a temporary file renamed into place when the
/// header is final, so a crash never leaves a shard with a wrong count.
struct ShardWriter {
    path: PathBuf,
    file: BufWriter<tempfile::NamedTempFile>,
    buf: Vec<u8>,
    tokens: u64,
    documents: u64,
    source_bytes: u64,
    wrapped_tokens: u64,
}

impl ShardWriter {
    fn create(dir: &Path, name: &str) -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(crate::io::umask_permissions(0o666))
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let mut file = BufWriter::with_capacity(1 << 20, tmp);
        file.write_all(&[0u8; HEADER_BYTES])?;
        Ok(Self {
            path: dir.join(name),
            file,
            buf: Vec::new(),
            tokens: 0,
            documents: 0,
            source_bytes: 0,
            wrapped_tokens: 0,
        })
    }

    fn push_document(&mut self, ids: &[u32], eos: u32, text_bytes: u64, packing: Packing) -> Result<()> {
        self.buf.clear();
        self.wrapped_tokens += packing.pack(ids, &mut self.buf) + packing.pack(&[eos], &mut self.buf);
        self.file.write_all(&self.buf).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.tokens += ids.len() as u64 + 1;
        self.documents += 1;
        self.source_bytes += text_bytes;
        Ok(())
    }

    fn finish(self, header: &impl Fn(u64, u64, u64) -> ShardHeader, split: &str) -> Result<ShardInfo> {
        let head = header(self.tokens, self.documents, self.source_bytes);
        let mut tmp = self.file.into_inner().map_err(|e| anyhow!("cannot write shard: {}", e.error()))?;
        tmp.seek(SeekFrom::Start(0))?;
        tmp.write_all(&encode_header(&head)?)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path)
            .with_context(|| format!("cannot move the finished shard onto {}", self.path.display()))?;
        Ok(ShardInfo {
            split: split.to_string(),
            file: self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            tokens: self.tokens,
            documents: self.documents,
            source_bytes: self.source_bytes,
            wrapped_tokens: self.wrapped_tokens,
        })
    }
}

pub fn encode_header(h: &ShardHeader) -> Result<[u8; HEADER_BYTES]> {
    let hash = hex::decode(&h.tokenizer_sha256)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| anyhow!("tokenizer hash `{}` is not a SHA-256", h.tokenizer_sha256))?;
    let mut b = [0u8; HEADER_BYTES];
    b[0..8].copy_from_slice(&MAGIC);
    b[8..12].copy_from_slice(&h.version.to_le_bytes());
    b[12..16].copy_from_slice(&h.token_bytes.to_le_bytes());
    b[16..20].copy_from_slice(&h.vocab_size.to_le_bytes());
    b[20..24].copy_from_slice(&h.legacy_wrap.unwrap_or(0).to_le_bytes());
    b[24..28].copy_from_slice(&h.eos_id.to_le_bytes());
    b[32..40].copy_from_slice(&h.token_count.to_le_bytes());
    b[40..48].copy_from_slice(&h.document_count.to_le_bytes());
    b[48..56].copy_from_slice(&h.source_bytes.to_le_bytes());
    b[56..88].copy_from_slice(&hash);
    Ok(b)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Parses and checks a header; `path` names the file in every error.
pub fn decode_header(b: &[u8], path: &Path) -> Result<ShardHeader> {
    let shown = path.display();
    if b.len() < HEADER_BYTES || b[0..8] != MAGIC {
        bail!("{shown} is not a token shard (no A2MSHARD header); rerun `replicate tokenize`");
    }
    let version = u32_at(b, 8);
    if version != FORMAT_VERSION {
        bail!("{shown} has shard format {version}, this build reads {FORMAT_VERSION}; rerun `replicate tokenize`");
    }
    let token_bytes = u32_at(b, 12);
    let vocab_size = u32_at(b, 16);
    let wrap = u32_at(b, 20);
    let header = ShardHeader {
        version,
        token_bytes,
        vocab_size,
        legacy_wrap: (wrap != 0).then_some(wrap),
        eos_id: u32_at(b, 24),
        token_count: u64_at(b, 32),
        document_count: u64_at(b, 40),
        source_bytes: u64_at(b, 48),
        tokenizer_sha256: hex::encode(&b[56..88]),
    };
    check_dtype_fits(&header, path)?;
    Ok(header)
}

/// A vocabulary that does not fit the stored integer is an error, unless the
/// shard says it was written with the legacy wrap on purpose (T06).
fn check_dtype_fits(h: &ShardHeader, path: &Path) -> Result<()> {
    match (h.token_bytes, h.legacy_wrap) {
        (4, None) => Ok(()),
        (2, None) if h.vocab_size <= U16_VOCAB_LIMIT => Ok(()),
        (2, None) => bail!(
            "{}: vocabulary of {} ids does not fit u16 shards (ids >= 65,536 would wrap); \
             rerun `replicate tokenize` with shard_dtype: auto",
            path.display(),
            h.vocab_size
        ),
        (2, Some(limit)) if limit <= U16_VOCAB_LIMIT => {
            if h.vocab_size > limit {
                tracing::warn!(
                    "{}: LEGACY-U16 shard, ids >= {limit} were wrapped (T06 mismatch reproduction)",
                    path.display()
                );
            }
            Ok(())
        }
        (bytes, wrap) => bail!(
            "{}: unsupported token storage ({bytes} bytes per token, wrap {wrap:?}); rerun `replicate tokenize`",
            path.display()
        ),
    }
}

/// A shard written by another tokenizer is an error: its ids mean other strings.
fn check_tokenizer(header: &ShardHeader, expected: Option<&str>, path: &Path) -> Result<()> {
    match expected {
        Some(expected) if !expected.eq_ignore_ascii_case(&header.tokenizer_sha256) => bail!(
            "{} was written by tokenizer {} but this run uses tokenizer {expected}: \
             the ids mean different things; rerun `replicate tokenize` with this run's tokenizer",
            path.display(),
            header.tokenizer_sha256
        ),
        _ => Ok(()),
    }
}

/// A shard opened for reading: memory-mapped, header checked.
pub struct ShardReader {
    header: ShardHeader,
    mmap: Mmap,
}

impl ShardReader {
    /// Opens `path`; with `expected_tokenizer_hash`, a shard written by another
    /// tokenizer is an error (the model would read ids of a different vocabulary).
    pub fn open(path: &Path, expected_tokenizer_hash: Option<&str>) -> Result<ShardReader> {
        let file = File::open(path)
            .with_context(|| format!("cannot open shard {} (run `replicate tokenize`)", path.display()))?;
        // SAFETY: shards are written once to a temporary file and renamed into
        // place; nothing writes to a shard after that, so the mapping is stable.
        let mmap =
            unsafe { Mmap::map(&file) }.with_context(|| format!("cannot memory-map {}", path.display()))?;
        let bytes = &mmap[..];
        let header = decode_header(bytes, path)?;
        let expected_len = header
            .token_count
            .checked_mul(u64::from(header.token_bytes))
            .and_then(|n| n.checked_add(HEADER_BYTES as u64));
        if expected_len != Some(bytes.len() as u64) {
            bail!(
                "{}: header says {} tokens but the file holds {} bytes (truncated?); rerun `replicate tokenize`",
                path.display(),
                header.token_count,
                bytes.len()
            );
        }
        check_tokenizer(&header, expected_tokenizer_hash, path)?;
        Ok(ShardReader { header, mmap })
    }

    pub fn header(&self) -> &ShardHeader {
        &self.header
    }

    /// Number of tokens (end-of-document tokens included).
    pub fn len(&self) -> usize {
        self.header.token_count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored ids of `range`, or `None` when it runs past the end.
    pub fn get(&self, range: Range<usize>) -> Option<Vec<u32>> {
        if range.start > range.end || range.end > self.len() {
            return None;
        }
        let width = self.header.token_bytes as usize;
        let body = &self.mmap[HEADER_BYTES + range.start * width..HEADER_BYTES + range.end * width];
        Some(unpack(body, width))
    }

    /// The stored ids of `range`. Panics when `range` runs past [`len`](Self::len),
    /// like slice indexing (a loader bug, not bad input).
    pub fn tokens(&self, range: Range<usize>) -> Vec<u32> {
        let len = self.len();
        self.get(range.clone())
            .unwrap_or_else(|| panic!("token range {range:?} outside shard of {len} tokens"))
    }
}

/// Stored little-endian integers back to ids.
fn unpack(body: &[u8], width: usize) -> Vec<u32> {
    match width {
        2 => body.chunks_exact(2).map(|c| u32::from(u16::from_le_bytes([c[0], c[1]]))).collect(),
        _ => body.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tokenizer::Recipe;
    use crate::tokenize::recipes::{recipe_tokenizer, recipe_with_merges};
    use rstest::rstest;
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    const DOCS: &str = concat!(
        r#"{"id":"a","text":"Let $\\alpha_{i}^{2}$ be 10.","split":"train","source":"x"}"#,
        "\n",
        r#"{"id":"b","text":"\\frac{a}{b} holds.","split":"validation"}"#,
        "\n",
        r#"{"id":"c","text":"x^{10} é","split":"train"}"#,
        "\n"
    );

    fn write_docs(dir: &Path) -> PathBuf {
        let path = dir.join("documents.jsonl");
        std::fs::write(&path, DOCS).unwrap();
        path
    }

    /// Shards of `DOCS` by the merge-free latex-aware tokenizer, in `dir/shards`.
    fn latex_aware_shards() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let tok = recipe_with_merges(Recipe::LatexAware, &[]).unwrap();
        let tok_path = save(&tok, dir.path());
        let docs = write_docs(dir.path());
        let out = dir.path().join("shards");
        write_shards(&tok_path, &docs, ShardDtype::Auto, 65_536, &out).unwrap();
        (dir, out)
    }

    fn save(tok: &Tokenizer, dir: &Path) -> PathBuf {
        let path = dir.join("tokenizer.json");
        std::fs::write(&path, tok.to_string(false).unwrap()).unwrap();
        path
    }

    /// The byte-level latex-aware pipeline with unused filler entries, so the
    /// vocabulary (3 special tokens included) has exactly `size` ids.
    fn tokenizer_of_size(size: u32) -> Tokenizer {
        let mut alphabet: Vec<char> = ByteLevel::alphabet().into_iter().collect();
        alphabet.sort_unstable();
        let mut symbols: Vec<String> = alphabet.into_iter().map(String::from).collect();
        let fillers = size as usize - 3 - symbols.len();
        symbols.extend((0..fillers).map(|i| format!("<unused{i}>")));
        let vocab: tokenizers::models::bpe::Vocab =
            symbols.into_iter().enumerate().map(|(i, s)| (s, i as u32)).collect();
        let model = BPE::builder().vocab_and_merges(vocab, vec![]).build().unwrap();
        let tok = recipe_tokenizer(Recipe::LatexAware, model).unwrap();
        assert_eq!(tok.get_vocab_size(true), size as usize);
        tok
    }

    fn expected_ids(tok: &Tokenizer, texts: &[&str]) -> Vec<u32> {
        let eos = eos_id(tok).unwrap();
        let mut ids = Vec::new();
        for t in texts {
            ids.extend(tok.encode(*t, false).unwrap().get_ids());
            ids.push(eos);
        }
        ids
    }

    #[rstest]
    #[case::fits_u16(65_536, 2)]
    #[case::needs_u32(65_537, 4)]
    fn dtype_follows_vocab_size_and_round_trips(#[case] vocab: u32, #[case] token_bytes: u32) {
        let dir = tempfile::tempdir().unwrap();
        let tok = tokenizer_of_size(vocab);
        let tok_path = save(&tok, dir.path());
        let docs = write_docs(dir.path());
        let out = dir.path().join("shards");
        let summary = write_shards(&tok_path, &docs, ShardDtype::Auto, 65_536, &out).unwrap();
        assert_eq!(summary.token_bytes, token_bytes);
        assert_eq!(summary.vocab_size, vocab);
        let train = ShardReader::open(&out.join(TRAIN_SHARD), Some(&summary.tokenizer_sha256)).unwrap();
        let want = expected_ids(&tok, &["Let $\\alpha_{i}^{2}$ be 10.", "x^{10} é"]);
        assert_eq!(train.tokens(0..train.len()), want);
        assert_eq!(train.header().document_count, 2);
        assert_eq!(
            train.header().source_bytes,
            ("Let $\\alpha_{i}^{2}$ be 10.".len() + "x^{10} é".len()) as u64
        );
        let expected_len = HEADER_BYTES as u64 + want.len() as u64 * u64::from(token_bytes);
        assert_eq!(std::fs::metadata(out.join(TRAIN_SHARD)).unwrap().len(), expected_len);
        let validation = ShardReader::open(&out.join(VALIDATION_SHARD), None).unwrap();
        assert_eq!(validation.tokens(0..validation.len()), expected_ids(&tok, &["\\frac{a}{b} holds."]));
    }

    #[rstest]
    #[case::at_limit(65_536, true)]
    #[case::over_limit(65_537, false)]
    fn u16_header_must_hold_the_vocabulary(#[case] vocab: u32, #[case] ok: bool) {
        let header = ShardHeader {
            version: FORMAT_VERSION,
            token_bytes: 2,
            vocab_size: vocab,
            legacy_wrap: None,
            eos_id: 1,
            token_count: 0,
            document_count: 0,
            source_bytes: 0,
            tokenizer_sha256: "ab".repeat(32),
        };
        let bytes = encode_header(&header).unwrap();
        let result = decode_header(&bytes, Path::new("train.bin"));
        assert_eq!(result.is_ok(), ok, "{result:?}");
        if let Err(e) = result {
            assert!(e.to_string().contains("does not fit u16"), "{e}");
        }
    }

    #[test]
    fn legacy_u16_wraps_ids_at_the_limit_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let tok = recipe_with_merges(Recipe::LatexAware, &[]).unwrap();
        // 256 byte symbols then <|bos|> 256, <|eos|> 257, <|pad|> 258.
        assert_eq!(eos_id(&tok), Some(257));
        let tok_path = save(&tok, dir.path());
        let docs = write_docs(dir.path());
        let out = dir.path().join("shards");
        let summary = write_shards(&tok_path, &docs, ShardDtype::LegacyU16, 257, &out).unwrap();
        assert_eq!(summary.legacy_wrap, Some(257));
        let want: Vec<u32> = expected_ids(&tok, &["Let $\\alpha_{i}^{2}$ be 10.", "x^{10} é"])
            .into_iter()
            .map(|id| id % 257)
            .collect();
        let train = ShardReader::open(&out.join(TRAIN_SHARD), None).unwrap();
        assert_eq!(train.tokens(0..train.len()), want);
        // Only the two end-of-document tokens (257) reach the limit: they become 0.
        assert_eq!(summary.shards[0].wrapped_tokens, 2);
        assert_eq!(train.header().legacy_wrap, Some(257));
        assert_eq!(summary.wrapped_share(), 2.0 / train.len() as f64);
        // Validation keeps the tokenizer's ids: the model is judged on what it should have seen.
        let val = ShardReader::open(&out.join(VALIDATION_SHARD), None).unwrap();
        assert_eq!(val.header().legacy_wrap, None);
        assert!(val.tokens(0..val.len()).contains(&257), "the end-of-document id stays 257");
    }

    #[test]
    fn legacy_u16_rejects_a_limit_u16_cannot_hold() {
        let err = packing_for(70_000, ShardDtype::LegacyU16, 70_000).unwrap_err();
        assert!(err.to_string().contains("u16_limit"), "{err}");
    }

    #[test]
    fn reader_rejects_another_tokenizer_and_damaged_files() {
        let (dir, out) = latex_aware_shards();
        let shard = out.join(TRAIN_SHARD);
        let other = "0".repeat(64);
        let err = ShardReader::open(&shard, Some(&other)).err().unwrap().to_string();
        assert!(err.contains("written by tokenizer") && err.contains("train.bin"), "{err}");

        let bytes = std::fs::read(&shard).unwrap();
        let truncated = dir.path().join("truncated.bin");
        std::fs::write(&truncated, &bytes[..bytes.len() - 1]).unwrap();
        let err = ShardReader::open(&truncated, None).err().unwrap().to_string();
        assert!(err.contains("truncated"), "{err}");

        let not_shard = dir.path().join("documents.jsonl");
        let err = ShardReader::open(&not_shard, None).err().unwrap().to_string();
        assert!(err.contains("not a token shard"), "{err}");

        let mut future = bytes.clone();
        future[8] = 9;
        let future_path = dir.path().join("future.bin");
        std::fs::write(&future_path, future).unwrap();
        let err = ShardReader::open(&future_path, None).err().unwrap().to_string();
        assert!(err.contains("shard format 9"), "{err}");
    }

    #[test]
    fn shards_are_byte_identical_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let tok = recipe_with_merges(Recipe::Gpt2Bytelevel, &[("a", "l")]).unwrap();
        let tok_path = save(&tok, dir.path());
        let docs = write_docs(dir.path());
        write_shards(&tok_path, &docs, ShardDtype::Auto, 65_536, &dir.path().join("one")).unwrap();
        write_shards(&tok_path, &docs, ShardDtype::Auto, 65_536, &dir.path().join("two")).unwrap();
        for name in [TRAIN_SHARD, VALIDATION_SHARD, SUMMARY_FILE] {
            assert_eq!(
                std::fs::read(dir.path().join("one").join(name)).unwrap(),
                std::fs::read(dir.path().join("two").join(name)).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn reader_get_refuses_ranges_past_the_end() {
        let (_dir, out) = latex_aware_shards();
        let reader = ShardReader::open(&out.join(VALIDATION_SHARD), None).unwrap();
        assert_eq!(reader.get(0..reader.len() + 1), None);
        assert_eq!(reader.get(1..reader.len()).map(|v| v.len()), Some(reader.len() - 1));
    }

    #[test]
    fn missing_inputs_and_a_tokenizer_without_eos_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let docs = write_docs(dir.path());
        let out = dir.path().join("shards");
        let missing = dir.path().join("absent.json");
        let err = write_shards(&missing, &docs, ShardDtype::Auto, 65_536, &out).unwrap_err();
        assert!(err.to_string().contains("tokenizer train"), "{err}");

        let bare = Tokenizer::new(BPE::default());
        let bare_path = save(&bare, dir.path());
        let err = write_shards(&bare_path, &docs, ShardDtype::Auto, 65_536, &out).unwrap_err();
        assert!(err.to_string().contains("no end-of-document token"), "{err}");

        let tok = recipe_with_merges(Recipe::LatexAware, &[]).unwrap();
        let tok_path = save(&tok, dir.path());
        let err = write_shards(&tok_path, &dir.path().join("none.jsonl"), ShardDtype::Auto, 65_536, &out)
            .unwrap_err();
        assert!(err.to_string().contains("prepare stage"), "{err:#}");
    }
}
