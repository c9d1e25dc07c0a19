//! Near-duplicate removal: MinHash signatures over word shingles, banded
//! LSH to find candidate pairs, and the signature agreement as the Jaccard
//! estimate (Broder 1997; Leskovec et al., *Mining of Massive Datasets* §3.4).
//! Signatures use one-permutation hashing with densification (Li et al.
//! 2012; Shrivastava & Li 2014): each shingle is hashed once into one of
//! `permutations` bins, instead of once per permutation: the same
//! estimator, 128× fewer hash evaluations (it was the slowest serial step
//! of Y06's prepare).
//!
//! arXiv holds the same text several times: a paper and its journal
//! version submitted under a new id, lecture notes split into parts,
//! theses that reuse a paper's chapters. Exact MD5 dedup misses them all.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;

use super::normalize::is_ascii_white_space;
use crate::spec::data::NearDedup;

/// Why a `NearDedup` configuration cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NearDedupError {
    #[error(
        "near-dedup needs bands >= 1 and permutations divisible by bands \
         (got permutations {permutations}, bands {bands}); fix `data.dedup.near` in the spec"
    )]
    Bands { permutations: u32, bands: u32 },
    #[error("near-dedup needs shingle_words >= 1; fix `data.dedup.near.shingle_words` in the spec")]
    Shingle,
    #[error("near-dedup threshold must lie in (0, 1], got {0}; fix `data.dedup.near.threshold` in the spec")]
    Threshold(f64),
}

/// Seed of the MinHash permutations: fixed, so dedup decisions are the same on every run.
pub const NEAR_DEDUP_SEED: u64 = 0x2602_1728;

/// An LSH index over kept documents, fed in input order: each document is
/// either a near-duplicate of one already kept or is kept and indexed. The
/// prepare stage streams documents through it; memory is one signature
/// (`permutations` × 8 bytes) per kept document.
pub struct NearDupIndex {
    threshold: f64,
    shingle_words: usize,
    rows: usize,
    bins: usize,
    seed: u64,
    kept: Vec<Vec<u64>>,
    buckets: HashMap<(usize, u64), Vec<usize>>,
}

impl NearDupIndex {
    pub fn new(cfg: &NearDedup, seed: u64) -> Result<Self, NearDedupError> {
        validate(cfg)?;
        Ok(NearDupIndex {
            threshold: cfg.threshold,
            shingle_words: cfg.shingle_words as usize,
            rows: (cfg.permutations / cfg.bands) as usize,
            bins: cfg.permutations as usize,
            seed,
            kept: Vec::new(),
            buckets: HashMap::new(),
        })
    }

    /// The MinHash signature of `doc` under this index's permutations (`None` without words).
    pub fn signature(&self, doc: &str) -> Option<Vec<u64>> {
        signature(doc, self.shingle_words, self.bins, self.seed)
    }

    /// `Some(k)` when the document of `signature` (from [`Self::signature`])
    /// near-duplicates the `k`-th kept document (estimated Jaccard ≥
    /// threshold); else keeps and indexes it and returns `None`.
    pub fn check_signature(&mut self, signature: Vec<u64>) -> Option<usize> {
        let keys: Vec<(usize, u64)> = signature
            .chunks_exact(self.rows)
            .enumerate()
            .map(|(band, chunk)| (band, band_hash(chunk)))
            .collect();
        let candidates: BTreeSet<usize> =
            keys.iter().filter_map(|key| self.buckets.get(key)).flatten().copied().collect();
        let matched = candidates
            .into_iter()
            .find(|&earlier| estimated_jaccard(&signature, &self.kept[earlier]) >= self.threshold);
        if matched.is_none() {
            let index = self.kept.len();
            for key in keys {
                self.buckets.entry(key).or_default().push(index);
            }
            self.kept.push(signature);
        }
        matched
    }
}

/// For each document, `Some(i)` when it near-duplicates the earlier kept
/// document `i` (an index into `docs`), else `None`. Documents are compared
/// to kept documents only, so every match points at a document that stays.
/// Deterministic for a given input and `seed`; signatures are computed in parallel.
pub fn near_duplicates(
    docs: &[&str],
    cfg: &NearDedup,
    seed: u64,
) -> Result<Vec<Option<usize>>, NearDedupError> {
    let mut index = NearDupIndex::new(cfg, seed)?;
    let signatures: Vec<Option<Vec<u64>>> = docs.par_iter().map(|doc| index.signature(doc)).collect();
    let mut kept_positions = Vec::new();
    let mut matches = Vec::with_capacity(docs.len());
    for (position, signature) in signatures.into_iter().enumerate() {
        let matched = signature.and_then(|s| match index.check_signature(s) {
            Some(k) => Some(kept_positions[k]),
            None => {
                kept_positions.push(position);
                None
            }
        });
        matches.push(matched);
    }
    Ok(matches)
}

