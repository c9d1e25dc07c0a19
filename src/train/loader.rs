//! The three loaders of the I runs (PAPER.md, "I, infrastructure"):
//!
//! - `jsonl-on-the-fly` (I01, released): documents in memory, tokenized when
//!   a batch is drawn, each padded or truncated to the context (no packing).
//! - `packed-mmap` (I02): a packed token stream (the shard reader behind
//!   [`TokenStore`]), cut into contiguous windows.
//! - `packed-prefetch` (I03): the same windows stored as zstd frames in a
//!   chunk file the run writes from the packed stream ([`write_chunks`]),
//!   decoded on a background thread into a bounded queue.
//!
//! Every loader yields the same [`Batch`] shape and counts what the I runs
//! compare: padding tokens and bytes read (data-wait time is measured by the
//! training loop around `next_batch`).
//!
//! Order: an epoch visits every item (window or document) once. With
//! `order: shuffled` each epoch is a seeded permutation; with `curriculum`
//! (D02) the caller's order *is* the curriculum, so nothing is shuffled and
//! no stage boundary can be crossed. `packed-prefetch` shuffles whole chunks
//! (the order in which frames are decoded), keeping windows inside a chunk in
//! stream order; that is the usual trade of a streaming loader.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// A packed stream of token ids: what the tokenization stage's shards hold.
pub trait TokenStore: Send + Sync {
    /// Number of tokens.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies tokens `start .. start + out.len()` into `out`.
    fn read(&self, start: usize, out: &mut [u32]);
    /// Bytes the stream occupies where it is stored (shard files on disk).
    fn source_bytes(&self) -> u64;
}

/// An in-memory [`TokenStore`] (tests, and small corpora).
#[derive(Debug, Clone)]
pub struct VecStore {
    tokens: Vec<u32>,
    bytes_per_id: u64,
}

impl VecStore {
    /// `bytes_per_id` is the on-disk width the stream stands for (2 for
    /// uint16 shards, 4 for uint32).
    pub fn new(tokens: Vec<u32>, bytes_per_id: u64) -> Self {
        Self { tokens, bytes_per_id }
    }
}

impl TokenStore for VecStore {
    fn len(&self) -> usize {
        self.tokens.len()
    }
    fn read(&self, start: usize, out: &mut [u32]) {
        out.copy_from_slice(&self.tokens[start..start + out.len()]);
    }
    fn source_bytes(&self) -> u64 {
        self.tokens.len() as u64 * self.bytes_per_id
    }
}

/// Turns a document into token ids (the run's tokenizer).
pub type Encode = Arc<dyn Fn(&str) -> Vec<u32> + Send + Sync>;

/// Where a split's tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// A packed token stream (`packed-mmap`; `packed-prefetch` compresses it
    /// into the run directory first).
    Packed(Arc<dyn TokenStore>),
    /// Raw documents, tokenized per batch (`jsonl-on-the-fly`).
    Documents { docs: Arc<Vec<String>>, encode: Encode },
}

/// One micro-batch: `rows × context` inputs and next-token targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub context: usize,
    pub inputs: Vec<i64>,
    pub targets: Vec<i64>,
    /// 1 where the target is a real token, 0 where it is padding.
    pub weights: Vec<f32>,
    pub padding_tokens: u64,
    /// Tokens of this batch's documents cut off at the context length (the
    /// released loader's other waste; packed loaders cut nothing).
    pub truncated_tokens: u64,
    pub bytes_read: u64,
}

impl Batch {
    fn new(rows: usize, context: usize) -> Self {
        Self {
            rows,
            context,
            inputs: Vec::with_capacity(rows * context),
            targets: Vec::with_capacity(rows * context),
            weights: Vec::with_capacity(rows * context),
            padding_tokens: 0,
            truncated_tokens: 0,
            bytes_read: 0,
        }
    }

