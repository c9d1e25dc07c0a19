//! `replicate`: the command line. Parsing and printing only; the library does the work.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use arxiv_to_model::prepare::{PrepareInput, PrepareOptions, VerifiedTars};
use arxiv_to_model::replicate::stages::{Pipeline, Sources};
use arxiv_to_model::replicate::{golden, RunOptions};
use arxiv_to_model::spec::profile::PROFILES;
use arxiv_to_model::spec::tokenizer::ShardDtype;
use arxiv_to_model::train::inputs::{sized_train, train_data, StageInputs};
use arxiv_to_model::train::TrainOptions;
use arxiv_to_model::{app, spec, tokenize};
use clap::{CommandFactory, FromArgMatches};
use cli::{
    BenchCommand, Cli, Command, CorpusCommand, Execution, Global, GoldenArgs, MetadataCommand,
    TokenizerCommand,
};

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
    arxiv_to_model::train::keep_freed_buffers();
    let matches = Cli::command().get_matches();
    // `--all`'s flags before a subcommand would be ignored by it (`replicate
    // --profile smoke verify`): refuse them. Global flags (-q, -v, -j) apply everywhere.
    if matches.subcommand_name().is_some() {
        let misplaced: Vec<String> = Cli::command()
            .get_arguments()
            .filter(|arg| !arg.is_global_set())
            .map(|arg| arg.get_id().as_str())
            .filter(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        if !misplaced.is_empty() {
            let message =
                format!("{} belong(s) to --all; give it after the subcommand", misplaced.join(", "));
            Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit();
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if cli.command.is_none() && !cli.all {
        // Flags alone (`replicate -q`, `replicate --profile smoke`) name nothing to do.
        Cli::command()
            .error(clap::error::ErrorKind::MissingSubcommand, "give a command, or --all to run every spec")
            .exit();
    }
    init_logging(&cli.global);
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    };
    report_peak_rss();
    code
}

/// With `REPLICATE_PEAK_RSS` set, the process's peak resident memory on
/// stderr at exit: `tests/hostile.rs` bounds it (a parent's rusage of a
/// child also counts the memory the child was forked with).
fn report_peak_rss() {
    if std::env::var_os("REPLICATE_PEAK_RSS").is_some() {
        if let Some(bytes) = arxiv_to_model::io::peak_rss_bytes() {
            eprintln!("peak-rss-bytes: {bytes}");
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
    // `tokenizers` warns "Token '0' was expected to have ID '4' but was given ID '19'" for
    // each of the released recipe's 42 added tokens (digits, operators, `\alpha`, ...) on
    // every load: BPE also learns them, and on load an added token takes its learned id. That
    // is the released script's tokenizer as it shipped (T04 reproduces it on purpose), and
    // every stage loads the same tokenizer.json, so the ids agree everywhere: noise, not a bug.
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPLICATE_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},tokenizers::tokenizer::serialization=error"))
    });
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn ok(text: impl std::fmt::Display) -> Result<ExitCode> {
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn json(value: &impl serde::Serialize) -> Result<ExitCode> {
    ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    if let Some(jobs) = cli.global.jobs {
        rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build_global()?;
    }
    let global = &cli.global;
    let Some(command) = cli.command else {
        return execute(global, &cli.execution, None);
    };
    match command {
        Command::List(runs) => ok(app::list(&runs.files())?),
        Command::Show { id, spec, source: false } => {
            ok(app::show(&spec.runs.files(), &id, spec.profile.as_str())?)
        }
        Command::Show { id, spec, source: true } => {
            ok(app::show_source(&spec.runs.files(), &id, spec.profile.as_str())?)
        }
        Command::CheckSpecs { profile, runs } => check_specs(&runs.files(), profile),
        Command::Run { ids, execution } => execute(global, &execution, Some(ids)),
        Command::Plan { ids, all, execution } => {
            let options = run_options(global, &execution, (!all).then_some(ids));
            ok(app::plan(&options, execution.device.backend()?)?)
        }
        Command::Prepare(args) => {
            let (spec, _) = spec::load_one(args.at.runs.files(), &args.spec, args.at.profile.as_str())?;
            let input = PrepareInput { src: args.src.clone(), metadata: args.metadata.clone() };
            let s = arxiv_to_model::prepare::run(
                &spec.data,
                &input,
                &args.out,
                &PrepareOptions {
                    allow_empty: args.allow_empty,
                    verified_tars: (!args.reverify).then(|| args.work_dir.join(VerifiedTars::DIR_NAME)),
                    ..prepare_options(global, args.shard)
                },
            )?;
            ok(format_args!(
                "{}: {} papers seen, {} kept ({} train, {} validation); ledger and waterfall in {}\n",
                args.spec,
                s.papers_seen,
                s.papers_kept,
                s.train_documents,
                s.validation_documents,
                args.out.display()
            ))
        }
        Command::PrepareMerge { out, shards } => {
            let summary = arxiv_to_model::prepare::merge(&shards, &out)?;
            ok(format_args!(
                "merged {} shards: {} papers seen, {} kept\n",
                shards.len(),
                summary.papers_seen,
                summary.papers_kept
            ))
        }
        Command::Tokenizer(TokenizerCommand::Train { spec: id, at, docs, out }) => {
            let (spec, _) = spec::load_one(at.runs.files(), &id, at.profile.as_str())?;
            json(&tokenize::train_tokenizer(&spec.tokenizer, spec.tokenizer_vocab(), &docs, &out)?)
        }
        Command::Tokenizer(TokenizerCommand::Stats { input, out }) => {
            let stats = tokenize::stats(&input.tokenizer, &input.docs)?;
            stats.save(&out)?;
            json(&stats.metrics)
        }
        Command::Tokenize { input, out, legacy_u16 } => {
            let dtype = if legacy_u16.is_some() { ShardDtype::LegacyU16 } else { ShardDtype::Auto };
            let summary = tokenize::write_shards(
                &input.tokenizer,
                &input.docs,
                dtype,
                legacy_u16.unwrap_or(u32::MAX),
                &out,
            )?;
            ok(format_args!(
                "wrote {} tokens in {} shards to {}\n",
                summary.tokens(),
                summary.shards.len(),
                out.display()
            ))
        }
        Command::Train(args) => {
            let (spec, _) = spec::load_one(args.at.runs.files(), &args.spec, args.at.profile.as_str())?;
            let inputs =
                StageInputs { shards: &args.shards, tokenizer: &args.tokenizer, documents: &args.docs };
            let data = train_data(&spec, &inputs)?;
            let (train, _) = sized_train(&spec, &inputs)?;
            let opts = TrainOptions {
                resume: args.resume,
                progress: !global.quiet,
                backend: args.device.backend()?,
                devices: args.device.devices(),
                ..Default::default()
            };
            json(&arxiv_to_model::train::run(
                &spec.resolved_model(),
                &train,
                &spec.loader,
                data,
                &args.out,
                &opts,
            )?)
        }
        Command::Corpus(CorpusCommand::Synth { papers, seed, out }) => {
            json(&arxiv_to_model::corpus::synth::generate(papers, seed, &out)?)
        }
        Command::Metadata(MetadataCommand::Index { snapshot, out }) => {
            json(&arxiv_to_model::prepare::metadata_index::build(&snapshot, &out)?)
        }
        Command::Metadata(MetadataCommand::Synth { records, seed, gzip, out }) => {
            let gzip = gzip || out.extension().is_some_and(|e| e == "gz");
            json(&arxiv_to_model::corpus::metadata_synth::generate(records, seed, gzip, &out)?)
        }
        Command::Bench(command) => bench(global, command),
        Command::Verify(args) => verify(&args),
        Command::Bless(args) => bless(&args),
        Command::Report { spec, reports } => {
            let index = app::report(&spec.runs.files(), spec.profile.as_str(), &reports.reports_dir)?;
            ok(format_args!("wrote {}\n", index.display()))
        }
    }
}

fn check_specs(files: &spec::SpecFiles, profile: Option<cli::ProfileName>) -> Result<ExitCode> {
    let profiles: Vec<&str> = profile.map_or_else(|| PROFILES.to_vec(), |p| vec![p.as_str()]);
    let mut failed = false;
    for profile in profiles {
        match spec::load_set(files.clone(), profile) {
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

fn execute(global: &Global, execution: &Execution, ids: Option<Vec<String>>) -> Result<ExitCode> {
    let options = run_options(global, execution, ids);
    if options.ids.is_none() {
        // `--all`: the cost first, so nobody starts thousands of GPU-hours by accident.
        print!("{}", app::plan(&options, execution.device.backend()?)?);
    }
    let pipeline = Pipeline {
        jobs: global.jobs.unwrap_or(0),
        progress: !global.quiet,
        backend: execution.device.backend()?,
        devices: execution.device.devices(),
        verified_tars: Some(execution.work_dir.join(VerifiedTars::DIR_NAME)),
    };
    let (summary, index) = app::run_and_report(&options, &pipeline)?;
    print!("{}", summary.render());
    println!("report: {}", index.display());
    Ok(if summary.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run_options(global: &Global, execution: &Execution, ids: Option<Vec<String>>) -> RunOptions {
    RunOptions {
        runs: execution.spec.runs.files(),
        work_dir: execution.work_dir.clone(),
        reports_dir: execution.reports.reports_dir.clone(),
        profile: execution.spec.profile.as_str().to_string(),
        ids,
        sources: (!execution.src.is_empty())
            .then(|| Sources { src: execution.src.clone(), metadata: execution.metadata.clone() }),
        force: execution.force,
        show_progress: !global.quiet,
    }
}

fn prepare_options(global: &Global, shard: Option<(usize, usize)>) -> PrepareOptions {
    PrepareOptions {
        shard,
        jobs: global.jobs.unwrap_or(0),
        progress: !global.quiet,
        allow_empty: false,
        verified_tars: None,
    }
}

fn bench(global: &Global, command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Prepare { spec: id, at, src, metadata, pairs, redpajama } => {
            let (spec, _) = spec::load_one(at.runs.files(), &id, at.profile.as_str())?;
            let input = PrepareInput { src, metadata };
            let opts = PrepareOptions { progress: false, ..prepare_options(global, None) };
            let report =
                arxiv_to_model::prepare::bench(&spec.data, &input, &opts, pairs, redpajama.as_deref())?;
            ok(arxiv_to_model::prepare::bench::render(&report))
        }
        BenchCommand::Metadata { records, snapshot, pairs, spec, at, src, scratch } => {
            use arxiv_to_model::prepare::metadata_bench::{bench, render, MetadataBenchOptions};
            let (src, extra_records) = if src.is_empty() {
                let real = arxiv_to_model::corpus::real::RealCorpus::locate()?;
                (real.tars, Some(real.metadata))
            } else {
                (src, None)
            };
            let mut prepare_args =
                vec!["--spec".to_string(), spec, "--profile".into(), at.profile.as_str().into()];
            if let Some(dir) = &at.runs.runs_dir {
                prepare_args.extend(["--runs-dir".to_string(), dir.display().to_string()]);
            }
            prepare_args.push("--src".into());
            prepare_args.extend(src.iter().map(|p| p.display().to_string()));
            let opts =
                MetadataBenchOptions { snapshot, records, pairs, extra_records, prepare_args, scratch };
            let report = bench(&opts)?;
            println!("{}", serde_json::to_string(&report)?);
            ok(render(&report))
        }
        BenchCommand::Train { at, steps, rows, replicas, device, per_op } => {
            let mut shape = arxiv_to_model::train::bench::f01_shape(at.runs.files(), at.profile.as_str())?;
            shape.rows = rows.unwrap_or(shape.rows).max(1);
            shape.replicas = replicas.unwrap_or(shape.replicas).max(1);
            if per_op {
                anyhow::ensure!(
                    device == arxiv_to_model::train::BackendChoice::Cpu,
                    "`bench train --per-op` times the CPU training backend; drop --device"
                );
                arxiv_to_model::train::bench::per_op::bench(&shape, steps)?;
                return Ok(ExitCode::SUCCESS);
            }
            device.ensure_built()?;
            arxiv_to_model::train::bench::bench(&shape, steps, device)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Tokenize { input, pairs } => {
            let jobs =
                global.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            ok(format_args!("{}\n", tokenize::bench(&input.tokenizer, &input.docs, jobs, pairs)?))
        }
    }
}

fn golden_ids(args: &GoldenArgs) -> Vec<&str> {
    if args.ids.is_empty() {
        spec::RUN_IDS.to_vec()
    } else {
        args.ids.iter().map(String::as_str).collect()
    }
}

fn verify(args: &GoldenArgs) -> Result<ExitCode> {
    let profile = args.profile.as_str();
    let mismatches = golden::verify(&args.golden_dir, &args.reports.reports_dir, profile, &golden_ids(args))?;
    if mismatches.is_empty() {
        let mut devices = std::collections::BTreeSet::new();
        for id in golden_ids(args) {
            devices.insert(format!("{:?}", golden::trained_on(&args.reports.reports_dir, profile, id)?));
        }
        let devices = devices.into_iter().collect::<Vec<_>>().join(", ");
        let tolerances =
            if devices == "Cpu" { "the CPU's tolerances" } else { "cross-device tolerances off the CPU" };
        println!(
            "{profile}: {} runs match golden (trained on {devices}; {tolerances})",
            golden_ids(args).len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", golden::render(&mismatches));
    eprintln!("{} value(s) differ from golden/{profile}/", mismatches.len());
    Ok(ExitCode::FAILURE)
}

fn bless(args: &GoldenArgs) -> Result<ExitCode> {
    let profile = args.profile.as_str();
    let changes = golden::bless(&args.golden_dir, &args.reports.reports_dir, profile, &golden_ids(args))?;
    if changes.is_empty() {
        println!("golden/{profile} rewritten; every value is within its tolerance of the old golden");
    } else {
        println!(
            "golden/{profile} rewritten; {} value(s) changed (expected = old golden, got = new):",
            changes.len()
        );
        print!("{}", golden::render(&changes));
    }
    Ok(ExitCode::SUCCESS)
}