fn validate(cfg: &NearDedup) -> Result<(), NearDedupError> {
    if cfg.bands == 0 || cfg.permutations == 0 || !cfg.permutations.is_multiple_of(cfg.bands) {
        return Err(NearDedupError::Bands { permutations: cfg.permutations, bands: cfg.bands });
    }
    if cfg.shingle_words == 0 {
        return Err(NearDedupError::Shingle);
    }
    if !(cfg.threshold > 0.0 && cfg.threshold <= 1.0) {
        return Err(NearDedupError::Threshold(cfg.threshold));
    }
    Ok(())
}

/// Shingle hashes of a document: every run of `k` consecutive words (a
/// shorter document is one shingle). `None` for a document without words.
pub fn shingles(doc: &str, k: usize) -> Option<BTreeSet<u64>> {
    let mut set = BTreeSet::new();
    for_each_shingle(doc, k, |hash| {
        set.insert(hash);
    })?;
    Some(set)
}

/// Calls `f` with the hash of every shingle; `None` without words. Each word
/// is hashed once ([`word_hashes`]) and a shingle's hash is the polynomial
/// `Σ word_j · ROLL^(k-1-j)` (wrapping) of its words' hashes, rolled along
/// the text with one multiply-add per shingle, then mixed. Hashing each
/// shingle's bytes anew ran every byte `k` times through FNV's serial
/// multiply chain: 67 MB/s, 18% of a prepare's CPU on the real corpus;
/// this is 3x that rate.
fn for_each_shingle(doc: &str, k: usize, mut f: impl FnMut(u64)) -> Option<()> {
    let words = word_hashes(doc);
    if words.is_empty() {
        return None;
    }
    let k = k.min(words.len());
    let leading = ROLL.wrapping_pow(u32::try_from(k - 1).unwrap_or(u32::MAX));
    let mut shingle = words[..k].iter().fold(0u64, |acc, &word| acc.wrapping_mul(ROLL).wrapping_add(word));
    f(mix(shingle));
    for (&gone, &next) in words.iter().zip(&words[k..]) {
        shingle = shingle.wrapping_sub(gone.wrapping_mul(leading)).wrapping_mul(ROLL).wrapping_add(next);
        f(mix(shingle));
    }
    Some(())
}

/// The base of the shingle polynomial: odd, so its powers are invertible and
/// no word position is lost to the wrap.
const ROLL: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash of every word of `doc`, as `split_whitespace` splits it, in one
/// pass: an ASCII byte is tested as it is, any other character decoded.
fn word_hashes(doc: &str) -> Vec<u64> {
    let bytes = doc.as_bytes();
    let mut hashes = Vec::new();
    let mut word: Option<Fnv1a> = None;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let (space, len) = match byte {
            0..0x80 => (is_ascii_white_space(byte), 1),
            _ => doc[at..].chars().next().map_or((false, 1), |c| (c.is_whitespace(), c.len_utf8())),
        };
        match (space, word.as_mut()) {
            (true, Some(_)) => hashes.extend(word.take().map(Fnv1a::finish)),
            (true, None) => {}
            (false, Some(hash)) => hash.write(&bytes[at..at + len]),
            (false, None) => word = Some(Fnv1a::of(&bytes[at..at + len])),
        }
        at += len;
    }
    hashes.extend(word.map(Fnv1a::finish));
    hashes
}

/// FNV-1a, mixed at the end. Fixed here rather than `std`'s hasher, whose
/// output may change between Rust releases: dedup decisions must not.
struct Fnv1a(u64);