    /// Appends one row from `window`: up to `context + 1` tokens; shorter
    /// windows are padded with `pad` and their missing targets weigh 0.
    fn push_row(&mut self, window: &[u32], pad: u32) {
        let t = self.context;
        for i in 0..t {
            let input = window.get(i).copied().unwrap_or(pad);
            let target = window.get(i + 1).copied();
            self.inputs.push(input as i64);
            self.targets.push(target.unwrap_or(pad) as i64);
            self.weights.push(if target.is_some() { 1.0 } else { 0.0 });
            if target.is_none() {
                self.padding_tokens += 1;
            }
        }
    }

    pub fn positions(&self) -> u64 {
        (self.rows * self.context) as u64
    }
}

/// Where a loader stands: the epoch and the next item of that epoch's order.
/// Together with the seed this fixes every later batch, so it is all a
/// checkpoint needs to resume the data stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderPosition {
    pub epoch: u64,
    pub cursor: u64,
}

impl LoaderPosition {
    fn advance(&mut self, items_per_epoch: u64) {
        self.cursor += 1;
        if self.cursor >= items_per_epoch {
            self.epoch += 1;
            self.cursor = 0;
        }
    }
}

pub trait BatchLoader: Send {
    fn next_batch(&mut self) -> Result<Batch>;
    fn position(&self) -> LoaderPosition;
}

/// The order in which epoch `epoch` visits `n` items.
pub fn epoch_order(n: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    if shuffle {
        let mut rng = SplitMix64::new(seed ^ epoch.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
    order
}

/// Items of the first `fraction` of a split (D01 trains on a fraction of the
/// corpus with the same token budget, so it repeats epochs). At least one.
pub fn fraction_of(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).floor() as usize).clamp(1.min(n), n)
}

/// What every loader needs besides its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoaderSetup {
    pub context: usize,
    pub rows: usize,
    pub seed: u64,
    pub shuffle: bool,
    pub fraction: f64,
    pub pad_id: u32,
    pub eos_id: u32,
    pub start: LoaderPosition,
}

/// Non-overlapping windows of `context + 1` tokens (stride `context`) in the
/// first `tokens` tokens of a stream.
fn windows_in(tokens: usize, context: usize) -> usize {
    tokens.saturating_sub(1) / context
}

/// `packed-mmap`: contiguous windows read straight from the token store.
pub struct PackedLoader {
    store: Arc<dyn TokenStore>,
    setup: LoaderSetup,
    windows: usize,
    order: Vec<u32>,
    position: LoaderPosition,
    window: Vec<u32>,
}

impl PackedLoader {
    pub fn new(store: Arc<dyn TokenStore>, setup: LoaderSetup) -> Result<Self> {
        let usable = fraction_of(store.len(), setup.fraction);
        let windows = windows_in(usable, setup.context);
        ensure!(
            windows > 0,
            "the token stream has {} tokens ({} after train.data.fraction {}), fewer than one \
             window of context {} + 1: tokenize more documents or lower the context",
            store.len(),
            usable,
            setup.fraction,
            setup.context
        );
        let start = setup.start;
        Ok(Self {
            order: epoch_order(windows, setup.seed, start.epoch, setup.shuffle),
            window: vec![0; setup.context + 1],
            store,
            setup,
            windows,
            position: start,
        })
    }
}

impl BatchLoader for PackedLoader {
    fn next_batch(&mut self) -> Result<Batch> {
        let t = self.setup.context;
        let mut batch = Batch::new(self.setup.rows, t);
        let bytes_per_token = self.store.source_bytes() as f64 / self.store.len().max(1) as f64;
        for _ in 0..self.setup.rows {
            let w = self.order[self.position.cursor as usize] as usize;
            self.store.read(w * t, &mut self.window);
            batch.push_row(&self.window, self.setup.pad_id);
            batch.bytes_read += ((t + 1) as f64 * bytes_per_token).round() as u64;
            let epoch = self.position.epoch;
            self.position.advance(self.windows as u64);
            if self.position.epoch != epoch {
                self.order =
                    epoch_order(self.windows, self.setup.seed, self.position.epoch, self.setup.shuffle);
            }
        }
        Ok(batch)
    }

    fn position(&self) -> LoaderPosition {
        self.position
    }
}

