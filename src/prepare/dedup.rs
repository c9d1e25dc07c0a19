//! Stage 7, deduplication, and the train/validation split.
//!
//! Both depend on input order across the whole run (first occurrence wins,
//! every n-th kept document), so they run in the sequential finishing pass
//! over all input units, never inside a worker. `merge` runs the same pass
//! over every shard's per-unit records, which is how exact dedup spans shards.

use std::collections::HashSet;

use super::output::Split;
use md5::{Digest, Md5};

/// MD5 of the document text, lower-case hex (released).
pub fn document_md5(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Exact deduplication: 16 bytes per distinct document, first occurrence wins.
#[derive(Debug, Default)]
pub struct ExactDedup {
    seen: HashSet<[u8; 16]>,
}

impl ExactDedup {
    /// True the first time a digest is offered, false for every repeat.
    /// A digest that is not 32 hex digits is compared as text, never dropped.
    pub fn first_occurrence(&mut self, md5_hex: &str) -> bool {
        let mut key = [0u8; 16];
        match hex::decode_to_slice(md5_hex, &mut key) {
            Ok(()) => self.seen.insert(key),
            Err(_) => self.seen.insert(Md5::digest(md5_hex.as_bytes()).into()),
        }
    }
}

/// Released: every `every`-th kept document (1-based, input order) goes to
/// validation; `0` sends everything to train.
pub fn split_for(kept_ordinal: u64, every: u32) -> Split {
    if every > 0 && kept_ordinal.is_multiple_of(u64::from(every)) {
        Split::Validation
    } else {
        Split::Train
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn first_occurrence_wins() {
        let mut dedup = ExactDedup::default();
        let a = document_md5("Title: A");
        assert!(dedup.first_occurrence(&a));
        assert!(dedup.first_occurrence(&document_md5("Title: B")));
        assert!(!dedup.first_occurrence(&a));
    }

    #[test]
    fn md5_is_the_released_hash() {
        assert_eq!(document_md5(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[rstest]
    #[case(1, 100, Split::Train)]
    #[case(99, 100, Split::Train)]
    #[case(100, 100, Split::Validation)]
    #[case(200, 100, Split::Validation)]
    #[case(3, 3, Split::Validation)]
    #[case(5, 0, Split::Train)]
    fn every_nth_kept_document_validates(#[case] n: u64, #[case] every: u32, #[case] want: Split) {
        assert_eq!(split_for(n, every), want);
    }
}
