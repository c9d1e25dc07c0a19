//! `cargo bench --bench tokenize`: encode throughput of the shard path against
//! raw `tokenizers` batch encoding, on the embedded real arXiv corpus (the same numbers
//! `replicate bench tokenize` prints). Set `TOKENIZE_BENCH_DOCS` to a
//! `documents.jsonl` to measure another corpus.

use std::path::PathBuf;

use arxiv_to_model::spec::tokenizer::{Recipe, ShardDtype, TokenizerConfig, VocabRef};
use arxiv_to_model::tokenize;

#[path = "../tests/support/arxiv_sample.rs"]
mod arxiv_sample;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let docs = match std::env::var_os("TOKENIZE_BENCH_DOCS") {
        Some(path) => PathBuf::from(path),
        None => {
            let tars = arxiv_sample::arxiv_sample();
            let path = dir.path().join("documents.jsonl");
            let mut lines = String::new();
            for (id, text) in arxiv_sample::sample_papers(&tars) {
                lines.push_str(&serde_json::json!({"id": id, "text": text, "split": "train"}).to_string());
                lines.push('\n');
            }
            std::fs::write(&path, lines)?;
            path
        }
    };
    for (recipe, vocab) in [(Recipe::LatexAware, 2048), (Recipe::Gpt2Bytelevel, 2048)] {
        let cfg = TokenizerConfig {
            recipe,
            vocab: VocabRef::Size(vocab),
            min_frequency: 2,
            train_sample_bytes: 64 << 20,
            shard_dtype: ShardDtype::Auto,
        };
        let out = dir.path().join(format!("{recipe:?}"));
        let record = tokenize::train_tokenizer(&cfg, vocab, &docs, &out)?;
        println!(
            "{recipe:?}: trained vocab {} in {:.2} s, peak {:?} B",
            record.vocab_size, record.training_seconds, record.peak_memory_bytes
        );
        for jobs in [1, 2] {
            println!(
                "{}",
                tokenize::bench(&out.join("tokenizer.json"), &docs, jobs, arxiv_to_model::bench::MIN_PAIRS)?
            );
        }
    }
    Ok(())
}
