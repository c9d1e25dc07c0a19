//! `prepare`: from arXiv source files to documents, with a ledger row per paper.
//!
//! Stages in waterfall order, one module each: [`metadata_filter`],
//! [`validate`], [`encoding`], [`extract`], [`clean`], [`quality`], [`dedup`];
//! [`paper`] runs one paper through the per-paper ones, [`driver`] runs a
//! whole input with resume and shards (streaming papers through workers
//! with [`stream`]), [`finish`] applies the order-dependent
//! rules (dedup, split) and writes the outputs, [`bench`] measures it all. The
//! described pipeline's rules live in [`latex`] (main file, includes, comments,
//! macros, drops), [`normalize`] and [`neardup`]; [`redpajama`] runs
//! RedPajama's arXiv cleaner for the bench to compare against.

pub mod bench;
pub mod clean;
pub(crate) mod dedup;
pub(crate) mod driver;
pub mod encoding;
pub(crate) mod extract;
pub(crate) mod finish;
pub mod latex;
pub mod merge_ledgers;
pub mod metadata_bench;
pub mod metadata_filter;
pub mod metadata_index;
pub mod metadata_table;
pub mod neardup;
pub mod normalize;
pub mod output;
pub(crate) mod paper;
pub mod parquet;
pub mod quality;
pub mod redpajama;
pub(crate) mod stream;
pub(crate) mod validate;
pub use crate::corpus::manifest::VerifiedTars;
pub use bench::{bench, BenchReport};
pub use driver::{merge, parse_shard, run, PrepareInput, PrepareOptions};
pub use output::{PrepareSummary, PreparedCorpus};