impl Fnv1a {
    fn of(bytes: &[u8]) -> Self {
        let mut hash = Fnv1a(0xcbf2_9ce4_8422_2325);
        hash.write(bytes);
        hash
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(self) -> u64 {
        mix(self.0)
    }
}

/// One-permutation MinHash signature of `bins` values: a shingle's seeded
/// hash picks its bin (high bits, by multiply-shift) and a second mix of it
/// is the value; each bin keeps its minimum. Empty bins borrow the value of
/// the next non-empty bin to the right, mixed with the distance, so two
/// documents agree on a borrowed bin only when they agree on its source.
fn signature(doc: &str, k: usize, bins: usize, seed: u64) -> Option<Vec<u64>> {
    let mut minima = vec![u64::MAX; bins];
    for_each_shingle(doc, k, |shingle| {
        let hash = mix(shingle ^ seed);
        let bin = ((u128::from(hash) * bins as u128) >> 64) as usize;
        minima[bin] = minima[bin].min(mix(hash));
    })?;
    densify(&mut minima);
    Some(minima)
}

fn densify(minima: &mut [u64]) {
    let Some(filled) = minima.iter().position(|&m| m != u64::MAX) else { return };
    let n = minima.len();
    // Walk leftwards from a filled bin, carrying the nearest filled value on the right.
    let (mut source, mut distance) = (minima[filled], 0u64);
    for step in 1..=n {
        let i = (filled + n - step) % n;
        if minima[i] == u64::MAX {
            distance += 1;
            minima[i] = mix(source ^ distance);
        } else {
            (source, distance) = (minima[i], 0);
        }
    }
}

/// Fraction of signature positions that agree: an unbiased estimate of the
/// Jaccard similarity of the two shingle sets.
pub fn estimated_jaccard(a: &[u64], b: &[u64]) -> f64 {
    let agree = a.iter().zip(b).filter(|(x, y)| x == y).count();
    agree as f64 / a.len().max(1) as f64
}

fn band_hash(rows: &[u64]) -> u64 {
    rows.iter().fold(0x9e37_79b9_7f4a_7c15, |h, &r| mix(h ^ r))
}

/// SplitMix64's finalizer: a bijective mix, so salting with xor then mixing
/// gives independent-looking hash functions.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use rstest::rstest;

    fn cfg(threshold: f64) -> NearDedup {
        NearDedup { threshold, shingle_words: 5, permutations: 128, bands: 16 }
    }

    /// A deterministic pseudo-text of `n` distinct-ish words.
    fn words(seed: u64, n: usize) -> Vec<String> {
        (0..n as u64).map(|i| format!("w{}", mix(seed * 1_000_003 + i) % 5000)).collect()
    }

    /// `base` with every `every`-th word replaced.
    fn edited(base: &[String], every: usize) -> String {
        base.iter()
            .enumerate()
            .map(|(i, w)| if i % every == every - 1 { format!("x{i}") } else { w.clone() })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn exact_jaccard(a: &str, b: &str) -> f64 {
        let (a, b) = (shingles(a, 5).unwrap_or_default(), shingles(b, 5).unwrap_or_default());
        a.intersection(&b).count() as f64 / a.union(&b).count() as f64
    }

    /// Each window's polynomial computed from scratch, over `split_whitespace` words.
    fn shingles_from_scratch(doc: &str, k: usize) -> Vec<u64> {
        let words: Vec<u64> = doc.split_whitespace().map(|w| Fnv1a::of(w.as_bytes()).finish()).collect();
        let k = k.min(words.len()).max(1);
        words
            .windows(k)
            .map(|window| mix(window.iter().fold(0u64, |acc, &w| acc.wrapping_mul(ROLL).wrapping_add(w))))
            .collect()
    }

    #[test]
    fn rolled_shingles_are_the_shingles_hashed_from_scratch() {
        const PIECES: &[&str] =
            &[" ", "a", "bc", "\n", "\t", "\u{b}", "é", "\u{a0}", "\u{3000}", "\u{85}", "日本", "a b c"];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let doc = crate::tex::scan::soup(&mut state, PIECES, 40);
            for k in 1..=6 {
                let mut rolled = Vec::new();
                let found = for_each_shingle(&doc, k, |h| rolled.push(h));
                assert_eq!(found.is_some(), doc.split_whitespace().next().is_some(), "{doc:?}");
                assert_eq!(
                    rolled,
                    if found.is_some() { shingles_from_scratch(&doc, k) } else { vec![] },
                    "{doc:?} k={k}"
                );
            }
        }
    }

