//! The command line's arguments. Flags that apply everywhere (`-q`, `-v`,
//! `-j`) are global; every other flag lives on the commands it affects.

use std::path::PathBuf;

use arxiv_to_model::spec::SpecFiles;
use arxiv_to_model::train::BackendChoice;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Replicate "ArXiv-to-Model: A Practical Study of Scientific LM Training"
/// (arXiv:2602.17288): 24 runs from raw arXiv LaTeX to trained models, checked
/// against golden outputs and the paper's claims.
///
/// `replicate --all` runs every spec (built into the binary from runs/) on the
/// embedded synthetic corpus (or on real arXiv dumps given with --src/--metadata).
#[derive(Parser, Debug)]
#[command(name = "replicate", version, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Run all 24 specs (same as `replicate run` with every id).
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub execution: Execution,

    #[command(flatten)]
    pub global: Global,
}

/// Flags every command honours.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', global = true)]
    pub jobs: Option<usize>,

    /// Only errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More log detail (-v debug, -vv trace).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The scale a spec resolves at (one file each in runs/profiles/).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileName {
    /// The study's real scale: the 1.36B shape on 2 GPUs.
    Paper,
    /// One GPU for hours: a 25M non-embedding shape with the paper's vocabularies.
    Gpu,
    /// All 24 runs on a 2-core CPU in minutes.
    Ci,
    /// Seconds per run, for tests.
    Smoke,
}

impl ProfileName {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::Paper => "paper",
            ProfileName::Gpu => "gpu",
            ProfileName::Ci => "ci",
            ProfileName::Smoke => "smoke",
        }
    }
}

/// Where the spec set comes from.
#[derive(Args, Debug, Clone)]
pub struct SpecDir {
    /// A spec directory laid out like runs/ (default: the runs/ built into this binary).
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
}

impl SpecDir {
    pub fn files(&self) -> SpecFiles {
        self.runs_dir.clone().map_or(SpecFiles::Embedded, SpecFiles::Dir)
    }
}

/// A spec set resolved at one profile.
#[derive(Args, Debug, Clone)]
pub struct SpecAt {
    /// The scale to resolve specs at (see runs/profiles/).
    #[arg(long, short, value_enum, default_value_t = ProfileName::Ci)]
    pub profile: ProfileName,

    #[command(flatten)]
    pub runs: SpecDir,
}

/// Where training runs.
#[derive(Args, Debug, Clone)]
pub struct Device {
    /// The training backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub device: BackendChoice,

    /// Devices the spec's `train.devices` data-parallel replicas are spread
    /// over (cuda: GPUs 0..N-1; default one per replica). On the CPU the
    /// replicas are threads on its one device.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub devices: Option<u16>,
}

impl Device {
    /// The backend, refused before any stage runs when this binary lacks it.
    pub fn backend(&self) -> anyhow::Result<BackendChoice> {
        self.device.ensure_built()?;
        Ok(self.device)
    }

    pub fn devices(&self) -> Option<usize> {
        self.devices.map(usize::from)
    }
}

/// A tokenizer and the documents it reads (`tokenize`, `tokenizer stats`, `bench tokenize`).
#[derive(Args, Debug, Clone)]
pub struct TokenizedDocs {
    /// tokenizer.json from `tokenizer train`.
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// documents.jsonl from `prepare`.
    #[arg(long)]
    pub docs: PathBuf,
}

/// Where reports go.
#[derive(Args, Debug, Clone)]
pub struct ReportsDir {
    /// Where run records, tables and figures are written.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub reports_dir: PathBuf,
}

/// What `--all` and `run` execute and where.
#[derive(Args, Debug, Clone)]
pub struct Execution {
    #[command(flatten)]
    pub spec: SpecAt,

    /// Real inputs: bulk tars `arXiv_src_YYMM_NNN.tar`, directories of per-paper files, or single files.
    /// Without it the embedded synthetic corpus is used.
    #[arg(long, num_args = 1..)]
    pub src: Vec<PathBuf>,

