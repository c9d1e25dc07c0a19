//! `replicate`: the command line. Parsing and printing only; the library does the work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use arxiv_to_model::prepare::{PrepareInput, PrepareOptions};
use arxiv_to_model::replicate::stages::{Pipeline, Sources};
use arxiv_to_model::replicate::{self, golden, RunOptions};
use arxiv_to_model::spec::model::{ModelVocab, ShapeRef};
use arxiv_to_model::spec::tokenizer::ShardDtype;
use arxiv_to_model::spec::{self, profile::PROFILES, Group};
use arxiv_to_model::tokenize;
use arxiv_to_model::train::inputs::{sized_train, train_data, StageInputs};
use arxiv_to_model::train::{BackendChoice, TrainOptions};
use clap::{Args, Parser, Subcommand};

/// Replicate "ArXiv-to-Model: A Practical Study of Scientific LM Training"
/// (arXiv:2602.17288): 24 runs from raw arXiv LaTeX to trained models, checked
/// against golden outputs and the paper's claims.
///
/// `replicate --all` runs every spec in runs/ on the embedded synthetic corpus
/// (or on real arXiv dumps given with --src/--metadata).
#[derive(Parser, Debug)]
#[command(name = "replicate", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Run all 24 specs (same as `replicate run` with every id).
    #[arg(long)]
    all: bool,

    #[command(flatten)]
    execution: Execution,

    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Where stage caches and checkpoints go.
    #[arg(long, global = true, env = "REPLICATE_WORK_DIR", default_value = ".replicate")]
    work_dir: PathBuf,

    /// The spec set.
    #[arg(long, global = true, default_value = "runs")]
    runs_dir: PathBuf,

    /// Where run records, tables and figures are written.
    #[arg(long, global = true, default_value = "reports")]
    reports_dir: PathBuf,

    /// Pinned outputs per profile.
    #[arg(long, global = true, default_value = "golden")]
    golden_dir: PathBuf,

    /// Where training runs: `cuda` needs a build with `--features cuda` and an NVIDIA driver.
    #[arg(long, global = true, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    device: String,

    /// Devices the spec's `train.devices` data-parallel replicas are spread
    /// over (cuda: GPUs 0..N-1; default one per replica). On the CPU the
    /// replicas are threads on its one device.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    devices: Option<u16>,

    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', global = true)]
    jobs: Option<usize>,

    /// Only errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// More log detail (-v debug, -vv trace).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Args, Debug, Clone)]
struct Execution {
    /// Scale to run at: paper, gpu, ci or smoke (see runs/profiles/).
    #[arg(long, short, default_value = "ci")]
    profile: String,

    /// Real inputs: bulk tars `arXiv_src_YYMM_NNN.tar`, directories of per-paper files, or single files.
    /// Without it the embedded synthetic corpus is used.
    #[arg(long, num_args = 1..)]
    src: Vec<PathBuf>,

    /// The OAI metadata snapshot (JSON lines, plain or .gz) for --src.
    #[arg(long, requires = "src")]
    metadata: Option<PathBuf>,