/// `jsonl-on-the-fly`: the released loader. Each row is one document,
/// tokenized now, followed by EOS, truncated to `context + 1` tokens or
/// padded; no packing, so short documents cost padding and long ones lose
/// everything past the context (the two wastes I01 shows).
pub struct DocumentLoader {
    docs: Arc<Vec<String>>,
    encode: Encode,
    setup: LoaderSetup,
    used: usize,
    order: Vec<u32>,
    position: LoaderPosition,
}

impl DocumentLoader {
    pub fn new(docs: Arc<Vec<String>>, encode: Encode, setup: LoaderSetup) -> Result<Self> {
        ensure!(!docs.is_empty(), "no documents to train on: the prepared corpus of this run is empty");
        let used = fraction_of(docs.len(), setup.fraction);
        Ok(Self {
            order: epoch_order(used, setup.seed, setup.start.epoch, setup.shuffle),
            position: setup.start,
            docs,
            encode,
            setup,
            used,
        })
    }
}

impl BatchLoader for DocumentLoader {
    fn next_batch(&mut self) -> Result<Batch> {
        let mut batch = Batch::new(self.setup.rows, self.setup.context);
        for _ in 0..self.setup.rows {
            let doc = &self.docs[self.order[self.position.cursor as usize] as usize];
            let mut ids = (self.encode)(doc);
            ids.push(self.setup.eos_id);
            batch.truncated_tokens += ids.len().saturating_sub(self.setup.context + 1) as u64;
            ids.truncate(self.setup.context + 1);
            batch.push_row(&ids, self.setup.pad_id);
            batch.bytes_read += doc.len() as u64;
            let epoch = self.position.epoch;
            self.position.advance(self.used as u64);
            if self.position.epoch != epoch {
                self.order = epoch_order(self.used, self.setup.seed, self.position.epoch, self.setup.shuffle);
            }
        }
        Ok(batch)
    }

    fn position(&self) -> LoaderPosition {
        self.position
    }
}

// ---------------------------------------------------------------------------
// Chunk files for packed-prefetch.
//
// Layout (little endian): magic "A2MCHNK1", context u32, windows_per_chunk
// u32, windows u64, chunks u64, source_bytes u64, then `chunks` index entries
// (offset u64, length u64), then the zstd frames. Chunk c holds the tokens of
// windows c·W .. c·W + W (W·context + 1 tokens as u32, the last one shared
// with the next chunk) so that every chunk decodes on its own.

const CHUNK_MAGIC: &[u8; 8] = b"A2MCHNK1";
const CHUNK_HEADER: u64 = 8 + 4 + 4 + 8 + 8 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub context: u32,
    pub windows_per_chunk: u32,
    pub windows: u64,
    pub chunks: u64,
    pub source_bytes: u64,
}

/// Compresses the first `tokens` tokens of `store` into a chunk file at
/// `path` (atomically). Returns the header written.
pub fn write_chunks(
    store: &dyn TokenStore,
    tokens: usize,
    context: usize,
    windows_per_chunk: usize,
    path: &Path,
) -> Result<ChunkHeader> {
    let windows = windows_in(tokens.min(store.len()), context);
    ensure!(windows > 0, "too few tokens for one window of context {context}");
    let chunks = windows.div_ceil(windows_per_chunk);
    let mut frames = Vec::with_capacity(chunks);
    for c in 0..chunks {
        let first = c * windows_per_chunk;
        let n = windows_per_chunk.min(windows - first);
        let mut ids = vec![0u32; n * context + 1];
        store.read(first * context, &mut ids);
        let raw: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
        frames.push(zstd::bulk::compress(&raw, 3).context("zstd compression failed")?);
    }
    let header = ChunkHeader {
        context: context as u32,
        windows_per_chunk: windows_per_chunk as u32,
        windows: windows as u64,
        chunks: chunks as u64,
        source_bytes: store.source_bytes(),
    };
    let mut out = Vec::new();
    out.extend_from_slice(CHUNK_MAGIC);
    out.extend_from_slice(&header.context.to_le_bytes());
    out.extend_from_slice(&header.windows_per_chunk.to_le_bytes());
    for v in [header.windows, header.chunks, header.source_bytes] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut offset = CHUNK_HEADER + 16 * chunks as u64;
    for f in &frames {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(f.len() as u64).to_le_bytes());
        offset += f.len() as u64;
    }
    for f in &frames {
        out.write_all(f)?;
    }
    crate::io::write_atomic(path, &out)?;
    Ok(header)
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Reads the header and frame index of a chunk file.
pub fn read_chunk_index(path: &Path) -> Result<(ChunkHeader, Vec<(u64, u64)>)> {
    let what = || format!("chunk file {} (rewrite it from the token shards)", path.display());
    let mut r = BufReader::new(File::open(path).with_context(what)?);
    let mut magic = [0; 8];
    r.read_exact(&mut magic).with_context(what)?;
    if &magic != CHUNK_MAGIC {
        bail!("{} is not a chunk file: bad magic", what());
    }
    let header = ChunkHeader {
        context: read_u32(&mut r).with_context(what)?,
        windows_per_chunk: read_u32(&mut r).with_context(what)?,
        windows: read_u64(&mut r).with_context(what)?,
        chunks: read_u64(&mut r).with_context(what)?,
        source_bytes: read_u64(&mut r).with_context(what)?,
    };
    ensure!(
        header.windows_per_chunk > 0
            && header.chunks == header.windows.div_ceil(header.windows_per_chunk as u64),
        "{}: inconsistent header {header:?}",
        what()
    );
    let mut index = Vec::with_capacity(header.chunks as usize);
    for _ in 0..header.chunks {
        index.push((read_u64(&mut r).with_context(what)?, read_u64(&mut r).with_context(what)?));
    }
    Ok((header, index))
}