    /// The OAI metadata snapshot (JSON lines, plain or .gz) for --src, or its index (`replicate metadata index`).
    #[arg(long, requires = "src")]
    pub metadata: Option<PathBuf>,

    /// Redo stages even when their output is cached.
    #[arg(long)]
    pub force: bool,

    /// Where stage caches and checkpoints go.
    #[arg(long, value_name = "DIR", env = "REPLICATE_WORK_DIR", default_value = ".replicate")]
    pub work_dir: PathBuf,

    #[command(flatten)]
    pub reports: ReportsDir,

    #[command(flatten)]
    pub device: Device,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The 24 runs: id, group, title.
    List(SpecDir),
    /// Print a run's fully resolved spec as YAML.
    Show {
        /// Run id, e.g. F01.
        id: String,
        #[command(flatten)]
        spec: SpecAt,
        /// Print the files the spec is read from (its `extends` chain and profile) instead.
        #[arg(long)]
        source: bool,
    },
    /// Validate the whole spec set under every profile (or one).
    CheckSpecs {
        /// Check one profile only.
        #[arg(long, short, value_enum)]
        profile: Option<ProfileName>,
        #[command(flatten)]
        runs: SpecDir,
    },
    /// What runs cost before computing: parameters, tokens, FLOPs, GPU- and CPU-hours, cached stages.
    Plan {
        /// Run ids, e.g. F01 S01; none with --all.
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Every run.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[command(flatten)]
        execution: Execution,
    },
    /// Execute some runs.
    Run {
        /// Run ids, e.g. Y01 T03.
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        execution: Execution,
    },
    /// Run a spec's data stages on arXiv sources: ledger.csv, yield.csv, documents.jsonl, summary.json.
    Prepare(PrepareArgs),
    /// Join the outputs of `prepare --shard i/N` runs (dedup and the split are redone across shards).
    PrepareMerge {
        /// Where the merged outputs go.
        #[arg(long)]
        out: PathBuf,
        /// Every shard's --out directory.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
    /// Train a spec's tokenizer, or measure a tokenizer's symbol stability.
    #[command(subcommand)]
    Tokenizer(TokenizerCommand),
    /// Pack documents into token shards (u16 or u32 by vocabulary size).
    Tokenize {
        #[command(flatten)]
        input: TokenizedDocs,
        /// Where the shards and shards.json go.
        #[arg(long)]
        out: PathBuf,
        /// Reproduce the released uint16 shards: ids wrap at LIMIT (65536 at paper scale). T06 only.
        #[arg(long, value_name = "LIMIT")]
        legacy_u16: Option<u32>,
    },
    /// Train a spec's model on token shards: metrics.csv, summary.json, checkpoints/.
    Train(TrainArgs),
    /// The embedded synthetic corpus.
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// The OAI metadata snapshot: read it once into an index, or generate one at dump scale.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// Throughput benchmarks, each against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Compare the latest run outputs with golden/<profile>/; exits non-zero on any mismatch.
    Verify(GoldenArgs),
    /// Rewrite golden/<profile>/ from the latest outputs, printing what changed. Review first.
    Bless(GoldenArgs),
    /// Write reports/<profile>/index.md with its tables and figures from the latest outputs.
    Report {
        #[command(flatten)]
        spec: SpecAt,
        #[command(flatten)]
        reports: ReportsDir,
    },
}

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// The run whose `data` settings to apply, e.g. Y01.
    #[arg(long)]
    pub spec: String,
    #[command(flatten)]
    pub at: SpecAt,
    /// Bulk tars, directories of per-paper files, or single per-paper files.
    #[arg(long, required = true, num_args = 1..)]
    pub src: Vec<PathBuf>,
    /// OAI metadata snapshot (JSON lines, plain or .gz) or its index from
    /// `replicate metadata index` (same results, a fraction of the memory);
    /// without it the metadata filter is skipped.
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Where ledger.csv, yield.csv, documents.jsonl and summary.json go.
    #[arg(long)]
    pub out: PathBuf,
    /// Process the i-th of N deterministic slices by input file (0-based), e.g. `--shard $SLURM_ARRAY_TASK_ID/64`.
    #[arg(long, value_parser = arxiv_to_model::prepare::parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Accept a --src that holds no paper (otherwise an error: a typo in a path is the usual cause).
    #[arg(long)]
    pub allow_empty: bool,
    /// Holds `verified-tars/`: bulk tars whose manifest MD5 matched in an earlier run, which are not hashed again.
    #[arg(long, value_name = "DIR", env = "REPLICATE_WORK_DIR", default_value = ".replicate")]
    pub work_dir: PathBuf,
    /// Hash every bulk tar against its manifest, even those verified in an earlier run (and record nothing).
    #[arg(long)]
    pub reverify: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The run whose model, training and loader settings to apply, e.g. F01.
    #[arg(long)]
    pub spec: String,
    #[command(flatten)]
    pub at: SpecAt,
    /// The `tokenize` output directory (train.bin, validation.bin).
    #[arg(long)]
    pub shards: PathBuf,
    /// tokenizer.json from `tokenizer train`.
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// documents.jsonl (read by the released loader and the curriculum order).
    #[arg(long)]
    pub docs: PathBuf,
    /// Where metrics.csv, summary.json and checkpoints/ go.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the newest checkpoint in OUT/checkpoints.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub device: Device,
}

