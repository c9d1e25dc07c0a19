//! The one table of metric names: what stages report, what claims and golden files read.

/// Which stage produces a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Producer {
    Prepare,
    Tokenizer,
    Tokenize,
    Train,
    /// Fitted over S01–S05 and reported on S05.
    Scaling,
}

#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    pub name: &'static str,
    pub producer: Producer,
    pub unit: &'static str,
    pub description: &'static str,
}

const fn m(
    name: &'static str,
    producer: Producer,
    unit: &'static str,
    description: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        producer,
        unit,
        description,
    }
}

pub const METRICS: &[MetricInfo] = &[
    m(
        "papers_seen",
        Producer::Prepare,
        "papers",
        "papers that entered the pipeline",
    ),
    m(
        "papers_kept",
        Producer::Prepare,
        "papers",
        "papers that left as a document",
    ),
    m(
        "chars_kept",
        Producer::Prepare,
        "chars",
        "characters of kept documents",
    ),
    m(
        "words_kept",
        Producer::Prepare,
        "words",
        "whitespace-separated words of kept documents",
    ),
    m(
        "tokens_kept",
        Producer::Tokenize,
        "tokens",
        "tokens of kept documents in the shards (train + validation)",
    ),
    m(
        "roundtrip_exact",
        Producer::Tokenizer,
        "share",
        "documents with decode(encode(x)) == x",
    ),
    m(
        "command_integrity",
        Producer::Tokenizer,
        "share",
        "LaTeX command occurrences not straddled by a token",
    ),
    m(
        "context_consistency",
        Producer::Tokenizer,
        "share",
        "command/symbol occurrences tokenized as their most frequent form",
    ),
    m(
        "tokens_per_command",
        Producer::Tokenizer,
        "tokens",
        "mean tokens per LaTeX command occurrence",
    ),
    m(
        "bytes_per_token",
        Producer::Tokenizer,
        "bytes",
        "UTF-8 bytes per token over the whole text",
    ),
    m(
        "fertility_prose",
        Producer::Tokenizer,
        "tokens/word",
        "tokens per whitespace word outside math",
    ),
    m(
        "fertility_math",
        Producer::Tokenizer,
        "tokens/word",
        "tokens per whitespace word inside math",
    ),
    m(
        "unk_rate",
        Producer::Tokenizer,
        "share",
        "tokens that are unknown or byte fallback",
    ),
    m(
        "train_loss",
        Producer::Train,
        "nats/token",
        "final training loss",
    ),
    m(
        "val_loss",
        Producer::Train,
        "nats/token",
        "final validation loss",
    ),
    m(
        "val_bpb",
        Producer::Train,
        "bits/byte",
        "final validation loss in bits per source byte",
    ),
    m(
        "loss_spikes",
        Producer::Train,
        "steps",
        "steps whose loss exceeded spike_factor x the running median",
    ),
    m(
        "grad_norm_cv",
        Producer::Train,
        "ratio",
        "coefficient of variation of the gradient norm after warmup",
    ),
    m(
        "data_wait_share",
        Producer::Train,
        "share",
        "share of step time spent waiting for data",
    ),
    m(
        "padding_share",
        Producer::Train,
        "share",
        "share of input positions that are padding",
    ),
    m(
        "tokens_per_s",
        Producer::Train,
        "tokens/s",
        "training throughput",
    ),
    m(
        "mfu",
        Producer::Train,
        "share",
        "model FLOP utilisation against the device's peak",
    ),
    m(
        "non_embedding_params",
        Producer::Train,
        "parameters",
        "N of the scaling fit",
    ),
    m(
        "tokens_per_param",
        Producer::Train,
        "tokens/parameter",
        "training tokens per parameter",
    ),
    m(
        "scaling_alpha",
        Producer::Scaling,
        "exponent",
        "alpha of L(N) = E + A N^-alpha over S01-S05",
    ),
    m(
        "scaling_e",
        Producer::Scaling,
        "nats/token",
        "E of the scaling fit",
    ),
];

pub fn find(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    METRICS.iter().map(|m| m.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = names().collect();
        let before = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), before);
    }
}