    /// Redo stages even when their output is cached.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The 24 runs: id, group, title.
    List,
    /// Print a run's fully resolved spec as YAML.
    Show {
        /// Run id, e.g. F01.
        id: String,
        #[arg(long, short, default_value = "ci")]
        profile: String,
    },
    /// Validate the whole spec set under every profile (or one).
    CheckSpecs {
        /// Check one profile only.
        #[arg(long, short)]
        profile: Option<String>,
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
        #[arg(long)]
        tokenizer: PathBuf,
        /// documents.jsonl from `prepare`.
        #[arg(long)]
        docs: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Reproduce the released uint16 shards: ids wrap at LIMIT (65536 at paper scale). T06 only.
        #[arg(long, value_name = "LIMIT")]
        legacy_u16: Option<u32>,
    },
    /// Train a spec's model on token shards: metrics.csv, summary.json, checkpoints/.
    Train {
        #[arg(long)]
        spec: String,
        #[arg(long, short, default_value = "ci")]
        profile: String,
        /// The `tokenize` output directory (train.bin, validation.bin).
        #[arg(long)]
        shards: PathBuf,
        #[arg(long)]
        tokenizer: PathBuf,
        /// documents.jsonl (read by the released loader and the curriculum order).
        #[arg(long)]
        docs: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Continue from the newest checkpoint in OUT/checkpoints.
        #[arg(long)]
        resume: bool,
    },
    /// The embedded synthetic corpus.
    #[command(subcommand)]
    Corpus(CorpusCommand),
    /// Throughput benchmarks, each against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Compare the latest run outputs with golden/<profile>/; exits non-zero on any mismatch.
    Verify(GoldenArgs),
    /// Rewrite golden/<profile>/ from the latest outputs, printing what changed. Review first.
    Bless(GoldenArgs),
    /// Write reports/<profile>/index.md with its tables and figures from the latest outputs.
    Report {
        #[arg(long, short, default_value = "ci")]
        profile: String,
    },
}

#[derive(Args, Debug)]
struct PrepareArgs {
    /// The run whose `data` settings to apply, e.g. Y01.
    #[arg(long)]
    spec: String,
    #[arg(long, short, default_value = "ci")]
    profile: String,
    /// Bulk tars, directories of per-paper files, or single per-paper files.
    #[arg(long, required = true, num_args = 1..)]
    src: Vec<PathBuf>,
    /// OAI metadata snapshot (JSON lines, plain or .gz); without it the metadata filter is skipped.
    #[arg(long)]
    metadata: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
    /// Process the i-th of N deterministic slices by input file (0-based), e.g. `--shard $SLURM_ARRAY_TASK_ID/64`.
    #[arg(long, value_parser = arxiv_to_model::prepare::parse_shard)]
    shard: Option<(usize, usize)>,
}

