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

/// Calls `f` with the hash of every shingle; `None` without words.
fn for_each_shingle(doc: &str, k: usize, mut f: impl FnMut(u64)) -> Option<()> {
    let words: Vec<&str> = doc.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    words.windows(k.min(words.len())).for_each(|window| f(hash_words(window)));
    Some(())
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

/// FNV-1a over the words with a separator, so `["ab","c"]` ≠ `["a","bc"]`.
/// Fixed here rather than `std`'s hasher, whose output may change between
/// Rust releases: dedup decisions must not.
fn hash_words(words: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in words {
        for byte in word.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(hash)
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