/// A decoded window and the compressed bytes it accounts for.
type Window = Result<(Vec<u32>, u64)>;

/// `packed-prefetch`: a background thread decodes chunks in epoch order and
/// pushes windows into a bounded queue of `depth` batches.
pub struct PrefetchLoader {
    setup: LoaderSetup,
    windows: u64,
    queue: Option<Receiver<Window>>,
    worker: Option<JoinHandle<()>>,
    position: LoaderPosition,
}

impl PrefetchLoader {
    pub fn new(path: &Path, setup: LoaderSetup, depth: usize) -> Result<Self> {
        let (header, index) = read_chunk_index(path)?;
        ensure!(
            header.context as usize == setup.context,
            "chunk file {} was written for context {}, this run trains at {}: delete it to rewrite",
            path.display(),
            header.context,
            setup.context
        );
        let (tx, rx) = std::sync::mpsc::sync_channel(depth.max(1) * setup.rows);
        let path = path.to_path_buf();
        let worker = std::thread::Builder::new()
            .name("prefetch".into())
            .spawn(move || decode_forever(&path, header, &index, setup, &tx))
            .context("cannot start the prefetch thread")?;
        Ok(Self {
            windows: header.windows,
            setup,
            queue: Some(rx),
            worker: Some(worker),
            position: setup.start,
        })
    }
}

/// The prefetch thread: epoch after epoch, decode chunks in the epoch's
/// chunk order and send their windows, starting at `setup.start`. Ends when
/// the loader drops its receiver.
fn decode_forever(
    path: &Path,
    header: ChunkHeader,
    index: &[(u64, u64)],
    setup: LoaderSetup,
    tx: &SyncSender<Window>,
) {
    let send_err = |e: anyhow::Error| {
        let _ = tx.send(Err(e));
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return send_err(anyhow::Error::new(e).context(format!("cannot open {}", path.display()))),
    };
    let t = setup.context;
    let w = header.windows_per_chunk as u64;
    let mut epoch = setup.start.epoch;
    let mut skip = setup.start.cursor;
    loop {
        for &c in &epoch_order(header.chunks as usize, setup.seed, epoch, setup.shuffle) {
            let c = c as u64;
            let n = w.min(header.windows - c * w);
            if skip >= n {
                skip -= n;
                continue;
            }
            let (offset, len) = index[c as usize];
            let mut frame = vec![0u8; len as usize];
            let read = file.seek(SeekFrom::Start(offset)).and_then(|_| file.read_exact(&mut frame));
            if let Err(e) = read {
                return send_err(
                    anyhow::Error::new(e).context(format!("cannot read chunk {c} of {}", path.display())),
                );
            }
            let raw = match zstd::bulk::decompress(&frame, (n as usize * t + 1) * 4) {
                Ok(raw) if raw.len() == (n as usize * t + 1) * 4 => raw,
                _ => {
                    return send_err(anyhow::anyhow!(
                        "chunk {c} of {} is corrupt: rewrite the chunk file",
                        path.display()
                    ))
                }
            };
            let ids: Vec<u32> =
                raw.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            for i in skip..n {
                let start = i as usize * t;
                let window = ids[start..start + t + 1].to_vec();
                if tx.send(Ok((window, len / n))).is_err() {
                    return;
                }
            }
            skip = 0;
        }
        epoch += 1;
    }
}

