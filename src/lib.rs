//! arxiv-to-model: a replication harness for "ArXiv-to-Model: A Practical
//! Study of Scientific LM Training" (arXiv:2602.17288).
//!
//! Data flows one way: `spec` says what each of the 24 runs does, the stage
//! modules do it (corpus → prepare → tokenize → train), and `replicate` joins
//! the stages through a content-addressed cache and records every run.

pub mod app;
pub mod bench;
pub mod corpus;
pub mod io;
pub mod ledger;
pub mod metrics;
pub mod prepare;
pub mod replicate;
pub mod report;
pub mod spec;
pub mod tex;
pub mod tokenize;
pub mod train;