    /// The estimate is unbiased at the lengths and similarities where the
    /// threshold decides: paper-length texts are long, but a fixed hash that
    /// favoured agreement would show here first, on short texts near 0.7.
    #[test]
    fn estimates_are_unbiased_on_short_texts() {
        let (mut bias, mut squares) = (0.0, 0.0);
        let pairs = 400;
        for pair in 0..pairs {
            let base = words(100 + pair, 74);
            let (a, b) = (base.join(" "), edited(&base, 25));
            let seed = NEAR_DEDUP_SEED ^ pair;
            let (sa, sb) = (signature(&a, 5, 128, seed).unwrap(), signature(&b, 5, 128, seed).unwrap());
            let error = estimated_jaccard(&sa, &sb) - exact_jaccard(&a, &b);
            bias += error;
            squares += error * error;
        }
        let (bias, rmse) = (bias / pairs as f64, (squares / pairs as f64).sqrt());
        // 400 pairs at an RMSE near 0.05: the mean's standard error is 0.0025.
        assert!(bias.abs() < 0.01, "bias {bias:.4}, rmse {rmse:.3}");
        assert!(rmse < 0.07, "rmse {rmse:.3}");
    }

    #[test]
    fn shingles_depend_on_word_order_and_boundaries() {
        let hash = |doc: &str| shingles(doc, 3).unwrap();
        assert_ne!(hash("a b c"), hash("c b a"));
        assert_ne!(hash("ab c d"), hash("a bc d"));
        assert_eq!(hash("a  b\tc"), hash("a b c"));
    }

    #[rstest]
    #[case::identical(0, true)]
    #[case::one_edit_in_500_words(500, true)]
    #[case::one_edit_in_100_words(100, true)]
    #[case::one_edit_in_4_words(4, false)]
    fn finds_near_duplicates_above_threshold(#[case] every: usize, #[case] duplicate: bool) {
        let base = words(1, 500);
        let original = base.join(" ");
        let copy = if every == 0 { original.clone() } else { edited(&base, every) };
        let other = words(2, 500).join(" ");
        let found = near_duplicates(&[&original, &other, &copy], &cfg(0.8), 7).unwrap();
        assert_eq!(found, vec![None, None, duplicate.then_some(0)]);
    }

    #[test]
    fn estimate_tracks_exact_jaccard() {
        let base = words(3, 2000);
        let a = base.join(" ");
        for every in [50, 20, 10, 6] {
            let b = edited(&base, every);
            let (sa, sb) = (signature(&a, 5, 512, 11).unwrap(), signature(&b, 5, 512, 11).unwrap());
            assert_abs_diff_eq!(estimated_jaccard(&sa, &sb), exact_jaccard(&a, &b), epsilon = 0.07);
        }
    }

    #[test]
    fn short_documents_fill_every_bin_consistently() {
        // 3 shingles into 128 bins: 125 bins are borrowed.
        let (a, b) = ("w1 w2 w3 w4 w5 w6 w7", "w1 w2 w3 w4 w5 w6 w7");
        let sa = signature(a, 5, 128, 3).unwrap();
        assert!(sa.iter().all(|&m| m != u64::MAX), "no empty bin survives");
        assert_eq!(sa, signature(b, 5, 128, 3).unwrap(), "the same text, the same signature");
        let other = signature("v1 v2 v3 v4 v5 v6 v7", 5, 128, 3).unwrap();
        assert!(estimated_jaccard(&sa, &other) < 0.1, "disjoint shingles do not agree");
        let mut lone = vec![u64::MAX; 4];
        lone[2] = 7;
        densify(&mut lone);
        assert_eq!(lone, vec![mix(7 ^ 2), mix(7 ^ 1), 7, mix(7 ^ 3)]);
    }

    #[test]
    fn matches_point_at_kept_documents_and_are_deterministic() {
        let base = words(4, 400);
        let a = base.join(" ");
        let b = edited(&base, 200);
        let c = edited(&base, 150);
        let docs = [a.as_str(), "", b.as_str(), c.as_str()];
        let first = near_duplicates(&docs, &cfg(0.8), 42).unwrap();
        assert_eq!(first, vec![None, None, Some(0), Some(0)]);
        assert_eq!(near_duplicates(&docs, &cfg(0.8), 42).unwrap(), first);
    }

    #[rstest]
    #[case::zero_bands(NearDedup { threshold: 0.8, shingle_words: 5, permutations: 128, bands: 0 })]
    #[case::uneven_bands(NearDedup { threshold: 0.8, shingle_words: 5, permutations: 100, bands: 16 })]
    #[case::zero_shingle(NearDedup { threshold: 0.8, shingle_words: 0, permutations: 128, bands: 16 })]
    #[case::threshold_above_one(NearDedup { threshold: 1.5, shingle_words: 5, permutations: 128, bands: 16 })]
    fn rejects_unusable_settings(#[case] cfg: NearDedup) {
        assert!(near_duplicates(&["a b c"], &cfg, 0).is_err());
    }
}
