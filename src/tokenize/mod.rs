//! Domain-aware tokenization: tokenizer recipes and training for runs
//! T01–T06, the packed token shards every training run reads, and the
//! symbol-stability metrics the T runs compare.
//!
//! Entry points: [`train_tokenizer`], [`write_shards`], [`ShardReader::open`],
//! [`stats`] and [`bench`].

pub mod bench;
pub(crate) mod recipes;
pub(crate) mod shards;
pub mod stats;
pub(crate) mod train;

pub use self::bench::{bench, BenchReport};
pub use self::shards::{write_shards, ShardHeader, ShardInfo, ShardReader, ShardSummary};
pub use self::stats::{stats, SymbolStats};
pub use self::train::{train_tokenizer, TokenizerRecord};