#[derive(Subcommand, Debug)]
pub enum TokenizerCommand {
    /// Train the tokenizer of a spec on documents.jsonl: tokenizer.json + tokenizer.record.json.
    Train {
        /// The run whose tokenizer recipe to train, e.g. T03.
        #[arg(long)]
        spec: String,
        #[command(flatten)]
        at: SpecAt,
        /// documents.jsonl from `prepare`.
        #[arg(long)]
        docs: PathBuf,
        /// Where tokenizer.json and tokenizer.record.json go.
        #[arg(long)]
        out: PathBuf,
    },
    /// Symbol-stability metrics of a tokenizer on documents (see paper/metrics.md).
    Stats {
        #[command(flatten)]
        input: TokenizedDocs,
        /// The stats.json to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum CorpusCommand {
    /// Write bulk tars, manifest, OAI metadata and ground truth that exercise every pipeline case.
    Synth {
        /// How many papers to generate.
        #[arg(long, default_value_t = 160)]
        papers: u32,
        /// The generator's seed: the same seed writes the same corpus.
        #[arg(long, default_value_t = 2602)]
        seed: u64,
        /// Where the corpus goes.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum MetadataCommand {
    /// Read the OAI snapshot once into a Parquet index that `prepare --metadata` takes in its place.
    Index {
        /// arxiv-metadata-oai-snapshot.json (JSON lines, plain or gzipped).
        snapshot: PathBuf,
        /// The index file to write (replaced atomically).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a generated snapshot: the real fields and shapes, nulls, old-style ids (a pipeline check, not data).
    Synth {
        /// How many records (the real snapshot has about 2.7 million).
        #[arg(long, default_value_t = 2_700_000)]
        records: u64,
        /// The generator's seed: the same seed writes the same file.
        #[arg(long, default_value_t = 2602)]
        seed: u64,
        /// Gzip the output (also when OUT ends in .gz).
        #[arg(long)]
        gzip: bool,
        /// The snapshot file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Metadata index build against a raw snapshot read (alternating pairs), and prepare's peak memory with each.
    Metadata {
        /// Records of the generated snapshot (ignored with --snapshot).
        #[arg(long, default_value_t = 2_700_000)]
        records: u64,
        /// Measure this snapshot instead of a generated one.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// Alternating raw-read / index-build pairs.
        #[arg(long, default_value_t = 5)]
        pairs: usize,
        /// The run whose `data` settings the prepare children apply.
        #[arg(long, default_value = "Y01")]
        spec: String,
        #[command(flatten)]
        at: SpecAt,
        /// Sources for the prepare children (default: the embedded real corpus, whose metadata is appended to a generated snapshot).
        #[arg(long, num_args = 1..)]
        src: Vec<PathBuf>,
        /// Where the snapshot, index and prepare outputs go (several GB at 2.7M records).
        #[arg(long, default_value = "target/bench-metadata")]
        scratch: PathBuf,
    },
    /// Prepare throughput per stage against a raw decompression pass over the same input.
    Prepare {
        /// The run whose `data` settings to apply.
        #[arg(long, default_value = "Y06")]
        spec: String,
        #[command(flatten)]
        at: SpecAt,
        /// Bulk tars, directories of per-paper files, or single per-paper files.
        #[arg(long, required = true, num_args = 1..)]
        src: Vec<PathBuf>,
        /// OAI metadata snapshot (JSON lines, plain or .gz).
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// Alternating pairs per comparison (at least 5).
        #[arg(long, default_value_t = arxiv_to_model::bench::MIN_PAIRS)]
        pairs: usize,
        /// Your checkout of RedPajama-Data's data_prep/arxiv (branch rp_v1, with models/lid.176.bin and its
        /// Python requirements): adds our prepare against its arXiv cleaner (run_clean.py) on the same bulk
        /// tars, wall time and the papers each keeps. Skipped, with the reason, when the cleaner cannot run.
        #[arg(long, value_name = "DIR")]
        redpajama: Option<PathBuf>,
    },
    /// Training-step throughput and MFU of F01's shape (or, with --per-op, each piece of its step), next to
    /// PyTorch on CPU when `import torch` works.
    Train {
        #[command(flatten)]
        at: SpecAt,
        /// Timed optimizer steps (with --per-op: timed calls of each op per round).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Sequences per replica instead of the spec's `train.batch_sequences`
        /// (to size a GPU check to the card).
        #[arg(long)]
        rows: Option<usize>,
        /// Data-parallel replicas instead of the spec's `train.devices`.
        #[arg(long)]
        replicas: Option<usize>,
        /// The training backend.
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        device: BackendChoice,
        /// Time each piece of the decoder (forward + backward, one replica's rows, one core)
        /// instead of whole steps, next to the same pieces in PyTorch. CPU only.
        #[arg(long)]
        per_op: bool,
    },
    /// Shard encoding throughput against the raw `tokenizers` batch encode of the same text.
    Tokenize {
        #[command(flatten)]
        input: TokenizedDocs,
        /// Alternating pairs of timed passes (ours, raw) over the documents (at least 5).
        #[arg(long, default_value_t = arxiv_to_model::bench::MIN_PAIRS)]
        pairs: usize,
    },
}

#[derive(Args, Debug)]
pub struct GoldenArgs {
    /// The profile whose outputs to compare.
    #[arg(long, short, value_enum, default_value_t = ProfileName::Ci)]
    pub profile: ProfileName,
    /// Runs to compare (default: all 24).
    pub ids: Vec<String>,
    /// Pinned outputs per profile.
    #[arg(long, value_name = "DIR", default_value = "golden")]
    pub golden_dir: PathBuf,
    #[command(flatten)]
    pub reports: ReportsDir,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn profile_names_are_the_profiles_the_spec_set_defines() {
        let names: Vec<&str> = ProfileName::value_variants().iter().map(|p| p.as_str()).collect();
        assert_eq!(names, arxiv_to_model::spec::profile::PROFILES);
        for p in ProfileName::value_variants() {
            assert_eq!(p.to_possible_value().unwrap().get_name(), p.as_str());
        }
    }

    #[test]
    fn every_option_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "replicate", &mut missing);
        assert!(missing.is_empty(), "options without help: {missing:?}");
    }
}