impl BatchLoader for PrefetchLoader {
    fn next_batch(&mut self) -> Result<Batch> {
        let mut batch = Batch::new(self.setup.rows, self.setup.context);
        let queue = self.queue.as_ref().context("the prefetch loader is closed")?;
        for _ in 0..self.setup.rows {
            let (window, bytes) = queue.recv().context("the prefetch thread stopped unexpectedly")??;
            batch.push_row(&window, self.setup.pad_id);
            batch.bytes_read += bytes;
            self.position.advance(self.windows);
        }
        Ok(batch)
    }

    fn position(&self) -> LoaderPosition {
        self.position
    }
}

impl Drop for PrefetchLoader {
    fn drop(&mut self) {
        // Dropping the receiver makes the worker's next send fail, so it ends.
        self.queue.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn setup(rows: usize, shuffle: bool) -> LoaderSetup {
        LoaderSetup {
            context: 4,
            rows,
            seed: 7,
            shuffle,
            fraction: 1.0,
            pad_id: 0,
            eos_id: 1,
            start: LoaderPosition::default(),
        }
    }

    fn counting_store(n: u32) -> Arc<dyn TokenStore> {
        Arc::new(VecStore::new((100..100 + n).collect(), 2))
    }

    #[test]
    fn packed_windows_are_contiguous_next_token_pairs_without_padding() {
        // 21 tokens → 5 windows of 4 inputs + 1 target.
        let mut loader = PackedLoader::new(counting_store(21), setup(5, false)).unwrap();
        let batch = loader.next_batch().unwrap();
        assert_eq!(&batch.inputs[..4], &[100, 101, 102, 103]);
        assert_eq!(&batch.targets[..4], &[101, 102, 103, 104]);
        assert_eq!(&batch.inputs[16..], &[116, 117, 118, 119]);
        assert_eq!(batch.padding_tokens, 0);
        assert_eq!(batch.bytes_read, 5 * 5 * 2);
        assert_eq!(loader.position(), LoaderPosition { epoch: 1, cursor: 0 });
    }

    #[test]
    fn shuffled_epochs_visit_every_window_once_and_differ() {
        let mut loader = PackedLoader::new(counting_store(41), setup(10, true)).unwrap();
        let first = loader.next_batch().unwrap();
        let second = loader.next_batch().unwrap();
        let starts = |b: &Batch| -> Vec<i64> { b.inputs.chunks(4).map(|r| r[0]).collect() };
        let (mut a, mut b) = (starts(&first), starts(&second));
        assert_ne!(a, b, "two epochs should not share an order");
        a.sort();
        b.sort();
        let all: Vec<i64> = (0..10).map(|w| 100 + 4 * w).collect();
        assert_eq!(a, all);
        assert_eq!(b, all);
    }

    #[test]
    fn resuming_from_a_position_continues_the_same_stream() {
        let mut straight = PackedLoader::new(counting_store(41), setup(3, true)).unwrap();
        let mut batches = Vec::new();
        for _ in 0..7 {
            batches.push(straight.next_batch().unwrap());
        }
        let mut s = setup(3, true);
        let mut first = PackedLoader::new(counting_store(41), s).unwrap();
        for _ in 0..4 {
            first.next_batch().unwrap();
        }
        s.start = first.position();
        let mut resumed = PackedLoader::new(counting_store(41), s).unwrap();
        for b in &batches[4..] {
            assert_eq!(&resumed.next_batch().unwrap(), b);
        }
    }

    #[rstest]
    #[case(1.0, 10)]
    #[case(0.5, 5)]
    #[case(0.1, 1)]
    #[case(0.0001, 1)]
    fn fraction_keeps_the_first_share(#[case] fraction: f64, #[case] want: usize) {
        assert_eq!(fraction_of(10, fraction), want);
    }

    #[test]
    fn small_fraction_repeats_the_same_windows() {
        // D01: 10% of 41 tokens = 4 tokens → not even one window: clear error.
        let mut s = setup(2, false);
        s.fraction = 0.1;
        let err = PackedLoader::new(counting_store(41), s).err().unwrap();
        assert!(err.to_string().contains("fewer than one window"), "{err}");
        s.fraction = 0.25; // 10 tokens → 2 windows, repeated every batch.
        let mut loader = PackedLoader::new(counting_store(41), s).unwrap();
        let a = loader.next_batch().unwrap();
        assert_eq!(a, loader.next_batch().unwrap());
    }

    #[test]
    fn documents_are_padded_not_packed_and_padding_is_counted() {
        let docs = Arc::new(vec!["a b".to_string(), "c d e f g h".to_string()]);
        let encode: Encode = Arc::new(|s: &str| s.bytes().filter(|b| *b != b' ').map(|b| b as u32).collect());
        let mut loader = DocumentLoader::new(docs, encode, setup(2, false)).unwrap();
        let batch = loader.next_batch().unwrap();
        // "a b" → [a, b, EOS]: inputs a b EOS pad, targets b EOS pad pad.
        assert_eq!(&batch.inputs[..4], &[97, 98, 1, 0]);
        assert_eq!(&batch.targets[..4], &[98, 1, 0, 0]);
        assert_eq!(&batch.weights[..4], &[1.0, 1.0, 0.0, 0.0]);
        // The long document is truncated to context + 1 = 5 tokens.
        assert_eq!(&batch.inputs[4..], &[99, 100, 101, 102]);
        assert_eq!(&batch.targets[4..], &[100, 101, 102, 103]);
        assert_eq!(batch.padding_tokens, 2);
        // c d e f g h EOS is 7 tokens: 2 cut.
        assert_eq!(batch.truncated_tokens, 2);
        assert_eq!(batch.bytes_read, 3 + 11);
    }

    #[test]
    fn prefetch_yields_the_packed_windows_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.chunks");
        let store = counting_store(41);
        let header = write_chunks(store.as_ref(), 41, 4, 3, &path).unwrap();
        assert_eq!((header.windows, header.chunks), (10, 4));
        // Without shuffling, prefetch order equals the packed order.
        let mut packed = PackedLoader::new(store.clone(), setup(4, false)).unwrap();
        let mut prefetch = PrefetchLoader::new(&path, setup(4, false), 2).unwrap();
        let mut seen = Vec::new();
        for _ in 0..6 {
            let b = prefetch.next_batch().unwrap();
            assert_eq!(b.inputs, packed.next_batch().unwrap().inputs);
            assert!(b.bytes_read > 0);
            seen.push(b);
        }
        // Shuffled chunks: resuming mid-epoch continues the same stream.
        let mut s = setup(3, true);
        let mut straight = PrefetchLoader::new(&path, s, 2).unwrap();
        let all: Vec<Batch> = (0..6).map(|_| straight.next_batch().unwrap()).collect();
        let mut first = PrefetchLoader::new(&path, s, 2).unwrap();
        first.next_batch().unwrap();
        first.next_batch().unwrap();
        s.start = first.position();
        drop(first);
        let mut resumed = PrefetchLoader::new(&path, s, 1).unwrap();
        for b in &all[2..] {
            assert_eq!(resumed.next_batch().unwrap().inputs, b.inputs);
        }
    }

    #[test]
    fn a_corrupt_chunk_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.chunks");
        std::fs::write(&path, b"not a chunk file at all, not at all").unwrap();
        let err = PrefetchLoader::new(&path, setup(1, false), 1).err().unwrap();
        assert!(format!("{err:#}").contains("bad magic"), "{err:#}");
    }
}