#[derive(Subcommand, Debug)]
enum TokenizerCommand {
    /// Train the tokenizer of a spec on documents.jsonl: tokenizer.json + tokenizer.record.json.
    Train {
        #[arg(long)]
        spec: String,
        #[arg(long, short, default_value = "ci")]
        profile: String,
        #[arg(long)]
        docs: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Symbol-stability metrics of a tokenizer on documents (see paper/metrics.md).
    Stats {
        #[arg(long)]
        tokenizer: PathBuf,
        #[arg(long)]
        docs: PathBuf,
        /// The stats.json to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum CorpusCommand {
    /// Write bulk tars, manifest, OAI metadata and ground truth that exercise every pipeline case.
    Synth {
        #[arg(long, default_value_t = 160)]
        papers: u32,
        #[arg(long, default_value_t = 2602)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Prepare throughput per stage against a raw decompression pass over the same input.
    Prepare {
        #[arg(long, default_value = "Y06")]
        spec: String,
        #[arg(long, short, default_value = "ci")]
        profile: String,
        #[arg(long, required = true, num_args = 1..)]
        src: Vec<PathBuf>,
        #[arg(long)]
        metadata: Option<PathBuf>,
    },
    /// Training-step throughput and MFU of F01's shape, next to PyTorch on CPU when `import torch` works.
    Train {
        #[arg(long, short, default_value = "ci")]
        profile: String,
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Sequences per replica instead of the spec's `train.batch_sequences`
        /// (to size a GPU check to the card).
        #[arg(long)]
        rows: Option<usize>,
        /// Data-parallel replicas instead of the spec's `train.devices`.
        #[arg(long)]
        replicas: Option<usize>,
    },
    /// Shard encoding throughput against the raw `tokenizers` batch encode of the same text.
    Tokenize {
        #[arg(long)]
        tokenizer: PathBuf,
        #[arg(long)]
        docs: PathBuf,
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
}

#[derive(Args, Debug)]
struct GoldenArgs {
    #[arg(long, short, default_value = "ci")]
    profile: String,
    /// Runs to compare (default: all 24).
    ids: Vec<String>,
}

/// `replicate list | head` should end quietly like any Unix tool: Rust
/// ignores SIGPIPE, which turns a closed pipe into a panic in `println!`.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; the
    // default disposition only ends the process when a write hits a closed pipe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    init_logging(&cli.global);
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(global: &Global) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPLICATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    if let Some(jobs) = cli.global.jobs {
        rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build_global()?;
    }
    let global = &cli.global;
    if cli.all && cli.command.is_some() {
        anyhow::bail!("--all runs every spec; it does not combine with a subcommand");
    }
    match cli.command {
        None if cli.all => execute(global, &cli.execution, None),
        None => unreachable!("clap prints help when no arguments are given"),
        Some(Command::List) => list(global),
        Some(Command::Show { id, profile }) => show(global, &id, &profile),
        Some(Command::CheckSpecs { profile }) => check_specs(global, profile),
        Some(Command::Run { ids, execution }) => execute(global, &execution, Some(ids)),
        Some(Command::Plan { ids, all, execution }) => {
            print!("{}", cost_plan(global, &execution, (!all).then_some(ids.as_slice()))?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Prepare(args)) => prepare(global, &args),
        Some(Command::PrepareMerge { out, shards }) => {
            let summary = arxiv_to_model::prepare::merge(&shards, &out)?;
            println!(
                "merged {} shards: {} papers seen, {} kept",
                shards.len(),
                summary.papers_seen,
                summary.papers_kept
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Tokenizer(command)) => tokenizer(global, command),
        Some(Command::Tokenize { tokenizer, docs, out, legacy_u16 }) => {
            let dtype = if legacy_u16.is_some() { ShardDtype::LegacyU16 } else { ShardDtype::Auto };
            let summary =
                tokenize::write_shards(&tokenizer, &docs, dtype, legacy_u16.unwrap_or(u32::MAX), &out)?;
            println!(
                "wrote {} tokens in {} shards to {}",
                summary.tokens(),
                summary.shards.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Train { spec: id, profile, shards, tokenizer, docs, out, resume }) => {
            let (spec, _) = spec::load_one(&global.runs_dir, &id, &profile)?;
            let inputs = StageInputs { shards: &shards, tokenizer: &tokenizer, documents: &docs };
            let data = train_data(&spec, &inputs)?;
            let (train, _) = sized_train(&spec, &inputs)?;
            let opts = TrainOptions {
                resume,
                progress: !global.quiet,
                backend: backend(global),
                devices: global.devices.map(usize::from),
                ..Default::default()
            };
            let summary = arxiv_to_model::train::run(&spec.model, &train, &spec.loader, data, &out, &opts)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Corpus(CorpusCommand::Synth { papers, seed, out })) => {
            let summary = arxiv_to_model::corpus::synth::generate(papers, seed, &out)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Bench(command)) => bench(global, command),
        Some(Command::Verify(args)) => verify(global, &args),
        Some(Command::Bless(args)) => bless(global, &args),
        Some(Command::Report { profile }) => report(global, &profile),
    }
}

fn list(global: &Global) -> Result<ExitCode> {
    let set = spec::load_set(&global.runs_dir, "paper").map_err(|errors| spec_errors(&errors))?;
    for group in Group::ALL {
        println!("{} ({})", group.name(), group.letter());
        for spec in set.specs.iter().filter(|s| s.group == group) {
            println!("  {}  {}", spec.id, spec.title);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(global: &Global, id: &str, profile: &str) -> Result<ExitCode> {
    let (spec, _) = spec::load_one(&global.runs_dir, id, profile)?;
    println!("# {id} resolved under profile `{profile}`");
    if let (ShapeRef::Dims(dims), ModelVocab::Size(vocab)) = (spec.model.shape, spec.model.vocab) {
        let count = dims.parameters(vocab, spec.model.tied_embeddings);
        println!(
            "# model: {} parameters, {} outside the embeddings",
            grouped(count),
            grouped(dims.non_embedding_parameters())
        );
    }
    print!("{}", serde_norway::to_string(&spec)?);
    Ok(ExitCode::SUCCESS)
}

/// 1345423360 -> "1,345,423,360".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn check_specs(global: &Global, profile: Option<String>) -> Result<ExitCode> {
    let profiles: Vec<String> = match profile {
        Some(p) => vec![p],
        None => PROFILES.iter().map(|p| p.to_string()).collect(),
    };
    let mut failed = false;
    for profile in &profiles {
        match spec::load_set(&global.runs_dir, profile) {
            Ok(set) => println!("{profile}: {} specs resolve", set.specs.len()),
            Err(errors) => {
                failed = true;
                eprintln!("{profile}: {} error(s)", errors.len());
                for error in errors {
                    eprintln!("  {error}");
                }
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The cost table of `replicate plan` for `ids` (all when `None`).
fn cost_plan(global: &Global, execution: &Execution, ids: Option<&[String]>) -> Result<String> {
    use arxiv_to_model::replicate::cache::StageCache;
    use arxiv_to_model::replicate::cost;
    use arxiv_to_model::replicate::plan::Input;
    let set = spec::load_set(&global.runs_dir, &execution.profile).map_err(|errors| spec_errors(&errors))?;
    if let Some(unknown) = ids.into_iter().flatten().find(|id| set.get(id).is_none()) {
        anyhow::bail!("unknown run id {unknown} (run `replicate list` for the 24 ids)");
    }
    let input = if execution.src.is_empty() {
        Input::synthetic(&set.profile)
    } else {
        Input::sources(execution.src.clone(), execution.metadata.clone())?
    };
    let costs = cost::costs(&set, &input, &StageCache::new(&global.work_dir), ids);
    let rate = cost::measured_cpu_flops(&set, &global.reports_dir);
    Ok(cost::render(&set.profile.profile, set.profile.seeds, &costs, rate))
}

fn execute(global: &Global, execution: &Execution, ids: Option<Vec<String>>) -> Result<ExitCode> {
    if ids.is_none() {
        // `--all`: the cost first, so nobody starts 4,000 GPU-hours by accident.
        print!("{}", cost_plan(global, execution, None)?);
    }
    let options = RunOptions {
        runs_dir: global.runs_dir.clone(),
        work_dir: global.work_dir.clone(),
        reports_dir: global.reports_dir.clone(),
        profile: execution.profile.clone(),
        ids,
        sources: (!execution.src.is_empty())
            .then(|| Sources { src: execution.src.clone(), metadata: execution.metadata.clone() }),
        force: execution.force,
        show_progress: !global.quiet,
    };
    let pipeline = Pipeline {
        jobs: global.jobs.unwrap_or(0),
        progress: !global.quiet,
        backend: backend(global),
        devices: global.devices.map(usize::from),
    };
    let summary = replicate::run(&options, &pipeline)?;
    print!("{}", summary.render());
    // The tables and figures of every run the profile has outputs for, this invocation's or earlier.
    let set = spec::load_set(&global.runs_dir, &execution.profile).map_err(|errors| spec_errors(&errors))?;
    let index = arxiv_to_model::report::write_report(set, &global.reports_dir)?;
    println!("report: {}", index.display());
    Ok(if summary.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn backend(global: &Global) -> BackendChoice {
    if global.device == "cuda" {
        BackendChoice::Cuda
    } else {
        BackendChoice::Cpu
    }
}

fn prepare_options(global: &Global, shard: Option<(usize, usize)>) -> PrepareOptions {
    PrepareOptions { shard, jobs: global.jobs.unwrap_or(0), progress: !global.quiet }
}

fn prepare(global: &Global, args: &PrepareArgs) -> Result<ExitCode> {
    let (spec, _) = spec::load_one(&global.runs_dir, &args.spec, &args.profile)?;
    let input = PrepareInput { src: args.src.clone(), metadata: args.metadata.clone() };
    let summary =
        arxiv_to_model::prepare::run(&spec.data, &input, &args.out, &prepare_options(global, args.shard))?;
    println!(
        "{}: {} papers seen, {} kept ({} train, {} validation); ledger and waterfall in {}",
        args.spec,
        summary.papers_seen,
        summary.papers_kept,
        summary.train_documents,
        summary.validation_documents,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn tokenizer(global: &Global, command: TokenizerCommand) -> Result<ExitCode> {
    match command {
        TokenizerCommand::Train { spec: id, profile, docs, out } => {
            let (spec, _) = spec::load_one(&global.runs_dir, &id, &profile)?;
            let record = tokenize::train_tokenizer(&spec.tokenizer, &docs, &out)?;
            println!("{}", serde_json::to_string_pretty(&record)?);
        }
        TokenizerCommand::Stats { tokenizer, docs, out } => {
            let stats = tokenize::stats(&tokenizer, &docs)?;
            stats.save(&out)?;
            println!("{}", serde_json::to_string_pretty(&stats.metrics)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(global: &Global, command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Prepare { spec: id, profile, src, metadata } => {
            let (spec, _) = spec::load_one(&global.runs_dir, &id, &profile)?;
            let input = PrepareInput { src, metadata };
            let report = arxiv_to_model::prepare::bench(&spec.data, &input, &prepare_options(global, None))?;
            print!("{}", arxiv_to_model::prepare::bench::render(&report));
        }
        BenchCommand::Train { profile, steps, rows, replicas } => {
            let mut shape = arxiv_to_model::train::bench::f01_shape(&global.runs_dir, &profile)?;
            shape.rows = rows.unwrap_or(shape.rows).max(1);
            shape.replicas = replicas.unwrap_or(shape.replicas).max(1);
            arxiv_to_model::train::bench::bench(&shape, steps, backend(global))?;
        }
        BenchCommand::Tokenize { tokenizer, docs, repeats } => {
            let jobs =
                global.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            println!("{}", tokenize::bench(&tokenizer, &docs, jobs, repeats)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn golden_ids(args: &GoldenArgs) -> Vec<&str> {
    if args.ids.is_empty() {
        spec::RUN_IDS.to_vec()
    } else {
        args.ids.iter().map(String::as_str).collect()
    }
}

fn verify(global: &Global, args: &GoldenArgs) -> Result<ExitCode> {
    let mismatches =
        golden::verify(&global.golden_dir, &global.reports_dir, &args.profile, &golden_ids(args))?;
    if mismatches.is_empty() {
        println!("{}: {} runs match golden", args.profile, golden_ids(args).len());
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", golden::render(&mismatches));
    eprintln!("{} value(s) differ from golden/{}/", mismatches.len(), args.profile);
    Ok(ExitCode::FAILURE)
}

fn bless(global: &Global, args: &GoldenArgs) -> Result<ExitCode> {
    let changes = golden::bless(&global.golden_dir, &global.reports_dir, &args.profile, &golden_ids(args))?;
    if changes.is_empty() {
        println!("golden/{} rewritten; every value is within its tolerance of the old golden", args.profile);
    } else {
        println!(
            "golden/{} rewritten; {} value(s) changed (expected = old golden, got = new):",
            args.profile,
            changes.len()
        );
        print!("{}", golden::render(&changes));
    }
    Ok(ExitCode::SUCCESS)
}

fn report(global: &Global, profile: &str) -> Result<ExitCode> {
    let set = spec::load_set(&global.runs_dir, profile).map_err(|errors| spec_errors(&errors))?;
    let index = arxiv_to_model::report::write_report(set, &global.reports_dir)?;
    println!("wrote {}", index.display());
    Ok(ExitCode::SUCCESS)
}

fn spec_errors(errors: &[spec::SpecError]) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
    anyhow::anyhow!("the spec set does not load:\n{}", lines.join("\n"))
}
